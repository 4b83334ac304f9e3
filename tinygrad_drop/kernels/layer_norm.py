"""Layer normalization over the last axis of x, shape (N, C), with a per-feature affine map.

Forward, row by row (mean and biased variance over the C features of that row):

    mean = (1/C) sum_j x_j        var = (1/C) sum_j (x_j - mean)^2        rstd = 1 / sqrt(var + eps)
    xhat_j = (x_j - mean) * rstd      y_j = xhat_j * weight_j + bias_j

Only mean and rstd, two numbers per row, are saved for backward; xhat is recomputed from x there,
which costs a subtraction and a multiply per element and saves storing an (N, C) array.

Backward: from g = dL/dy (N, C), x, weight and the saved mean and rstd, compute dx (N, C),
dweight (C,) and dbias (C,).

The Numba forward finds mean and variance in one pass with *shifted* sums: it accumulates
d = x_j - x_0 and d^2 (x_0 is the row's first element), then mean = x_0 + mean(d) and
var = mean(d^2) - mean(d)^2. The textbook one-pass formula E[x^2] - E[x]^2 loses all its digits
when |mean| >> std; shifting by a value from the row makes the subtraction as benign as two-pass.
Sums accumulate in float64; per-element arithmetic is in the input's dtype (float32 fills twice
as many SIMD lanes as float64), as are the outputs (y, mean, rstd, dx, dweight, dbias).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel, checks, threads_beside_products
from .parallel import ROWS_PER_TASK, njit_parallel_or_serial, task_count, task_rows

# Rows go to threads in blocks of ROWS_PER_TASK where the matrix products share Numba's threads
# (threads_beside_products, kernels/thread_pool.py); otherwise the blocks run on the calling thread:
# at a GPT's sizes (768 rows of 128) a call is short, and waking sleeping threads costs more than
# they save. The shared pool's threads are still awake from the product before, so there the split
# pays. Backward sums dweight and dbias per block, then the blocks in order,
# so its bits do not depend on the threads. "reassoc" lets LLVM split each row sum into SIMD lanes (a
# different summation order, so the last bits differ from a sequential loop); "contract" fuses
# multiply-adds; error_model="numpy" drops the division-by-zero checks.
FAST_ROWS = dict(error_model="numpy", fastmath={"reassoc", "contract"})
# Backward without "contract": fused into grad * weight - mean(gw), the product would skip the
# rounding its copy inside mean(gw) had, and a constant row's dx, exactly 0, would become
# rstd * (that rounding error): 1.5e-5 for a one-feature row in float32.
FAST_ROWS_UNFUSED = dict(error_model="numpy", fastmath={"reassoc"})


def layer_norm_forward_numpy(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=-1)
    var = ((x - mean[:, None]) ** 2).mean(axis=-1)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean[:, None]) * rstd[:, None]
    return xhat * weight + bias, mean, rstd


def layer_norm_forward_numba(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _layer_norm_forward_kernel(
        np.ascontiguousarray(x), np.ascontiguousarray(weight), np.ascontiguousarray(bias), float(eps),
        threads=threads_beside_products(),
    )


@njit_parallel_or_serial(**FAST_ROWS)
def _layer_norm_forward_kernel(x, weight, bias, eps):
    n_rows, n_cols = x.shape
    y = np.empty_like(x)
    mean = np.empty(n_rows, dtype=x.dtype)
    rstd = np.empty(n_rows, dtype=x.dtype)
    for task in prange(task_count(n_rows, ROWS_PER_TASK)):
        for i in task_rows(task, n_rows):
            shift = float(x[i, 0])
            shifted_sum = 0.0
            shifted_sum_sq = 0.0
            for j in range(n_cols):
                d = x[i, j] - shift
                shifted_sum += d
                shifted_sum_sq += d * d
            shifted_mean = shifted_sum / n_cols
            # Rounding can leave a tiny negative number where the true variance is 0.
            var = max(shifted_sum_sq / n_cols - shifted_mean * shifted_mean, 0.0)
            mean[i] = shift + shifted_mean
            rstd[i] = 1.0 / math.sqrt(var + eps)
            # Per element, the dtype's arithmetic with the rounded mean and rstd (as numpy computes)
            row_mean, row_rstd = mean[i], rstd[i]
            for j in range(n_cols):
                y[i, j] = (x[i, j] - row_mean) * row_rstd * weight[j] + bias[j]
    return y, mean, rstd


def layer_norm_backward_numpy(
    grad: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray, rstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # BEGIN SOLUTION layernorm: dx (N, C), dweight (C,), dbias (C,) from grad = dL/dy, x, weight and the saved mean and rstd (one per row)
    # With gw_j = g_j * weight_j per row ("mean" over the C features):
    #     dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
    #     dweight = sum over rows of g * xhat           dbias = sum over rows of g
    # (dx follows from xhat's dependence on x through mean and rstd: d mean/dx_j = 1/C and
    # d rstd/dx_j = -rstd^3 (x_j - mean)/C.)
    xhat = (x - mean[:, None]) * rstd[:, None]
    gw = grad * weight
    dx = rstd[:, None] * (
        gw - gw.mean(axis=-1, keepdims=True) - xhat * (gw * xhat).mean(axis=-1, keepdims=True)
    )
    return dx, (grad * xhat).sum(axis=0), grad.sum(axis=0)
    # END SOLUTION


# BEGIN SOLUTION layernorm: the Numba twin
def layer_norm_backward_numba(
    grad: np.ndarray, x: np.ndarray, weight: np.ndarray, mean: np.ndarray, rstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _layer_norm_backward_kernel(
        np.ascontiguousarray(grad),
        np.ascontiguousarray(x),
        np.ascontiguousarray(weight),
        np.ascontiguousarray(mean),
        np.ascontiguousarray(rstd),
        threads=threads_beside_products(),
    )


# One block of rows per call, compiled once and called by both twins with an int64 task index:
# inlined into each twin's loop instead, each copy vectorized its row sums ("reassoc") in its own
# order, and dx on threads and on the calling thread differed in the last bits.
@njit(cache=True, **FAST_ROWS_UNFUSED)
def _layer_norm_backward_rows(grad, x, weight, mean, rstd, dx, dweight_sum, dbias_sum, task):
    n_rows, n_cols = x.shape
    for i in task_rows(task, n_rows):
        row_mean = mean[i]
        row_rstd = rstd[i]
        # First pass: the two row means dx needs, and this row's share of dweight and dbias.
        sum_gw = 0.0
        sum_gw_xhat = 0.0
        for j in range(n_cols):
            xhat = (x[i, j] - row_mean) * row_rstd
            gw = grad[i, j] * weight[j]
            sum_gw += gw
            sum_gw_xhat += gw * xhat
            dweight_sum[task, j] += grad[i, j] * xhat
            dbias_sum[task, j] += grad[i, j]
        mean_gw = x.dtype.type(sum_gw / n_cols)
        mean_gw_xhat = x.dtype.type(sum_gw_xhat / n_cols)
        for j in range(n_cols):
            xhat = (x[i, j] - row_mean) * row_rstd
            dx[i, j] = row_rstd * (grad[i, j] * weight[j] - mean_gw - xhat * mean_gw_xhat)


@njit_parallel_or_serial(**FAST_ROWS_UNFUSED)
def _layer_norm_backward_kernel(grad, x, weight, mean, rstd):
    n_rows, n_cols = x.shape
    dx = np.empty_like(x)
    n_tasks = task_count(n_rows, ROWS_PER_TASK)
    dweight_sum = np.zeros((n_tasks, n_cols))
    dbias_sum = np.zeros((n_tasks, n_cols))
    for task in prange(n_tasks):
        _layer_norm_backward_rows(grad, x, weight, mean, rstd, dx, dweight_sum, dbias_sum, np.int64(task))
    dweight = np.zeros(n_cols)
    dbias = np.zeros(n_cols)
    for task in range(n_tasks):
        for j in range(n_cols):
            dweight[j] += dweight_sum[task, j]
            dbias[j] += dbias_sum[task, j]
    return dx, dweight.astype(weight.dtype), dbias.astype(weight.dtype)


# STUDENT: layer_norm_backward_numba = layer_norm_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_layer_norm_forward(x, weight, bias, eps) -> None:
    if (type(x) is type(weight) is type(bias) is np.ndarray and x.ndim == 2 and x.dtype in checks.FLOATS
            and weight.dtype == bias.dtype == x.dtype and weight.shape == bias.shape == x.shape[1:]):
        return  # the usual call; the checks below find what is wrong
    checks.ndim("layer_norm_forward", "x", x, 2)
    checks.floats("layer_norm_forward", x=x, weight=weight, bias=bias)
    checks.shapes("layer_norm_forward", weight=(weight, x.shape[1:]), bias=(bias, x.shape[1:]))


def check_layer_norm_backward(grad, x, weight, mean, rstd) -> None:
    if (type(grad) is type(x) is type(weight) is type(mean) is type(rstd) is np.ndarray and x.ndim == 2
            and x.dtype in checks.FLOATS and grad.dtype == weight.dtype == mean.dtype == rstd.dtype == x.dtype
            and grad.shape == x.shape and weight.shape == x.shape[1:] and mean.shape == rstd.shape == x.shape[:1]):
        return  # the usual call; the checks below find what is wrong
    checks.ndim("layer_norm_backward", "x", x, 2)
    checks.floats("layer_norm_backward", grad=grad, x=x, weight=weight, mean=mean, rstd=rstd)
    checks.shapes("layer_norm_backward", grad=(grad, x.shape), weight=(weight, x.shape[1:]),
                  mean=(mean, x.shape[:1]), rstd=(rstd, x.shape[:1]))


layer_norm_forward = Kernel(
    "layer_norm_forward", layer_norm_forward_numpy, layer_norm_forward_numba, check_layer_norm_forward
)
layer_norm_backward = Kernel(
    "layer_norm_backward", layer_norm_backward_numpy, layer_norm_backward_numba, check_layer_norm_backward
)
