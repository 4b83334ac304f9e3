"""The arithmetic ops: + - * / ** neg and the matrix product.

For each, backward is the chain rule for one elementary derivative, then un-broadcasting.
An input that is a plain Python number needs no gradient: `ctx.needs_input_grad` skips it.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from .broadcast import broadcast_binary, unbroadcast


def to_input_shapes(ctx, grad_a, grad_b) -> tuple:
    """The two inputs' gradients, each summed back to its input's shape (ctx.shapes, saved by
    forward); None for an input that needs none, whose gradient the caller may leave as None."""
    need_a, need_b = ctx.needs_input_grad
    return (unbroadcast(grad_a, ctx.shapes[0]) if need_a else None,
            unbroadcast(grad_b, ctx.shapes[1]) if need_b else None)


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return broadcast_binary("add", np.add, a, b)

    @staticmethod
    def backward(ctx, grad):
        # d(a+b)/da = 1, d(a+b)/db = 1
        return to_input_shapes(ctx, grad, grad)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = np.shape(a), np.shape(b)
        return broadcast_binary("sub", np.subtract, a, b)

    @staticmethod
    def backward(ctx, grad):
        # d(a-b)/da = 1, d(a-b)/db = -1
        need_b = ctx.needs_input_grad[1]
        return to_input_shapes(ctx, grad, -grad if need_b else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = np.shape(a), np.shape(b)
        return broadcast_binary("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, grad):
        # d(ab)/da = b, d(ab)/db = a
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return to_input_shapes(ctx, grad * b if need_a else None, grad * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        ctx.shapes = np.shape(a), np.shape(b)
        return broadcast_binary("div", np.divide, a, b)

    @staticmethod
    def backward(ctx, grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return to_input_shapes(ctx, grad / b if need_a else None, -grad * a / (b * b) if need_b else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = broadcast_binary("pow", np.power, a, b)
        ctx.save_for_backward(a, b, out)
        ctx.shapes = np.shape(a), np.shape(b)
        return out

    @staticmethod
    def backward(ctx, grad):
        # d(a^b)/da = b a^(b-1),  d(a^b)/db = a^b ln a
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = grad * b * np.power(a, b - 1)
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = grad * out * np.log(a)
            # where a = 0 and b > 0, a^b stays 0 as b moves: slope 0, not 0 * log(0) = nan
            grad_b = np.where((a == 0) & (b >= 0), 0, grad_b)
        return to_input_shapes(ctx, grad_a, grad_b)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        # d(-a)/da = -1
        return -grad


class MatMul(Function):
    """Batched, broadcasting matrix product (BLAS through numpy), as torch.matmul.

    A 1-D operand is treated as a row (left) or column (right) vector, as numpy and PyTorch do."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {np.shape(a)} and {np.shape(b)}")
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ValueError(f"matmul: shapes {np.shape(a)} and {np.shape(b)} are not aligned: the last dimension "
                             f"of the first ({np.shape(a)[-1]}) must equal the "
                             f"{'only' if np.ndim(b) == 1 else 'second-to-last'} dimension of the second "
                             f"({np.shape(b)[0 if np.ndim(b) == 1 else -2]})") from None

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION matmul: dA of a's shape and dB of b's shape from grad = dC (C = A @ B, batched, broadcast, 1-D operands as numpy treats them)
        # For C = A @ B: dA = dC B^T and dB = A^T dC; a 1-D operand is a row (left) or a column
        # (right), and batch axes that broadcasting added are summed away (unbroadcast).
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # give grad back the axes the vector cases dropped; column first, so that the scalar of
        # vector @ vector becomes (1,) and then (1, 1)
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        need_a, need_b = ctx.needs_input_grad
        grad_a = unbroadcast(grad @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if need_a else None
        grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ grad, b2.shape).reshape(b.shape) if need_b else None
        return grad_a, grad_b
        # END SOLUTION
