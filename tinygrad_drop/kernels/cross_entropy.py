"""Cross-entropy of logits (N, C) against integer class targets (N,), fused with its log-softmax.

For row i with target t = target[i], the loss is the negative log-probability of the target:

    loss_i = -log softmax(logits_i)_t = lse_i - logits[i, t],   lse_i = log sum_j exp(logits[i, j])

The log-sum-exp is computed stably as lse_i = m_i + s_i, with m_i the row's max and
s_i = log sum_j exp(logits[i, j] - m_i) (every exponent <= 0, the largest term 1). m_i and s_i stay
apart, and the loss is (m_i - logits[i, t]) + s_i: at logits of 1e7 in float32, m_i + s_i would round
s_i away (float32 holds 1e7 only to the nearest integer), while m_i - logits[i, t] is exact when the
two are close. Rows whose target equals ignore_index contribute nothing and are not counted.
Forward returns the loss *sum* over counted rows, the count, and m and s per row; the caller divides
(reduction="mean") or not (reduction="sum"), and saves m and s so backward needs no second reduction.

Backward: dlogits (N, C) for dL/dloss_i = scale (e.g. 1/count for the mean) on every counted row,
from the logits, the targets and the saved m and s; ignored rows get 0.
Targets must already be valid class indices (or ignore_index): the caller checks them.
Accumulators, s and the row losses are float64; dlogits and m have the logits' dtype.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import Kernel, checks, threads_available
from .exp_float32 import exp_float32_into
from .parallel import ROWS_PER_TASK, njit_parallel_or_serial, task_count, task_rows


def max_and_log_sum_exp(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's max m and s = log sum_j exp(logits_j - m), so that logsumexp = m + s."""
    row_max = logits.max(axis=-1)
    log_sum = np.log(np.exp(logits - row_max[:, None]).sum(axis=-1, dtype=np.float64))
    return row_max, log_sum


def cross_entropy_forward_numpy(
    logits: np.ndarray, target: np.ndarray, ignore_index: int
) -> tuple[float, int, np.ndarray, np.ndarray]:
    row_max, log_sum = max_and_log_sum_exp(logits)
    counted = target != ignore_index
    rows = np.arange(len(target))[counted]
    losses = (row_max[rows] - logits[rows, target[counted]]) + log_sum[rows]
    return float(losses.sum(dtype=np.float64)), int(counted.sum()), row_max, log_sum


def cross_entropy_forward_numba(
    logits: np.ndarray, target: np.ndarray, ignore_index: int
) -> tuple[float, int, np.ndarray, np.ndarray]:
    logits = np.ascontiguousarray(logits)
    row_losses, row_max, log_sum = _cross_entropy_forward_kernel(
        logits, np.ascontiguousarray(target, dtype=np.int64), int(ignore_index), logits.dtype == np.float32,
        threads=threads_available(),
    )
    # Summing the per-row losses here, in row order, makes the result independent of the thread
    # count (a parallel reduction would add partial sums in a thread-dependent order).
    return float(row_losses.sum()), int(np.count_nonzero(target != ignore_index)), row_max, log_sum


# Rows go to threads in blocks, each with its own scratch row for the forward's exps. Float32
# logits take their exps from exp_float32_into (vectorized, a few ulps): math.exp is a scalar libm
# call per element, which was most of these kernels' work. Float64 logits (the gradchecks) keep
# math.exp. The forward's exps go to the scratch row, not straight into the sum: the float64 sum
# runs in order (no fastmath here), a loop LLVM cannot vectorize, and the exps in it would run
# scalar too; in a loop of their own they vectorize, with the same bits.


@njit_parallel_or_serial(error_model="numpy")
def _cross_entropy_forward_kernel(logits, target, ignore_index, float32_exp):
    n_rows, n_classes = logits.shape
    row_maxes = np.empty(n_rows, dtype=logits.dtype)
    log_sums = np.empty(n_rows)
    row_losses = np.zeros(n_rows)
    for task in prange(task_count(n_rows, ROWS_PER_TASK)):
        shifted = np.empty(n_classes, np.float32)
        for i in task_rows(task, n_rows):
            row_max = -np.inf
            for j in range(n_classes):
                row_max = max(row_max, logits[i, j])
            total = 0.0
            if float32_exp:
                for j in range(n_classes):
                    shifted[j] = logits[i, j] - row_max
                exp_float32_into(shifted, shifted)
                for j in range(n_classes):
                    total += shifted[j]
            else:
                for j in range(n_classes):
                    total += math.exp(logits[i, j] - row_max)
            log_sum = math.log(total)
            row_maxes[i] = row_max
            log_sums[i] = log_sum
            if target[i] != ignore_index:
                row_losses[i] = (row_max - logits[i, target[i]]) + log_sum
    return row_losses, row_maxes, log_sums


def cross_entropy_backward_numpy(
    logits: np.ndarray, target: np.ndarray, row_max: np.ndarray, log_sum: np.ndarray,
    ignore_index: int, scale: float
) -> np.ndarray:
    # BEGIN SOLUTION cross_entropy: dlogits (N, C) in logits' dtype, for dL/dloss_i = scale on every counted row; ignored rows get 0
    # dlogits[i, j] = scale * (softmax(logits_i)_j - [j == t]), softmax(logits_i)_j = exp((logits[i, j] - m_i) - s_i);
    # the "- [j == t]" touches one element per row, so no one-hot is ever built.
    counted = target != ignore_index
    rows = np.arange(len(target))[counted]
    dlogits = np.exp((logits - row_max[:, None]) - log_sum[:, None])  # the softmax of each row
    dlogits[rows, target[counted]] -= 1.0  # minus the one-hot target
    dlogits[~counted] = 0.0  # ignored rows contribute nothing
    return (dlogits * scale).astype(logits.dtype)
    # END SOLUTION


# BEGIN SOLUTION cross_entropy: the Numba twin
def cross_entropy_backward_numba(
    logits: np.ndarray, target: np.ndarray, row_max: np.ndarray, log_sum: np.ndarray,
    ignore_index: int, scale: float
) -> np.ndarray:
    logits = np.ascontiguousarray(logits)
    return _cross_entropy_backward_kernel(
        logits,
        np.ascontiguousarray(target, dtype=np.int64),
        np.ascontiguousarray(row_max),
        np.ascontiguousarray(log_sum, dtype=np.float64),
        int(ignore_index),
        logits.dtype.type(scale),
        logits.dtype == np.float32,
        threads=threads_available(),
    )


@njit_parallel_or_serial(error_model="numpy")
def _cross_entropy_backward_kernel(logits, target, row_max, log_sum, ignore_index, scale, float32_exp):
    n_rows, n_classes = logits.shape
    dlogits = np.empty_like(logits)
    for task in prange(task_count(n_rows, ROWS_PER_TASK)):
        for i in task_rows(task, n_rows):
            t = target[i]
            row = dlogits[i]
            if t == ignore_index:
                row[:] = 0.0
                continue
            for j in range(n_classes):  # log softmax, <= 0 since s >= 0
                row[j] = (logits[i, j] - row_max[i]) - log_sum[i]
            if float32_exp:
                exp_float32_into(row, row)
            else:
                for j in range(n_classes):
                    row[j] = math.exp(row[j])
            for j in range(n_classes):
                row[j] *= scale
            row[t] -= scale
    return dlogits


# STUDENT: cross_entropy_backward_numba = cross_entropy_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_cross_entropy_forward(logits, target, ignore_index, kernel: str = "cross_entropy_forward") -> None:
    checks.ndim(kernel, "logits", logits, 2)
    checks.floats(kernel, logits=logits)
    checks.shapes(kernel, target=(target, logits.shape[:1]))
    checks.indices(kernel, "target", target, logits.shape[1], ignore_index)


def check_cross_entropy_backward(logits, target, row_max, log_sum, ignore_index, scale) -> None:
    check_cross_entropy_forward(logits, target, ignore_index, "cross_entropy_backward")
    checks.floats("cross_entropy_backward", logits=logits, row_max=row_max)
    checks.floats("cross_entropy_backward", log_sum=log_sum)
    checks.shapes("cross_entropy_backward", row_max=(row_max, logits.shape[:1]), log_sum=(log_sum, logits.shape[:1]))


cross_entropy_forward = Kernel(
    "cross_entropy_forward", cross_entropy_forward_numpy, cross_entropy_forward_numba, check_cross_entropy_forward
)
cross_entropy_backward = Kernel(
    "cross_entropy_backward", cross_entropy_backward_numpy, cross_entropy_backward_numba, check_cross_entropy_backward
)
