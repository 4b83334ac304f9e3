"""Dropout with exact gradient masking.

Forward keeps each element with probability 1-p and multiplies kept ones by `scale`
(1/(1-p) for inverted dropout, 1 for classic). The mask is never stored: it is a pure function
of (key, element index) (kernels/random_bits.py), so backward can redraw it from the key.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.dropout import dropout_apply
from .dtypes import require_float


class DropoutFunction(Function):
    @staticmethod
    def forward(ctx, x, p, key, scale):
        require_float("dropout", x)
        ctx.p, ctx.key, ctx.scale = p, key, scale
        # reshape: ascontiguousarray makes a 0-d array 1-d
        return dropout_apply(np.ascontiguousarray(x).reshape(x.shape), p, key, scale)

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION dropout: dL/dx of x's shape from grad = dL/dy, with the forward's p, key and scale (ctx); one gradient per forward input
        # y = x * mask * scale, so dy/dx = mask * scale: the same kernel, the same key
        return dropout_apply(np.ascontiguousarray(grad).reshape(grad.shape), ctx.p, ctx.key, ctx.scale), None, None, None
        # END SOLUTION
