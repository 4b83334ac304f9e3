"""broadcast: each input of a broadcasting op gets a gradient of its own shape."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.arithmetic import Add, Mul


def draw(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                                              ((5,), ()), ((2, 1, 3), (2, 4, 1))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_and_mul(a_shape, b_shape, dtype):
    check_backward(Add, dtype=dtype, a=draw(a_shape, 0), b=draw(b_shape, 1))
    check_backward(Mul, dtype=dtype, a=draw(a_shape, 0), b=draw(b_shape, 1))


@settings(max_examples=30, deadline=None)
@given(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), st.integers(0, 9))
def test_shapes_drawn_by_hypothesis(shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    check_backward(Mul, a=draw(a_shape, seed), b=draw(b_shape, seed + 1))
