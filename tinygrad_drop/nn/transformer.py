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
    """The feed-forward half: widen 4x, GELU, project back, dropout (nanoGPT's names).

    With the GELU module in place, c_fc and GELU run as one node (F.linear_gelu: GELU written over
    the product), and so do c_proj and dropout (F.linear_dropout: the mask applied with the bias);
    swap any of these for another module and it is called as usual."""

    def __init__(self, n_embd: int, resid_pdrop: float = 0.0, bias: bool = True):
        super().__init__()
        self.c_fc = Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = GELU()
        self.c_proj = Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = Dropout(resid_pdrop)

    def forward(self, x: Tensor) -> Tensor:
        if type(self.gelu) is GELU and type(self.c_fc) is Linear:
            hidden = F.linear_gelu(x, self.c_fc.weight, self.c_fc.bias, self.gelu.approximate)
        else:
            hidden = self.gelu(self.c_fc(x))
        if type(self.dropout) is Dropout and type(self.c_proj) is Linear:
            return self.dropout.after_linear(self.c_proj, hidden)
        return self.dropout(self.c_proj(hidden))


class TransformerBlock(Module):
    """A causal transformer block with nanoGPT's parameter names (ln_1, attn, ln_2, mlp)."""

    def __init__(self, d_model: int, n_heads: int, attn_pdrop: float = 0.0, resid_pdrop: float = 0.0,
                 norm_first: bool = True, bias: bool = True):
        super().__init__()
        self.norm_first = norm_first
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = CausalSelfAttention(d_model, n_heads, attn_pdrop, resid_pdrop, bias=bias)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, resid_pdrop, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.norm_first:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}"
