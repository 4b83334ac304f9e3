"""Hidden layernorm tests (an example for instructors): a constant row and a large offset."""
from __future__ import annotations

import numpy as np

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.normalization import LayerNormFunction


def test_rows_far_from_zero():
    x = np.random.default_rng(4).standard_normal((3, 7)) + 1000.0
    check_backward(LayerNormFunction, x=x, weight=np.linspace(0.5, 2, 7), bias=np.zeros(7), normalized_shape=(7,),
                   eps=1e-5, rtol=1e-3)
