"""Multi-head attention layers.

Each head attends in its own embed_dim/num_heads-dimensional subspace; the heads run as one
batched attention by folding them into a (B, num_heads, T, head_dim) layout, then are concatenated
back and mixed by an output projection. Dropout appears twice (GPT-2's placement): on the
attention weights, inside F.scaled_dot_product_attention, and on the projected output (the
residual branch).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .dropout import Dropout
from .layers import Linear
from .module import Module


class CausalSelfAttention(Module):
    """nanoGPT's attention: one Linear makes q, k, v (c_attn), each position attends to itself
    and the past only, c_proj mixes the heads, dropout on the result. Parameter names match
    nanoGPT's, so its state dict loads unchanged.

    Args:
        embed_dim: features per position (nanoGPT's n_embd).
        num_heads: attention heads; embed_dim must be divisible by it.
        attn_pdrop: dropout probability on the attention weights (after softmax).
        resid_pdrop: dropout probability on the output (the residual branch).
        bias: whether c_attn and c_proj have biases.
        fused: run the layer as two fused nodes (F.causal_self_attention, then F.linear_dropout
            for c_proj and its dropout) instead of the composition it spells out; the same numbers
            and dropout masks either way.

    Shape:
        input (B, T, embed_dim) -> output (B, T, embed_dim).
    """

    def __init__(self, embed_dim: int, num_heads: int, attn_pdrop: float = 0.0, resid_pdrop: float = 0.0,
                 bias: bool = True, fused: bool = True):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.c_attn = Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.c_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.attn_pdrop = F.check_probability(attn_pdrop)
        self.resid_dropout = Dropout(resid_pdrop)
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        attn_pdrop = self.attn_pdrop if self.training else 0.0
        if self.fused:  # the lines below as two nodes
            y = F.causal_self_attention(x, self.c_attn.weight, self.c_attn.bias, self.num_heads, attn_pdrop)
            return F.linear_dropout(y, self.c_proj.weight, self.c_proj.bias, self.resid_dropout.p, self.training)
        q, k, v = (t.view(B, T, self.num_heads, C // self.num_heads).transpose(1, 2)  # (B, heads, T, head_dim)
                   for t in self.c_attn(x).split(C, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=attn_pdrop, is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, attn_pdrop={self.attn_pdrop}" + ("" if self.fused else ", fused=False")


class MultiheadAttention(Module):
    """Attention of a query sequence over a key/value sequence, as torch.nn.MultiheadAttention
    with batch_first=True. Returns (output, None): the attention weights stay inside the fused
    kernel, so need_weights=True is not supported.

    attn_mask follows torch.nn.MultiheadAttention, not scaled_dot_product_attention: a bool mask
    marks the keys a query may NOT see (True = hidden); a float mask is added to the scores.

    Args:
        embed_dim: features per position of query, key and value.
        num_heads: attention heads; embed_dim must be divisible by it.
        dropout: dropout probability on the attention weights (after softmax).
        bias: whether the four projections have biases.

    Shape:
        query (B, T, embed_dim), key and value (B, S, embed_dim), attn_mask broadcastable to
        (B, num_heads, T, S) -> output (B, T, embed_dim).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.dropout = F.check_probability(dropout)
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    def _heads(self, x: Tensor) -> Tensor:
        B, T, E = x.shape
        return x.view(B, T, self.num_heads, E // self.num_heads).transpose(1, 2)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, attn_mask=None, is_causal: bool = False,
                need_weights: bool = False) -> tuple[Tensor, None]:
        if need_weights:
            raise NotImplementedError("MultiheadAttention: need_weights=True is not supported; "
                                      "the attention weights stay inside the fused kernel")
        B, T, E = query.shape
        if attn_mask is not None and np.asarray(attn_mask).dtype == np.bool_:
            attn_mask = ~np.asarray(attn_mask)  # scaled_dot_product_attention's bool masks mean "may attend"
        y = F.scaled_dot_product_attention(
            self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(value)),
            attn_mask=attn_mask, is_causal=is_causal, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, E)), None

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, dropout={self.dropout}"
