"""cross_entropy: the fused loss of logits against integer targets, every reduction, ignore_index."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.loss import CrossEntropy


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_reduction(reduction, dtype):
    check_backward(CrossEntropy, dtype=dtype, logits=draw((4, 5)), target=np.array([0, 4, 2, 2]),
                   ignore_index=-100, reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ignored_rows_get_no_gradient(reduction):
    check_backward(CrossEntropy, logits=draw((4, 3)), target=np.array([1, -1, 0, -1]), ignore_index=-1,
                   reduction=reduction)


def test_one_sample():
    check_backward(CrossEntropy, logits=draw((6,)), target=np.array(3), ignore_index=-100, reduction="mean")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 5), st.floats(0.1, 20.0), st.data())
def test_logits_drawn_by_hypothesis(rows, classes, spread, data):
    target = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=rows, max_size=rows)))
    check_backward(CrossEntropy, logits=draw((rows, classes), rows) * spread, target=target, ignore_index=-100,
                   reduction="mean")
