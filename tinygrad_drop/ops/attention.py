"""Attention as one node: softmax(scale * Q K^T + mask) V, with dropout on the attention weights
(after softmax), as torch.nn.functional.scaled_dot_product_attention.

With P = softmax(S + mask), D = dropout(P):
    forward:  S = scale Q K^T,  out = D V
    backward: dQ, dK, dV from dOut, P and D (a float attn_mask, added to the scores after
              scaling, gets a gradient too); backward never redraws the dropout mask.

kernels/attention_heads.py computes both directions: the numpy reference writes the formulas
above as they stand; the Numba twin runs each (batch, head) pair's products and the fused middle
(kernels/attention.py: scale, mask, softmax, dropout) in one thread task.

Two ops share that maths: ScaledDotProductAttention, PyTorch's function, and CausalQKVAttention,
the input side of a GPT's attention layer as one node: the q, k, v projection (one matrix
product), the split into heads and causal attention, in place of the ~17 nodes (weight splits,
views, transposes) the same lines make from PyTorch's pieces. Fewer nodes is less Python per
step, and the heads are read and written as views of the projection, never copied.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.attention_heads import attention_heads_backward, attention_heads_forward
from ..kernels.bias import add_bias
from .broadcast import unbroadcast
from .dtypes import require_float
from .linear import check_linear_shapes, linear_grads


def additive_mask(attn_mask, lead: tuple, T: int, S: int, dtype) -> np.ndarray:
    """A bool mask (True = may attend) or a float mask (added to the scores) as (BH, T, S) floats."""
    if attn_mask.dtype == np.bool_:
        attn_mask = np.where(attn_mask, 0.0, -np.inf)
    try:
        full = np.broadcast_to(attn_mask.astype(dtype, copy=False), lead + (T, S))
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {attn_mask.shape} cannot be "
                         f"broadcast to the attention shape {lead + (T, S)}") from None
    return np.ascontiguousarray(full).reshape(int(np.prod(lead)), T, S)  # no -1: T may be 0


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
        out = empty_like_layout(q, lead + (T, v.shape[-1]))
        probs, dropped = attention_heads_forward(q, k, v, bias, has_mask, bool(is_causal), scale, dropout_p, key, out)
        ctx.save_for_backward(q, k, v, probs, dropped)
        ctx.scale = scale
        ctx.causal = bool(is_causal)
        ctx.mask_shape = attn_mask.shape if has_mask else None
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, probs, dropped = ctx.saved_tensors
        grad_q, grad_k, grad_v = empty_like_layout(q), empty_like_layout(k), empty_like_layout(v)
        mask_grad = ctx.needs_input_grad[3]
        grad_z = attention_heads_backward(rows_contiguous(grad), q, k, v, probs, dropped, ctx.scale, ctx.causal,
                                    grad_q, grad_k, grad_v, mask_grad)
        grad_mask = unbroadcast(grad_z, ctx.mask_shape) if mask_grad else None
        return grad_q, grad_k, grad_v, grad_mask, None, None, None, None


class CausalQKVAttention(Function):
    """x (B, T, C) -> the heads' causal attention outputs (B, T, C), before the output projection:
    qkv = x W^T + b (W (3C, C) stacks q's, k's and v's weights, nanoGPT's c_attn), each of q, k, v
    split into n_head heads of C/n_head features, attention as above with dropout p on the weights.

    The heads are views of the one qkv array ((B, T, 3, heads, hs) read as three (B, heads, T, hs)),
    and dqkv is written through the same views, so nothing is copied; backward ends as
    LinearFunction's does (linear_grads)."""

    @staticmethod
    def forward(ctx, x, weight, bias, n_head, dropout_p, key):
        require_float("causal self-attention", x)
        C = x.shape[-1] if x.ndim == 3 else 0
        if x.ndim != 3 or weight.shape != (3 * C, C) or n_head < 1 or C % n_head:
            raise ValueError(f"causal self-attention: weight of shape {weight.shape} does not fit input {x.shape} "
                             f"with {n_head} heads (expected input (B, T, C), weight (3C, C), and C divisible "
                             "by the heads)")
        check_linear_shapes("causal self-attention", x, weight, bias)
        B, T, _ = x.shape
        head_size = C // n_head
        x2d = x.reshape(-1, C)
        qkv = x2d @ weight.T
        if bias is not None:
            add_bias(qkv, bias)
        q, k, v = qkv.reshape(B, T, 3, n_head, head_size).transpose(2, 0, 3, 1, 4)
        out = np.empty((B, T, n_head, head_size), qkv.dtype)
        scale = 1.0 / np.sqrt(head_size)
        no_mask = np.zeros((1, 1, 1), qkv.dtype)
        probs, dropped = attention_heads_forward(q, k, v, no_mask, False, True, scale, dropout_p, key,
                                                 out.transpose(0, 2, 1, 3))
        ctx.save_for_backward(x2d, weight, q, k, v, probs, dropped)
        ctx.scale = scale
        return out.reshape(B, T, C)

    @staticmethod
    def backward(ctx, grad):
        x2d, weight, q, k, v, probs, dropped = ctx.saved_tensors
        B, n_head, T, head_size = q.shape
        heads_of_grad = rows_contiguous(grad).reshape(B, T, n_head, head_size).transpose(0, 2, 1, 3)
        grad_qkv = np.empty((B, T, 3, n_head, head_size), grad.dtype)
        grad_q, grad_k, grad_v = grad_qkv.transpose(2, 0, 3, 1, 4)
        attention_heads_backward(heads_of_grad, q, k, v, probs, dropped, ctx.scale, True, grad_q, grad_k, grad_v,
                                 False)
        grad_x, grad_weight, grad_bias = linear_grads(grad_qkv.reshape(B * T, 3 * n_head * head_size), x2d, weight,
                                                      ctx.needs_input_grad[:3])
        return None if grad_x is None else grad_x.reshape(B, T, -1), grad_weight, grad_bias, None, None, None
