"""Everything tinygrad_drop remembers between calls, in one place.

- `process`: what holds for the whole process, as in PyTorch: the kernel backend, the random
  state (the seed, dropout's call counter, the numpy generator), anomaly mode, and the kernels'
  thread pool: whether it has been set up, what its load watch last saw, and which Python
  threads call the kernels (kernels/thread_pool.py).
- `this_thread`: grad mode, which PyTorch keeps per thread, so a `no_grad()` block in one thread
  leaves training in another alone.

Nothing outside this module keeps state of its own. Change it through the public functions and
context managers (`td.set_backend`, `td.backend(...)`, `td.manual_seed`, `td.set_rng_state`,
`td.detect_anomaly()`, `td.no_grad()`, `td.enable_grad()`), which read and write the fields here.
Reading the environment variable TINYGRAD_DROP_BACKEND is all that happens at import.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import numpy as np

BACKENDS = ("numpy", "numba")


def backend_from_environment() -> str:
    """TINYGRAD_DROP_BACKEND, or "numba" when it is not set."""
    name = os.environ.get("TINYGRAD_DROP_BACKEND", "numba").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"TINYGRAD_DROP_BACKEND must be one of {BACKENDS}, got {name!r}")
    return name


@dataclass
class ProcessState:
    backend: str                         # "numba" (fast, the default) or "numpy" (the reference)
    seed: int = 0                        # the last td.manual_seed
    dropout_counter: int = 0             # dropout calls since then: each takes the next number
    numpy_generator: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    anomaly_mode: bool = False           # inside td.detect_anomaly()
    inplace_writes: int = 0              # in-place writes of tensors so far: backward checks versions only if it moved
    thread_pool: str = "not started"     # "not started", "shared", "separate", "forked child" or "bounds checked"
    blas_callback: object = None         # the compiled callback that runs numpy's products on Numba's threads
    watch_load: bool = True              # step down to one thread while other processes keep the cores busy
    machine_busy: bool = False           # the last verdict of that watch
    others_running: float = 0.0          # other processes' runnable tasks, smoothed
    load_checked_at: float = float("-inf")  # time.monotonic() of the last look
    kernel_callers: dict = field(default_factory=dict)  # Python thread id -> time of its last kernel call
    several_callers: bool = False        # more than one of them called lately: several threads train
    callers_checked_at: float = float("-inf")  # time.monotonic() of the last count
    blas_on_one_thread: bool = False     # numpy's BLAS moved to one thread (busy machine or several trainers)
    blas_threads_before: int = 0         # numpy's BLAS threads to give back afterwards


class ThreadState(threading.local):
    grad_enabled: bool = True            # False inside td.no_grad()

    def __init__(self) -> None:
        # (module, its path) of each Module being called, outermost first; kept only in anomaly mode
        self.modules_called: list[tuple[object, str]] = []


process = ProcessState(backend=backend_from_environment())
this_thread = ThreadState()
