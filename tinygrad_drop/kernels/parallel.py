"""How kernels split work over threads: tasks of rows or chunks, each kernel compiled twice.

A kernel that may run on threads is written once, its tasks in a `prange` loop, and compiled twice
by `njit_parallel_or_serial`: with parallel=True, where the tasks go to Numba's threads, and without,
where prange is a plain `range` and the kernel never enters Numba's parallel runtime. The caller
picks one per call (`threads=...`: threads_beside_products() or threads_available(), thread_pool.py).

The serial twin must stay out of that runtime entirely, not only skip the prange: in a process
forked after Numba's threads started, any call into it aborts the child, and a parallel=True
kernel also sends its array creations and reductions there (np.zeros is one), on either branch of
an `if use_threads`. Compiled twice, the serial twin holds no parallel code at all.

One Python thread at a time runs a twin on the pool (`PARALLEL_GATE`); a call from another thread
meanwhile runs the serial twin, with the same bits. Two threads in Numba's "workqueue" layer at
once would stop the process, and two teams of threads on the same cores wait on each other.

Tasks are blocks of ROWS_PER_TASK rows for kernels over rows: a task's rows share no output, so the
tasks need no locks, and per-task partial sums added in task order give the same bits on any
number of threads.
"""
from __future__ import annotations

import threading
import types
from typing import Any, Callable

from numba import njit
from numba.extending import register_jitable

ROWS_PER_TASK = 64
PARALLEL_GATE = threading.Lock()  # held by the one Python thread whose kernel runs on the pool


@register_jitable
def task_count(n_items: int, per_task: int) -> int:
    """How many tasks of `per_task` items cover `n_items` (the last one may be short)."""
    return (n_items + per_task - 1) // per_task


@register_jitable
def task_rows(task: int, n_rows: int) -> range:
    """The rows of one task: ROWS_PER_TASK of them, fewer in the last task."""
    return range(task * ROWS_PER_TASK, min(n_rows, (task + 1) * ROWS_PER_TASK))


class ParallelOrSerial:
    """One kernel compiled twice: `parallel` (prange on Numba's threads) and `serial` (prange is
    range, no parallel runtime). Each twin compiles on its first call and is cached on disk."""

    def __init__(self, py_func: Callable, options: dict[str, Any]):
        self.parallel = njit(cache=True, parallel=True, **options)(py_func)
        self.serial = njit(cache=True, **options)(_serial_copy(py_func))

    def __call__(self, *args, threads: bool):
        if threads and PARALLEL_GATE.acquire(blocking=False):
            try:
                return self.parallel(*args)
            finally:
                PARALLEL_GATE.release()
        return self.serial(*args)


def njit_parallel_or_serial(**options: Any) -> Callable[[Callable], ParallelOrSerial]:
    """Decorator: `@njit_parallel_or_serial(error_model="numpy")` compiles the kernel both ways,
    with these options (cache=True is implied)."""
    return lambda py_func: ParallelOrSerial(py_func, options)


def _serial_copy(py_func: Callable) -> Callable:
    # The same code under another qualified name. Numba's disk cache files a function under its
    # module, qualified name and first line, and its index key holds neither parallel nor the other
    # options: under one name, each twin could load the other's machine code.
    copy = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__, py_func.__defaults__,
                              py_func.__closure__)
    copy.__qualname__ = f"{py_func.__qualname__}_serial"
    copy.__module__ = py_func.__module__
    copy.__doc__ = py_func.__doc__
    return copy
