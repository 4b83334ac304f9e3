"""matmul: the batched, broadcasting matrix product (vectors included) and the linear layer."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.arithmetic import MatMul
from tinygrad_drop.ops.linear import LinearFunction


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)),
                                              ((3, 4), (4,)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul(a_shape, b_shape, dtype):
    check_backward(MatMul, dtype=dtype, a=draw(a_shape, 0), b=draw(b_shape, 1))


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear(x_shape, with_bias, dtype):
    bias = draw((5,), 2) if with_bias else None
    check_backward(LinearFunction, dtype=dtype, x=draw(x_shape, 0), weight=draw((5, 4), 1), bias=bias)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_shapes_drawn_by_hypothesis(n, k, m, batch):
    a_shape = (batch, n, k) if batch else (n, k)
    check_backward(MatMul, a=draw(a_shape, n), b=draw((k, m), m))
