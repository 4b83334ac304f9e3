"""The benchmark's PyTorch side: models/gpt.py's GPT in PyTorch eager, for scripts/bench.py.

The same model, layer by layer and with the same parameter names (nanoGPT's), so that our state
dict loads into it unchanged and a test checks that the two compute the same loss:

    idx (B, T) --wte + wpe--> drop --n_layer x Block--> ln_f --lm_head--> cross-entropy
    Block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))

Attention is spelled out (scores, causal mask, softmax, dropout, weighted sum), as nanoGPT's
model.py does without flash attention and as our model computes it; PyTorch's fused
scaled_dot_product_attention would time a different algorithm. Dropout sits where GPT-2 and
models/gpt.py put it: after the embeddings, on the attention weights, on each residual branch.

This file and torch_shakespeare.py are the only places in the project that import torch outside
the tests. Run alone, it times a training step:

    python benchmarks/torch_gpt.py --steps 50 --dropout 0.1
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float, bias: bool = True):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        # query i sees keys 0..i; not a parameter, so it stays out of the state dict
        self.register_buffer("causal", torch.ones(block_size, block_size, dtype=torch.bool).tril(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        weights = scores.masked_fill(~self.causal[:T, :T], float("-inf")).softmax(dim=-1)
        y = (self.attn_dropout(weights) @ v).transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd: int, dropout: float, bias: bool = True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float, bias: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """models/gpt.py's GPTConfig fields as arguments; one dropout rate for all three places.
    (The positional order is the earlier reference's, so older versions of bench.py can time
    this file with --torch-ref.)"""

    def __init__(self, vocab_size: int = 65, block_size: int = 64, n_embd: int = 128, n_head: int = 4,
                 n_layer: int = 4, dropout: float = 0.0, bias: bool = True, tie_weights: bool = True):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            wpe=nn.Embedding(block_size, n_embd),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, block_size, dropout, bias) for _ in range(n_layer)]),
            ln_f=nn.LayerNorm(n_embd, bias=bias),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        if tie_weights:
            self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The mean cross-entropy of the next-token logits against targets (-1: ignored)."""
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)


def main() -> None:
    ap = argparse.ArgumentParser(description="Time a training step of the GPT in PyTorch eager.")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--batch", type=int, default=12)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = GPT(block_size=args.block, dropout=args.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)

    def step() -> float:
        x = torch.randint(0, 65, (args.batch, args.block), generator=generator)
        loss = model(x, torch.roll(x, -1, 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    seconds = (time.perf_counter() - start) / args.steps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: "
          f"{1e3 * seconds:.2f} ms per step, loss {loss:.4f}")


if __name__ == "__main__":
    main()
