"""Hidden dropout tests (an example for instructors): larger tensors and a rate near 1."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.dropout import DropoutFunction


@pytest.mark.parametrize("p", [0.95, 0.05])
def test_extreme_rates(p):
    x = np.random.default_rng(3).standard_normal((9, 11))
    check_backward(DropoutFunction, x=x, p=p, key=np.uint64(99), scale=1.0 / (1.0 - p))
