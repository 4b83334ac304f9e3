"""Ops that pick elements by index along one dimension (gather, what topk and sort return) or
move them around it (roll), and clone. Backward sends each gradient element back to where its
value came from."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function


def along_axis_index(index: np.ndarray, dim: int) -> tuple:
    """The full index that picks x[..., index[..., i, ...], ...] along `dim`: `index` itself in
    place `dim`, and an open mesh of positions (np.ix_) in every other place."""
    mesh = list(np.ix_(*[np.arange(size) for size in index.shape]))
    mesh[dim] = index
    return tuple(mesh)


class Gather(Function):
    """out[i][j] = x[index[i][j]][j] for dim=0 (and so on for other dims), as torch.gather."""

    @staticmethod
    def forward(ctx, x, dim, index):
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, got dtype {index.dtype}")
        if index.ndim != x.ndim:
            raise ValueError(f"gather: index has {index.ndim} dimensions, the input {x.ndim}; they must match")
        if index.size and (index.min() < -x.shape[dim] or index.max() >= x.shape[dim]):
            raise IndexError(f"gather: index out of range for dimension {dim} of size {x.shape[dim]}")
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, np.array(index)
        return np.take_along_axis(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        # an element picked twice gets both gradients: a scatter-add, not an assignment
        grad_x = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(grad_x, along_axis_index(ctx.index, ctx.dim), grad)
        return grad_x, None, None


class Roll(Function):
    """The elements shifted by `shifts` places along `dims`, wrapping around, as torch.roll."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        # rolling back by the same amount returns each gradient to its element
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return np.roll(grad, back, axis=ctx.dims), None, None


class Clone(Function):
    """A copy of x that stays in the graph: writing into the copy leaves x alone."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad
