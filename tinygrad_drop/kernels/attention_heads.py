"""Attention head by head: the matrix products around the fused middle (attention.py), both ways.

For q (..., T, E), k (..., S, E), v (..., S, Ev), with P = softmax(scale q k^T + bias) and
D = dropout(P) (attention.py makes both from the scores in one pass):

    forward:  scores = q k^T,  (P, D) = middle(scores),  out = D v
    backward: dD = dOut v^T,  dV = D^T dOut,  dS = scale (dD * D - P * rowsum(dD * D)),
              dQ = dS k,  dK = dS^T q

(ops/attention.py derives them.) The products run block by block (causal_blocks), so that with a
causal mask they skip the scores' top-right quarter, which the mask hides entirely.

The numpy versions multiply every head at once with numpy's matmul and call the middle as a
kernel of its own (numpy's or Numba's, whichever backend runs). The Numba versions do all of one
(batch, head) pair in one thread task: its products through BLAS from compiled code (gemm.py),
its middle right after its scores, while they are still in cache, so a head's scores never leave
its core and each direction is one parallel loop instead of one per product. numpy's matmul runs
the heads one after another on the calling thread (each product is too small for OpenBLAS to
split), while the other core waits. Measured (paired A/B in one process, scripts/bench.py's
model, block 64): a GPT step 6.6% faster than with the numpy versions' products at dropout 0.1,
4.8% at 0 (the products alone on both threads gave 3.7%, each head's work in one task 2.5% more).
Where the kernels cannot take a call (no shared pool, no BLAS to call, a product OpenBLAS would
thread, a layout BLAS cannot read in place, a float mask that needs dZ), the Numba versions run
the numpy ones, whose middle is then Numba's.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import Kernel
from .attention import (
    attention_probs_backward_head,
    attention_probs_forward_head,
    attention_probs_backward,
    attention_probs_forward,
)
from .thread_pool import products_share_threads
from .gemm import NO_TRANSPOSE, SINGLE_THREAD_PRODUCT, TRANSPOSE, gemm, gemm_address
from .dropout import inverted_scale
from .random_bits import drop_threshold

# Block sizes where skipping the quarter made a GPT step slower (scripts/bench.py's model, 4 heads
# of 32; paired A/B 1.026 at 128, where each per-head product becomes one of 64 x 64 x 32 and one
# of 64 x 128 x 32 instead of one of 128 x 128 x 32). Why 128 loses is not known: timed alone, in a
# process that has already run other products, as a training step has, 64 x 64 x 32 takes 11 us,
# as long as 64 x 64 x 33. (OpenBLAS starts up to twice as slow for such shapes, until its first
# product of another shape: a benchmark of them alone measures that start, not a training step.)
WHOLE_PRODUCTS_AT = (128,)


def causal_blocks(T: int, S: int, causal: bool) -> tuple[list, list]:
    """The blocks of the (T, S) scores that causal attention needs, as (rows, keys) slice pairs.

    Query i sees keys 0..i, so the scores' top-right quarter (rows < T/2, keys >= T/2) is all
    masked: split at h = T/2, the products skip it and do 3/4 of the work. Blocks are listed twice:
    by_rows covers every row once (scores = Q K^T, out = D V, dQ = dZ K build rows), by_keys every
    key once (dV = D^T dOut, dK = dZ^T Q build keys' rows). One whole block without a causal mask,
    for T != S, and at the block sizes in WHOLE_PRODUCTS_AT. Measured: the per-head products 31%
    faster at block 64 and 21% at 256, a GPT training step 1.4-2.4% and 2.1% faster."""
    whole = [(slice(0, T), slice(0, S))]
    h = T // 2
    if not causal or T != S or h == 0 or T in WHOLE_PRODUCTS_AT:
        return whole, whole
    by_rows = [(slice(0, h), slice(0, h)), (slice(h, T), slice(0, S))]
    by_keys = [(slice(0, T), slice(0, h)), (slice(h, T), slice(h, S))]
    return by_rows, by_keys


def empty_scores(shape: tuple, dtype, by_rows: list) -> np.ndarray:
    """A new (..., T, S) array for scores or their gradient, with zeros where no block writes: the
    numpy references (both ways) and the Numba backward kernel read every key of a row, so a
    skipped quarter must hold finite numbers there."""
    scores = np.empty(shape, dtype)
    for rows, keys in by_rows:
        scores[..., rows, keys.stop:] = 0.0
    return scores


def attention_heads_forward_numpy(q, k, v, bias, has_bias: bool, causal: bool, scale: float, p: float, key,
                                  out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = dropout(softmax(scale q k^T + bias)) v, for q (..., T, E), k (..., S, E), v (..., S, Ev)
    whose rows are contiguous, written into `out`; returns (P, D), the (BH, T, S) weights backward
    needs (D is P itself without dropout). bias is (BH, T, S), read only if has_bias."""
    T, S = q.shape[-2], k.shape[-2]
    by_rows, _ = causal_blocks(T, S, causal)
    scores = empty_scores(q.shape[:-1] + (S,), q.dtype, by_rows)
    for rows, keys in by_rows:
        np.matmul(q[..., rows, :], k[..., keys, :].swapaxes(-1, -2), out=scores[..., rows, keys])
    probs, dropped = attention_probs_forward(scores.reshape(-1, T, S), bias, has_bias, causal, scale, p, key)
    weights = dropped.reshape(scores.shape)
    for rows, keys in by_rows:
        np.matmul(weights[..., rows, keys], v[..., keys, :], out=out[..., rows, :])
    return probs, dropped


def attention_heads_backward_numpy(grad, q, k, v, probs, dropped, scale: float, causal: bool, grad_q: np.ndarray,
                                   grad_k: np.ndarray, grad_v: np.ndarray, mask_grad: bool) -> np.ndarray | None:
    """Writes dQ, dK, dV into grad_q, grad_k, grad_v (shaped like q, k, v; any layout whose rows are
    contiguous); returns dZ, the scaled and masked scores' gradient shaped (..., T, S), if
    mask_grad (it is a float mask's gradient), else None."""
    weights = dropped.reshape(q.shape[:-1] + (k.shape[-2],))  # D, with q's leading axes
    # Each product below may run block by block (causal_blocks) or on the whole matrices at once.
    by_rows, by_keys = causal_blocks(weights.shape[-2], weights.shape[-1], causal)
    # BEGIN SOLUTION attention: follow the backward formulas in ops/attention.py's docstring (dZ from P and D)
    grad_dropped = empty_scores(weights.shape, weights.dtype, by_rows)  # dD; 0 where D is 0 anyway
    for rows, keys in by_rows:
        np.matmul(grad[..., rows, :], v[..., keys, :].swapaxes(-1, -2), out=grad_dropped[..., rows, keys])
    for rows, keys in by_keys:
        np.matmul(weights[..., rows, keys].swapaxes(-1, -2), grad[..., rows, :], out=grad_v[..., keys, :])
    # dZ, the gradient of the scaled and masked scores. dQ and dK take scale * dZ, which the kernel
    # forms in its own pass, unless a float mask needs dZ itself: then dQ and dK are scaled after.
    grad_z = attention_probs_backward(probs, dropped, grad_dropped.reshape(probs.shape), 1.0 if mask_grad else scale)
    grad_z = grad_z.reshape(weights.shape)
    for rows, keys in by_rows:
        np.matmul(grad_z[..., rows, keys], k[..., keys, :], out=grad_q[..., rows, :])
    for rows, keys in by_keys:
        np.matmul(grad_z[..., rows, keys].swapaxes(-1, -2), q[..., rows, :], out=grad_k[..., keys, :])
    if not mask_grad:
        return None
    grad_q *= scale
    grad_k *= scale
    return grad_z
    # END SOLUTION


def _heads_layout(array: np.ndarray) -> np.ndarray:
    """Where a (B, H, rows, cols) array's matrices start, for the kernels: its address and its
    strides in bytes along B, H and rows, as int64s (a 3-D array is one B; its rows are contiguous,
    as BLAS reads them, see _kernel_fits). Passing addresses, not arrays, keeps the compiled
    kernels to one per dtype: Numba compiles anew for every mix of contiguous and strided arrays
    (eleven in the test suite, ~7 s each)."""
    if array.ndim == 3:
        array = array[np.newaxis]
    return np.array([array.ctypes.data, *array.strides[:3]], dtype=np.int64)


@njit(cache=True, inline="always")
def _matrix_at(layout, b, h, row):
    """The address of row `row` of matrix (b, h) of an array given by _heads_layout."""
    return layout[0] + b * layout[1] + h * layout[2] + row * layout[3]


def _block_table(blocks: list) -> np.ndarray:
    """(rows, keys) slice pairs as rows of (first row, row stop, first key, key stop)."""
    return np.array([[rows.start, rows.stop, keys.start, keys.stop] for rows, keys in blocks], dtype=np.int64)


def _kernel_fits(arrays: list, blocks: list, width: int) -> int | None:
    """The gemm address if the kernels take this call, else None: the pool is shared (the kernels
    run their heads on its threads), the arrays have one float dtype that gemm can multiply, the
    same one or two leading axes (batch and heads) and contiguous rows, and every block's products
    are small enough for OpenBLAS to run them on the task's own thread."""
    dtype, lead = arrays[0].dtype, arrays[0].shape[:-2]
    if not products_share_threads() or len(lead) not in (1, 2):
        return None
    if any(array.dtype != dtype or array.shape[:-2] != lead or array.strides[-1] != array.itemsize for array in arrays):
        return None
    largest = max((rows.stop - rows.start) * (keys.stop - keys.start) for rows, keys in blocks) * width
    return gemm_address(dtype) if 0 < largest <= SINGLE_THREAD_PRODUCT else None


def attention_heads_forward_numba(q, k, v, bias, has_bias: bool, causal: bool, scale: float, p: float, key,
                                  out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    T, S = q.shape[-2], k.shape[-2]
    by_rows, _ = causal_blocks(T, S, causal)
    address = _kernel_fits([q, k, v, out], by_rows, max(q.shape[-1], v.shape[-1]))
    if address is None:
        return attention_heads_forward_numpy(q, k, v, bias, has_bias, causal, scale, p, key, out)
    n_heads = q.shape[-3] if q.ndim == 4 else q.shape[0]  # heads per batch row (a 3-D q is one row)
    probs = np.empty((q.size // (T * q.shape[-1]), T, S), q.dtype)
    dropped = probs if p == 0.0 else np.empty_like(probs)  # without dropout D is P
    _attention_heads_forward_kernel(
        address, *(_heads_layout(array) for array in (q, k, v, out)), n_heads, q.shape[-1], v.shape[-1],
        probs, dropped, np.require(bias, q.dtype, ["C", "W"]), bool(has_bias), bool(causal), q.dtype.type(scale),
        drop_threshold(p), np.uint64(key), q.dtype.type(inverted_scale(p)), q.dtype == np.float32,
        _block_table(by_rows),
    )
    return probs, dropped


# A head's work is compiled on its own, not inlined into the parallel loop, which keeps that loop
# quick to compile (fused into it, each version took ~12 s instead of ~7). The flags are the middle
# kernels' (attention.py), so the middle gives their bits.
@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _attention_head_forward(address, q, k, v, out, n_heads, width, value_width, probs, dropped, bias, has_bias,
                            causal, scale, threshold, key, keep_scale, float32_exp, by_rows, head):
    """Head `head` (of B * H): its scores into probs[head], the middle, then its output rows."""
    b, h = head // n_heads, head % n_heads
    item, n_keys = probs.itemsize, probs.shape[2]
    for block in range(by_rows.shape[0]):
        row, row_stop, first_key, key_stop = by_rows[block]
        gemm(address, NO_TRANSPOSE, TRANSPOSE, row_stop - row, key_stop - first_key, width,
             _matrix_at(q, b, h, row), q[3] // item, _matrix_at(k, b, h, first_key), k[3] // item,
             probs[head, row:, first_key:], n_keys)
    # The skipped quarter is never read: causal rows stop at their last visible key.
    attention_probs_forward_head(head, bias, has_bias, causal, scale, threshold, key, keep_scale, float32_exp,
                                 probs, dropped)
    for block in range(by_rows.shape[0]):
        row, row_stop, first_key, key_stop = by_rows[block]
        gemm(address, NO_TRANSPOSE, NO_TRANSPOSE, row_stop - row, value_width, key_stop - first_key,
             dropped[head, row:, first_key:], n_keys, _matrix_at(v, b, h, first_key), v[3] // item,
             _matrix_at(out, b, h, row), out[3] // item)


# One (batch, head) per thread task of the shared pool.
@njit(cache=True, parallel=True)
def _attention_heads_forward_kernel(address, q, k, v, out, n_heads, width, value_width, probs, dropped, bias,
                                    has_bias, causal, scale, threshold, key, keep_scale, float32_exp, by_rows):
    for head in prange(probs.shape[0]):
        _attention_head_forward(address, q, k, v, out, n_heads, width, value_width, probs, dropped, bias, has_bias,
                                causal, scale, threshold, key, keep_scale, float32_exp, by_rows, head)


def attention_heads_backward_numba(grad, q, k, v, probs, dropped, scale: float, causal: bool, grad_q: np.ndarray,
                                   grad_k: np.ndarray, grad_v: np.ndarray, mask_grad: bool) -> np.ndarray | None:
    by_rows, by_keys = causal_blocks(probs.shape[1], probs.shape[2], causal)
    arrays = [grad, q, k, v, grad_q, grad_k, grad_v]
    address = None if mask_grad else _kernel_fits(arrays, by_rows, max(q.shape[-1], v.shape[-1]))
    if address is None:
        return attention_heads_backward_numpy(grad, q, k, v, probs, dropped, scale, causal, grad_q, grad_k, grad_v,
                                              mask_grad)
    n_heads = q.shape[-3] if q.ndim == 4 else q.shape[0]
    probs = np.ascontiguousarray(probs)
    _attention_heads_backward_kernel(
        address, *(_heads_layout(array) for array in arrays), n_heads, q.shape[-1], v.shape[-1], probs,
        np.ascontiguousarray(dropped, dtype=probs.dtype), np.empty_like(probs), float(scale),
        _block_table(by_rows), _block_table(by_keys),
    )
    return None


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _attention_head_backward(address, grad, q, k, v, grad_q, grad_k, grad_v, n_heads, width, value_width, probs,
                             dropped, grad_scores, scale, by_rows, by_keys, head):
    """Head `head`: dD into grad_scores[head], dV, dS over dD in place, then dQ and dK."""
    b, h = head // n_heads, head % n_heads
    item, n_keys = probs.itemsize, probs.shape[2]
    for block in range(by_rows.shape[0]):
        row, row_stop, first_key, key_stop = by_rows[block]
        # the middle's backward reads every key of a row: zeros where no product writes
        grad_scores[head, row:row_stop, key_stop:] = 0.0
        gemm(address, NO_TRANSPOSE, TRANSPOSE, row_stop - row, key_stop - first_key, value_width,
             _matrix_at(grad, b, h, row), grad[3] // item, _matrix_at(v, b, h, first_key), v[3] // item,
             grad_scores[head, row:, first_key:], n_keys)
    for block in range(by_keys.shape[0]):
        row, row_stop, first_key, key_stop = by_keys[block]
        gemm(address, TRANSPOSE, NO_TRANSPOSE, key_stop - first_key, value_width, row_stop - row,
             dropped[head, row:, first_key:], n_keys, _matrix_at(grad, b, h, row), grad[3] // item,
             _matrix_at(grad_v, b, h, first_key), grad_v[3] // item)
    attention_probs_backward_head(head, probs, dropped, grad_scores, scale)
    for block in range(by_rows.shape[0]):
        row, row_stop, first_key, key_stop = by_rows[block]
        gemm(address, NO_TRANSPOSE, NO_TRANSPOSE, row_stop - row, width, key_stop - first_key,
             grad_scores[head, row:, first_key:], n_keys, _matrix_at(k, b, h, first_key), k[3] // item,
             _matrix_at(grad_q, b, h, row), grad_q[3] // item)
    for block in range(by_keys.shape[0]):
        row, row_stop, first_key, key_stop = by_keys[block]
        gemm(address, TRANSPOSE, NO_TRANSPOSE, key_stop - first_key, width, row_stop - row,
             grad_scores[head, row:, first_key:], n_keys, _matrix_at(q, b, h, row), q[3] // item,
             _matrix_at(grad_k, b, h, first_key), grad_k[3] // item)


@njit(cache=True, parallel=True)
def _attention_heads_backward_kernel(address, grad, q, k, v, grad_q, grad_k, grad_v, n_heads, width, value_width,
                                     probs, dropped, grad_scores, scale, by_rows, by_keys):
    for head in prange(probs.shape[0]):
        _attention_head_backward(address, grad, q, k, v, grad_q, grad_k, grad_v, n_heads, width, value_width, probs,
                                 dropped, grad_scores, scale, by_rows, by_keys, head)


attention_heads_forward = Kernel("attention_heads_forward", attention_heads_forward_numpy,
                                 attention_heads_forward_numba)
attention_heads_backward = Kernel("attention_heads_backward", attention_heads_backward_numpy,
                                  attention_heads_backward_numba)
