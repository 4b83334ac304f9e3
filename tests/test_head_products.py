"""Attention's per-head products on the pool's threads (kernels/head_products.py): numpy's bits for
every layout attention uses, and numpy itself for what the kernel must not take."""
from __future__ import annotations

import numba
import numpy as np
import pytest

from tinygrad_drop.kernels import blas_threads
from tinygrad_drop.kernels import head_products as hp

pytestmark = pytest.mark.matmul

needs_sharing = pytest.mark.skipif(
    not blas_threads.shares_blas_threads() or not hp._gemm_addresses(),
    reason="numpy's BLAS does not run on Numba's threads here, so the products stay with numpy",
)


def heads(dtype, batch=3, heads_=4, T=64, E=32, seed=0):
    """q, k, v as CausalSelfAttention makes them: (B, heads, T, E) views of one (B, T, 3, heads, E) array."""
    qkv = np.random.default_rng(seed).standard_normal((batch, T, 3, heads_, E)).astype(dtype)
    return qkv.transpose(2, 0, 3, 1, 4)


def attention_products(dtype):
    """(a, b) pairs in the layouts attention_forward/backward multiply: plain rows, a transposed
    right operand (k^T), a transposed left one (D^T), and causal blocks sliced out of the scores."""
    q, k, v = heads(dtype)
    scores = np.random.default_rng(1).standard_normal(q.shape[:-1] + (64,)).astype(dtype)
    return [
        (q, k.swapaxes(-1, -2)),
        (q[..., :32, :], k[..., :32, :].swapaxes(-1, -2)),
        (q[..., 32:, :], k.swapaxes(-1, -2)),
        (scores, v),
        (scores[..., 32:, 32:], v[..., 32:, :]),
        (scores.swapaxes(-1, -2), q),
        (scores[..., :, :32].swapaxes(-1, -2), v),
    ]


def refuse(*args):
    raise AssertionError("this product should not have gone this way")


@needs_sharing
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_head_products_on_the_pool_give_numpys_bits(dtype, monkeypatch):
    monkeypatch.setattr(hp, "head_products_numpy", refuse)  # every case below must run on the pool
    for a, b in attention_products(dtype):
        expected = np.matmul(a, b)
        out = np.full(expected.shape, np.nan, dtype)
        assert hp.head_products_numba(a, b, out) is out
        np.testing.assert_array_equal(out, expected)


@needs_sharing
def test_head_products_into_a_block_of_a_larger_array_leave_the_rest_alone(monkeypatch):
    monkeypatch.setattr(hp, "head_products_numpy", refuse)
    q, k, _ = heads(np.float32)
    scores = np.full(q.shape[:-1] + (64,), 7.0, np.float32)
    hp.head_products_numba(q[..., 32:, :], k[..., :32, :].swapaxes(-1, -2), scores[..., 32:, :32])
    np.testing.assert_array_equal(scores[..., 32:, :32], np.matmul(q[..., 32:, :], k[..., :32, :].swapaxes(-1, -2)))
    assert (scores[..., :32, :] == 7.0).all() and (scores[..., 32:, 32:] == 7.0).all()


@needs_sharing
def test_head_products_on_one_numba_thread_give_the_same_bits(monkeypatch):
    monkeypatch.setattr(hp, "head_products_numpy", refuse)
    q, k, _ = heads(np.float32)
    out = np.empty(q.shape[:-1] + (64,), np.float32)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        hp.head_products_numba(q, k.swapaxes(-1, -2), out)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(out, np.matmul(q, k.swapaxes(-1, -2)))


def numpy_cases():
    """Products the kernel must leave to numpy, as (reason, a, b, out)."""
    rng = np.random.default_rng(2)
    q, k, v = heads(np.float32)
    big = rng.standard_normal((2, 2, 128, 64)).astype(np.float32)  # 128 * 128 * 64 > SINGLE_THREAD_PRODUCT
    strided = rng.standard_normal((2, 2, 16, 16)).astype(np.float32)[..., ::2, ::2]  # no unit stride
    shared = rng.standard_normal((2, 2, 8, 8)).astype(np.float32)
    return [
        ("OpenBLAS would split it over threads", big, big.swapaxes(-1, -2), np.empty((2, 2, 128, 128), np.float32)),
        ("no unit stride for BLAS", strided, strided, np.empty((2, 2, 8, 8), np.float32)),
        ("broadcast leading axes", q, k[:1].swapaxes(-1, -2), np.empty((3, 4, 64, 64), np.float32)),
        ("three axes", q[0], k[0].swapaxes(-1, -2), np.empty((4, 64, 64), np.float32)),
        ("mixed dtypes", q, k.swapaxes(-1, -2).astype(np.float64), np.empty((3, 4, 64, 64), np.float32)),
        ("integers", np.ones((2, 2, 3, 3), np.int64), np.ones((2, 2, 3, 3), np.int64), np.empty((2, 2, 3, 3), np.int64)),
        ("output overlaps an input", shared, shared.copy(), shared),
        ("transposed output", q, k.swapaxes(-1, -2), np.empty((3, 4, 64, 64), np.float32).swapaxes(-1, -2)),
        ("empty", q[..., :0, :], k.swapaxes(-1, -2), np.empty((3, 4, 0, 64), np.float32)),
    ]


@pytest.mark.parametrize("case", numpy_cases(), ids=lambda case: case[0])
def test_products_the_kernel_cannot_take_go_to_numpy(case, monkeypatch):
    _, a, b, out = case
    expected = np.matmul(a, b, out=np.empty_like(out))  # numpy, into the same layout
    monkeypatch.setattr(hp, "_head_products_kernel", refuse)
    assert hp.head_products_numba(a, b, out) is out
    np.testing.assert_array_equal(out, expected)


def test_without_the_shared_pool_every_product_goes_to_numpy(monkeypatch):
    q, k, _ = heads(np.float32)
    monkeypatch.setattr(hp, "_head_products_kernel", refuse)
    monkeypatch.setattr(hp, "shares_blas_threads", lambda: False)
    out = np.empty(q.shape[:-1] + (64,), np.float32)
    hp.head_products_numba(q, k.swapaxes(-1, -2), out)
    np.testing.assert_array_equal(out, np.matmul(q, k.swapaxes(-1, -2)))
