"""Scaled dot-product attention as one node: softmax(scale * Q K^T + mask) V, with dropout on the
attention weights (after softmax), as torch.nn.functional.scaled_dot_product_attention.

The two matrix products go to BLAS; everything between them (scale, mask, causal mask, softmax,
dropout) is one fused kernel each way (kernels/attention.py). With P = softmax(S), D = dropout(P):
    forward:  S = scale Q K^T,  out = D V
    backward: dD = dOut V^T,  dV = D^T dOut,  dZ = dD * D - P * rowsum(dD * D),
              dQ = scale dZ K,  dK = scale dZ^T Q,
              and a float attn_mask, added to the scores after scaling, gets dZ itself
dZ is softmax's backward, P * (dP - rowsum(P * dP)), with dP = dD * keep / (1-p) the gradient
through dropout: P * dP = dD * D, so backward needs P and D and never redraws the mask.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.attention import attention_probs_backward, attention_probs_forward
from .broadcast import unbroadcast
from .dtypes import require_float


def additive_mask(attn_mask, lead: tuple, T: int, S: int, dtype) -> np.ndarray:
    """A bool mask (True = may attend) or a float mask (added to the scores) as (BH, T, S) floats."""
    if attn_mask.dtype == np.bool_:
        attn_mask = np.where(attn_mask, 0.0, -np.inf)
    try:
        full = np.broadcast_to(attn_mask.astype(dtype, copy=False), lead + (T, S))
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {attn_mask.shape} cannot be "
                         f"broadcast to the attention shape {lead + (T, S)}") from None
    return np.ascontiguousarray(full).reshape(-1, T, S)


def rows_contiguous(array: np.ndarray) -> np.ndarray:
    """The array itself if its matrices' rows are contiguous (BLAS reads such a matrix, or its
    transpose, in place: q from a (B, T, heads, E) projection viewed as (B, heads, T, E) is one),
    else a C-contiguous copy (numpy's matmul falls back to a slow loop without BLAS)."""
    return array if array.ndim and array.strides[-1] == array.itemsize else np.ascontiguousarray(array)


def empty_like_layout(array: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """An output with `array`'s memory layout (numpy's order "K"): for heads viewed out of a
    (B, T, heads, E) array, a (B, heads, T, E) view of a new (B, T, heads, E) array, which
    turns back into (B, T, heads * E) without a copy."""
    return np.empty_like(array, shape=shape)


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, attn_mask, is_causal, scale, dropout_p, key):
        if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim or q.shape[:-2] != k.shape[:-2] \
                or k.shape[:-1] != v.shape[:-1] or q.shape[-1] != k.shape[-1]:
            raise ValueError(f"scaled_dot_product_attention: shapes q {q.shape}, k {k.shape}, v {v.shape} do not fit "
                             "(expected q (..., T, E), k (..., S, E), v (..., S, Ev))")
        if attn_mask is not None and is_causal:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        for array in (q, k, v):
            require_float("scaled_dot_product_attention", array)
        lead, (T, E), S = q.shape[:-2], q.shape[-2:], k.shape[-2]
        q, k, v = (rows_contiguous(array) for array in (q, k, v))
        scale = 1.0 / np.sqrt(E) if scale is None else float(scale)
        has_mask = attn_mask is not None
        bias = additive_mask(attn_mask, lead, T, S, q.dtype) if has_mask else np.zeros((1, 1, 1), q.dtype)
        scores = np.matmul(q, k.swapaxes(-1, -2)).reshape(-1, T, S)
        probs, dropped = attention_probs_forward(scores, bias, has_mask, bool(is_causal), scale, dropout_p, key)
        ctx.save_for_backward(q, k, v, probs, dropped)
        ctx.scale = scale
        ctx.mask_shape = attn_mask.shape if has_mask else None
        return np.matmul(dropped.reshape(lead + (T, S)), v, out=empty_like_layout(q, lead + (T, v.shape[-1])))

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION attention: follow the backward formulas in the module docstring (dZ from P and D)
        q, k, v, probs, dropped = ctx.saved_tensors
        weights = dropped.reshape(q.shape[:-1] + (k.shape[-2],))  # D, with q's leading axes
        grad = rows_contiguous(grad)
        grad_dropped = np.matmul(grad, v.swapaxes(-1, -2))
        grad_v = np.matmul(weights.swapaxes(-1, -2), grad, out=empty_like_layout(v))
        # dZ, the gradient of the scaled and masked scores; the scale goes on the smaller dQ and dK
        grad_z = attention_probs_backward(probs, dropped, grad_dropped.reshape(probs.shape), 1.0)
        grad_z = grad_z.reshape(weights.shape)
        grad_q = np.matmul(grad_z, k, out=empty_like_layout(q))
        grad_q *= ctx.scale
        grad_k = np.matmul(grad_z.swapaxes(-1, -2), q, out=empty_like_layout(k))
        grad_k *= ctx.scale
        grad_mask = None
        if ctx.needs_input_grad[3]:
            grad_mask = unbroadcast(grad_z, ctx.mask_shape)
        return grad_q, grad_k, grad_v, grad_mask, None, None, None, None
        # END SOLUTION
