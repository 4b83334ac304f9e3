"""Cross-entropy of logits (N, C) against integer class targets (N,), fused with its log-softmax.

For row i with target t = target[i], the loss is the negative log-probability of the target:

    loss_i = -log softmax(logits_i)_t = lse_i - logits[i, t],   lse_i = log sum_j exp(logits[i, j])

(lse, the log-sum-exp, is computed stably as m + log sum_j exp(logits[i, j] - m), m the row max.)
Rows whose target equals ignore_index contribute nothing and are not counted. Forward returns the
loss *sum* over counted rows, the count, and lse per row; the caller divides (reduction="mean") or
not (reduction="sum"), and saves lse for backward so backward needs no second reduction.

Backward: dlogits (N, C) for dL/dloss_i = scale (e.g. 1/count for the mean) on every counted row,
from the logits, the targets and the saved lse; ignored rows get 0.
Targets must already be valid class indices (or ignore_index): the caller checks them.
Accumulators are float64; dlogits and lse have the logits' dtype.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import Kernel, threads_available
from .exp_float32 import exp_float32_into
from .parallel import ROWS_PER_TASK, njit_parallel_or_serial, task_count, task_rows


def _log_sum_exp_rows(logits: np.ndarray) -> np.ndarray:
    row_max = logits.max(axis=-1, keepdims=True)
    return (row_max + np.log(np.exp(logits - row_max).sum(axis=-1, keepdims=True)))[:, 0]


def cross_entropy_forward_numpy(
    logits: np.ndarray, target: np.ndarray, ignore_index: int
) -> tuple[float, int, np.ndarray]:
    lse = _log_sum_exp_rows(logits)
    counted = target != ignore_index
    rows = np.arange(len(target))[counted]
    losses = lse[rows] - logits[rows, target[counted]]
    return float(losses.sum(dtype=np.float64)), int(counted.sum()), lse


def cross_entropy_forward_numba(
    logits: np.ndarray, target: np.ndarray, ignore_index: int
) -> tuple[float, int, np.ndarray]:
    logits = np.ascontiguousarray(logits)
    row_losses, lse = _cross_entropy_forward_kernel(
        logits, np.ascontiguousarray(target, dtype=np.int64), int(ignore_index), logits.dtype == np.float32,
        threads=threads_available(),
    )
    # Summing the per-row losses here, in row order, makes the result independent of the thread
    # count (a parallel reduction would add partial sums in a thread-dependent order).
    return float(row_losses.sum()), int(np.count_nonzero(target != ignore_index)), lse


# Rows go to threads in blocks, each with its own scratch row for the forward's exps. Float32
# logits take their exps from exp_float32_into (vectorized, a few ulps): math.exp is a scalar libm
# call per element, which was most of these kernels' work. Float64 logits (the gradchecks) keep
# math.exp. The forward's exps go to the scratch row, not straight into the sum: the float64 sum
# runs in order (no fastmath here), a loop LLVM cannot vectorize, and the exps in it would run
# scalar too; in a loop of their own they vectorize, with the same bits.


@njit_parallel_or_serial(error_model="numpy")
def _cross_entropy_forward_kernel(logits, target, ignore_index, float32_exp):
    n_rows, n_classes = logits.shape
    lse = np.empty(n_rows, dtype=logits.dtype)
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
            row_lse = row_max + math.log(total)
            lse[i] = row_lse
            if target[i] != ignore_index:
                row_losses[i] = row_lse - logits[i, target[i]]
    return row_losses, lse


def cross_entropy_backward_numpy(
    logits: np.ndarray, target: np.ndarray, lse: np.ndarray, ignore_index: int, scale: float
) -> np.ndarray:
    # BEGIN SOLUTION cross_entropy: dlogits (N, C) in logits' dtype, for dL/dloss_i = scale on every counted row; ignored rows get 0
    # dlogits[i, j] = scale * (softmax(logits_i)_j - [j == t]), softmax(logits_i)_j = exp(logits[i, j] - lse_i);
    # the "- [j == t]" touches one element per row, so no one-hot is ever built.
    counted = target != ignore_index
    rows = np.arange(len(target))[counted]
    dlogits = np.exp(logits - lse[:, None])  # the softmax of each row
    dlogits[rows, target[counted]] -= 1.0  # minus the one-hot target
    dlogits[~counted] = 0.0  # ignored rows contribute nothing
    return (dlogits * scale).astype(logits.dtype)
    # END SOLUTION


# BEGIN SOLUTION cross_entropy: the Numba twin
def cross_entropy_backward_numba(
    logits: np.ndarray, target: np.ndarray, lse: np.ndarray, ignore_index: int, scale: float
) -> np.ndarray:
    logits = np.ascontiguousarray(logits)
    return _cross_entropy_backward_kernel(
        logits,
        np.ascontiguousarray(target, dtype=np.int64),
        np.ascontiguousarray(lse),
        int(ignore_index),
        logits.dtype.type(scale),
        logits.dtype == np.float32,
        threads=threads_available(),
    )


@njit_parallel_or_serial(error_model="numpy")
def _cross_entropy_backward_kernel(logits, target, lse, ignore_index, scale, float32_exp):
    n_rows, n_classes = logits.shape
    dlogits = np.empty_like(logits)
    for task in prange(task_count(n_rows, ROWS_PER_TASK)):
        for i in task_rows(task, n_rows):
            t = target[i]
            row = dlogits[i]
            if t == ignore_index:
                row[:] = 0.0
                continue
            for j in range(n_classes):  # log softmax, <= 0 since lse >= the row's max
                row[j] = logits[i, j] - lse[i]
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


cross_entropy_forward = Kernel(
    "cross_entropy_forward", cross_entropy_forward_numpy, cross_entropy_forward_numba
)
cross_entropy_backward = Kernel(
    "cross_entropy_backward", cross_entropy_backward_numpy, cross_entropy_backward_numba
)
