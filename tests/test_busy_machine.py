"""The thread pool's load watch (kernels/thread_pool.py): on a machine that other processes keep
busy, kernels run on the calling thread and numpy's BLAS on one thread, until it quiets down.

The suite runs with the watch off (conftest.py), so that the load of whatever else runs on the
machine cannot change which code path a test takes; these tests turn it on themselves."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.kernels import thread_pool
from tinygrad_drop.kernels.blas_threads import blas_thread_count

needs_proc = pytest.mark.skipif(thread_pool.others_running() is None, reason="no /proc to read the load from")


@pytest.fixture
def watch(monkeypatch):
    """The watch on, looking at every call, fed by a list of 'other runnable tasks' readings (the
    last one repeats once the others are used up): a quiet machine until a test says otherwise."""
    thread_pool.start_thread_pool()
    readings = [0]
    monkeypatch.setattr(td.state.process, "watch_load", True)
    monkeypatch.setattr(td.state.process, "machine_busy", False)
    monkeypatch.setattr(td.state.process, "others_running", 0.0)
    monkeypatch.setattr(td.state.process, "kernel_callers", {})
    monkeypatch.setattr(thread_pool, "LOAD_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(thread_pool, "others_running", lambda: readings.pop(0) if len(readings) > 1 else readings[0])
    quiet_blas_threads = blas_thread_count()
    yield readings
    readings[:] = [0]  # quiet again: numpy's BLAS gets its threads back
    while thread_pool.on_one_thread_now():
        pass
    assert blas_thread_count() == quiet_blas_threads


def test_busy_after_a_few_looks_and_quiet_again_only_well_below(watch):
    watch[:] = [2, 2, 2, 0.5, 0.5, 0.5, 0]
    verdicts = [thread_pool.machine_is_busy() for _ in range(3)]
    assert verdicts == [False, True, True]  # smoothed: one look at a busy machine is not enough
    assert not thread_pool.threads_beside_products() and not thread_pool.threads_available()
    # the smoothed count falls through 0.78, 0.55, 0.38, 0.27 (below "busy" but above "quiet",
    # so still busy), then 0.19: quiet again
    assert [thread_pool.machine_is_busy() for _ in range(8)] == [True] * 4 + [False] * 4


@pytest.mark.skipif(blas_thread_count() < 2, reason="numpy's BLAS has one thread here anyway")
def test_a_busy_machine_gets_one_blas_thread_and_the_same_numbers(watch):
    x = td.randn(256, 384)
    quiet = F.gelu(x @ x.T).numpy()
    watch[:] = [3]
    while not thread_pool.on_one_thread_now():
        pass
    assert blas_thread_count() == 1
    busy = F.gelu(x @ x.T).numpy()
    np.testing.assert_array_equal(busy, quiet)


@needs_proc
def test_others_running_sees_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        seen = max(thread_pool.others_running() for _ in range(20))
    finally:
        busy.kill()
        busy.wait()
    assert seen >= 1
