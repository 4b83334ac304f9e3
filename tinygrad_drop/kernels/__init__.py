"""The kernel layer: every computation worth fusing, written twice.

Each kernel is a `Kernel` pairing a plain-numpy reference (short, steppable in pdb, the definition
of correct) with a Numba implementation (fused, compiled on first use, cached on disk). Ops call
the pair; the active backend picks the implementation:

    td.set_backend("numpy")          # or TINYGRAD_DROP_BACKEND=numpy in the environment

Matrix products are not kernels: both backends send them to BLAS through numpy's `@`. Attention's
per-head products are the exception in form (attention_heads.py): the Numba version calls the
routine numpy's `@` calls (gemm.py) from inside a kernel, each head's products in that head's
thread task, the same bits.
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
# sleep, does not: the default there. A threading layer the user chose is kept either way. Sharing
# starts Numba's threads at import: numpy's next product may need them (compiled once, then cached).
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "omp" if can_share_blas_threads() else "workqueue"
share_blas_threads()


def threads_beside_products() -> bool:
    """Whether the kernels that run right after matrix products use threads (GELU, attention,
    LayerNorm, dropout, the bias add and its gradient).

    Yes where the products run on Numba's own threads (blas_threads.py): the kernel then starts
    on the threads the product just used, still spinning. On this project's 2-core machine, with
    the pool shared, threads made a step faster for each kernel family (paired A/B medians,
    scripts/bench.py's model, block 64, dropout 0.1): GELU and attention 3.5%, LayerNorm and
    dropout 2.1%, the bias add and its gradient 1.2%.

    Otherwise OpenBLAS keeps threads of its own, and after a threaded product its idle worker
    spins (for up to ~0.1 s) on a core, waiting for the next one. Where Numba's threads have to
    share those cores, a parallel kernel gets them only part of the time and its static split
    waits for the slowest thread: on the 2-core machine a GELU over 768 x 512 elements took
    0.78 ms on two threads called back to back and 1.57 ms right after a product, no faster than
    one thread (1.43-1.52 ms). On a 16-core machine, where Numba's threads find idle cores,
    threads won: a step 2-3% faster with them at 2 threads and 11% at 8, but 10% slower at 16,
    where every core has a spinning worker again. So, without the shared pool, threads only where
    the machine has at least twice as many cores as Numba uses.

    Splitting the products over Python threads of one's own did not free the second core either
    (each block of rows a single-threaded BLAS call on the caller and a helper thread): the step
    was 3-5% slower, because on this VM a thread that has slept through ~0.5 ms of other work
    starts ~150 us after it is woken, and OpenBLAS's own threads are quick to start only because
    they spin. The shared pool keeps that spinning and gives it to the kernels too."""
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
