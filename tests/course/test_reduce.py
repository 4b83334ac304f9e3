"""reduce: sum, mean and max/min over some axes, with and without keepdim."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import assert_close, check_backward
from tinygrad_drop.autograd.function import Context
from tinygrad_drop.ops.reduce import Max, Mean, Min, Sum


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("function", [Sum, Mean])
@pytest.mark.parametrize("axes", [None, (0,), (1,), (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_and_mean(function, axes, keepdim, dtype):
    check_backward(function, dtype=dtype, x=draw((2, 3, 4)), axes=axes, keepdim=keepdim)


@pytest.mark.parametrize("function", [Max, Min])
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_along_an_axis(function, axis, keepdim):
    check_backward(function, x=draw((2, 3, 4)), axis=axis, keepdim=keepdim)


@pytest.mark.parametrize("function", [Max, Min])
def test_max_and_min_of_everything(function):
    check_backward(function, x=draw((3, 4)), axis=None, keepdim=False)


def test_ties_share_the_gradient_of_a_max_over_everything():
    x = np.array([[1.0, 3.0], [3.0, 0.0]])  # two maxima: as torch.max(), each gets half
    ctx = Context(Max, (True, False, False))
    Max.forward(ctx, x, None, False)
    (grad_x, *_) = Max.backward(ctx, np.array(1.0))
    assert_close("d/dx of max(x) with two tied maxima", np.array([[0.0, 0.5], [0.5, 0.0]]), grad_x)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.data())
def test_shapes_drawn_by_hypothesis(shape, data):
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
    keepdim = data.draw(st.booleans())
    check_backward(data.draw(st.sampled_from([Sum, Mean])), x=draw(tuple(shape)), axes=axes, keepdim=keepdim)
