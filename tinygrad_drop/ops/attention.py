"""Scaled dot-product attention as one node: softmax(scale * Q K^T + mask) V, with dropout on the
attention weights (after softmax), as torch.nn.functional.scaled_dot_product_attention.

The two matrix products go to BLAS; everything between them (scale, mask, causal mask, softmax,
dropout) is one fused kernel each way (kernels/attention.py). With P = softmax(S), D = dropout(P):
    forward:  S = scale Q K^T,  out = D V
    backward: dD = dOut V^T,  dV = D^T dOut,  dZ = P * (dP - rowsum(dP * P)) with
              dP = dD * keep / (1-p),  dQ = scale dZ K,  dK = scale dZ^T Q,
              and a float attn_mask, added to the scores after scaling, gets dZ itself
Only P is saved; D and the keep mask are redrawn from the dropout key in backward.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.attention import attention_probs_backward, attention_probs_forward
from ..kernels.dropout import dropout_apply
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
        q3, k3, v3 = q.reshape(-1, T, E), k.reshape(-1, S, E), v.reshape(-1, S, v.shape[-1])
        scale = 1.0 / np.sqrt(E) if scale is None else float(scale)
        has_mask = attn_mask is not None
        bias = additive_mask(attn_mask, lead, T, S, q.dtype) if has_mask else np.zeros((1, 1, 1), q.dtype)
        scores = q3 @ k3.transpose(0, 2, 1)
        probs, dropped = attention_probs_forward(scores, bias, has_mask, bool(is_causal), scale, dropout_p, key)
        ctx.save_for_backward(q3, k3, v3, probs)
        ctx.shapes, ctx.scale, ctx.p, ctx.key = (q.shape, k.shape, v.shape), scale, dropout_p, key
        ctx.mask_shape = attn_mask.shape if has_mask else None
        return (dropped @ v3).reshape(lead + (T, v.shape[-1]))

    @staticmethod
    def backward(ctx, grad):
        # BEGIN SOLUTION attention: follow the backward formulas in the module docstring, redrawing dropout's mask
        q3, k3, v3, probs = ctx.saved_tensors
        q_shape, k_shape, v_shape = ctx.shapes
        p = ctx.p
        dropped = probs if p == 0 else dropout_apply(probs, p, ctx.key, 0.0 if p == 1 else 1.0 / (1.0 - p))
        grad3 = grad.reshape(v3.shape[0], q3.shape[1], v3.shape[2])
        grad_dropped = grad3 @ v3.transpose(0, 2, 1)
        grad_v = dropped.transpose(0, 2, 1) @ grad3
        # dZ, the gradient of the scaled and masked scores; the scale goes on the smaller dQ and dK
        grad_z = attention_probs_backward(probs, grad_dropped, p, ctx.key, 1.0)
        grad_q = ctx.scale * (grad_z @ k3)
        grad_k = ctx.scale * (grad_z.transpose(0, 2, 1) @ q3)
        grad_mask = None
        if ctx.needs_input_grad[3]:
            grad_mask = unbroadcast(grad_z.reshape(q_shape[:-1] + (k_shape[-2],)), ctx.mask_shape)
        return (grad_q.reshape(q_shape), grad_k.reshape(k_shape), grad_v.reshape(v_shape),
                grad_mask, None, None, None, None)
        # END SOLUTION
