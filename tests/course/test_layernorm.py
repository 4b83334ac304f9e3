"""layernorm: LayerNorm over the trailing axes, with and without its affine parameters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.normalization import LayerNormFunction


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("x_shape, normalized", [((3, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                                 ((6,), (6,))])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm(x_shape, normalized, affine, dtype):
    weight, bias = (draw(normalized, 1), draw(normalized, 2)) if affine else (None, None)
    check_backward(LayerNormFunction, dtype=dtype, x=draw(x_shape), weight=weight, bias=bias,
                   normalized_shape=normalized, eps=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 6), st.floats(-50, 50), st.floats(0.1, 10))
def test_rows_drawn_by_hypothesis(rows, width, shift, spread):
    x = draw((rows, width), rows * width) * spread + shift
    check_backward(LayerNormFunction, x=x, weight=draw((width,), 1), bias=draw((width,), 2),
                   normalized_shape=(width,), eps=1e-5, rtol=1e-3)
