"""Cross-entropy of logits (N, C) against integer class targets (N,), fused with its log-softmax.

For row i with target t = target[i], the loss is the negative log-probability of the target:

    loss_i = -log softmax(logits_i)_t = lse_i - logits[i, t],   lse_i = log sum_j exp(logits[i, j])

(lse, the log-sum-exp, is computed stably as m + log sum_j exp(logits[i, j] - m), m the row max.)
Rows whose target equals ignore_index contribute nothing and are not counted. Forward returns the
loss *sum* over counted rows, the count, and lse per row; the caller divides (reduction="mean") or
not (reduction="sum"), and saves lse for backward so backward needs no second reduction.

Backward, for dL/dloss_i = scale (e.g. 1/count for the mean), on every counted row:

    dlogits[i, j] = scale * (softmax(logits_i)_j - [j == t])
    softmax(logits_i)_j = exp(logits[i, j] - lse_i)

and ignored rows get 0. The "- [j == t]" touches one element per row, so no one-hot is ever built.
Targets must already be valid class indices (or ignore_index): the caller checks them.
Accumulators are float64; dlogits and lse have the logits' dtype.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel


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
    row_losses, lse = _cross_entropy_forward_kernel(
        np.ascontiguousarray(logits), np.ascontiguousarray(target, dtype=np.int64), int(ignore_index)
    )
    # Summing the per-row losses here, in row order, makes the result independent of the thread
    # count (a parallel reduction would add partial sums in a thread-dependent order).
    return float(row_losses.sum()), int(np.count_nonzero(target != ignore_index)), lse


@njit(cache=True, parallel=True)
def _cross_entropy_forward_kernel(logits, target, ignore_index):
    n_rows, n_classes = logits.shape
    lse = np.empty(n_rows, dtype=logits.dtype)
    row_losses = np.zeros(n_rows)
    for i in prange(n_rows):
        row_max = -np.inf
        for j in range(n_classes):
            row_max = max(row_max, logits[i, j])
        total = 0.0
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
    counted = target != ignore_index
    rows = np.arange(len(target))[counted]
    dlogits = np.exp(logits - lse[:, None])
    dlogits[rows, target[counted]] -= 1.0
    dlogits[~counted] = 0.0
    return (dlogits * scale).astype(logits.dtype)


def cross_entropy_backward_numba(
    logits: np.ndarray, target: np.ndarray, lse: np.ndarray, ignore_index: int, scale: float
) -> np.ndarray:
    return _cross_entropy_backward_kernel(
        np.ascontiguousarray(logits),
        np.ascontiguousarray(target, dtype=np.int64),
        np.ascontiguousarray(lse),
        int(ignore_index),
        float(scale),
    )


@njit(cache=True, parallel=True)
def _cross_entropy_backward_kernel(logits, target, lse, ignore_index, scale):
    n_rows, n_classes = logits.shape
    dlogits = np.empty_like(logits)
    for i in prange(n_rows):
        t = target[i]
        if t == ignore_index:
            for j in range(n_classes):
                dlogits[i, j] = 0.0
        else:
            row_lse = float(lse[i])
            for j in range(n_classes):
                dlogits[i, j] = scale * math.exp(logits[i, j] - row_lse)
            dlogits[i, t] = scale * (math.exp(logits[i, t] - row_lse) - 1.0)
    return dlogits


cross_entropy_forward = Kernel(
    "cross_entropy_forward", cross_entropy_forward_numpy, cross_entropy_forward_numba
)
cross_entropy_backward = Kernel(
    "cross_entropy_backward", cross_entropy_backward_numpy, cross_entropy_backward_numba
)
