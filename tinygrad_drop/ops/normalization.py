"""LayerNorm over the trailing `normalized_shape` axes, with fused kernels (kernels/layer_norm.py).

y = (x - mean) * rstd * weight + bias, with rstd = 1/sqrt(var + eps) and the biased variance.
Forward saves only mean and rstd per row; backward recomputes x-hat from x, which is cheaper than
storing a second activation-sized array.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.layer_norm import layer_norm_backward, layer_norm_forward
from .dtypes import require_float


class LayerNormFunction(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        require_float("layer_norm", x)
        width = int(np.prod(normalized_shape))
        if tuple(x.shape[x.ndim - len(normalized_shape):]) != tuple(normalized_shape):
            raise ValueError(f"layer_norm: input shape {x.shape} does not end with normalized_shape "
                             f"{tuple(normalized_shape)}")
        for name, param in (("weight", weight), ("bias", bias)):
            if param is not None and param.shape != tuple(normalized_shape):
                raise ValueError(f"layer_norm: {name} of shape {param.shape} does not match normalized_shape "
                                 f"{tuple(normalized_shape)}")
        x2d = np.ascontiguousarray(x).reshape(x.size // width if width else 0, width)  # no -1: width may be 0
        # without affine parameters the kernel still multiplies by 1 and adds 0
        weight2d = np.ones(width, x.dtype) if weight is None else np.ascontiguousarray(weight, dtype=x.dtype).reshape(width)
        bias2d = np.zeros(width, x.dtype) if bias is None else np.ascontiguousarray(bias, dtype=x.dtype).reshape(width)
        if x.size == 0:  # no rows, or rows of nothing: nothing to normalize (the mean of nothing is undefined)
            y, mean, rstd = np.empty_like(x2d), np.full(x2d.shape[0], np.nan, x.dtype), np.full(x2d.shape[0], np.nan, x.dtype)
        else:
            y, mean, rstd = layer_norm_forward(x2d, weight2d, bias2d, float(eps))
        ctx.save_for_backward(x2d, weight2d, mean, rstd)
        ctx.shape, ctx.param_shape = x.shape, tuple(normalized_shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION layernorm: run layer_norm_backward on the saved 2-D arrays; one gradient per forward input
        x2d, weight2d, mean, rstd = ctx.saved_tensors
        grad2d = np.ascontiguousarray(grad).reshape(x2d.shape)
        if x2d.size == 0:
            dx, dweight, dbias = np.zeros_like(x2d), np.zeros_like(weight2d), np.zeros_like(weight2d)
        else:
            dx, dweight, dbias = layer_norm_backward(grad2d, x2d, weight2d, mean, rstd)
        _, need_weight, need_bias = ctx.needs_input_grad[:3]
        return (dx.reshape(ctx.shape),
                dweight.reshape(ctx.param_shape) if need_weight else None,
                dbias.reshape(ctx.param_shape) if need_bias else None,
                None, None)
        # END SOLUTION
