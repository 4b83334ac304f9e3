"""nanoGPT's CPU recipe on tiny shakespeare in PyTorch eager: the loss that scripts/train.py's
`--max-iters 2000` run is compared with (docs/performance.md).

The recipe (nanoGPT's README, "I only have a macbook"): 4 layers, 4 heads, width 128, block 64,
batch 12, 2000 steps, dropout 0.0, AdamW (betas 0.9/0.99, weight decay 0.1 on matrices only),
lr 1e-3 with 100 warmup steps and a cosine down to 1e-4, gradients clipped to norm 1. The text
splits 90/10 into train and val, characters are the tokens, and the final losses are means over
--eval-iters random batches of each split. The output layer is untied, as in scripts/train.py
(--tie-weights ties it, as nanoGPT does).

    python benchmarks/torch_shakespeare.py --data data/tinyshakespeare.txt
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from torch_gpt import GPT  # this file's folder is on sys.path when it runs as a script

ROOT = Path(__file__).resolve().parent.parent
BATCH, BLOCK = 12, 64
LR, MIN_LR, WARMUP = 1e-3, 1e-4, 100


def learning_rate(step: int, total: int) -> float:
    """Linear warmup, then half a cosine from LR down to MIN_LR at the last step."""
    if step < WARMUP:
        return LR * (step + 1) / (WARMUP + 1)
    progress = (step - WARMUP) / (total - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * progress)) * (LR - MIN_LR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "tinyshakespeare.txt")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--eval-iters", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--tie-weights", action="store_true")
    args = ap.parse_args()
    if not args.data.is_file():
        ap.error(f"no text at {args.data}: pass --data with the path of tiny shakespeare")

    text = args.data.read_text(encoding="utf-8")
    vocabulary = sorted(set(text))
    index = {char: i for i, char in enumerate(vocabulary)}
    tokens = np.array([index[char] for char in text], dtype=np.int64)
    split = int(0.9 * len(tokens))
    splits = {"train": tokens[:split], "val": tokens[split:]}

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = GPT(len(vocabulary), BLOCK, dropout=args.dropout, tie_weights=args.tie_weights)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": 0.1},
                                   {"params": vectors, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.99))

    def batch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        data = splits[name]
        starts = rng.integers(0, len(data) - BLOCK - 1, BATCH)
        x = np.stack([data[s:s + BLOCK] for s in starts])
        y = np.stack([data[s + 1:s + BLOCK + 1] for s in starts])
        return torch.from_numpy(x), torch.from_numpy(y)

    start = time.perf_counter()
    for step in range(args.iters):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.iters)
        loss = model(*batch("train"))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        losses = {name: float(np.mean([model(*batch(name)).item() for _ in range(args.eval_iters)]))
                  for name in splits}
    print(f"train {losses['train']:.3f}  val {losses['val']:.3f}  "
          f"({args.iters} steps in {seconds:.0f} s, {1e3 * seconds / args.iters:.1f} ms per step)")


if __name__ == "__main__":
    main()
