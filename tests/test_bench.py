"""The benchmark works: tinygrad_drop.benchmark's comparison alternates the workloads, its profile
accounts for the whole step, its memory samples are taken where it says, its report becomes a
dated section of docs/performance.md; scripts/bench.py runs end to end (as a program, in a
subprocess) and writes everything that section needs; benchmarks/torch_gpt.py is our GPT in
PyTorch. Nothing here times anything against a bar (speed is measured by running
scripts/bench.py, not asserted by tests)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from models.gpt import GPT, GPTConfig
from tinygrad_drop import benchmark
from torch_reference import copy_into_torch, single_torch_thread

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32)

torch_single_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)


def gpt_step(backend: str, dropout: float = 0.1):
    """A training step of a small GPT on `backend`, and its optimizer."""
    td.manual_seed(0)
    model = GPT(GPTConfig(**SMALL, embd_pdrop=dropout, attn_pdrop=dropout, resid_pdrop=dropout))
    optimizer = td.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)

    def step() -> float:
        x = rng.integers(0, SMALL["vocab_size"], (4, SMALL["block_size"]))
        with td.backend(backend):
            _, loss = model(x, np.roll(x, -1, 1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return loss.item()
    return step, optimizer


# ---- tinygrad_drop.benchmark --------------------------------------------------------------------
def test_compare_alternates_the_workloads_and_returns_each_rounds_time(monkeypatch):
    calls = []
    seconds = {"first": iter([0.0] * 3 + [3.0, 1.0, 2.0]), "second": iter([0.0] * 3 + [5.0, 7.0, 6.0])}
    clock = [0.0]

    def workload(name):
        def step():
            calls.append(name)
            clock[0] += next(seconds[name])
        return step

    monkeypatch.setattr(benchmark.time, "perf_counter", lambda: clock[0])  # each step "takes" its seconds
    samples = benchmark.compare({"first": workload("first"), "second": workload("second")}, steps=1, rounds=3)
    # 3 warm-up steps each, then rounds that alternate: first, second, first, second, ...
    assert calls == ["first"] * 3 + ["second"] * 3 + ["first", "second"] * 3
    assert samples == {"first": [3000.0, 1000.0, 2000.0], "second": [5000.0, 7000.0, 6000.0]}  # ms
    assert benchmark.median(samples["first"]) == 2000.0


@pytest.mark.whole_model  # a whole GPT step: every topic's backward
def test_profile_names_the_ops_and_accounts_for_the_whole_step():
    step, optimizer = gpt_step("numba")
    step()
    rows, totals = benchmark.profile_by_op(step, optimizer, steps=1)
    calls = {op: count for op, _, _, count in rows}
    assert {"LayerNormFunction", "CrossEntropy"} <= set(calls)
    assert calls["LayerNormFunction"] == 2 * SMALL["n_layer"] + 1  # ln_1 and ln_2 per block, ln_f
    assert all(forward >= 0 and backward >= 0 for _, forward, backward, _ in rows)
    op_time = sum(forward + backward for _, forward, backward, _ in rows)
    assert totals["step"] == pytest.approx(op_time + totals["optimizer"] + totals["other"])
    assert totals["optimizer"] > 0 and totals["other"] >= 0
    assert totals["step"] > op_time + totals["optimizer"]  # the graph walk and Python cost something


def test_memory_is_sampled_every_tenth_of_the_run():
    steps = []
    samples = benchmark.memory_over_time(lambda: steps.append(1), 25)
    assert len(steps) == 25
    assert [step for step, _ in samples] == list(range(2, 26, 2))  # every 25 // 10 = 2 steps
    assert all(resident > 0 for _, resident in samples)


def test_machine_names_the_hardware_and_every_library():
    machine = benchmark.machine()
    assert machine["cores"] >= 1 and machine["cpu"]
    assert machine["numpy"] == np.__version__
    for key in ("os", "python", "numba", "llvm_cpu", "blas", "simd", "torch", "numba_threading_layer"):
        assert key in machine


REPORT = {
    "date": "2026-11-27T12:00:00Z", "command": "python scripts/bench.py --json", "commit": "0123456789abcdef",
    "dirty": False, "threads": 2, "blas_overrides_unset": ["OPENBLAS_CORETYPE"],
    "settings": {"steps": 10, "steps_at_256": 2, "rounds": 7, "batch": 12, "vocab_size": 65, "n_layer": 4,
                 "n_head": 4, "n_embd": 128},
    "results": [
        {"block": 64, "dropout": 0.1, "impl": "ours-numba", "ms_per_step": 89.04, "ratio_vs_torch": 0.7},
        {"block": 64, "dropout": 0.1, "impl": "torch", "ms_per_step": 126.2},
        {"block": 256, "dropout": 0.0, "impl": "ours-numba", "ms_per_step": 415.0, "ratio_vs_torch": 0.868},
        {"block": 256, "dropout": 0.0, "impl": "torch", "ms_per_step": 478.0},
    ],
    "first_step_and_memory": {"numba, cold cache": {"first_step_s": 41.4, "peak_rss_mb": 221.2, "training_rss_mb": 30.0}},
    "machine": {"cpu": "AMD EPYC", "simd": "avx2", "llvm_cpu": "znver2", "cores": 2, "os": "Linux", "python": "3.11.7",
                "numpy": "2.4.6", "blas": "scipy-openblas 0.3.31", "numba": "0.68.1",
                "numba_threading_layer": "omp", "torch": "2.13.0"},
}


def test_the_report_becomes_a_dated_section_with_machine_command_and_ratios():
    section = benchmark.markdown_section(REPORT)
    lines = section.splitlines()
    assert lines[0] == "## 2026-11-27: AMD EPYC, 2 cores, commit 0123456789"
    assert "`python scripts/bench.py --json`" in section and "7 alternating rounds of 10 steps (2 at block 256)" in section
    for fact in ("avx2", "znver2", "numpy 2.4.6", "BLAS scipy-openblas 0.3.31", "Numba 0.68.1", "PyTorch 2.13.0",
                 "threading layer omp", "unset for this run: OPENBLAS_CORETYPE"):
        assert fact in section
    assert "| block | dropout | ours-numba ms | torch ms | ours-numba / torch |" in lines
    assert "| 64 | 0.1 | 89.0 | 126.2 | 0.70 |" in lines
    assert "| 256 | 0 | 415.0 | 478.0 | 0.87 |" in lines
    assert "| numba, cold cache | 41.40 | 221 | 30 |" in lines


def test_append_section_adds_runs_in_date_order(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nintro\n")
    benchmark.append_section(REPORT, doc)
    benchmark.append_section({**REPORT, "date": "2026-12-01T00:00:00Z"}, doc)
    text = doc.read_text()
    assert text.startswith("# Performance\n\nintro\n\n## 2026-11-27")
    assert text.index("## 2026-11-27") < text.index("## 2026-12-01")


# ---- scripts/bench.py, as a user runs it ------------------------------------------------------
def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=True, timeout=240)


@pytest.mark.slow
@pytest.mark.whole_model
def test_bench_json_has_everything_the_performance_page_needs_and_report_writes_it(tmp_path):
    run = run_bench("--json", "--quick", "--steps", "1", "--rounds", "1", "--backends", "numpy")
    report = json.loads(run.stdout)
    assert report["command"] == "python scripts/bench.py --json --quick --steps 1 --rounds 1 --backends numpy"
    assert report["date"].endswith("Z") and report["threads"] == 2
    # a copy outside git (a student copy, an unpacked archive) has no commit to name
    assert len(report["commit"]) == 40 if (ROOT / ".git").exists() else report["commit"] is None
    assert {"cpu", "cores", "os", "python", "numpy", "numba", "torch"} <= set(report["machine"])
    assert report["settings"]["rounds"] == 1 and report["settings"]["batch"] == 12
    with_torch = report["machine"]["torch"] is not None
    ours = [row for row in report["results"] if row["impl"] == "ours-numpy"]
    assert [(row["block"], row["dropout"]) for row in ours] == [(64, 0.1), (64, 0.0)]
    assert all(row["ms_per_step"] > 0 and len(row["ms_per_round"]) == 1 for row in report["results"])
    assert all(("ratio_vs_torch" in row) == with_torch for row in ours)

    saved, doc = tmp_path / "run.json", tmp_path / "performance.md"
    saved.write_text(run.stdout)
    printed = run_bench("--report", str(saved), "--doc", str(doc)).stdout
    assert doc.read_text() == printed == benchmark.markdown_section(report)


def test_bench_help_is_whole_and_explains_every_flag():
    help_text = run_bench("--help").stdout
    description, options = help_text.split("\noptions:\n")
    assert description.rstrip().endswith("models/gpt.py's model in PyTorch.")  # the whole docstring
    assert "alternate in rounds" in description
    # each option: its flags and metavar, then words of help (on the same line or the next ones)
    entries = re.split(r"\n(?=  -)", options.strip("\n"))
    flags = {}
    for entry in entries:
        first, *rest = entry.strip().split("\n")
        names = re.match(r"(-[-\w]+(?: [A-Z_]+)?(?:, )?)+", first).group(0)
        flags[names.split()[0].rstrip(",")] = " ".join([first[len(names):], *rest]).split()
    assert {"--threads", "--backends", "--steps", "--rounds", "--torch-ref", "--doc"} <= set(flags)
    assert "--child" not in flags  # internal
    for flag, words in flags.items():
        assert len(words) >= 3, f"{flag} has no help"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--thread", "1"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 2 and "unrecognized arguments: --thread" in result.stderr  # no abbreviations


# ---- benchmarks/torch_gpt.py --------------------------------------------------------------------
def load_torch_gpt():
    spec = importlib.util.spec_from_file_location("torch_gpt", ROOT / "benchmarks" / "torch_gpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.whole_model
@pytest.mark.parametrize("tie_weights", [True, False])
def test_the_torch_reference_is_our_gpt_in_pytorch(tie_weights, numpy_backend):
    torch = pytest.importorskip("torch")
    td.manual_seed(3)
    ours = GPT(GPTConfig(**SMALL, tie_weights=tie_weights))
    theirs = load_torch_gpt().GPT(**SMALL, tie_weights=tie_weights)
    copy_into_torch(torch, theirs, ours)  # same names and shapes, strict
    x = np.random.default_rng(4).integers(0, SMALL["vocab_size"], (3, SMALL["block_size"]))
    y = np.roll(x, -1, 1)
    y[:, -1] = -1
    _, loss = ours(x, y)
    loss.backward()
    their_loss = theirs(torch.from_numpy(x), torch.from_numpy(y))
    their_loss.backward()
    assert loss.item() == pytest.approx(their_loss.item(), rel=1e-5)
    their_grads = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), their_grads[name].grad.numpy(), rtol=1e-3, atol=1e-6)
