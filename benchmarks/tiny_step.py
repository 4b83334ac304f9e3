"""Python overhead per training step: a GPT so small (4 layers, width 16, block 8, batch 4) that its
arithmetic is nothing and the step is the framework's own work (ops, nodes, the engine, kernel
dispatch). Compare two commits in separate processes, each with a fresh Numba cache:

    git archive REV tinygrad_drop models | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old NUMBA_CACHE_DIR=/tmp/cache-old python benchmarks/tiny_step.py
    NUMBA_CACHE_DIR=/tmp/cache-new python benchmarks/tiny_step.py
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_drop as td
from models.gpt import GPT, GPTConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=7, help="rounds; the median is printed")
    args = ap.parse_args()
    td.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=17, block_size=8, n_layer=4, n_head=2, n_embd=16, embd_pdrop=0.1,
                          attn_pdrop=0.1, resid_pdrop=0.1))
    optimizer = td.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)

    def step() -> None:
        x = rng.integers(0, 17, (4, 8))
        _, loss = model(x, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(30):
        step()
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        rounds.append(1e6 * (time.perf_counter() - start) / args.steps)
    print(f"{td.__file__}: {statistics.median(rounds):.0f} us per step (median of {args.rounds} rounds of {args.steps})")


if __name__ == "__main__":
    main()
