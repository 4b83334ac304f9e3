"""The kernel layer: every computation worth fusing, written twice.

Each kernel is a `Kernel` pairing a plain-numpy reference (short, steppable in pdb, the definition
of correct) with a Numba implementation (fused, compiled on first use, cached on disk). Ops call
the pair; the active backend picks the implementation:

    td.set_backend("numpy")          # or TINYGRAD_DROP_BACKEND=numpy in the environment
    with td.backend("numpy"): ...    # for one block only

Matrix products are not kernels: both backends send them to BLAS through numpy's `@`. Attention's
per-head products are the exception in form (attention_heads.py): the Numba version calls the
routine numpy's `@` calls (gemm.py) from inside a kernel, each head's products in that head's
thread task, the same bits.

Importing this package compiles nothing and starts no thread: kernels compile at their first call
(then load from Numba's on-disk cache, whose stamps cover the helpers a kernel compiles in:
cache_stamps.py), and the threads start with the first kernel that asks for them (thread_pool.py).
"""
from __future__ import annotations

from typing import Callable

from .. import state
from ..state import BACKENDS
from .cache_stamps import stamp_kernels_with_their_helpers
from .thread_pool import threads_available, threads_beside_products

# Before any kernel is defined: a kernel's cached machine code is stale when a helper it compiles
# in changed, not only when its own file did (cache_stamps.py). This touches Numba's cache
# lookup for this folder's files only; no thread starts and nothing compiles.
stamp_kernels_with_their_helpers()


def set_backend(name: str) -> None:
    """Choose the kernel implementation: "numpy" (reference) or "numba" (fast, the default)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    state.process.backend = name


def get_backend() -> str:
    """The active kernel implementation: "numpy" (reference) or "numba" (fast)."""
    return state.process.backend


class backend:
    """`with td.backend("numpy"):` runs the kernels inside on that backend, then restores the
    previous one (also when the block raises)."""

    def __init__(self, name: str):
        if name not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
        self.name = name

    def __enter__(self) -> "backend":
        self._previous = state.process.backend
        state.process.backend = self.name
        return self

    def __exit__(self, *exc_info) -> None:
        state.process.backend = self._previous


class Kernel:
    """A named pair of implementations with the same signature, and `check`, which raises a clear
    error for arguments outside the kernel's contract before either runs (kernels/checks.py)."""

    def __init__(self, name: str, numpy_impl: Callable, numba_impl: Callable, check: Callable | None = None):
        self.name = name
        self.numpy_impl = numpy_impl
        self.numba_impl = numba_impl
        self.check = check

    def __call__(self, *args):
        if self.check is not None:
            self.check(*args)
        if state.process.backend == "numba":
            return self.numba_impl(*args)
        return self.numpy_impl(*args)

    def __repr__(self) -> str:
        return f"Kernel({self.name!r}, backend={state.process.backend!r})"
