"""The kernel layer: every computation worth fusing, written twice.

Each kernel is a `Kernel` pairing a plain-numpy reference (short, steppable in pdb, the definition
of correct) with a Numba implementation (fused, compiled on first use, cached on disk). Ops call
the pair; the active backend picks the implementation:

    td.set_backend("numpy")          # or TINYGRAD_DROP_BACKEND=numpy in the environment

Matrix products are not kernels: both backends send them to BLAS through numpy's `@`.
"""
from __future__ import annotations

import os
from typing import Callable

import numba

from .blas_threads import can_share_blas_threads, share_blas_threads, shares_blas_threads

BACKENDS = ("numpy", "numba")

# Numba's parallel kernels run between numpy's BLAS calls. Where numpy's OpenBLAS can run its
# threaded products on Numba's threads (blas_threads.py), one pool serves both, on Numba's OpenMP
# layer: its idle threads spin briefly, so kernels after a product start on warm threads. Otherwise
# the two pools stay apart, and then OpenMP's spinning threads and OpenBLAS's wait on each other (a
# 2-core machine measured a GPT step 5-9x slower) while Numba's "workqueue" pool, whose idle workers
# sleep, does not: the default there. A threading layer the user chose is kept either way.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "omp" if can_share_blas_threads() else "workqueue"
share_blas_threads()


def threads_beside_products() -> bool:
    """Whether the kernels that run right after matrix products (GELU, attention) use threads.

    After a threaded product, OpenBLAS's idle workers spin (for up to ~0.1 s) on their cores,
    waiting for the next one. Where Numba's threads have to share those cores, a parallel kernel
    gets them only part of the time and its static split waits for the slowest thread: on this
    project's 2-core machine a GELU over 768 x 512 elements took 0.78 ms on two threads called
    back to back and 1.57 ms right after a product, no faster than one thread (1.43-1.52 ms;
    medians, the one-pass kernel of gelu.py; two threads after a 0.2 s pause, whose workers had
    gone to sleep, took 1.62 ms: see the wake-up below), and GPT steps
    with and without threads for GELU and attention measured within 1-4% of each other, either
    way round from run to run. On a 16-core machine, where Numba's threads find idle cores,
    threads won clearly: the step was 2-3% faster with them at 2 threads and 11% at 8, but 10%
    slower at 16, where every core has a spinning worker again (paired A/B medians against the
    calling thread, scripts/bench.py's model at block 64, PyTorch in the process). So threads
    only where the machine has at least twice as many cores as Numba uses. LayerNorm and dropout
    run on the calling thread everywhere (measured faster at a GPT's sizes, on 2 cores only:
    not yet measured on more); AdamW's update keeps threads for large arrays (it streams cold
    memory, kernels/adamw.py).

    Nor does splitting the products over threads of one's own free the second core (tried: each
    block of rows a single-threaded BLAS call, on the caller and a helper thread, BLAS told to use
    one thread meanwhile). In a step the split Linear products ran ~6% slower than OpenBLAS's two
    threads and the per-head products took 23-37% less time, and the whole step was 3-5% slower,
    with or without threads in GELU and attention: on this VM a thread that has slept through
    ~0.5 ms of other work starts ~150 us after it is woken (~12 us when woken back to back), and a
    helper that spin-waited ~1 ms before sleeping (started in ~30 us) did no better. OpenBLAS's
    spinning is what makes its own threads quick to start."""
    return shares_blas_threads() or (os.cpu_count() or 1) >= 2 * numba.get_num_threads()


def _backend_from_environment() -> str:
    name = os.environ.get("TINYGRAD_DROP_BACKEND", "numba").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"TINYGRAD_DROP_BACKEND must be one of {BACKENDS}, got {name!r}")
    return name


class _BackendState:
    """Which implementation `Kernel.__call__` runs; changed only through set_backend."""

    name: str = _backend_from_environment()


def set_backend(name: str) -> None:
    """Choose the kernel implementation: "numpy" (reference) or "numba" (fast, the default)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    _BackendState.name = name


def get_backend() -> str:
    return _BackendState.name


class Kernel:
    """A named pair of implementations with the same signature."""

    def __init__(self, name: str, numpy_impl: Callable, numba_impl: Callable):
        self.name = name
        self.numpy_impl = numpy_impl
        self.numba_impl = numba_impl

    def __call__(self, *args):
        if _BackendState.name == "numba":
            return self.numba_impl(*args)
        return self.numpy_impl(*args)

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, backend={_BackendState.name!r})"
