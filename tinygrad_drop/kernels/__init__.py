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

BACKENDS = ("numpy", "numba")

# Numba's parallel kernels run between numpy's BLAS calls, whose OpenBLAS threads keep spinning for
# a while after each matrix product. Numba's OpenMP layer spins too, and on a 2-core machine the two
# pools then wait on each other: a GPT step measured 5-9x slower than with Numba's own "workqueue"
# pool, whose idle workers sleep. So workqueue is the default here unless the user chose a layer
# (OpenMP with OMP_WAIT_POLICY=PASSIVE measured no faster than workqueue in a step).
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

# Which kernels use threads at all. After a threaded matrix product, OpenBLAS's idle workers spin
# (for up to ~0.1 s) on the other cores, waiting for the next product. A parallel kernel that runs
# right after a product therefore gets those cores only in shared time, and a static split waits
# for its slowest thread: a GELU over 768 x 512 elements took 1.0 ms on two threads alone and
# 2.3 ms right after a product, slower than one thread (1.8-2.1 ms). Kernels doing arithmetic on
# data still in cache (GELU, the attention kernels, LayerNorm, dropout) therefore run on the
# calling thread. Measured in a GPT training step against PyTorch in one process (scripts/bench.py's
# shape), GELU and attention on one thread made the step 1-4% faster at block 64 (paired A/B
# medians 0.96-0.99 of the step time) and no slower at block 256 (0.99). The optimizer's update
# keeps threads for its large arrays: it streams cold memory, where two threads keep twice the
# loads in flight (kernels/adamw.py).


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
