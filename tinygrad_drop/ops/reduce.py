"""Reductions over some axes: sum, mean, max, min, var.

Backward spreads the gradient of each reduced value back over the elements it came from.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function


def normalize_axes(dim, ndim: int, op: str):
    """dim as given (None, int or tuple) -> None or a tuple of non-negative axes."""
    if dim is None:
        return None
    axes = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    normalized = []
    for axis in axes:
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -max(ndim, 1) <= axis < max(ndim, 1):
            raise IndexError(f"{op}: dim {axis} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(axis) % max(ndim, 1))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: dim {dim!r} names the same dimension twice")
    # a 0-d tensor takes dim 0 or -1, as in PyTorch, and reducing it over that is reducing it whole
    return tuple(normalized) if ndim else None


def reduced_count(shape: tuple, axes) -> int:
    """How many elements each reduced value is computed from."""
    return int(np.prod(shape if axes is None else [shape[axis] for axis in axes]))


def keepdim_shape(shape: tuple, axes) -> tuple:
    """The shape of the reduced result with size-1 axes left in place, so it broadcasts back."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if axis in axes else size for axis, size in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes = x.shape, axes
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION reduce: sum's backward, a gradient of x's shape (ctx.shape) from grad (reduced over ctx.axes, keepdim or not)
        # d sum(x)/dx_i = 1: the gradient is copied to every summed element
        return np.broadcast_to(grad.reshape(keepdim_shape(ctx.shape, ctx.axes)), ctx.shape), None, None
        # END SOLUTION


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes = x.shape, axes
        ctx.count = reduced_count(x.shape, axes)
        return np.asarray(x.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION reduce: mean's backward, a gradient of x's shape (ctx.shape); ctx.count elements made each mean
        # d mean(x)/dx_i = 1/count for each of the `count` averaged elements
        grad = grad.reshape(keepdim_shape(ctx.shape, ctx.axes)) / ctx.count
        return np.broadcast_to(grad, ctx.shape), None, None
        # END SOLUTION


def pick_extreme(ctx, x: np.ndarray, axis, keepdim: bool, extreme, arg_extreme) -> np.ndarray:
    """Forward of max and min (`extreme` is np.max or np.min, `arg_extreme` np.argmax or
    np.argmin), saving which element(s) were chosen for `gradient_to_chosen`.

    Over all elements every tie counts as chosen (as torch.max()); over one axis only the first
    of the tied elements, the one arg_extreme returns (as torch.max(dim))."""
    ctx.shape, ctx.axis = x.shape, axis
    if axis is None:
        out = extreme(x)
        ctx.save_for_backward(x == out)
        return np.asarray(out)
    index = arg_extreme(x, axis=axis, keepdims=True)
    ctx.save_for_backward(index)
    out = np.take_along_axis(x, index, axis=axis)
    return out if keepdim else out.squeeze(axis)


def gradient_to_chosen(ctx, grad: np.ndarray) -> np.ndarray:
    """The gradient of x (shape ctx.shape) from the gradient of each max/min value; over all
    elements, ties share it as torch.max() does; along an axis the element arg_extreme chose gets it."""
    # BEGIN SOLUTION reduce: max/min's backward from what pick_extreme saved (a mask of ties over all elements, or the arg index along ctx.axis)
    (chosen,) = ctx.saved_tensors
    if ctx.axis is None:
        return grad * chosen / chosen.sum()
    grad_x = np.zeros(ctx.shape, dtype=grad.dtype)
    np.put_along_axis(grad_x, chosen, grad.reshape(chosen.shape), axis=ctx.axis)
    return grad_x
    # END SOLUTION


class Max(Function):
    """max over one axis or over all elements; see `pick_extreme` for which element is chosen."""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        return pick_extreme(ctx, x, axis, keepdim, np.max, np.argmax)

    @staticmethod
    def backward(ctx, grad):
        return gradient_to_chosen(ctx, grad), None, None


class Min(Max):
    """min over one axis or over all elements: Max with the smallest element chosen, and so Max's
    backward."""

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        return pick_extreme(ctx, x, axis, keepdim, np.min, np.argmin)


class Var(Function):
    """Variance with Bessel's correction by default (correction=1), as torch.var."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        centered = x - x.mean(axis=axes, keepdims=True)
        ctx.save_for_backward(centered)
        ctx.axes, ctx.divisor = axes, max(reduced_count(x.shape, axes) - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((centered * centered).sum(axis=axes, keepdims=keepdim) / ctx.divisor)

    @staticmethod
    def backward(ctx, grad):
        # d/dx_i of sum_j (x_j - mean)^2 / d = 2 (x_i - mean) / d  (the mean's own terms sum to 0)
        (centered,) = ctx.saved_tensors
        grad = grad.reshape(keepdim_shape(centered.shape, ctx.axes))
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * 2 * centered / ctx.divisor, None, None, None
