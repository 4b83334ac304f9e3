"""Shared fixtures, and the line that says what a missing PyTorch skipped.

`backend` runs a test once per kernel backend ("numpy" reference, "numba" fast) and restores the
previous backend afterwards, so no test leaks its choice into the next. `rng` gives each test its
own seeded generator, so inputs are reproducible whatever order the tests run in.

PyTorch is the oracle of many tests, and an optional one: each of those tests calls
`pytest.importorskip("torch")`. Skips are silent under -q, so the summary counts them and names
the command that installs PyTorch (pyproject.toml's `torch` extra).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import tinygrad_drop as td

# The kernels' thread pool steps down to one thread while other processes keep the machine busy
# (kernels/thread_pool.py). Off for the suite, so that whatever else runs on the machine cannot
# change the path a test takes; tests/test_busy_machine.py turns it on where it tests it.
os.environ.setdefault("TINYGRAD_DROP_WATCH_LOAD", "0")


@pytest.fixture(params=["numpy", "numba"])
def backend(request) -> str:
    with td.backend(request.param):
        yield request.param


@pytest.fixture
def numpy_backend():
    """Run a test on the numpy reference backend (plain Python that pdb steps into)."""
    with td.backend("numpy"):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# Course-kit topics (scripts/make_assignment.py strips their backward passes). A test that needs
# a topic carries its marker, so `pytest -m dropout` runs one topic and a student copy fails only
# where a topic is missing.
TOPICS = ("layernorm", "dropout", "attention", "softmax", "matmul")
EVERY_TOPIC = [getattr(pytest.mark, topic) for topic in TOPICS]


def every_topic(test):
    """Mark a test that runs a whole model, and so every topic's backward."""
    for mark in EVERY_TOPIC:
        test = mark(test)
    return test


# the ops tables (test_ops, test_ops_torch) name each case after its op: mark the case by it
TOPIC_OF_CASE = {"layer_norm": "layernorm", "dropout": "dropout", "sdpa": "attention",
                 "softmax": "softmax", "matmul": "matmul", "linear": "matmul"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        case = getattr(item, "callspec", None)
        if case is None:
            continue
        for word, topic in TOPIC_OF_CASE.items():
            if word in case.id:
                item.add_marker(getattr(pytest.mark, topic))


TORCH_MISSING = "could not import 'torch'"  # the reason pytest.importorskip("torch") gives
INSTALL_TORCH = 'pip install -e ".[test,torch]"'


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if isinstance(report.longrepr, tuple) and TORCH_MISSING in report.longrepr[2]]
    if not skipped:
        return
    pages = sorted({"docs/" + report.nodeid.rsplit("[", 1)[-1].rstrip("]") for report in skipped
                    if report.nodeid.startswith("tests/test_docs.py")})
    among = f", {' and '.join(pages)} among them" if pages else ""
    terminalreporter.write_line(f"{len(skipped)} tests skipped because PyTorch is not installed{among}: "
                                f"{INSTALL_TORCH} runs them", yellow=True, bold=True)
