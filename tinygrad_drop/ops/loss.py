"""Cross-entropy of logits against integer class targets, fused: no softmax tensor, no one-hot.

loss_n = logsumexp(z_n) - z_n[t_n]: forward keeps only logsumexp per row (as its two parts, the
row's max and the log of the shifted sum), and backward computes the gradient from it in one pass
(kernels/cross_entropy.py).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.cross_entropy import cross_entropy_backward, cross_entropy_forward
from .dtypes import require_float

REDUCTIONS = ("mean", "sum", "none")


INT64 = np.iinfo(np.int64)


def check_targets(logits: np.ndarray, target: np.ndarray, ignore_index: int) -> None:
    if not INT64.min <= ignore_index <= INT64.max:
        raise ValueError(f"cross_entropy: ignore_index must fit in int64 (as the targets do), got {ignore_index}")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}; for (B, T, C) "
                         "logits use logits.reshape(-1, C) and targets.reshape(-1)")
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    if target.shape != logits.shape[:1]:
        raise ValueError(f"cross_entropy: target shape {target.shape} does not match logits {logits.shape} "
                         f"(expected ({logits.shape[0]},))")
    bad = (target != ignore_index) & ((target < 0) | (target >= logits.shape[1]))
    if bad.any():
        raise IndexError(f"cross_entropy: target {int(target[bad][0])} is out of bounds for {logits.shape[1]} classes")


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, ignore_index, reduction):
        if reduction not in REDUCTIONS:
            raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        require_float("cross_entropy", logits)
        squeeze = logits.ndim == 1
        if squeeze:
            logits, target = logits[None, :], np.asarray(target).reshape(1)
        check_targets(logits, target, ignore_index)
        logits = np.ascontiguousarray(logits)
        target = np.array(target, dtype=np.int64)  # a copy: backward indexes by the targets checked above
        loss_sum, count, row_max, log_sum = cross_entropy_forward(logits, target, ignore_index)
        ctx.save_for_backward(logits, target, row_max, log_sum)
        ctx.ignore_index, ctx.reduction, ctx.count, ctx.squeeze = ignore_index, reduction, count, squeeze
        if reduction == "none":
            picked = np.take_along_axis(logits, np.where(target == ignore_index, 0, target)[:, None], 1)[:, 0]
            losses = np.where(target == ignore_index, 0, (row_max - picked) + log_sum).astype(logits.dtype)
            return losses[0] if squeeze else losses
        if reduction == "sum":
            return np.asarray(loss_sum, dtype=logits.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(loss_sum / count if count else np.nan, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        logits, target, row_max, log_sum = ctx.saved_tensors
        if ctx.reduction == "none":
            # each row has its own upstream gradient: compute the unit-scale gradient, then weight rows
            dlogits = cross_entropy_backward(logits, target, row_max, log_sum, ctx.ignore_index, 1.0)
            dlogits *= np.reshape(grad, (-1, 1))
        else:
            scale = float(grad) / ctx.count if ctx.reduction == "mean" and ctx.count else float(grad)
            dlogits = cross_entropy_backward(logits, target, row_max, log_sum, ctx.ignore_index, scale)
        return (dlogits[0] if ctx.squeeze else dlogits), None, None, None
