"""The transformer block: attention then a feed-forward network, each on a residual path.

Pre-norm (norm_first=True, GPT-2 and nanoGPT):   x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
Post-norm (norm_first=False, the original 2017 Transformer):
                                                 x = ln_1(x + attn(x));  x = ln_2(x + mlp(x))
Pre-norm keeps an unnormalized residual stream from input to output, which trains deep stacks
without learning-rate warmup tricks; post-norm is kept for comparison.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .attention import CausalSelfAttention
from .dropout import Dropout
from .layers import GELU, LayerNorm, Linear
from .module import Module


class MLP(Module):
    """The feed-forward half of a transformer block: widen 4x, GELU, project back, dropout
    (nanoGPT's names: c_fc, gelu, c_proj, dropout).

    Args:
        d_model: features per position, in and out.
        resid_pdrop: dropout probability on the output (the residual branch).
        bias: whether c_fc and c_proj have biases.
        fused: run c_fc with GELU (F.linear_gelu) and c_proj with dropout (F.linear_dropout) as one
            node each, instead of the four modules in turn; the same numbers and dropout mask.
            The fused nodes compute exactly GELU() and Dropout(resid_pdrop): set fused=False to
            swap one of the modules for another.

    Shape:
        input (..., d_model) -> output (..., d_model).
    """

    def __init__(self, d_model: int, resid_pdrop: float = 0.0, bias: bool = True, fused: bool = True):
        super().__init__()
        self.c_fc = Linear(d_model, 4 * d_model, bias=bias)
        self.gelu = GELU()
        self.c_proj = Linear(4 * d_model, d_model, bias=bias)
        self.dropout = Dropout(resid_pdrop)
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        if self.fused:  # the line below as two nodes
            hidden = F.linear_gelu(x, self.c_fc.weight, self.c_fc.bias)
            return F.linear_dropout(hidden, self.c_proj.weight, self.c_proj.bias, self.dropout.p, self.training)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    def extra_repr(self) -> str:
        return "" if self.fused else "fused=False"


class TransformerBlock(Module):
    """A causal transformer block with nanoGPT's parameter names (ln_1, attn, ln_2, mlp).

    Args:
        d_model: features per position.
        n_heads: attention heads; d_model must be divisible by it.
        attn_pdrop: dropout probability on the attention weights.
        resid_pdrop: dropout probability on each residual branch's output.
        norm_first: pre-norm (True, GPT-2) or post-norm (False, the 2017 Transformer).
        bias: whether the Linear and LayerNorm layers have biases.
        fused: passed to the attention and the MLP (see CausalSelfAttention and MLP).

    Shape:
        input (B, T, d_model) -> output (B, T, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, attn_pdrop: float = 0.0, resid_pdrop: float = 0.0,
                 norm_first: bool = True, bias: bool = True, fused: bool = True):
        super().__init__()
        self.norm_first = norm_first
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, n_heads, attn_pdrop, resid_pdrop, bias=bias, fused=fused)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, resid_pdrop, bias=bias, fused=fused)

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_first:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}"
