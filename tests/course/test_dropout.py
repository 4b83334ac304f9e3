"""dropout: the forward's mask and scale, and the backward through the same mask."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_drop.course.checks import assert_close, check_backward
from tinygrad_drop.autograd.function import Context
from tinygrad_drop.kernels.dropout import dropout_mask_numpy
from tinygrad_drop.ops.dropout import DropoutFunction

KEY = np.uint64(12345)  # a fixed key: the same mask on every call, so central differences can probe


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("shape", [(4, 6), (3, 2, 5), (7,), ()])
@pytest.mark.parametrize("p, scale", [(0.5, 2.0), (0.2, 1.25), (0.3, 1.0), (0.0, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_keeps_the_mask_and_scales(shape, p, scale, dtype):
    x = draw(shape).astype(dtype)
    y = DropoutFunction.forward(Context(DropoutFunction, (False,) * 4), x.copy(), p, KEY, scale)
    kept = dropout_mask_numpy(x.size, p, KEY).reshape(shape)
    assert np.asarray(y).shape == shape and np.asarray(y).dtype == dtype, \
        f"dropout forward: expected shape {shape} and dtype {np.dtype(dtype).name}, got {np.shape(y)} {np.asarray(y).dtype}"
    assert_close(f"dropout forward (p={p}, scale={scale}): kept elements times scale, 0 elsewhere",
                 np.where(kept, x.astype(np.float64) * scale, 0.0), y, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("shape", [(4, 6), (3, 2, 5), (7,)])
@pytest.mark.parametrize("p, scale", [(0.5, 2.0), (0.2, 1.25), (0.3, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_through_the_same_mask(shape, p, scale, dtype):
    check_backward(DropoutFunction, dtype=dtype, x=draw(shape), p=p, key=KEY, scale=scale)


def test_a_dropped_element_gets_exactly_zero():
    x = draw((8, 8))
    ctx = Context(DropoutFunction, (True, False, False, False))
    DropoutFunction.forward(ctx, x.copy(), 0.5, KEY, 2.0)
    grad_x = DropoutFunction.backward(ctx, np.full(x.shape, np.inf))[0]  # inf * 0 would be nan
    dropped = ~dropout_mask_numpy(x.size, 0.5, KEY).reshape(x.shape)
    assert np.all(grad_x[dropped] == 0.0), "d/dx: dropped elements must get exactly 0, even from an inf gradient"


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.floats(0.0, 0.9), st.integers(0, 2**32 - 1))
def test_keys_and_rates_drawn_by_hypothesis(size, p, key):
    check_backward(DropoutFunction, x=draw((size,), size), p=p, key=np.uint64(key), scale=1.0 / (1.0 - p))
