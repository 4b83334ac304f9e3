"""When the kernels get threads: at the first kernel that asks, never at import.

`import tinygrad_drop` starts no thread, picks no threading layer and leaves numpy's BLAS alone.
The first Numba kernel that asks whether it may use threads (`threads_beside_products`,
`threads_available`) sets the pool up, once per process:
1. it picks Numba's threading layer, unless the user chose one (NUMBA_THREADING_LAYER, or
   numba.config.THREADING_LAYER set before that first kernel): OpenMP where numpy's products can
   run on Numba's threads (blas_threads.py), "workqueue" otherwise;
2. it hands numpy's OpenBLAS the callback that runs its products on those threads ("shared"), or
   leaves the two pools apart ("separate");
3. it registers what a forked child must do (below).
The numpy backend never asks, so it never starts a thread.

A busy machine: threads that wait for one another (a product's jobs, a kernel's even split) lose
badly when other processes hold the cores, since a thread that is not running holds up all the
others, which spin meanwhile. So, about twice a second at a kernel's call, the pool looks at how
many tasks of *other* processes are runnable (Linux's /proc; elsewhere it never steps down): when
they keep about a core busy, the kernels run on the calling thread and numpy's BLAS on one thread,
until the machine quiets down. The results are the same bits either way.
TINYGRAD_DROP_WATCH_LOAD=0 turns the watch off.

Bounds checking (NUMBA_BOUNDSCHECK=1, for debugging; docs/debugging.md): an index error raised
inside Numba's threads does not reach Python cleanly, so with bounds checks compiled in, every
kernel runs on its calling thread and the products on OpenBLAS's own threads.

Several Python threads, each training its own model: each would start its own team of threads
on the same cores, and Numba's "workqueue" layer (the one used where the products cannot share
the pool) stops the process outright when two threads enter it at once. So only one Python thread
at a time runs a kernel on the pool (kernels/parallel.py's gate; the others run the serial twin),
and while more than one Python thread has called the kernels within the last second, every
kernel runs on its calling thread and numpy's BLAS on one thread, as on a busy machine: each
training then has a core of its own. The results are the same bits as each training alone.

Fork: GNU OpenMP's threads do not exist in a child made by fork(), and Numba stops a child that
enters its OpenMP pool. A child forked after the pool started (multiprocessing's default on
Linux) therefore gives numpy's products back to OpenBLAS's own threads and runs every kernel on
its calling thread, as PyTorch's forked children run their kernels on one thread. Kernels keep
their serial path free of Numba's parallel runtime for this reason.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numba

from .. import state
from .blas_threads import blas_thread_count, can_share_blas_threads, share_blas_threads, stop_sharing_blas_threads

LOAD_CHECK_SECONDS = 0.5  # how often the watch looks at the machine
# Other processes' runnable tasks (smoothed over the last few looks) above which the machine is
# busy, and below which it is quiet again: apart, so one noisy look does not flip the mode.
BUSY_ABOVE, QUIET_BELOW = 0.75, 0.25
SERIAL_POOLS = ("forked child", "bounds checked")  # kernels always on the calling thread
CALLER_SECONDS = 1.0  # a Python thread that called a kernel this recently is still training


def start_thread_pool() -> str:
    """Set up the kernels' threads (once per process); returns state.process.thread_pool."""
    if state.process.thread_pool != "not started":
        return state.process.thread_pool
    if numba.config.BOUNDSCHECK:
        state.process.thread_pool = "bounds checked"
        return state.process.thread_pool
    user_chose_layer = "NUMBA_THREADING_LAYER" in os.environ or numba.config.THREADING_LAYER != "default"
    if not user_chose_layer:
        # Without the shared pool, OpenMP's spinning workers and OpenBLAS's would wait on each
        # other's cores; workqueue's idle workers sleep instead.
        numba.config.THREADING_LAYER = "omp" if can_share_blas_threads() else "workqueue"
    state.process.thread_pool = "shared" if share_blas_threads() else "separate"
    state.process.watch_load = os.environ.get("TINYGRAD_DROP_WATCH_LOAD", "1").strip() != "0"
    os.register_at_fork(after_in_child=_run_on_one_thread_after_fork)
    return state.process.thread_pool


def others_running() -> int | None:
    """How many tasks of other processes are runnable right now, from Linux's /proc (None where
    it cannot be read): the machine's runnable tasks less this process's own running threads."""
    try:
        with open("/proc/loadavg") as file:
            runnable = int(file.read().split()[3].split("/")[0])  # "0.50 0.40 0.30 3/250 1234"
        ours = 0
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/stat") as file:
                ours += file.read().rpartition(")")[2].split()[0] == "R"  # the state follows the name
    except (OSError, ValueError, IndexError):
        return None
    return max(runnable - ours, 0)


def machine_is_busy() -> bool:
    """Whether other processes keep the cores busy (see the module docstring); looks at most
    every LOAD_CHECK_SECONDS."""
    process = state.process
    now = time.monotonic()
    if not process.watch_load or now - process.load_checked_at < LOAD_CHECK_SECONDS:
        return process.machine_busy
    process.load_checked_at = now
    others = others_running()
    if others is None:
        return process.machine_busy
    process.others_running = 0.7 * process.others_running + 0.3 * others
    process.machine_busy = process.others_running > (QUIET_BELOW if process.machine_busy else BUSY_ABOVE)
    return process.machine_busy


def several_threads_train() -> bool:
    """Whether another Python thread of this process called a kernel within CALLER_SECONDS; notes
    the calling thread, and counts the callers at most every LOAD_CHECK_SECONDS."""
    process = state.process
    now = time.monotonic()
    process.kernel_callers[threading.get_ident()] = now
    if now - process.callers_checked_at >= LOAD_CHECK_SECONDS:
        process.callers_checked_at = now
        for caller, last_call in list(process.kernel_callers.items()):
            if now - last_call > CALLER_SECONDS:
                process.kernel_callers.pop(caller, None)
        process.several_callers = len(process.kernel_callers) > 1
    return process.several_callers


def on_one_thread_now() -> bool:
    """Whether kernels and products run on one thread now: on a busy machine, or while several
    Python threads train. Moves numpy's BLAS to one thread and back when the answer changes."""
    process = state.process
    one_thread = machine_is_busy() | several_threads_train()  # both look, whatever the first says
    if one_thread != process.blas_on_one_thread:
        if one_thread:
            process.blas_threads_before = blas_thread_count()
            blas_thread_count(1)
        elif process.blas_threads_before:
            blas_thread_count(process.blas_threads_before)
        process.blas_on_one_thread = one_thread
    return one_thread


def _run_on_one_thread_after_fork() -> None:
    stop_sharing_blas_threads()
    state.process.thread_pool = "forked child"


def products_share_threads() -> bool:
    """Whether numpy's matrix products run on Numba's threads (starts the pool if needed), so
    that a kernel may run products of its own on them: not while the machine is busy."""
    return start_thread_pool() == "shared" and not on_one_thread_now()


def threads_available() -> bool:
    """Whether a kernel may use threads at all: not in a forked child, not with bounds checks, not
    on a busy machine, not while several Python threads train."""
    return start_thread_pool() not in SERIAL_POOLS and not on_one_thread_now()


def threads_beside_products() -> bool:
    """Whether the kernels that run right after matrix products (GELU, attention, LayerNorm,
    dropout, the bias add and its gradient) split their work over threads.

    Yes where the products run on Numba's own threads: the kernel then starts on the threads the
    product just used, still awake. Otherwise OpenBLAS's idle workers keep spinning on the cores
    for a while after each product, and a kernel's threads would have to share those cores, so
    its even split waits for the slowest thread: threads then only where the machine has at least
    twice as many cores as Numba uses. Never in a forked child or on a busy machine."""
    pool = start_thread_pool()
    if pool in SERIAL_POOLS or on_one_thread_now():
        return False
    return pool == "shared" or (os.cpu_count() or 1) >= 2 * numba.get_num_threads()


@contextmanager
def on_one_thread() -> Iterator[None]:
    """Inside the block, run as on a busy machine whatever the load: kernels on the calling thread,
    numpy's BLAS on one thread (for measuring what the watch falls back to)."""
    start_thread_pool()
    process = state.process
    saved = process.watch_load, process.machine_busy
    process.watch_load, process.machine_busy = False, True
    on_one_thread_now()
    try:
        yield
    finally:
        process.watch_load, process.machine_busy = saved
        on_one_thread_now()
