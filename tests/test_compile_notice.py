"""The first run says that it compiles (kernels/compile_notice.py); a run that loads every kernel
from Numba's cache says nothing."""
from __future__ import annotations

import io

import numba
import numpy as np

from tinygrad_drop.kernels.compile_notice import announce_compilation


def test_a_compilation_is_announced_counted_and_timed():
    stream = io.StringIO()
    fresh = numba.njit(lambda x: x * 2.0 + 1.0)  # not cached: compiles in this test
    with announce_compilation(stream) as counter:
        assert fresh(np.ones(3)).sum() == 9.0
    lines = stream.getvalue().splitlines()
    assert counter.compiled >= 1
    assert lines[0].startswith("compiling the kernels this run uses")
    assert lines[-1].startswith(f"compiled {counter.compiled} functions in")


def test_nothing_is_said_when_nothing_compiles():
    stream = io.StringIO()
    ready = numba.njit(lambda x: x + 1)
    ready(1)  # compiled before the block
    with announce_compilation(stream) as counter:
        assert ready(2) == 3
    assert counter.compiled == 0 and stream.getvalue() == ""
