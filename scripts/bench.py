"""Benchmark: one training step (forward, backward, AdamW) of models/gpt.py at nanoGPT's CPU shape,
on each backend, side by side with the same model in PyTorch eager when torch is importable.

    python scripts/bench.py                  # table: step times, ratios vs PyTorch, first-step times, memory
    python scripts/bench.py --profile        # time by op, forward and backward
    python scripts/bench.py --json           # the same numbers for machines
    python scripts/bench.py --stability 1000 # memory over many steps (no growth)

Machines here are noisy, so every comparison is a ratio measured in one run: our step and
PyTorch's step alternate in rounds, and the table quotes medians. Threads are pinned to --threads
(2 by default) for numpy's BLAS, Numba and PyTorch alike.

Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow numpy's BLAS down; a user's
machine does not. This command alone re-executes itself with both unset, and says so.
PyTorch's side comes from ../shared/bench/torch_gpt.py (--torch-ref), read by path, never copied.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DEFAULT_TORCH_REF = ROOT.parent / "shared" / "bench" / "torch_gpt.py"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds; medians are quoted")
    ap.add_argument("--backends", default="numba,numpy")
    ap.add_argument("--profile", action="store_true", help="print time by op (forward and backward)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--quick", action="store_true", help="fewer rounds; skip block 256 and the first-step runs")
    ap.add_argument("--stability", type=int, default=0, metavar="STEPS", help="track memory over this many steps")
    ap.add_argument("--torch-ref", default=str(DEFAULT_TORCH_REF), help="path of the PyTorch reference model")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def pin_threads(threads: int) -> None:
    """Before numpy/numba/torch load: the same thread count for every library."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)


def reexec_without_blas_overrides() -> bool:
    """Restart this process with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed (this command only)."""
    present = [v for v in BLAS_OVERRIDES if v in os.environ]
    if not present:
        return False
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env["TD_BENCH_UNSET"] = ",".join(present)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
    return True


# ---- the two workloads ----------------------------------------------------------------------
class OurStep:
    def __init__(self, backend: str, block: int, dropout: float, batch: int = 12, vocab: int = 65):
        import numpy as np
        import tinygrad_drop as td
        from models.gpt import GPT, GPTConfig
        td.set_backend(backend)
        td.manual_seed(0)
        self.td, self.np, self.backend = td, np, backend
        config = GPTConfig(vocab_size=vocab, block_size=block, n_layer=4, n_head=4, n_embd=128,
                           embd_pdrop=dropout, attn_pdrop=dropout, resid_pdrop=dropout)
        self.model = GPT(config)
        self.optimizer = self.td.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.rng = np.random.default_rng(1)
        self.shape, self.vocab = (batch, block), vocab

    def __call__(self) -> float:
        self.td.set_backend(self.backend)
        x = self.rng.integers(0, self.vocab, self.shape)
        _, loss = self.model(x, self.np.roll(x, -1, 1))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


class TorchStep:
    def __init__(self, ref_path: str, block: int, dropout: float, batch: int = 12, vocab: int = 65):
        import importlib.util
        import torch
        spec = importlib.util.spec_from_file_location("torch_gpt_reference", ref_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        torch.manual_seed(0)
        self.torch = torch
        self.model = module.GPT(vocab, block, 128, 4, 4, dropout)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(1)
        self.shape, self.vocab = (batch, block), vocab

    def __call__(self) -> float:
        x = self.torch.randint(0, self.vocab, self.shape, generator=self.generator)
        loss = self.model(x, self.torch.roll(x, -1, 1))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


def torch_available(ref_path: str) -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return Path(ref_path).is_file()


def time_steps(step, steps: int) -> float:
    """Seconds per step over `steps` consecutive steps."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(workloads: dict, steps: int, rounds: int) -> dict:
    """Alternate the workloads round by round (so drift hits all alike); median ms per step."""
    for step in workloads.values():
        for _ in range(3):
            step()
    samples = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, step in workloads.items():
            samples[name].append(time_steps(step, steps))
    return {name: 1e3 * statistics.median(s) for name, s in samples.items()}


# ---- child processes: first step and memory ---------------------------------------------------
def child_main(args: argparse.Namespace) -> None:
    """Run in a fresh process: time from start to the end of the first step, then peak memory
    (VmHWM: the high-water mark of resident memory, which starts afresh at exec, unlike
    ru_maxrss, which a child inherits from the parent that spawned it)."""
    start = time.perf_counter()
    kind, backend = args.child.split(":")
    step = TorchStep(args.torch_ref, 64, 0.1) if kind == "torch" else OurStep(backend, 64, 0.1)
    rss_before = memory_mb("VmRSS")
    step()
    first_step = time.perf_counter() - start
    for _ in range(20):
        step()
    peak = memory_mb("VmHWM")
    print(json.dumps({"first_step_s": first_step, "peak_rss_mb": peak, "training_rss_mb": peak - rss_before}))


def memory_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def run_child(kind: str, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--threads", os.environ["NUMBA_NUM_THREADS"]],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_step_and_memory(with_torch: bool) -> dict:
    import tempfile
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        results["cold_cache"] = run_child("ours:numba", {"NUMBA_CACHE_DIR": cache})
        results["warm_cache"] = run_child("ours:numba", {"NUMBA_CACHE_DIR": cache})
    results["numpy_backend"] = run_child("ours:numpy")
    if with_torch:
        results["torch"] = run_child("torch:-")
    return results


# ---- profile ---------------------------------------------------------------------------------
def profile_ops(backend: str, steps: int = 10) -> tuple[list[tuple[str, float, float, int]], dict]:
    """Time by op from cProfile: the cumulative time of each Function's forward and backward; and
    the optimizer step and the whole step, so that what lies outside the ops (the graph walk,
    Python) shows as the remainder. cProfile's own overhead inflates every number somewhat."""
    import cProfile
    import pstats
    from tinygrad_drop.autograd.function import Function
    step = OurStep(backend, 64, 0.1)
    for _ in range(3):
        step()

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def code_key(function) -> tuple:
        code = function.__code__
        return code.co_filename, code.co_firstlineno, code.co_name

    where = {}
    for fn in subclasses(Function):
        for direction in ("forward", "backward"):
            where[code_key(getattr(fn, direction))] = fn.__name__
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    table: dict[str, list] = {}
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.items():
        op = where.get((filename, line, name))
        if op is not None:
            row = table.setdefault(op, [0.0, 0.0, 0])
            row[0 if name == "forward" else 1] += 1e3 * cumulative / steps
            row[2] += calls // steps if name == "forward" else 0
    rows = sorted(((op, f, b, c) for op, (f, b, c) in table.items()), key=lambda r: -(r[1] + r[2]))

    def cumulative_ms(function) -> float:
        return 1e3 * stats[code_key(function)][3] / steps

    totals = {"optimizer": cumulative_ms(type(step.optimizer).step), "step": cumulative_ms(OurStep.__call__)}
    totals["other"] = totals["step"] - totals["optimizer"] - sum(f + b for _, f, b, _ in rows)
    return rows, totals


def memory_over_time(backend: str, steps: int) -> list[tuple[int, float]]:
    """Resident memory every steps/10 steps: it must level off, not grow."""
    step = OurStep(backend, 64, 0.1)
    samples = []
    for i in range(1, steps + 1):
        step()
        if i % max(steps // 10, 1) == 0:
            samples.append((i, memory_mb("VmRSS")))
    return samples


def main() -> None:
    args = parse_args()
    pin_threads(args.threads)
    if not args.child:
        reexec_without_blas_overrides()
    sys.path.insert(0, str(ROOT))
    if args.child:
        child_main(args)
        return
    unset = os.environ.get("TD_BENCH_UNSET")
    with_torch = torch_available(args.torch_ref)
    if with_torch:
        import torch
        torch.set_num_threads(args.threads)
    report: dict = {"threads": args.threads, "blas_overrides_unset": unset.split(",") if unset else [],
                    "torch": with_torch, "results": []}
    note = f"(unset for this run: {unset})" if unset else "(none were set)"
    print(f"# tinygrad_drop benchmark, {args.threads} threads; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE {note}",
          file=sys.stderr)

    if args.profile:
        rows, totals = profile_ops(args.backends.split(",")[0])
        print(f"{'op':28s} {'fwd ms':>8s} {'bwd ms':>8s} {'calls':>6s}")
        for op, fwd, bwd, calls in rows:
            print(f"{op:28s} {fwd:8.2f} {bwd:8.2f} {calls:6d}")
        print(f"{'optimizer step':28s} {totals['optimizer']:8.2f}")
        print(f"{'other (graph walk, Python)':28s} {totals['other']:8.2f}")
        print(f"{'whole step':28s} {totals['step']:8.2f}")
        return
    if args.stability:
        samples = memory_over_time(args.backends.split(",")[0], args.stability)
        for i, mb in samples:
            print(f"step {i:6d}: {mb:8.1f} MB resident")
        report["stability"] = samples
        if args.json:
            print(json.dumps(report))
        return

    rounds = 3 if args.quick else args.rounds
    configs = [(64, 0.1), (64, 0.0)] + ([] if args.quick else [(256, 0.1), (256, 0.0)])
    for block, dropout in configs:
        workloads = {f"ours-{b}": OurStep(b, block, dropout) for b in args.backends.split(",")}
        if with_torch:
            workloads["torch"] = TorchStep(args.torch_ref, block, dropout)
        medians = compare(workloads, args.steps if block == 64 else max(args.steps // 4, 2), rounds)
        for name, ms in medians.items():
            row = {"block": block, "dropout": dropout, "impl": name, "ms_per_step": round(ms, 2)}
            if with_torch and name != "torch":
                row["ratio_vs_torch"] = round(ms / medians["torch"], 3)
            report["results"].append(row)
            ratio = f"{row['ratio_vs_torch']:6.2f}" if "ratio_vs_torch" in row else "     -"
            print(f"block {block:4d}  dropout {dropout:.1f}  {name:12s} {ms:8.2f} ms/step  ratio {ratio}",
                  file=sys.stderr)
    if not args.quick:
        report["first_step_and_memory"] = first_step_and_memory(with_torch)
        for name, r in report["first_step_and_memory"].items():
            print(f"{name:14s} first step {r['first_step_s']:6.2f} s   peak RSS {r['peak_rss_mb']:7.1f} MB   "
                  f"growth during training {r['training_rss_mb']:6.1f} MB", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
