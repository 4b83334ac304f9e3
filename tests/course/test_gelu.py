"""gelu: the exact (erf) and the tanh GELU's derivative."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.unary import GELUFunction


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), ()])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gelu(approximate, shape, dtype):
    x = np.random.default_rng(0).uniform(-4, 4, shape)
    check_backward(GELUFunction, dtype=dtype, x=x, approximate=approximate)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-6, 6)), st.booleans())
def test_inputs_drawn_by_hypothesis(x, approximate):
    check_backward(GELUFunction, x=x, approximate=approximate)
