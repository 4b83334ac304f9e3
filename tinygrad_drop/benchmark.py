"""Timing a training step, and writing the result down where it belongs.

scripts/bench.py times models/gpt.py's training step against PyTorch's with these functions and
prints a report (a dict, JSON-ready); `markdown_section` turns that report into a dated section of
docs/performance.md. Nothing here imports torch or the models: a step is any callable.

    samples = compare({"ours": our_step, "torch": torch_step}, steps=10, rounds=7)
    rows, totals = profile_by_op(our_step, optimizer, steps=10)

Machines are noisy, so comparisons alternate the workloads round by round (drift hits all of them
alike) and quote medians; a ratio from one run means more than two times from different runs.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .autograd import Function

Step = Callable[[], object]


# ---- timing ------------------------------------------------------------------------------------
def time_steps(step: Step, steps: int) -> float:
    """Seconds per step over `steps` consecutive steps."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


@contextmanager
def background_load(processes: int, seconds: float = 600.0) -> Iterator[None]:
    """`processes` busy Python processes of this machine's, for the block (each also stops by
    itself after `seconds`, so none outlives a crashed benchmark for long)."""
    spin = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    try:
        yield
    finally:
        for process in busy:
            process.kill()
            process.wait()


def compare(workloads: dict[str, Step], steps: int, rounds: int, warmup: int = 3) -> dict[str, list[float]]:
    """Milliseconds per step of each workload, one sample per round: every workload runs `warmup`
    steps first, then the rounds alternate the workloads (first, second, ..., first, second, ...)."""
    for step in workloads.values():
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, step in workloads.items():
            samples[name].append(1e3 * time_steps(step, steps))
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


# ---- where the time goes -----------------------------------------------------------------------
def _code_key(function) -> tuple[str, int, str]:
    code = function.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _every_function_class(cls: type = Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _every_function_class(sub)


def profile_by_op(step: Step, optimizer, steps: int) -> tuple[list[tuple[str, float, float, int]], dict[str, float]]:
    """Time by op under cProfile: for each Function, milliseconds per step in forward and in
    backward and its forward calls per step, largest first; and totals for the optimizer's step,
    the whole step and "other", what lies outside the ops and the optimizer (the graph walk,
    Python). cProfile's own overhead inflates every number somewhat."""
    import cProfile
    import pstats

    op_of = {}
    for fn in _every_function_class():
        for direction in ("forward", "backward"):
            op_of[_code_key(getattr(fn, direction))] = fn.__name__
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    table: dict[str, list] = {}
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.items():
        op = op_of.get((filename, line, name))
        if op is not None:
            row = table.setdefault(op, [0.0, 0.0, 0])
            row[0 if name == "forward" else 1] += 1e3 * cumulative / steps
            row[2] += calls // steps if name == "forward" else 0
    rows = sorted(((op, f, b, c) for op, (f, b, c) in table.items()), key=lambda r: -(r[1] + r[2]))

    def milliseconds(function) -> float:
        return 1e3 * stats[_code_key(function)][3] / steps

    whole = step if hasattr(step, "__code__") else type(step).__call__
    totals = {"optimizer": milliseconds(type(optimizer).step), "step": milliseconds(whole)}
    totals["other"] = totals["step"] - totals["optimizer"] - sum(f + b for _, f, b, _ in rows)
    return rows, totals


# ---- memory ------------------------------------------------------------------------------------
def memory_mb(field: str = "VmRSS") -> float:
    """A memory figure of this process from /proc/self/status (Linux): VmRSS is resident memory
    now, VmHWM its high-water mark since the process started."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def memory_over_time(step: Step, steps: int) -> list[tuple[int, float]]:
    """Resident memory after every tenth of `steps`: it must level off, not grow."""
    samples = []
    for i in range(1, steps + 1):
        step()
        if i % max(steps // 10, 1) == 0:
            samples.append((i, memory_mb("VmRSS")))
    return samples


# ---- what was measured, where ------------------------------------------------------------------
def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _simd() -> str | None:
    """The widest x86 vector extension the CPU has (it decides what Numba's loops compile to)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return None
    return next((name for name in ("avx512f", "avx2", "avx", "sse4_2") if name in flags), None)


def machine() -> dict:
    """The machine and the software a measurement ran on."""
    import numba
    import numpy as np
    from llvmlite import binding

    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    except TypeError:  # numpy before 1.26 only prints its configuration
        blas = {}
    try:
        threading_layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process yet
        threading_layer = None
    return {
        "cpu": _cpu_model(),
        "simd": _simd(),
        "llvm_cpu": binding.get_host_cpu_name(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": " ".join(filter(None, (blas.get("name"), blas.get("version")))) or None,
        "numba": numba.__version__,
        "numba_threading_layer": threading_layer,
        "torch": _version("torch"),
    }


def git_commit(root: Path) -> dict:
    """The commit of the checkout at `root`, and whether it has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the report as a section of docs/performance.md --------------------------------------------
def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def step_table(results: list[dict]) -> list[str]:
    """One row per (block, dropout): each implementation's median ms per step, then the ratios."""
    impls = list(dict.fromkeys(row["impl"] for row in results))
    ours = [impl for impl in impls if impl != "torch"]
    header = (["block", "dropout"] + [f"{impl} ms" for impl in impls]
              + ([f"{impl} / torch" for impl in ours] if "torch" in impls else []))
    lines = ["| " + " | ".join(header) + " |", "|" + " ---: |" * len(header)]
    configs = list(dict.fromkeys((row["block"], row["dropout"]) for row in results))
    for block, dropout in configs:
        rows = {row["impl"]: row for row in results if (row["block"], row["dropout"]) == (block, dropout)}
        cells = [str(block), f"{dropout:g}"] + [f"{rows[i]['ms_per_step']:.1f}" if i in rows else "-" for i in impls]
        if "torch" in impls:
            cells += [_ratio(rows[i].get("ratio_vs_torch")) if i in rows else "-" for i in ours]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_section(report: dict) -> str:
    """A dated section for docs/performance.md from scripts/bench.py's --json report."""
    m, settings = report["machine"], report["settings"]
    commit = report.get("commit") or "unknown commit"
    title = f"## {report['date'][:10]}: {m['cpu']}, {m['cores']} cores, commit {commit[:10]}"
    if report.get("dirty"):
        title += " (with uncommitted changes)"
    software = ", ".join(f"{name} {m[key]}" for name, key in
                         (("Python", "python"), ("numpy", "numpy"), ("BLAS", "blas"), ("Numba", "numba"),
                          ("PyTorch", "torch")) if m.get(key))
    lines = [
        title, "",
        f"`{report['command']}` at {report['date']}: {report['threads']} threads for every library, "
        f"medians of {settings['rounds']} alternating rounds of {settings['steps']} steps"
        + (f" ({settings['steps_at_256']} at block 256)" if any(r["block"] == 256 for r in report["results"]) else "")
        + f"; batch {settings['batch']}, {settings['n_layer']} layers, "
        f"{settings['n_head']} heads, width {settings['n_embd']}, vocabulary {settings['vocab_size']}.",
        "",
        f"Machine: {m['cpu']} ({m['simd'] or 'SIMD unknown'}, LLVM target {m['llvm_cpu']}), {m['cores']} cores, {m['os']}; {software}; "
        f"Numba threading layer {m['numba_threading_layer'] or 'not started'}"
        + (f"; unset for this run: {', '.join(report['blas_overrides_unset'])}" if report["blas_overrides_unset"] else "")
        + ".",
        "",
        *step_table(report["results"]),
    ]
    first = report.get("first_step_and_memory")
    if first:
        lines += ["", "| process | first step s | peak resident MB | growth while training MB |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {r['first_step_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['training_rss_mb']:.0f} |"
                  for name, r in first.items()]
    return "\n".join(lines) + "\n"


def append_section(report: dict, path: Path) -> str:
    """Append the report's section to the end of `path` (the newest run comes last)."""
    section = markdown_section(report)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(text.rstrip("\n") + "\n\n" + section if text else section, encoding="utf-8")
    return section
