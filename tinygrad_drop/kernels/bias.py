"""A linear layer's bias: added to every row of the product, and its gradient, the rows' sum.

    y[n, j] = (x W^T)[n, j] + b[j]          dL/db[j] = sum over n of dL/dy[n, j]

Both run right after a matrix product, on arrays of a few hundred thousand elements, so the Numba
versions split the rows over threads where the products share them (threads_beside_products in
kernels/thread_pool.py). The add is one rounding per element in both backends: the same bits. The
sum is taken in float64 over blocks of rows, then over the blocks in order, so its result does not
depend on the number of threads; numpy's float32 sum rounds at every row, so the two backends
agree to float32 rounding, not bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from . import Kernel, checks, threads_beside_products
from .parallel import ROWS_PER_TASK, njit_parallel_or_serial, task_count, task_rows


def add_bias_numpy(rows: np.ndarray, bias: np.ndarray) -> np.ndarray:
    rows += bias
    return rows


def add_bias_numba(rows: np.ndarray, bias: np.ndarray) -> np.ndarray:
    if not rows.flags.c_contiguous or rows.ndim != 2:
        return add_bias_numpy(rows, bias)
    _add_bias_kernel(rows, np.ascontiguousarray(bias, dtype=rows.dtype), threads=threads_beside_products())
    return rows


@njit_parallel_or_serial()
def _add_bias_kernel(rows, bias):
    for task in prange(task_count(rows.shape[0], ROWS_PER_TASK)):
        for i in task_rows(task, rows.shape[0]):
            for j in range(rows.shape[1]):
                rows[i, j] += bias[j]


def bias_grad_numpy(grad: np.ndarray) -> np.ndarray:
    return grad.sum(axis=0)


def bias_grad_numba(grad: np.ndarray) -> np.ndarray:
    return _bias_grad_kernel(np.ascontiguousarray(grad), threads=threads_beside_products()).astype(grad.dtype)


@njit_parallel_or_serial()
def _bias_grad_kernel(grad):
    n_rows, n_cols = grad.shape
    n_tasks = task_count(n_rows, ROWS_PER_TASK)
    partial_sums = np.zeros((n_tasks, n_cols))
    for task in prange(n_tasks):
        for i in task_rows(task, n_rows):
            for j in range(n_cols):
                partial_sums[task, j] += grad[i, j]
    total = np.zeros(n_cols)
    for task in range(n_tasks):
        for j in range(n_cols):
            total[j] += partial_sums[task, j]
    return total


def check_add_bias(rows, bias) -> None:
    if (type(rows) is type(bias) is np.ndarray and rows.dtype in checks.FLOATS and bias.dtype == rows.dtype
            and bias.shape == rows.shape[-1:]):
        return  # the usual call; the checks below find what is wrong
    checks.floats("add_bias", rows=rows, bias=bias)
    checks.shapes("add_bias", bias=(bias, rows.shape[-1:]))


def check_bias_grad(grad) -> None:
    if type(grad) is np.ndarray and grad.ndim == 2 and grad.dtype in checks.FLOATS:
        return  # the usual call; the checks below say what is wrong
    checks.ndim("bias_grad", "grad", grad, 2)
    checks.floats("bias_grad", grad=grad)


add_bias = Kernel("add_bias", add_bias_numpy, add_bias_numba, check_add_bias)
bias_grad = Kernel("bias_grad", bias_grad_numpy, bias_grad_numba, check_bias_grad)
