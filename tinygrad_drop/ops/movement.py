"""Ops that move or select elements without arithmetic: reshape, permute, expand, indexing,
concatenation, masking. Backward puts each gradient element back where its value came from."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from .broadcast import broadcast_error, unbroadcast


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: shape {tuple(shape)} is invalid for a tensor of shape {x.shape} "
                             f"({x.size} elements)") from None

    @staticmethod
    def backward(ctx, grad):
        # a reshape only relabels the elements: the gradient is relabelled back
        return grad.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        if sorted(dims) != list(range(x.ndim)):
            raise ValueError(f"permute: dims {tuple(dims)} are not a permutation of the {x.ndim} dims of shape {x.shape}")
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        # the inverse permutation puts every axis back
        return grad.transpose(np.argsort(ctx.dims)), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise broadcast_error("expand", x, np.empty(shape)) from None

    @staticmethod
    def backward(ctx, grad):
        # each element was used once per copy along the expanded axes: sum over them
        return unbroadcast(grad, ctx.shape), None


def is_basic_index(index) -> bool:
    """Ints, slices, None and Ellipsis select each element at most once (a view)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """x[index]. Basic indexing selects distinct elements, so backward writes the gradient into a
    zero array; integer-array indexing may pick an element twice, so backward must *add*
    (np.add.at, a scatter-add that accumulates repeats)."""

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        try:
            return x[index]
        except IndexError as error:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {error}") from None

    @staticmethod
    def backward(ctx, grad):
        # dy/dx is 1 from each selected element to its place in the output, 0 for the rest
        grad_x = np.zeros(ctx.shape, dtype=grad.dtype)
        if is_basic_index(ctx.index):
            grad_x[ctx.index] = grad
        else:
            np.add.at(grad_x, ctx.index, grad)
        return grad_x, None


def join(op: str, numpy_join, arrays: tuple, dim: int, rule: str) -> np.ndarray:
    """numpy_join(arrays, axis=dim) (np.concatenate or np.stack), numpy's shape error turned into
    one that names the op, the shapes and the rule they broke."""
    try:
        return numpy_join(arrays, axis=dim)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"{op}: shapes {shapes} {rule}") from None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        out = join("cat", np.concatenate, arrays, dim, f"must match except in dim {dim}")
        ctx.dim = dim
        ctx.boundaries = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return out

    @staticmethod
    def backward(ctx, grad):
        # each input was copied into its own slice of the output along dim: it gets that slice back
        return tuple(np.split(grad, ctx.boundaries, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return join("stack", np.stack, arrays, dim, "must all be equal")

    @staticmethod
    def backward(ctx, grad):
        # input i became index i of the new axis dim: it gets grad at that index back
        return tuple(np.moveaxis(grad, ctx.dim, 0))


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
        try:
            out = np.where(mask, np.asarray(value, dtype=x.dtype), x)
        except ValueError:
            raise broadcast_error("masked_fill", x, mask) from None
        ctx.mask, ctx.shape = mask, x.shape  # the result has the broadcast shape of x and mask
        return out

    @staticmethod
    def backward(ctx, grad):
        # filled positions are constants: no gradient flows through them
        return unbroadcast(np.where(ctx.mask, 0, grad), ctx.shape), None, None


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        try:
            out = np.where(condition, a, b)
        except ValueError:
            raise broadcast_error("where", condition, a, b) from None
        ctx.condition, ctx.shapes = condition, (np.shape(a), np.shape(b))
        return out

    @staticmethod
    def backward(ctx, grad):
        # d where(c, a, b)/da = 1 where c is true, d/db = 1 where it is false; c is a constant
        need_a, need_b = ctx.needs_input_grad[1:]
        return (None,
                unbroadcast(np.where(ctx.condition, grad, 0), ctx.shapes[0]) if need_a else None,
                unbroadcast(np.where(ctx.condition, 0, grad), ctx.shapes[1]) if need_b else None)
