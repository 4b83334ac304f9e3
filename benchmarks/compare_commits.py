"""Is this checkout slower than an earlier commit? Both GPT training steps in one process, paired.

    python benchmarks/compare_commits.py 166b0a9                 # block 64, dropout 0.1
    python benchmarks/compare_commits.py HEAD~3 --block 256 --dropout 0.0 --rounds 9

Two `scripts/bench.py` runs made minutes apart compare the machine's moods as much as the code
(on a shared VM the same tree can step 30% faster or slower from one run to the next). Here the
earlier commit's package is copied out of git under another name (`tinygrad_drop_old`, its
models/gpt.py as `gpt_old`), both packages are imported into this process, both compile their
kernels afresh into an empty Numba cache (neither loads the many signatures a test run leaves
there), and their steps alternate round by round, each going first every other round; the paired
ratio new/old per round, and its median, is the answer. (Two worker processes, one per side, were
tried instead: their rounds scattered more widely; docs/performance.md.)
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def export_old_package(revision: str, into: Path) -> None:
    """The revision's tinygrad_drop/ as into/tinygrad_drop_old and models/gpt.py as into/gpt_old.py."""
    archive = subprocess.run(["git", "archive", revision, "tinygrad_drop", "models/gpt.py"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "tinygrad_drop").rename(into / "tinygrad_drop_old")
    renamed = [into / "models" / "gpt.py", *(into / "tinygrad_drop_old").rglob("*.py")]
    for path in renamed:
        path.write_text(re.sub(r"\btinygrad_drop\b", "tinygrad_drop_old", path.read_text()))
    (into / "models" / "gpt.py").rename(into / "gpt_old.py")


def gpt_step(td, gpt, block: int, dropout: float):
    td.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=65, block_size=block, n_layer=4, n_head=4, n_embd=128,
                                  embd_pdrop=dropout, attn_pdrop=dropout, resid_pdrop=dropout))
    optimizer = td.optim.AdamW(model.parameters(), lr=1e-3)
    rng = __import__("numpy").random.default_rng(0)

    def step() -> None:
        x = rng.integers(0, 65, (12, block))
        _, loss = model(x, rng.permuted(x, axis=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revision", help="the earlier commit (anything git understands)")
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as cache:
        # Both packages compile their kernels afresh, into an empty cache: a kernel loaded from a
        # cache that the test suite filled holds many compiled signatures, and Numba then picks
        # among them in Python on every call, which the other side would not pay (the A/A
        # comparisons that showed it are in docs/performance.md).
        os.environ["NUMBA_CACHE_DIR"] = cache
        export_old_package(args.revision, Path(folder))
        sys.path.insert(0, folder)  # the copy of the earlier commit, under its own names
        import gpt_old
        import tinygrad_drop_old
        import tinygrad_drop
        from models import gpt
        steps = {"old": gpt_step(tinygrad_drop_old, gpt_old, args.block, args.dropout),
                 "new": gpt_step(tinygrad_drop, gpt, args.block, args.dropout)}
        per_round = 10 if args.block <= 64 else 3
        for step in steps.values():
            for _ in range(3):
                step()
        samples = {name: [] for name in steps}
        for round_number in range(args.rounds):
            # each goes first every other round, so neither always runs right after the other
            order = list(steps.items()) if round_number % 2 == 0 else list(reversed(steps.items()))
            for name, step in order:
                start = time.perf_counter()
                for _ in range(per_round):
                    step()
                samples[name].append(1e3 * (time.perf_counter() - start) / per_round)
    paired = [new / old for new, old in zip(samples["new"], samples["old"])]
    print(f"block {args.block}, dropout {args.dropout}, {args.rounds} rounds of {per_round} steps: "
          f"{args.revision} {statistics.median(samples['old']):.1f} ms, this checkout "
          f"{statistics.median(samples['new']):.1f} ms; new/old per round {' '.join(f'{r:.3f}' for r in paired)}; "
          f"median {statistics.median(paired):.3f}")


if __name__ == "__main__":
    main()
