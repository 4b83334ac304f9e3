"""softmax and log_softmax along one axis, each with its fused kernels (kernels/softmax.py).

The kernels work on the last axis of a 2-D array, so another axis is first moved last;
rows are then independent: y_i = exp(x_i - max) / sum_j exp(x_j - max).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.softmax import (log_softmax_backward, log_softmax_forward, softmax_backward,
                               softmax_forward)
from .dtypes import require_float


def as_rows(x: np.ndarray, axis: int) -> np.ndarray:
    """Move `axis` last and fold the rest into rows: a contiguous (rows, size) array."""
    moved = np.moveaxis(x, axis, -1)
    return np.ascontiguousarray(moved).reshape(-1, x.shape[axis])


def from_rows(rows: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    moved_shape = tuple(np.delete(shape, axis)) + (shape[axis],)
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        require_float("softmax", x)
        y = softmax_forward(as_rows(x, axis))
        ctx.save_for_backward(y)
        ctx.shape, ctx.axis = x.shape, axis
        return from_rows(y, x.shape, axis)

    @staticmethod
    def backward(ctx, grad):
        # dx_i = y_i (g_i - sum_j g_j y_j): the Jacobian diag(y) - y y^T applied to g
        (y,) = ctx.saved_tensors
        dx = softmax_backward(y, as_rows(grad, ctx.axis))
        return from_rows(dx, ctx.shape, ctx.axis), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        require_float("log_softmax", x)
        y = log_softmax_forward(as_rows(x, axis))
        ctx.save_for_backward(y)
        ctx.shape, ctx.axis = x.shape, axis
        return from_rows(y, x.shape, axis)

    @staticmethod
    def backward(ctx, grad):
        # y = x - logsumexp(x): dx_i = g_i - softmax_i * sum_j g_j
        (y,) = ctx.saved_tensors
        dx = log_softmax_backward(y, as_rows(grad, ctx.axis))
        return from_rows(dx, ctx.shape, ctx.axis), None
