"""softmax and log_softmax along one axis, each with its fused kernels (kernels/softmax.py).

The kernels work on the last axis of a 2-D array, so another axis is first moved last;
rows are then independent: y_i = exp(x_i - max) / sum_j exp(x_j - max).
Both backwards are written in terms of the output y, so forward saves y and not x.
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
    size = x.shape[axis]
    return np.ascontiguousarray(moved).reshape(x.size // size if size else 0, size)


def from_rows(rows: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    """The inverse of `as_rows`: (rows, size) back to `shape`, the row axis back at `axis`."""
    moved_shape = tuple(np.delete(shape, axis)) + (shape[axis],)
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def forward_on_rows(ctx, kernel, x: np.ndarray, axis: int) -> np.ndarray:
    """y = kernel(rows of x along `axis`), saving y for `backward_on_rows`. A 0-d x is one row
    of one element (softmax 1, log_softmax 0, as in PyTorch)."""
    shape = x.shape or (1,)
    ctx.shape, ctx.axis, ctx.given_shape = shape, axis, x.shape
    y = kernel(as_rows(x.reshape(shape), axis)) if x.size else np.empty((0, shape[axis]), x.dtype)
    ctx.save_for_backward(y)
    return from_rows(y, shape, axis).reshape(x.shape)


def backward_on_rows(ctx, kernel, grad: np.ndarray) -> np.ndarray:
    """dx = kernel(y, rows of grad), back in x's shape."""
    (y,) = ctx.saved_tensors
    if not y.size:
        return np.zeros(ctx.given_shape, grad.dtype)
    return from_rows(kernel(y, as_rows(grad.reshape(ctx.shape), ctx.axis)), ctx.shape, ctx.axis).reshape(ctx.given_shape)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        require_float("softmax", x)
        return forward_on_rows(ctx, softmax_forward, x, axis)

    @staticmethod
    def backward(ctx, grad):
        return backward_on_rows(ctx, softmax_backward, grad), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        require_float("log_softmax", x)
        return forward_on_rows(ctx, log_softmax_forward, x, axis)

    @staticmethod
    def backward(ctx, grad):
        return backward_on_rows(ctx, log_softmax_backward, grad), None
