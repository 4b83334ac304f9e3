"""Dropout: zero each element with probability p, scale the survivors.

The mask is a pure function of (key, flat element index): element i is dropped iff
random_bits(key, i) < drop_threshold(p) (see random_bits.py). So the mask needs no storage, both
backends draw the same bits, and any thread may draw any element's bit.

Forward, for x of any shape (flattened in C order, so i is the flat index of the element):

    y_i = x_i * scale   if element i is kept       y_i = 0   if dropped

with scale = 1/(1-p) for inverted dropout (the caller picks; 1 for classic dropout's training pass).

Backward (ops/dropout.py) needs the forward's mask again: it is regenerated from the key, not
saved, and a dropped element must get exactly 0 gradient.

Edges: p = 0 keeps everything (y = x * scale exactly); p = 1 drops everything (y is exact zeros,
whatever x holds, even inf or nan). The product x_i * scale is rounded once, in x's dtype, by
both backends, so their outputs are bit-identical.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import Kernel, checks, threads_beside_products
from .parallel import ROWS_PER_TASK, njit_parallel_or_serial, task_count, task_rows
from .random_bits import drop_threshold, random_bits, random_bits_jit


def inverted_scale(p: float) -> float:
    """1/(1-p): kept units are scaled up so the expected output equals the input.
    With p = 1 nothing is kept, and the scale is irrelevant (0 avoids dividing by zero)."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)


def dropout_mask_numpy(n: int, p: float, key: np.uint64) -> np.ndarray:
    bits = random_bits(np.uint64(key), np.arange(n, dtype=np.uint32))
    return bits >= drop_threshold(p)


def dropout_mask_numba(n: int, p: float, key: np.uint64) -> np.ndarray:
    return _dropout_mask_kernel(int(n), drop_threshold(p), np.uint64(key))


# Serial: masks are drawn only to be inspected (layer.mask), off the training hot path.
@njit(cache=True)
def _dropout_mask_kernel(n, threshold, key):
    kept = np.empty(n, dtype=np.bool_)
    for i in range(n):
        kept[i] = random_bits_jit(key, np.uint64(i)) >= threshold
    return kept


def dropout_apply_numpy(x: np.ndarray, p: float, key: np.uint64, scale: float) -> np.ndarray:
    # BEGIN SOLUTION dropout: y of x's shape and dtype: kept elements (dropout_mask_numpy(x.size, p, key), flat C order) times scale, the rest exactly 0
    kept = dropout_mask_numpy(x.size, p, key).reshape(x.shape)
    # Zeroed before scaling: a dropped inf or nan becomes an exact 0, never inf * 0 = nan.
    return np.where(kept, x, 0) * x.dtype.type(scale)
    # END SOLUTION


# BEGIN SOLUTION dropout: the Numba twin
def dropout_apply_numba(x: np.ndarray, p: float, key: np.uint64, scale: float) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    # scale is passed in x's dtype so the kernel multiplies in that dtype, like numpy does.
    y = np.empty_like(flat)
    _dropout_apply_kernel(flat, drop_threshold(p), np.uint64(key), x.dtype.type(scale), y,
                          threads=threads_beside_products())
    return y.reshape(x.shape)


# Chunks of CHUNK elements go to threads where the matrix products share Numba's threads
# (threads_beside_products, kernels/thread_pool.py), and run on the calling thread otherwise: beside
# OpenBLAS's own spinning threads a threaded kernel waits for the cores those threads hold, and it
# would have to wake sleeping threads on every call. Each element's bit depends only on its index,
# so the chunks give the same bits anywhere.
CHUNK = 16384


@njit(cache=True, inline="always")
def _dropout_apply_chunk(x, threshold, key, scale, y, start):
    # Drawing the bit and scaling in one loop: no mask array is ever written or read. x is read
    # whether or not the element is kept, so that LLVM loads eight elements with one plain vector
    # load and picks product or zero with a blend. Read only for kept elements (an if/else), the
    # loop used masked vector loads, which cost more than a plain load and a blend on the AMD CPUs
    # this was tuned on (docs/performance.md); the bits are the same either way.
    xs, ys = x[start:start + CHUNK], y[start:start + CHUNK]
    for k in range(xs.size):
        scaled = xs[k] * scale
        ys[k] = scaled if random_bits_jit(key, np.uint64(start + k)) >= threshold else x.dtype.type(0.0)


@njit_parallel_or_serial()
def _dropout_apply_kernel(x, threshold, key, scale, y):
    for chunk in prange(task_count(x.size, CHUNK)):
        _dropout_apply_chunk(x, threshold, key, scale, y, chunk * CHUNK)


# STUDENT: dropout_apply_numba = dropout_apply_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def add_bias_dropout_numpy(rows: np.ndarray, bias: np.ndarray | None, p: float, key: np.uint64,
                           scale: float) -> np.ndarray:
    if bias is not None:
        rows += bias
    rows[...] = dropout_apply_numpy(rows, p, key, scale)
    return rows


# BEGIN SOLUTION dropout: the Numba twin
def add_bias_dropout_numba(rows: np.ndarray, bias: np.ndarray | None, p: float, key: np.uint64,
                           scale: float) -> np.ndarray:
    if not rows.flags.c_contiguous or rows.ndim != 2:
        return add_bias_dropout_numpy(rows, bias, p, key, scale)
    has_bias = bias is not None
    bias = np.ascontiguousarray(bias, dtype=rows.dtype) if has_bias else np.zeros(1, rows.dtype)
    _add_bias_dropout_kernel(rows, bias, has_bias, drop_threshold(p), np.uint64(key), rows.dtype.type(scale),
                             threads=threads_beside_products())
    return rows


# A linear layer's output on a residual branch (nanoGPT's c_proj, then dropout): the bias add and
# the mask in the one pass over the product (parallel.py's blocks of rows per thread task), in place,
# instead of two passes and a new array. Each element is rounded as in the two steps (add, then
# multiply by scale) and gets the bit of its flat index: the same bits as add_bias then
# dropout_apply under the same key.


@njit_parallel_or_serial()
def _add_bias_dropout_kernel(rows, bias, has_bias, threshold, key, scale):
    n_rows, n_cols = rows.shape
    for task in prange(task_count(n_rows, ROWS_PER_TASK)):
        for i in task_rows(task, n_rows):
            first = np.uint64(i * n_cols)
            for j in range(n_cols):
                value = rows[i, j] + bias[j] if has_bias else rows[i, j]
                scaled = value * scale
                rows[i, j] = scaled if random_bits_jit(key, first + np.uint64(j)) >= threshold else rows.dtype.type(0.0)


# STUDENT: add_bias_dropout_numba = add_bias_dropout_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_dropout_mask(n, p, key) -> None:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"dropout_mask: n must be an integer >= 0, got {n!r}")
    checks.probability("dropout_mask", p)


def check_dropout_apply(x, p, key, scale) -> None:
    checks.floats("dropout_apply", x=x)
    checks.probability("dropout_apply", p)


def check_add_bias_dropout(rows, bias, p, key, scale) -> None:
    checks.floats("add_bias_dropout", rows=rows, **({} if bias is None else {"bias": bias}))
    checks.probability("add_bias_dropout", p)
    if bias is not None:
        checks.shapes("add_bias_dropout", bias=(bias, rows.shape[-1:]))


dropout_mask = Kernel("dropout_mask", dropout_mask_numpy, dropout_mask_numba, check_dropout_mask)
dropout_apply = Kernel("dropout_apply", dropout_apply_numpy, dropout_apply_numba, check_dropout_apply)
add_bias_dropout = Kernel("add_bias_dropout", add_bias_dropout_numpy, add_bias_dropout_numba, check_add_bias_dropout)
