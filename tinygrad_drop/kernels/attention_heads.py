"""Attention head by head: the matrix products around the fused middle (attention.py), both ways.

For q (..., T, E), k (..., S, E), v (..., S, Ev), with P = softmax(scale q k^T + bias) and
D = dropout(P) (attention.py makes both from the scores):

    forward:  scores = q k^T,  (P, D) = middle(scores),  out = D v
    backward: dQ, dK, dV (and dZ, the scores' gradient, for a float mask) from dOut, P and D

The numpy reference writes both on every head at once.

The Numba twin does all of one (batch, head) pair in one thread task: its products through BLAS
from compiled code (gemm.py), its middle right after its scores, while they are still in cache, so
a head's scores never leave its core and each direction is one parallel loop instead of one per
product. With a causal mask its products skip the scores' top-right quarter, which the mask hides
entirely (causal_blocks). Where those kernels cannot take a call (no shared pool, no BLAS to call,
a product OpenBLAS would thread, a layout BLAS cannot read in place, a float mask that needs dZ),
the twin composes numpy's matmul, block by block, around the Numba middle instead.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel, checks
from .attention import (
    attention_probs_backward_numba,
    attention_probs_backward_numpy,
    attention_probs_forward_head,
    attention_probs_forward_numba,
    attention_probs_forward_numpy,
    middle_settings,
)
# BEGIN SOLUTION attention: the Numba twin's backward
from .attention import attention_probs_backward_head
# STUDENT: # (attention_probs_backward_head: the Numba twin's backward, yours to write once attention passes)
# END SOLUTION
from .thread_pool import products_share_threads
from .gemm import NO_TRANSPOSE, SINGLE_THREAD_PRODUCT, TRANSPOSE, gemm, gemm_address

# ---------------------------------------------------------------------------- the numpy reference


def heads_of(scores: np.ndarray) -> int:
    """How many (T, S) matrices a (..., T, S) array holds (a reshape to (-1, T, S) fails when T is 0)."""
    return int(np.prod(scores.shape[:-2]))


def attention_heads_forward_numpy(q, k, v, bias, has_bias: bool, causal: bool, scale: float, p: float, key,
                                  out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = dropout(softmax(scale q k^T + bias)) v, for q (..., T, E), k (..., S, E), v (..., S, Ev),
    written into `out`; returns (P, D), the (BH, T, S) weights backward needs (D is P itself
    without dropout). bias is (BH, T, S), read only if has_bias."""
    T, S = q.shape[-2], k.shape[-2]
    scores = q @ k.swapaxes(-1, -2)
    probs, dropped = attention_probs_forward_numpy(scores.reshape(heads_of(scores), T, S), bias, has_bias, causal,
                                                   scale, p, key)
    out[...] = dropped.reshape(scores.shape) @ v
    return probs, dropped


def attention_heads_backward_numpy(grad, q, k, v, probs, dropped, scale: float, causal: bool, grad_q: np.ndarray,
                                   grad_k: np.ndarray, grad_v: np.ndarray, mask_grad: bool) -> np.ndarray | None:
    """Writes dQ, dK, dV into grad_q, grad_k, grad_v (shaped like q, k, v); returns dZ, the scaled
    and masked scores' gradient shaped (..., T, S), if mask_grad (it is a float mask's gradient),
    else None. The causal mask needs nothing here: masked weights are 0 in P and D."""
    weights_shape = q.shape[:-1] + (k.shape[-2],)
    probs, dropped = probs.reshape(weights_shape), dropped.reshape(weights_shape)  # with q's leading axes
    # BEGIN SOLUTION attention: write dQ, dK, dV into grad_q, grad_k, grad_v; dZ via attention_probs_backward_numpy
    # With S = scale Q K^T, P = softmax(S + mask), D = dropout(P), out = D V:
    #     dD = dOut V^T,  dV = D^T dOut,  dZ = dD * D - P * rowsum(dD * D),
    #     dQ = scale dZ K,  dK = scale dZ^T Q,  and a float attn_mask gets dZ itself.
    grad_dropped = grad @ v.swapaxes(-1, -2)
    grad_v[...] = dropped.swapaxes(-1, -2) @ grad
    grad_z = attention_probs_backward_numpy(probs, dropped, grad_dropped, 1.0)
    grad_q[...] = scale * (grad_z @ k)
    grad_k[...] = scale * (grad_z.swapaxes(-1, -2) @ q)
    return grad_z if mask_grad else None
    # END SOLUTION


# ------------------------------------------------------------------------------ the Numba twin

# Block sizes where the products stay whole: at 128 (scripts/bench.py's model, 4 heads of 32) the
# split turns each per-head product of 128 x 128 x 32 into one of 64 x 64 x 32 and one of
# 64 x 128 x 32, and the training step lost time; why is not known (docs/performance.md).
WHOLE_PRODUCTS_AT = (128,)


def causal_blocks(T: int, S: int, causal: bool) -> tuple[list, list]:
    """The blocks of the (T, S) scores that causal attention needs, as (rows, keys) slice pairs.

    Query i sees keys 0..i, so the scores' top-right quarter (rows < T/2, keys >= T/2) is all
    masked: split at h = T/2, the products skip it and do 3/4 of the work. Blocks are listed twice:
    by_rows covers every row once (scores = Q K^T, out = D V, dQ = dZ K build rows), by_keys every
    key once (dV = D^T dOut, dK = dZ^T Q build keys' rows). One whole block without a causal mask,
    for T != S, and at the block sizes in WHOLE_PRODUCTS_AT."""
    whole = [(slice(0, T), slice(0, S))]
    h = T // 2
    if not causal or T != S or h == 0 or T in WHOLE_PRODUCTS_AT:
        return whole, whole
    by_rows = [(slice(0, h), slice(0, h)), (slice(h, T), slice(0, S))]
    by_keys = [(slice(0, T), slice(0, h)), (slice(h, T), slice(h, S))]
    return by_rows, by_keys


def empty_scores(shape: tuple, dtype, by_rows: list) -> np.ndarray:
    """A new (..., T, S) array for scores or their gradient, with zeros where no block writes: the
    middle kernel's backward reads every key of a row, so a skipped quarter must hold finite
    numbers there."""
    scores = np.empty(shape, dtype)
    for rows, keys in by_rows:
        scores[..., rows, keys.stop:] = 0.0
    return scores


def composed_forward(q, k, v, bias, has_bias: bool, causal: bool, scale: float, p: float, key,
                     out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward of the calls the per-head kernels cannot take: numpy's matmul block by block
    (causal_blocks), writing into the scores and `out` in place, around the Numba middle."""
    T, S = q.shape[-2], k.shape[-2]
    by_rows, _ = causal_blocks(T, S, causal)
    scores = empty_scores(q.shape[:-1] + (S,), q.dtype, by_rows)
    for rows, keys in by_rows:
        np.matmul(q[..., rows, :], k[..., keys, :].swapaxes(-1, -2), out=scores[..., rows, keys])
    probs, dropped = attention_probs_forward_numba(scores.reshape(heads_of(scores), T, S), bias, has_bias, causal,
                                                   scale, p, key)
    weights = dropped.reshape(scores.shape)
    for rows, keys in by_rows:
        np.matmul(weights[..., rows, keys], v[..., keys, :], out=out[..., rows, :])
    return probs, dropped


# BEGIN SOLUTION attention: the Numba twin
def composed_backward(grad, q, k, v, probs, dropped, scale: float, causal: bool, grad_q: np.ndarray,
                      grad_k: np.ndarray, grad_v: np.ndarray, mask_grad: bool) -> np.ndarray | None:
    """The backward of the calls the per-head kernels cannot take, as composed_forward."""
    weights = dropped.reshape(q.shape[:-1] + (k.shape[-2],))  # D, with q's leading axes
    by_rows, by_keys = causal_blocks(weights.shape[-2], weights.shape[-1], causal)
    grad_dropped = empty_scores(weights.shape, weights.dtype, by_rows)  # dD; 0 where D is 0 anyway
    for rows, keys in by_rows:
        np.matmul(grad[..., rows, :], v[..., keys, :].swapaxes(-1, -2), out=grad_dropped[..., rows, keys])
    for rows, keys in by_keys:
        np.matmul(weights[..., rows, keys].swapaxes(-1, -2), grad[..., rows, :], out=grad_v[..., keys, :])
    # dQ and dK take scale * dZ, which the middle forms in its own pass, unless a float mask needs
    # dZ itself: then dQ and dK are scaled after.
    grad_z = attention_probs_backward_numba(probs, dropped, grad_dropped.reshape(probs.shape),
                                            1.0 if mask_grad else scale)
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
# STUDENT: # (composed_backward: the Numba twin's backward, yours to write once attention passes)
# END SOLUTION


def _heads_layouts(arrays: list) -> np.ndarray:
    """Where each (B, H, rows, cols) array's matrices start, for the kernels: one row per array,
    its address and its strides in bytes along B, H and rows, as int64s (a 3-D array is one B;
    its rows are contiguous, as BLAS reads them, see _kernel_fits). Passing addresses, not
    arrays, keeps the compiled kernels to one per dtype: Numba compiles anew for every mix of
    contiguous and strided arrays."""
    return np.array([[array.ctypes.data, *(array if array.ndim == 4 else array[np.newaxis]).strides[:3]]
                     for array in arrays], dtype=np.int64)


@njit(cache=True, inline="always")
def _matrix_at(layout, b, h, row):
    """The address of row `row` of matrix (b, h) of an array given by a row of _heads_layouts."""
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


def _head_sizes(q, v) -> tuple[int, int, int]:
    """(heads per batch row, q's and k's features, v's features); a 3-D q is one batch row."""
    return q.shape[-3] if q.ndim == 4 else q.shape[0], q.shape[-1], v.shape[-1]


def attention_heads_forward_numba(q, k, v, bias, has_bias: bool, causal: bool, scale: float, p: float, key,
                                  out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    T, S = q.shape[-2], k.shape[-2]
    by_rows, _ = causal_blocks(T, S, causal)
    address = _kernel_fits([q, k, v, out], by_rows, max(q.shape[-1], v.shape[-1]))
    if address is None:
        return composed_forward(q, k, v, bias, has_bias, causal, scale, p, key, out)
    probs = np.empty((q.size // (T * q.shape[-1]), T, S), q.dtype)
    dropped = probs if p == 0.0 else np.empty_like(probs)  # without dropout D is P
    _attention_heads_forward_kernel(address, _heads_layouts([q, k, v, out]), _head_sizes(q, v), probs, dropped,
                                    np.require(bias, q.dtype, ["C", "W"]),
                                    middle_settings(q.dtype, has_bias, causal, scale, p, key), _block_table(by_rows))
    return probs, dropped


# The three products of a head, block by block (rows: queries, keys: keys). A, B and C are rows of
# _heads_layouts; W is one head's (T, S) weights or their gradient; `width` the features of A and B.


@njit(cache=True, error_model="numpy")
def _scores_product(address, A, B, width, b, h, W, blocks):
    """W[rows, keys] = A[rows] B[keys]^T (scores = q k^T; dD = dOut v^T)."""
    item = W.itemsize
    for block in range(blocks.shape[0]):
        row, row_stop, first_key, key_stop = blocks[block]
        gemm(address, NO_TRANSPOSE, TRANSPOSE, row_stop - row, key_stop - first_key, width,
             _matrix_at(A, b, h, row), A[3] // item, _matrix_at(B, b, h, first_key), B[3] // item,
             W[row:, first_key:], W.shape[1])


@njit(cache=True, error_model="numpy")
def _rows_product(address, W, B, width, b, h, C, blocks):
    """C[rows] = W[rows, keys] B[keys] (out = D v; dQ = dS k)."""
    item = W.itemsize
    for block in range(blocks.shape[0]):
        row, row_stop, first_key, key_stop = blocks[block]
        gemm(address, NO_TRANSPOSE, NO_TRANSPOSE, row_stop - row, width, key_stop - first_key,
             W[row:, first_key:], W.shape[1], _matrix_at(B, b, h, first_key), B[3] // item,
             _matrix_at(C, b, h, row), C[3] // item)


@njit(cache=True, error_model="numpy")
def _keys_product(address, W, A, width, b, h, C, blocks):
    """C[keys] = W[rows, keys]^T A[rows] (dV = D^T dOut; dK = dS^T q)."""
    item = W.itemsize
    for block in range(blocks.shape[0]):
        row, row_stop, first_key, key_stop = blocks[block]
        gemm(address, TRANSPOSE, NO_TRANSPOSE, key_stop - first_key, width, row_stop - row,
             W[row:, first_key:], W.shape[1], _matrix_at(A, b, h, row), A[3] // item,
             _matrix_at(C, b, h, first_key), C[3] // item)


# A head's work is compiled on its own, not inlined into the parallel loop, which keeps that loop
# quick to compile. Its middle is attention.py's head function, the one compiled copy every
# kernel calls, so the middle gives the same bits here as in the composition.
@njit(cache=True, error_model="numpy")
def _attention_head_forward(address, layouts, sizes, probs, dropped, bias, settings, by_rows, head):
    """Head `head` (of B * H): its scores into probs[head], the middle, then its output rows."""
    q, k, v, out = layouts[0], layouts[1], layouts[2], layouts[3]
    n_heads, width, value_width = sizes
    b, h = head // n_heads, head % n_heads
    _scores_product(address, q, k, width, b, h, probs[head], by_rows)  # scores = q k^T
    # (P, D) = middle(scores); the skipped quarter is never read: causal rows stop at their last key
    attention_probs_forward_head(head, bias, settings, probs, dropped)
    _rows_product(address, dropped[head], v, value_width, b, h, out, by_rows)  # out = D v


# One (batch, head) per thread task of the shared pool.
@njit(cache=True, parallel=True)
def _attention_heads_forward_kernel(address, layouts, sizes, probs, dropped, bias, settings, by_rows):
    for head in prange(probs.shape[0]):
        _attention_head_forward(address, layouts, sizes, probs, dropped, bias, settings, by_rows, np.int64(head))


# BEGIN SOLUTION attention: the Numba twin
def attention_heads_backward_numba(grad, q, k, v, probs, dropped, scale: float, causal: bool, grad_q: np.ndarray,
                                   grad_k: np.ndarray, grad_v: np.ndarray, mask_grad: bool) -> np.ndarray | None:
    by_rows, by_keys = causal_blocks(probs.shape[1], probs.shape[2], causal)
    arrays = [grad, q, k, v, grad_q, grad_k, grad_v]
    address = None if mask_grad else _kernel_fits(arrays, by_rows, max(q.shape[-1], v.shape[-1]))
    if address is None:
        return composed_backward(grad, q, k, v, probs, dropped, scale, causal, grad_q, grad_k, grad_v, mask_grad)
    probs = np.ascontiguousarray(probs)
    _attention_heads_backward_kernel(address, _heads_layouts(arrays), _head_sizes(q, v), probs,
                                     np.ascontiguousarray(dropped, dtype=probs.dtype), np.empty_like(probs),
                                     float(scale), _block_table(by_rows), _block_table(by_keys))
    return None


@njit(cache=True, error_model="numpy")
def _attention_head_backward(address, layouts, sizes, probs, dropped, grad_scores, scale, by_rows, by_keys, head):
    """Head `head`: dD into grad_scores[head], dV, dS over dD in place, then dQ and dK."""
    grad, q, k, v = layouts[0], layouts[1], layouts[2], layouts[3]
    grad_q, grad_k, grad_v = layouts[4], layouts[5], layouts[6]
    n_heads, width, value_width = sizes
    b, h = head // n_heads, head % n_heads
    for block in range(by_rows.shape[0]):  # the middle's backward reads every key of a row:
        row, row_stop, _, key_stop = by_rows[block]  # zeros where no product writes
        grad_scores[head, row:row_stop, key_stop:] = 0.0
    _scores_product(address, grad, v, value_width, b, h, grad_scores[head], by_rows)  # dD = dOut v^T
    _keys_product(address, dropped[head], grad, value_width, b, h, grad_v, by_keys)  # dV = D^T dOut
    attention_probs_backward_head(head, probs, dropped, grad_scores, scale)  # dS = scale dZ
    _rows_product(address, grad_scores[head], k, width, b, h, grad_q, by_rows)  # dQ = dS k
    _keys_product(address, grad_scores[head], q, width, b, h, grad_k, by_keys)  # dK = dS^T q


@njit(cache=True, parallel=True)
def _attention_heads_backward_kernel(address, layouts, sizes, probs, dropped, grad_scores, scale, by_rows, by_keys):
    for head in prange(probs.shape[0]):
        _attention_head_backward(address, layouts, sizes, probs, dropped, grad_scores, scale, by_rows, by_keys,
                                 np.int64(head))


# STUDENT: attention_heads_backward_numba = attention_heads_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_heads(kernel: str, q, k, v) -> tuple:
    """q (..., T, E), k (..., S, E), v (..., S, Ev) with the same leading axes (none, one or two):
    the shape of the weights, (BH, T, S), and of the output, (..., T, Ev)."""
    for name, array in (("q", q), ("k", k), ("v", v)):
        checks.ndim(kernel, name, array, 2, 3, 4)
    checks.floats(kernel, q=q, k=k, v=v)
    lead, T, S = q.shape[:-2], q.shape[-2], k.shape[-2]
    checks.shapes(kernel, k=(k, lead + (S, q.shape[-1])), v=(v, lead + (S, np.shape(v)[-1])))
    return (math.prod(lead), T, S), lead + (T, v.shape[-1])


def check_attention_heads_forward(q, k, v, bias, has_bias, causal, scale, p, key, out) -> None:
    weights_shape, out_shape = check_heads("attention_heads_forward", q, k, v)
    checks.probability("attention_heads_forward", p)
    checks.floats("attention_heads_forward", q=q, out=out, **({"bias": bias} if has_bias else {}))
    checks.shapes("attention_heads_forward", out=(out, out_shape), **({"bias": (bias, weights_shape)} if has_bias else {}))


def check_attention_heads_backward(grad, q, k, v, probs, dropped, scale, causal, grad_q, grad_k, grad_v,
                                   mask_grad) -> None:
    weights_shape, out_shape = check_heads("attention_heads_backward", q, k, v)
    checks.floats("attention_heads_backward", q=q, grad=grad, probs=probs, dropped=dropped, grad_q=grad_q,
                  grad_k=grad_k, grad_v=grad_v)
    checks.shapes("attention_heads_backward", grad=(grad, out_shape), probs=(probs, weights_shape),
                  dropped=(dropped, weights_shape), grad_q=(grad_q, q.shape), grad_k=(grad_k, k.shape),
                  grad_v=(grad_v, v.shape))


attention_heads_forward = Kernel("attention_heads_forward", attention_heads_forward_numpy,
                                 attention_heads_forward_numba, check_attention_heads_forward)
attention_heads_backward = Kernel("attention_heads_backward", attention_heads_backward_numpy,
                                  attention_heads_backward_numba, check_attention_heads_backward)
