"""Shared fixtures, the course kit's markers and guard, and the line that says what a missing
PyTorch skipped.

`backend` runs a test once per kernel backend ("numpy" reference, "numba" fast) and restores the
previous backend afterwards, so no test leaks its choice into the next. `rng` gives each test its
own seeded generator, so inputs are reproducible whatever order the tests run in.

PyTorch is the oracle of many tests, and an optional one: each of those tests calls
`pytest.importorskip("torch")`. Skips are silent under -q, so the summary counts them and names
the command that installs PyTorch (pyproject.toml's `torch` extra).

The course kit (tinygrad_drop/course/, docs/course.md): the topic markers are assigned here and
only here, from the file a test is in; a run that would import a tinygrad_drop from outside this
checkout stops before collecting (in a student copy it would grade the original, not the
student's code); a student copy leaves out the whole-model tests unless asked (-m whole_model).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop.course import TOPICS
from tinygrad_drop.course.assignment import ASSIGNMENT_FILE

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


# ------------------------------------------------------------------------ the course kit's topics
# The one place topic markers are assigned: tests/course/test_<topic>.py (and the hidden tests,
# tests/course/hidden/test_<topic>.py) carry the marker <topic>, so `pytest -m dropout` runs
# dropout's fast tier alone. Tests of a whole model (GPT, training, benchmarks, the tutorials)
# carry `whole_model` in their own files: every topic runs in them, so a student copy
# (tinygrad_drop/course/assignment.py) runs them only when asked, `pytest -m whole_model`; here,
# in the project, plain `pytest` runs everything.
ROOT = Path(__file__).resolve().parents[1]
COURSE_TESTS = Path(__file__).resolve().parent / "course"
IN_STUDENT_COPY = (ROOT / ASSIGNMENT_FILE).exists()


def topic_of(path: Path) -> str | None:
    """The topic of a test file: tests/course/test_<topic>.py, or tests/course/hidden/test_<topic>.py
    (test_<topic>_hidden_<n>.py where the grader put an instructor's hidden tests); None elsewhere."""
    folder = path.parent.parent if path.parent.name == "hidden" else path.parent
    name = path.stem.removeprefix("test_").split("_hidden_")[0]
    return name if folder == COURSE_TESTS and name in TOPICS else None


def pytest_configure(config) -> None:
    # the guard: a test run that imports another tinygrad_drop grades the wrong code
    if not Path(td.__file__).resolve().is_relative_to(ROOT):
        raise pytest.UsageError(
            f"tinygrad_drop is imported from {Path(td.__file__).parent}, not from this checkout ({ROOT}): "
            f'the tests would check that code, not yours. From {ROOT}: pip install -e ".[test]" '
            "(or run python -m pytest there)")


# Tests of the Numba twins themselves (threads, in place, the disk cache, the per-head kernels): a
# student copy replaces each stripped twin by the student's numpy function, so it runs these only
# when asked (-m numba_twins). file -> its tests of that kind (None: all of them).
NUMBA_TWIN_TESTS = {
    "test_attention_heads.py": None,
    "test_kernels.py": {"test_gelu_can_write_over_its_input", "test_attention_numba_kernels_work_in_place",
                        "test_adamw_refuses_a_non_contiguous_parameter",
                        "test_both_twins_of_every_threaded_kernel_load_from_the_disk_cache"},
    "test_blas_threads.py": {"test_a_forked_pool_works_after_import_and_after_a_training_step"},
    "test_same_bits.py": {"test_editing_a_helper_recompiles_the_kernels_that_compile_it_in"},
    "test_kernel_fuzz.py": {"test_numbas_bounds_checks_turn_an_out_of_bounds_index_into_an_index_error"},
}
ONLY_WHEN_ASKED_IN_A_COPY = ("whole_model", "numba_twins")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        path = Path(str(item.fspath))
        topic = topic_of(path)
        if topic is not None:
            item.add_marker(getattr(pytest.mark, topic))
        if path.name in NUMBA_TWIN_TESTS:
            names = NUMBA_TWIN_TESTS[path.name]
            if names is None or item.originalname in names:
                item.add_marker(pytest.mark.numba_twins)
    asked = config.option.markexpr or ""
    left_out = [marker for marker in ONLY_WHEN_ASKED_IN_A_COPY if marker not in asked]
    if IN_STUDENT_COPY and left_out:
        chosen = [item for item in items if not any(item.get_closest_marker(marker) for marker in left_out)]
        if len(chosen) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
            items[:] = chosen


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
