"""softmax and log_softmax along any axis."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.softmax import LogSoftmax, Softmax


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("function", [Softmax, LogSoftmax])
@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((5,), 0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_and_log_softmax(function, shape, axis, dtype):
    check_backward(function, dtype=dtype, x=draw(shape), axis=axis)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.floats(0.1, 30.0), st.booleans())
def test_rows_drawn_by_hypothesis(rows, width, spread, log):
    check_backward(LogSoftmax if log else Softmax, x=draw((rows, width), rows * width) * spread, axis=-1)
