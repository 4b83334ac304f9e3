"""The benchmark script works: its profile accounts for the whole step, its comparison alternates
the workloads, its memory samples are taken where it says. Nothing here times anything against
a bar (speed is measured by running scripts/bench.py, not asserted by tests)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import EVERY_TOPIC

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402

# the benchmark trains the whole GPT, so it needs every topic's backward
pytestmark = [pytest.mark.train, *EVERY_TOPIC]


def test_profile_names_the_ops_and_accounts_for_the_whole_step():
    rows, totals = bench.profile_ops("numba", steps=1)
    ops = {op for op, _, _, _ in rows}
    assert {"LinearFunction", "CausalQKVAttention", "LinearGELU", "LinearDropout", "LayerNorm", "Dropout",
            "CrossEntropy"} <= ops
    assert all(forward >= 0 and backward >= 0 for _, forward, backward, _ in rows)
    calls = {op: count for op, _, _, count in rows}
    # c_attn and c_fc are inside fused ops; per layer the two c_proj are, with their dropout; lm_head
    assert (calls["LinearDropout"], calls["LinearFunction"], calls["Dropout"]) == (4 * 2, 1, 1)
    op_time = sum(forward + backward for _, forward, backward, _ in rows)
    assert totals["step"] == pytest.approx(op_time + totals["optimizer"] + totals["other"])
    assert totals["optimizer"] > 0 and totals["other"] >= 0


def test_compare_alternates_the_workloads_and_quotes_medians(monkeypatch):
    calls = []
    seconds = {"first": iter([0.0] * 3 + [3.0, 1.0, 2.0]), "second": iter([0.0] * 3 + [5.0, 7.0, 6.0])}
    clock = [0.0]

    def workload(name):
        def step():
            calls.append(name)
            clock[0] += next(seconds[name])
        return step

    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])  # each step "takes" its seconds
    medians = bench.compare({"first": workload("first"), "second": workload("second")}, steps=1, rounds=3)
    # 3 warm-up steps each, then rounds that alternate: first, second, first, second, ...
    assert calls == ["first"] * 3 + ["second"] * 3 + ["first", "second"] * 3
    assert medians == {"first": 2000.0, "second": 6000.0}  # ms: medians of (3, 1, 2) s and (5, 7, 6) s


def test_memory_is_sampled_every_tenth_of_the_run():
    samples = bench.memory_over_time("numba", 10)
    assert [step for step, _ in samples] == list(range(1, 11))
    assert all(resident > 0 for _, resident in samples)
