"""embedding: the scatter-add of output gradients into the rows of the table."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.ops.embedding import EmbeddingFunction


@pytest.mark.parametrize("indices", [np.array([0, 2, 4]), np.array([1, 1, 1, 3]), np.array([[0, 3], [3, 0]]),
                                     np.array(2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding(indices, dtype):
    weight = np.random.default_rng(0).standard_normal((5, 3))
    check_backward(EmbeddingFunction, dtype=dtype, weight=weight, indices=indices)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=10), st.integers(1, 3))
def test_indices_drawn_by_hypothesis(indices, width):
    weight = np.random.default_rng(width).standard_normal((4, width))
    check_backward(EmbeddingFunction, weight=weight, indices=np.array(indices))
