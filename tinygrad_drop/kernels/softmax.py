"""Softmax and log-softmax over the last axis of a 2-D array x of shape (N, C): one row per sample.

    softmax(x)_j     = exp(x_j - m) / sum_k exp(x_k - m)          with m = max_k x_k
    log_softmax(x)_j = x_j - m - log(sum_k exp(x_k - m))

Subtracting the row maximum m changes nothing mathematically (it cancels) but keeps every exponent
<= 0, so exp never overflows; the largest term is exp(0) = 1, so the sum never underflows to 0.

Backward: dx = dL/dx (N, C) from y, the forward output, and g = dL/dy (both (N, C)), row by row.
Both backward passes need only the forward *output*, so ops save y, not x.

The Numba kernels run rows in parallel (rows are independent) and accumulate in float64; outputs
have the input's dtype (float32 or float64). Inputs must be C-contiguous 2-D arrays.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import Kernel, checks, threads_available
from .parallel import njit_parallel_or_serial


def softmax_forward_numpy(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


def softmax_forward_numba(x: np.ndarray) -> np.ndarray:
    return _softmax_forward_kernel(np.ascontiguousarray(x), False, threads=threads_available())


@njit_parallel_or_serial()
def _softmax_forward_kernel(x, log):
    """Each row's softmax, or its log_softmax where `log`: both need the row's max and sum of exps."""
    n_rows, n_cols = x.shape
    y = np.empty_like(x)
    for i in prange(n_rows):
        row_max = -np.inf
        for j in range(n_cols):
            row_max = max(row_max, x[i, j])
        # Store the exponentials in y while summing them, then rescale in place: exp is computed
        # once per element and x is read twice, y written twice, all within one row in cache.
        total = 0.0
        for j in range(n_cols):
            e = math.exp(x[i, j] - row_max)
            y[i, j] = e
            total += e
        if log:
            # (x_j - m) - log(total), not x_j - (m + log(total)): at large m the sum m + log(total)
            # would round log(total) away, while x_j - m is exact near the max.
            log_total = math.log(total)
            for j in range(n_cols):
                y[i, j] = (x[i, j] - row_max) - log_total
        else:
            inv_total = 1.0 / total
            for j in range(n_cols):
                y[i, j] = y[i, j] * inv_total
    return y


def softmax_backward_numpy(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    # BEGIN SOLUTION softmax: dx (N, C) from y = softmax(x) and grad = dL/dy, row by row, without building the (C, C) Jacobian
    # The Jacobian of a row is diag(y) - y y^T; applied to g: dx = y * (g - sum_k g_k y_k).
    return y * (grad - (grad * y).sum(axis=-1, keepdims=True))
    # END SOLUTION


# BEGIN SOLUTION softmax: the Numba twin
def softmax_backward_numba(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return _softmax_backward_kernel(np.ascontiguousarray(y), np.ascontiguousarray(grad),
                                    threads=threads_available())


@njit_parallel_or_serial()
def _softmax_backward_kernel(y, grad):
    n_rows, n_cols = y.shape
    dx = np.empty_like(y)
    for i in prange(n_rows):
        dot = 0.0
        for j in range(n_cols):
            dot += float(grad[i, j]) * y[i, j]
        for j in range(n_cols):
            dx[i, j] = y[i, j] * (grad[i, j] - dot)
    return dx


# STUDENT: softmax_backward_numba = softmax_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def log_softmax_forward_numpy(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def log_softmax_forward_numba(x: np.ndarray) -> np.ndarray:
    return _softmax_forward_kernel(np.ascontiguousarray(x), True, threads=threads_available())


def log_softmax_backward_numpy(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    # BEGIN SOLUTION softmax: dx (N, C) from y = log_softmax(x) and grad = dL/dy, row by row
    # The Jacobian of y = x - logsumexp(x) is I - 1 softmax(x)^T per row, and softmax = exp(y):
    # dx = g - exp(y) * sum_k g_k.
    return grad - np.exp(y) * grad.sum(axis=-1, keepdims=True)
    # END SOLUTION


# BEGIN SOLUTION softmax: the Numba twin
def log_softmax_backward_numba(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return _log_softmax_backward_kernel(np.ascontiguousarray(y), np.ascontiguousarray(grad),
                                        threads=threads_available())


@njit_parallel_or_serial()
def _log_softmax_backward_kernel(y, grad):
    n_rows, n_cols = y.shape
    dx = np.empty_like(y)
    for i in prange(n_rows):
        grad_sum = 0.0
        for j in range(n_cols):
            grad_sum += grad[i, j]
        for j in range(n_cols):
            dx[i, j] = grad[i, j] - math.exp(y[i, j]) * grad_sum
    return dx


# STUDENT: log_softmax_backward_numba = log_softmax_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_rows(kernel: str, x) -> None:
    checks.ndim(kernel, "x", x, 2)
    checks.floats(kernel, x=x)


def check_rows_and_grad(kernel: str, y, grad) -> None:
    checks.ndim(kernel, "y", y, 2)
    checks.floats(kernel, y=y, grad=grad)
    checks.shapes(kernel, grad=(grad, y.shape))


softmax_forward = Kernel("softmax_forward", softmax_forward_numpy, softmax_forward_numba,
                         lambda x: check_rows("softmax_forward", x))
softmax_backward = Kernel("softmax_backward", softmax_backward_numpy, softmax_backward_numba,
                          lambda y, grad: check_rows_and_grad("softmax_backward", y, grad))
log_softmax_forward = Kernel("log_softmax_forward", log_softmax_forward_numpy, log_softmax_forward_numba,
                             lambda x: check_rows("log_softmax_forward", x))
log_softmax_backward = Kernel("log_softmax_backward", log_softmax_backward_numpy, log_softmax_backward_numba,
                              lambda y, grad: check_rows_and_grad("log_softmax_backward", y, grad))
