"""Elementwise functions of one tensor. Each backward multiplies the incoming gradient by the
function's derivative, written in terms of whatever is cheapest to keep (often the output)."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.gelu import gelu
from .dtypes import require_float


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d exp(x)/dx = exp(x) = y
        (y,) = ctx.saved_tensors
        return grad * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, grad):
        # d ln(x)/dx = 1/x
        (x,) = ctx.saved_tensors
        return grad / x


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        # d sin(x)/dx = cos(x)
        (x,) = ctx.saved_tensors
        return grad * np.cos(x)


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad):
        # d cos(x)/dx = -sin(x)
        (x,) = ctx.saved_tensors
        return -grad * np.sin(x)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d sqrt(x)/dx = 1 / (2 sqrt(x)) = 1 / (2y)
        # a negative input is nan since forward and stays nan; at 0 the slope is inf, as in PyTorch
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad / (2 * y)


class TanhFunction(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)


class SigmoidFunction(Function):
    @staticmethod
    def forward(ctx, x):
        # exp of a non-positive number only, so large |x| never overflows
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x)) = y (1 - y)
        (y,) = ctx.saved_tensors
        return grad * y * (1 - y)


class ReLUFunction(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d relu(x)/dx = 1 where x > 0 (there y > 0 too), 0 where x <= 0 (0 at x = 0, as PyTorch)
        (y,) = ctx.saved_tensors
        return grad * (y > 0)


class GELUFunction(Function):
    """x * Phi(x), exact (erf) or with the tanh approximation; fused kernel (kernels/gelu.py).

    The kernel hands back gelu'(x) from the same pass, so backward saves that instead of x and
    is a single multiply."""

    @staticmethod
    def forward(ctx, x, approximate):
        require_float("gelu", x)
        x = np.ascontiguousarray(x).reshape(x.shape)  # reshape: ascontiguousarray makes a 0-d array 1-d
        y, dy_dx = gelu(x, approximate, ctx.needs_input_grad[0])
        ctx.save_for_backward(dy_dx)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d gelu(x)/dx, computed by forward's kernel pass (kernels/gelu.py) and saved as dy_dx
        (dy_dx,) = ctx.saved_tensors
        return grad * dy_dx, None


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        # d|x|/dx = sign(x) (0 at x = 0, as PyTorch)
        (x,) = ctx.saved_tensors
        return grad * np.sign(x)


class Clip(Function):
    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.bounds = low, high
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        # d clip(x)/dx = 1 inside [low, high] (bounds included, as PyTorch), 0 outside
        (x,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return grad * inside, None, None


class Cast(Function):
    """Change dtype (e.g. float32 -> float64); the gradient goes back in the input's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        # d cast(x)/dx = 1: only the dtype goes back to the input's
        return grad.astype(ctx.input_dtype), None
