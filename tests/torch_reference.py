"""PyTorch twins of our transformer pieces, written from nanoGPT's layout (Karpathy), for the
comparison tests in test_layers.py and test_gpt.py.

They use torch's own building blocks (nn.Linear, nn.LayerNorm, nn.Embedding, nn.GELU) and spell
attention out the long way (scores, causal masked_fill, softmax, weighted sum), so nothing here
shares code with tinygrad_drop. Parameter names are nanoGPT's, so our state dicts load into them
with `load_state_dict(..., strict=True)` and back.

The classes are built inside `nanogpt_classes(torch)` so that this module imports without torch:
each test that needs them calls `torch = pytest.importorskip("torch")` first.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Iterator

import numpy as np


def single_torch_thread() -> Iterator[None]:
    """Run torch on one thread, then restore its setting (use as a module-scoped fixture).

    The tensors in these tests are tiny, so torch's thread pool only adds overhead; on a busy
    2-core machine its waiting threads made a 10-step GPT comparison take seconds per step."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def nanogpt_classes(torch) -> SimpleNamespace:
    """CausalSelfAttention, MLP, Block (pre- or post-norm) and GPT as torch.nn.Modules."""
    nn = torch.nn

    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd: int, n_head: int, bias: bool = True):
            super().__init__()
            self.n_head = n_head
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
            future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
            weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
            y = (weights @ v).transpose(1, 2).reshape(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self, n_embd: int, bias: bool = True):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self, n_embd: int, n_head: int, norm_first: bool = True, bias: bool = True):
            super().__init__()
            self.norm_first = norm_first
            self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
            self.attn = CausalSelfAttention(n_embd, n_head, bias)
            self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
            self.mlp = MLP(n_embd, bias)

        def forward(self, x):
            if self.norm_first:
                x = x + self.attn(self.ln_1(x))
                return x + self.mlp(self.ln_2(x))
            x = self.ln_1(x + self.attn(x))
            return self.ln_2(x + self.mlp(x))

    class GPT(nn.Module):
        def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
                     bias: bool = True):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd),
                wpe=nn.Embedding(block_size, n_embd),
                h=nn.ModuleList([Block(n_embd, n_head, bias=bias) for _ in range(n_layer)]),
                ln_f=nn.LayerNorm(n_embd, bias=bias),
            ))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets):
            T = idx.shape[1]
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)
            return logits, loss

        def configure_optimizers(self, weight_decay: float, learning_rate: float, betas):
            """nanoGPT's: decay every parameter with 2+ dims, nothing else."""
            params = [p for p in self.parameters() if p.requires_grad]
            groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                      {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
            return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)

    return SimpleNamespace(CausalSelfAttention=CausalSelfAttention, MLP=MLP, Block=Block, GPT=GPT)


def copy_into_torch(torch, torch_module, our_module) -> None:
    """Load our state dict into the torch twin unchanged: same names, same shapes, strict."""
    state = {name: torch.from_numpy(np.array(value)) for name, value in our_module.state_dict().items()}
    torch_module.load_state_dict(state, strict=True)
