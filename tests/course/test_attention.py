"""attention: scaled dot-product attention's backward, causal, with a float mask, with dropout.

Dropout's forward is the dropout topic's: these tests give attention a dropout of their own
(`own_dropout`), so that they check attention alone."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_drop.kernels.attention as attention_kernels
from tinygrad_drop.course.checks import check_backward
from tinygrad_drop.kernels.dropout import dropout_mask_numpy
from tinygrad_drop.ops.attention import ScaledDotProductAttention

KEY = np.uint64(7)


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.fixture
def own_dropout(monkeypatch):
    def dropout(x, p, key, scale):
        return np.where(dropout_mask_numpy(x.size, p, key).reshape(x.shape), x * x.dtype.type(scale), 0)
    monkeypatch.setattr(attention_kernels, "dropout_apply_numpy", dropout)


def attention(q, k, v, mask=None, causal=False, p=0.0, dtype=np.float64):
    check_backward(ScaledDotProductAttention, dtype=dtype, q=q, k=k, v=v, attn_mask=mask, is_causal=causal,
                   scale=None, dropout_p=p, key=KEY)


@pytest.mark.parametrize("lead", [(), (2,), (2, 2)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_attention(lead, causal, dtype):
    attention(draw(lead + (3, 4), 0), draw(lead + (3, 4), 1), draw(lead + (3, 2), 2), causal=causal, dtype=dtype)


def test_queries_and_keys_of_different_lengths():
    attention(draw((2, 2, 4), 0), draw((2, 5, 4), 1), draw((2, 5, 3), 2))


def test_a_float_mask_gets_its_gradient():
    # the whole (2, 3, 3) shape: a mask that broadcasts needs the broadcast topic to sum its gradient
    attention(draw((2, 3, 4), 0), draw((2, 3, 4), 1), draw((2, 3, 2), 2), mask=draw((2, 3, 3), 3))


@pytest.mark.parametrize("causal", [False, True])
def test_dropout_on_the_weights(own_dropout, causal):
    attention(draw((2, 4, 4), 0), draw((2, 4, 4), 1), draw((2, 4, 3), 2), causal=causal, p=0.3)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_shapes_drawn_by_hypothesis(T, S, E, causal):
    attention(draw((T, E), T), draw((S, E), S), draw((S, 2), E), causal=causal and T == S)
