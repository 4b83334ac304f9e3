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
# pool, whose idle workers sleep. So workqueue is the default here unless the user chose a layer.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


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
