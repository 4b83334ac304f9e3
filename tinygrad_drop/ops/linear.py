"""The linear layer's ops: y = x W^T + b over the last axis of x, and the same product followed by
GELU or by dropout.

Folding the leading axes into rows, x (N, in) @ W^T (in, out) is one 2-D BLAS product (W^T is a
view: BLAS reads W transposed, nothing is copied), and backward is two more.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.bias import add_bias, bias_grad
from ..kernels.dropout import add_bias_dropout, dropout_apply
from ..kernels.gelu import gelu
from .dtypes import require_float


def check_linear_shapes(op: str, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> None:
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{op}: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                         "(expected input (..., in_features) and weight (out_features, in_features))")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"{op}: bias of shape {bias.shape} does not fit weight of shape {weight.shape} "
                         f"(expected ({weight.shape[0]},))")


def linear_grads(grad2d: np.ndarray, x2d: np.ndarray, weight: np.ndarray, needs_input_grad: tuple) -> tuple:
    """(dx, dW, db) of y = x W^T + b on rows: x2d (N, in), grad2d (N, out); None where not needed."""
    # BEGIN SOLUTION matmul: (dx (N, in), dW (out, in), db (out,)) of y = x W^T + b on rows; None where needs_input_grad says so
    # dx = dy W, dW = dy^T x, db = dy summed over rows (bias_grad)
    need_x, need_w, need_b = needs_input_grad
    return (
        grad2d @ weight if need_x else None,
        grad2d.T @ x2d if need_w else None,
        bias_grad(grad2d) if need_b else None,
    )
    # END SOLUTION


class LinearFunction(Function):
    """y = x W^T + b, as one node: the Function F.linear (and so nn.Linear) applies."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        check_linear_shapes("linear", x, weight, bias)
        x2d = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2d, weight)
        ctx.x_shape = x.shape
        out = x2d @ weight.T
        if bias is not None:
            add_bias(out, bias)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x2d, weight = ctx.saved_tensors
        dx, dweight, dbias = linear_grads(grad.reshape(-1, weight.shape[0]), x2d, weight, ctx.needs_input_grad)
        return None if dx is None else dx.reshape(ctx.x_shape), dweight, dbias


class LinearGELU(Function):
    """y = gelu(x W^T + b), the first half of a transformer's MLP, as one node.

    h = x W^T + b is an array of the op's own that nothing else reads, so the GELU kernel writes
    y over it: one activation-sized array less to write and page in per layer than the two nodes
    (LinearFunction, then GELU). The kernel hands back gelu'(h) too, and backward is
    dh = dy * gelu'(h), then the linear gradients with dh."""

    @staticmethod
    def forward(ctx, x, weight, bias, approximate):
        require_float("linear_gelu", x)
        check_linear_shapes("linear_gelu", x, weight, bias)
        x2d = x.reshape(-1, x.shape[-1])
        h = x2d @ weight.T
        if bias is not None:
            add_bias(h, bias)
        y, dy_dh = gelu(h, approximate, any(ctx.needs_input_grad), h)
        ctx.save_for_backward(x2d, weight, dy_dh)
        ctx.x_shape = x.shape
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x2d, weight, dy_dh = ctx.saved_tensors
        grad_h = grad.reshape(dy_dh.shape) * dy_dh
        dx, dweight, dbias = linear_grads(grad_h, x2d, weight, ctx.needs_input_grad[:3])
        return None if dx is None else dx.reshape(ctx.x_shape), dweight, dbias, None


class LinearDropout(Function):
    """y = dropout(x W^T + b), a residual branch's output projection (nanoGPT's c_proj, then
    dropout), as one node.

    The bias add and the mask are one pass over the product, in place (add_bias_dropout): one
    activation-sized array less to write, and one pass less, than the two nodes (LinearFunction,
    then Dropout). Backward is dropout's backward, then the linear gradients. The same
    numbers as the two nodes (same key, same element indexing, same roundings). The mask's hashing,
    which fusing cannot save, is most of dropout's cost, so the gain is small."""

    @staticmethod
    def forward(ctx, x, weight, bias, p, key, scale):
        require_float("linear_dropout", x)
        check_linear_shapes("linear_dropout", x, weight, bias)
        x2d = x.reshape(-1, x.shape[-1])
        out = add_bias_dropout(x2d @ weight.T, bias, p, key, scale)
        ctx.save_for_backward(x2d, weight)
        ctx.x_shape, ctx.p, ctx.key, ctx.scale = x.shape, p, key, scale
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x2d, weight = ctx.saved_tensors
        # BEGIN SOLUTION dropout: grad_h, the gradient of h = x W^T + b (rows of weight.shape[0]), through the dropout that followed h
        grad_h = dropout_apply(np.ascontiguousarray(grad).reshape(-1, weight.shape[0]), ctx.p, ctx.key, ctx.scale)
        # END SOLUTION
        dx, dweight, dbias = linear_grads(grad_h, x2d, weight, ctx.needs_input_grad[:3])
        return None if dx is None else dx.reshape(ctx.x_shape), dweight, dbias, None, None, None
