"""Benchmark: one training step (forward, backward, AdamW) of models/gpt.py at nanoGPT's CPU shape,
on each backend, side by side with the same model in PyTorch eager when torch is importable.

    python scripts/bench.py                      # step times and ratios vs PyTorch, first steps, memory
    python scripts/bench.py --quick              # block 64 only, 3 rounds, no first-step runs
    python scripts/bench.py --json > run.json    # the same, with date, commit, machine and command, as JSON
    python scripts/bench.py --report run.json    # append that run as a dated section of docs/performance.md
    python scripts/bench.py --profile            # time by op, forward and backward
    python scripts/bench.py --stability 1000     # memory over many steps (no growth)

Machines are noisy, so every comparison is a ratio measured in one run: our step and PyTorch's
alternate in rounds, and the table quotes medians. Threads are pinned to --threads (2 by default)
for numpy's BLAS, Numba and PyTorch alike.

Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow numpy's BLAS down; a user's
machine does not. This command alone re-executes itself with both unset, and says so.
PyTorch's side is benchmarks/torch_gpt.py (--torch-ref): models/gpt.py's model in PyTorch.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DEFAULT_TORCH_REF = ROOT / "benchmarks" / "torch_gpt.py"
PERFORMANCE_DOC = ROOT / "docs" / "performance.md"
BATCH, VOCAB = 12, 65  # nanoGPT's CPU recipe on characters; layers, heads, width: GPTConfig's defaults


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__, allow_abbrev=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for numpy's BLAS, Numba and PyTorch alike, set before they load (default 2)")
    ap.add_argument("--steps", type=int, default=10,
                    help="steps per timed round (a quarter of them, at least 2, at block 256) (default 10)")
    ap.add_argument("--rounds", type=int, help="alternating rounds; medians are quoted (default 7, 3 with --quick)")
    ap.add_argument("--backends", default="numba,numpy",
                    help="our backends to time, comma-separated, each beside PyTorch; the first is the one "
                         "--profile and --stability use (default numba,numpy)")
    ap.add_argument("--profile", action="store_true", help="print time by op (forward and backward) instead")
    ap.add_argument("--json", action="store_true",
                    help="print the results as JSON on stdout (the table still goes to stderr)")
    ap.add_argument("--quick", action="store_true", help="block 64 only, 3 rounds, no first-step runs")
    ap.add_argument("--stability", type=int, default=0, metavar="STEPS",
                    help="instead of timing, print resident memory every tenth of this many steps")
    ap.add_argument("--background-load", type=int, default=0, metavar="N",
                    help="instead of the table: block 64, dropout 0.1 on a quiet machine and beside N busy "
                         "processes of this command's own, alternating; ours (default threads and one thread) "
                         "and PyTorch's")
    ap.add_argument("--torch-ref", default=str(DEFAULT_TORCH_REF),
                    help="path of the PyTorch reference model (default benchmarks/torch_gpt.py)")
    ap.add_argument("--report", type=Path, metavar="RUN_JSON",
                    help="append the run saved by --json to --doc as a dated section, and print it")
    ap.add_argument("--doc", type=Path, default=PERFORMANCE_DOC,
                    help="the page --report appends to (default docs/performance.md)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def pin_threads(threads: int) -> None:
    """Before numpy/numba/torch load: the same thread count for every library."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)


def reexec_without_blas_overrides() -> None:
    """Restart this process with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed (this command only)."""
    present = [v for v in BLAS_OVERRIDES if v in os.environ]
    if present:
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        env["TD_BENCH_UNSET"] = ",".join(present)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


# ---- the two workloads ----------------------------------------------------------------------
def gpt_config(block: int, dropout: float):
    from models.gpt import GPTConfig
    return GPTConfig(vocab_size=VOCAB, block_size=block, embd_pdrop=dropout, attn_pdrop=dropout, resid_pdrop=dropout)


class OurStep:
    def __init__(self, backend: str, block: int, dropout: float):
        import numpy as np
        import tinygrad_drop as td
        from models.gpt import GPT
        td.set_backend(backend)
        td.manual_seed(0)
        self.td, self.np, self.backend = td, np, backend
        self.model = GPT(gpt_config(block, dropout))
        self.optimizer = td.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.rng = np.random.default_rng(1)
        self.shape = (BATCH, block)

    def __call__(self) -> float:
        self.td.set_backend(self.backend)
        x = self.rng.integers(0, VOCAB, self.shape)
        _, loss = self.model(x, self.np.roll(x, -1, 1))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


def load_torch_reference(path: str):
    """benchmarks/torch_gpt.py as a module, loaded from its file."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("torch_gpt_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TorchStep:
    def __init__(self, ref_path: str, block: int, dropout: float):
        import torch
        config = gpt_config(block, dropout)
        torch.manual_seed(0)
        self.torch = torch
        self.model = load_torch_reference(ref_path).GPT(
            vocab_size=config.vocab_size, block_size=config.block_size, n_layer=config.n_layer,
            n_head=config.n_head, n_embd=config.n_embd, dropout=dropout, bias=config.bias,
            tie_weights=config.tie_weights)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(1)
        self.shape = (BATCH, block)

    def __call__(self) -> float:
        x = self.torch.randint(0, VOCAB, self.shape, generator=self.generator)
        loss = self.model(x, self.torch.roll(x, -1, 1))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()


def torch_missing(ref_path: str) -> str | None:
    """Why there is no PyTorch side to compare with, or None when there is one."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "PyTorch is not installed (pip install torch)"
    if not Path(ref_path).is_file():
        return f"the PyTorch reference model {ref_path} is missing"
    return None


# ---- child processes: first step and memory ---------------------------------------------------
def child_main(args: argparse.Namespace) -> None:
    """Run in a fresh process: time from start to the end of the first step, then peak memory
    (VmHWM: the high-water mark of resident memory, which starts afresh at exec, unlike
    ru_maxrss, which a child inherits from the parent that spawned it)."""
    from tinygrad_drop.benchmark import memory_mb
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


def run_child(kind: str, args: argparse.Namespace, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, **(env_extra or {}))
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--threads", str(args.threads),
                          "--torch-ref", args.torch_ref],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_step_and_memory(args: argparse.Namespace, with_torch: bool) -> dict:
    import tempfile
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        results["numba, cold cache"] = run_child("ours:numba", args, {"NUMBA_CACHE_DIR": cache})
        results["numba, warm cache"] = run_child("ours:numba", args, {"NUMBA_CACHE_DIR": cache})
    results["numpy backend"] = run_child("ours:numpy", args)
    if with_torch:
        results["torch"] = run_child("torch:-", args)
    return results


# ---- the modes ---------------------------------------------------------------------------------
def print_profile(backend: str) -> None:
    from tinygrad_drop.benchmark import profile_by_op
    step = OurStep(backend, 64, 0.1)
    for _ in range(3):
        step()
    rows, totals = profile_by_op(step, step.optimizer, steps=10)
    print(f"{'op':28s} {'fwd ms':>8s} {'bwd ms':>8s} {'calls':>6s}")
    for op, fwd, bwd, calls in rows:
        print(f"{op:28s} {fwd:8.2f} {bwd:8.2f} {calls:6d}")
    print(f"{'optimizer step':28s} {totals['optimizer']:8.2f}")
    print(f"{'other (graph walk, Python)':28s} {totals['other']:8.2f}")
    print(f"{'whole step':28s} {totals['step']:8.2f}")


def measure(args: argparse.Namespace, with_torch: bool) -> dict:
    """Every configuration's medians and ratios, with what a reader needs to redo the run."""
    from tinygrad_drop import benchmark
    rounds = args.rounds or (3 if args.quick else 7)
    steps_at_256 = max(args.steps // 4, 2)
    config = gpt_config(64, 0.0)
    unset = os.environ.get("TD_BENCH_UNSET")
    report: dict = {
        "date": benchmark.utc_now(),
        "command": "python scripts/bench.py " + shlex.join(sys.argv[1:]),
        **benchmark.git_commit(ROOT),
        "threads": args.threads,
        "blas_overrides_unset": unset.split(",") if unset else [],
        "settings": {"steps": args.steps, "steps_at_256": steps_at_256, "rounds": rounds, "batch": BATCH,
                     "vocab_size": VOCAB, "n_layer": config.n_layer, "n_head": config.n_head,
                     "n_embd": config.n_embd, "tie_weights": config.tie_weights,
                     "torch_reference": os.path.relpath(args.torch_ref, ROOT) if with_torch else None},
        "results": [],
    }
    configs = [(64, 0.1), (64, 0.0)] + ([] if args.quick else [(256, 0.1), (256, 0.0)])
    for block, dropout in configs:
        workloads = {f"ours-{b}": OurStep(b, block, dropout) for b in args.backends.split(",")}
        if with_torch:
            workloads["torch"] = TorchStep(args.torch_ref, block, dropout)
        samples = benchmark.compare(workloads, args.steps if block == 64 else steps_at_256, rounds)
        medians = {name: benchmark.median(s) for name, s in samples.items()}
        for name, ms in medians.items():
            row = {"block": block, "dropout": dropout, "impl": name, "ms_per_step": round(ms, 2),
                   "ms_per_round": [round(s, 2) for s in samples[name]]}
            if with_torch and name != "torch":
                row["ratio_vs_torch"] = round(ms / medians["torch"], 3)
            report["results"].append(row)
            if name == "torch":
                ratio = "  (the reference)"
            else:
                ratio = f"ratio {row['ratio_vs_torch']:6.2f}" if "ratio_vs_torch" in row else "ratio      -"
            print(f"block {block:4d}  dropout {dropout:.1f}  {name:12s} {ms:8.2f} ms/step  {ratio}", file=sys.stderr)
    if not args.quick:
        report["first_step_and_memory"] = first_step_and_memory(args, with_torch)
        for name, r in report["first_step_and_memory"].items():
            print(f"{name:18s} first step {r['first_step_s']:6.2f} s   peak RSS {r['peak_rss_mb']:7.1f} MB   "
                  f"growth during training {r['training_rss_mb']:6.1f} MB", file=sys.stderr)
    report["machine"] = benchmark.machine()  # last: the threading layer is known once kernels ran
    return report


def quiet_and_loaded(args: argparse.Namespace, with_torch: bool) -> dict:
    """Each round times every workload on the quiet machine, then beside the busy processes;
    before timing, the workloads run a couple of seconds on the new load (the thread pool's load
    watch, kernels/thread_pool.py, takes about a second to see it come and go)."""
    from tinygrad_drop import benchmark
    from tinygrad_drop.kernels.thread_pool import on_one_thread

    ours = OurStep("numba", 64, 0.1)

    def ours_on_one_thread():
        with on_one_thread():
            return ours()

    workloads = {"ours-numba": ours, "ours-numba, one thread": ours_on_one_thread}
    if with_torch:
        workloads["torch"] = TorchStep(args.torch_ref, 64, 0.1)
    rounds = args.rounds or 5
    samples = {(name, load): [] for name in workloads for load in ("quiet", "loaded")}
    for _ in range(rounds):
        for load in ("quiet", "loaded"):
            with benchmark.background_load(args.background_load if load == "loaded" else 0):
                for step in workloads.values():
                    settle_until = time.perf_counter() + 2.0
                    while time.perf_counter() < settle_until:
                        step()
                for name, step in workloads.items():
                    samples[(name, load)].append(1e3 * benchmark.time_steps(step, args.steps))
    rows = [{"impl": name, "load": load, "ms_per_step": round(benchmark.median(ms), 2),
             "ms_per_round": [round(m, 2) for m in ms]} for (name, load), ms in samples.items()]
    print(f"block 64, dropout 0.1; loaded = beside {args.background_load} busy processes; medians of {rounds} "
          "alternating rounds", file=sys.stderr)
    for row in rows:
        print(f"{row['impl']:24s} {row['load']:7s} {row['ms_per_step']:9.1f} ms/step", file=sys.stderr)
    return {"date": benchmark.utc_now(), "command": "python " + " ".join(map(shlex.quote, sys.argv)),
            "background_load": args.background_load, "threads": args.threads, "results": rows,
            "machine": benchmark.machine()}


def main() -> None:
    args = parse_args()
    if args.report:
        from tinygrad_drop.benchmark import append_section
        print(append_section(json.loads(args.report.read_text()), args.doc), end="")
        return
    pin_threads(args.threads)
    if not args.child:
        reexec_without_blas_overrides()
    if args.child:
        child_main(args)
        return
    no_torch = torch_missing(args.torch_ref)
    with_torch = no_torch is None
    if with_torch:
        import torch
        torch.set_num_threads(args.threads)
    unset = os.environ.get("TD_BENCH_UNSET")
    note = f"(unset for this run: {unset})" if unset else "(none were set)"
    print(f"# tinygrad_drop benchmark, {args.threads} threads; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE {note}",
          file=sys.stderr)
    if not with_torch:
        print(f"# ratio -: no PyTorch step to compare with: {no_torch}", file=sys.stderr)
    backend = args.backends.split(",")[0]
    if args.profile:
        print_profile(backend)
    elif args.background_load:
        report = quiet_and_loaded(args, with_torch)
        if args.json:
            print(json.dumps(report, indent=1))
    elif args.stability:
        from tinygrad_drop.benchmark import memory_over_time
        samples = memory_over_time(OurStep(backend, 64, 0.1), args.stability)
        for i, mb in samples:
            print(f"step {i:6d}: {mb:8.1f} MB resident", file=sys.stderr if args.json else sys.stdout)
        if args.json:
            print(json.dumps({"threads": args.threads, "backend": backend, "stability": samples}))
    else:
        report = measure(args, with_torch)
        if args.json:
            print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
