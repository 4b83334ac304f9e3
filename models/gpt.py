"""A GPT language model, nanoGPT's model.py (Karpathy) written with tinygrad_drop's public API.

Parameter names are nanoGPT's ("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight",
"lm_head.weight", ...), so a state dict moves between this model and a PyTorch nanoGPT unchanged.

    idx (B, T) --wte + wpe--> drop --n_layer x Block--> ln_f --lm_head--> logits

Dropout sits in three separately configurable places (GPT-2's): after the embeddings (embd_pdrop),
on the attention weights (attn_pdrop), and on each residual branch's output (resid_pdrop).

Fusion is one switch, GPTConfig.fused, read in the forwards below: True (the default, for training)
runs a few lines as one autograd node each (F.causal_self_attention, F.linear_gelu,
F.linear_dropout), False runs nanoGPT's lines as they stand, attention as its manual lines
(q k^T, the scale, the causal mask, softmax, dropout, times v: the nodes a lecture draws). Both
give the same numbers, dropout masks included: the fused nodes draw the same keys in the same
order and index the mask the same way (tests/test_gpt.py checks it). Fusing saves Python overhead per node and passes over memory;
the unfused lines are the ones to read, step through, or change. (A fused node reads its Dropout
module's p but does not call it, so that module's `mask` shows only with fused=False.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn as nn
import tinygrad_drop.nn.functional as F


@dataclass
class GPTConfig:
    """nanoGPT's hyperparameters (its names), GPT-2's three dropout probabilities, and the switch
    `fused` (see the module docstring)."""

    vocab_size: int = 65
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    embd_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    resid_pdrop: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    fused: bool = True  # fused nodes (same numbers) or nanoGPT's lines, see the module docstring

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        for name in ("embd_pdrop", "attn_pdrop", "resid_pdrop"):
            F.check_probability(getattr(self, name))


class CausalSelfAttention(nn.Module):
    """Each position attends to itself and the past only; n_head heads of n_embd/n_head features."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        # key, query, value projections for all heads, in one Linear
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        # output projection
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        # regularization: on the attention weights, and on the output
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.fused = config.fused

    def forward(self, x: td.Tensor) -> td.Tensor:
        B, T, C = x.shape  # batch size, sequence length, embedding dimensionality (n_embd)
        if self.fused:  # the lines below as two nodes
            attn_pdrop = self.attn_dropout.p if self.training else 0.0
            y = F.causal_self_attention(x, self.c_attn.weight, self.c_attn.bias, self.n_head, attn_pdrop)
            return F.linear_dropout(y, self.c_proj.weight, self.c_proj.bias, self.resid_dropout.p, self.training)
        # query, key, values for all heads, and the heads moved forward to be the batch dim
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        # causal self-attention, nanoGPT's manual lines, one node each as the lecture draws them:
        # (B, nh, T, hs) x (B, nh, hs, T) -> (B, nh, T, T), scaled, the future masked, softmax, dropout
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        att = att.masked_fill(np.triu(np.ones((T, T), dtype=bool), k=1), float("-inf"))
        att = att.softmax(dim=-1)
        att = self.attn_dropout(att)
        y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # all head outputs side by side
        # output projection
        y = self.resid_dropout(self.c_proj(y))
        return y


class MLP(nn.Module):
    """The feed-forward half of a block: widen 4x, GELU, project back, dropout."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.resid_pdrop)
        self.fused = config.fused

    def forward(self, x: td.Tensor) -> td.Tensor:
        if self.fused:  # the four lines below as two nodes
            x = F.linear_gelu(x, self.c_fc.weight, self.c_fc.bias)
            return F.linear_dropout(x, self.c_proj.weight, self.c_proj.bias, self.dropout.p, self.training)
        x = self.c_fc(x)
        x = self.gelu(x)
        x = self.c_proj(x)
        x = self.dropout(x)
        return x


class Block(nn.Module):
    """A pre-norm transformer block: attention, then the MLP, each on a residual path."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: td.Tensor) -> td.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """The language model: token and position embeddings, n_layer blocks, a final LayerNorm and
    the head that scores the vocabulary (tied to the token embedding unless tie_weights=False)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.embd_pdrop),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            # weight tying (Press & Wolf, 2017; nanoGPT): the output layer scores tokens with the
            # input table. It saves vocab x n_embd weights, which matters for GPT-2's 50k tokens;
            # for 65 characters it saves 8k and costs loss (scripts/train.py leaves it off).
            self.transformer.wte.weight = self.lm_head.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """nanoGPT's (GPT-2's) init: every matrix N(0, 0.02), biases 0, and the projections that
        write into the residual stream N(0, 0.02/sqrt(2 n_layer)), so the stream's variance does
        not grow with depth (2 residual additions per layer)."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, targets=None) -> tuple[td.Tensor, td.Tensor | None]:
        """idx: (B, T) token ids. With targets (B, T): logits (B, T, vocab) and the mean
        cross-entropy (targets of -1 are ignored). Without: logits of the last position only
        (B, 1, vocab), all that generation needs, and loss None (as nanoGPT)."""
        idx = idx if isinstance(idx, td.Tensor) else td.tensor(np.asarray(idx))
        if idx.ndim != 2:
            raise ValueError(f"GPT expects idx of shape (B, T), got {idx.shape}")
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"cannot forward a sequence of length {T}: block_size is only {self.config.block_size}")
        positions = td.arange(T)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, -1:, :]), None
        logits = self.lm_head(x)
        targets = targets.data if isinstance(targets, td.Tensor) else np.asarray(targets)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def configure_optimizers(self, weight_decay: float, learning_rate: float, betas=(0.9, 0.99)) -> td.optim.AdamW:
        """AdamW with weight decay on matrices only (nanoGPT): biases and LayerNorm gains keep
        their scale, decaying them would only fight the normalization."""
        params = list(self.parameters())
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return td.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @td.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None) -> td.Tensor:
        """Append max_new_tokens sampled tokens to idx (B, T), each conditioned on at most the
        last block_size tokens. temperature=0 picks the most likely token (greedy). Call
        model.eval() first, as in nanoGPT, so dropout is off."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        idx = np.array(idx.data if isinstance(idx, td.Tensor) else idx, dtype=np.int64)
        if idx.ndim != 2:
            raise ValueError(f"generate expects idx of shape (B, T), got {idx.shape}")
        rng = td.random.generator()
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size:]
            logits, _ = self(td.tensor(context))
            logits = logits.data[:, -1, :].astype(np.float64)
            if temperature == 0:
                next_token = logits.argmax(axis=-1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = np.sort(logits, axis=-1)[:, [-min(top_k, logits.shape[-1])]]
                    logits = np.where(logits < kth, -np.inf, logits)
                probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs /= probs.sum(axis=-1, keepdims=True)
                next_token = np.array([rng.choice(probs.shape[-1], p=row) for row in probs])
            idx = np.concatenate([idx, next_token[:, None]], axis=1)
        return td.tensor(idx)


def build_gpt(config: dict) -> GPT:
    """A GPT from a dict of GPTConfig's fields: how the trainer and its checkpoints describe a
    model (the library's training code takes this function and never imports models/)."""
    return GPT(GPTConfig(**config))
