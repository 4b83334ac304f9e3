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

Fork: GNU OpenMP's threads do not exist in a child made by fork(), and Numba stops a child that
enters its OpenMP pool. A child forked after the pool started (multiprocessing's default on
Linux) therefore gives numpy's products back to OpenBLAS's own threads and runs every kernel on
its calling thread, as PyTorch's forked children run their kernels on one thread. Kernels keep
their serial path free of Numba's parallel runtime for this reason.
"""
from __future__ import annotations

import os

import numba

from .. import state
from .blas_threads import can_share_blas_threads, share_blas_threads, stop_sharing_blas_threads


def start_thread_pool() -> str:
    """Set up the kernels' threads (once per process); returns state.process.thread_pool."""
    if state.process.thread_pool != "not started":
        return state.process.thread_pool
    user_chose_layer = "NUMBA_THREADING_LAYER" in os.environ or numba.config.THREADING_LAYER != "default"
    if not user_chose_layer:
        # Without the shared pool, OpenMP's spinning workers and OpenBLAS's would wait on each
        # other's cores; workqueue's idle workers sleep instead.
        numba.config.THREADING_LAYER = "omp" if can_share_blas_threads() else "workqueue"
    state.process.thread_pool = "shared" if share_blas_threads() else "separate"
    os.register_at_fork(after_in_child=_run_on_one_thread_after_fork)
    return state.process.thread_pool


def _run_on_one_thread_after_fork() -> None:
    stop_sharing_blas_threads()
    state.process.thread_pool = "forked child"


def products_share_threads() -> bool:
    """Whether numpy's matrix products run on Numba's threads (starts the pool if needed)."""
    return start_thread_pool() == "shared"


def threads_available() -> bool:
    """Whether a kernel may use threads at all: not in a forked child (see above)."""
    return start_thread_pool() != "forked child"


def threads_beside_products() -> bool:
    """Whether the kernels that run right after matrix products (GELU, attention, LayerNorm,
    dropout, the bias add and its gradient) split their work over threads.

    Yes where the products run on Numba's own threads: the kernel then starts on the threads the
    product just used, still awake. Otherwise OpenBLAS's idle workers keep spinning on the cores
    for a while after each product, and a kernel's threads would have to share those cores, so
    its even split waits for the slowest thread: threads then only where the machine has at least
    twice as many cores as Numba uses. Never in a forked child."""
    pool = start_thread_pool()
    if pool == "forked child":
        return False
    return pool == "shared" or (os.cpu_count() or 1) >= 2 * numba.get_num_threads()
