"""One pool of threads for numpy's matrix products and for the Numba kernels between them.

Numba's parallel kernels and numpy's BLAS (OpenBLAS) each keep their own threads. After every
product, OpenBLAS's idle worker spin-waits on a core for its next job, so a Numba kernel that runs
next finds that core busy and gains little from threads (see thread_pool.py). PyTorch does not have
this problem: its products and its elementwise kernels share one OpenMP pool.

Recent OpenBLAS builds (numpy's own wheels among them) let the caller do the threading: given a
callback, it hands each threaded product to the callback as a list of jobs instead of to its own
workers. Here the callback runs the jobs in a `prange` loop, so they run on Numba's threads, the
same threads that run the kernels. With Numba's OpenMP layer those threads spin briefly when idle,
so a kernel right after a product starts on warm threads (as PyTorch's do), and OpenBLAS's own
workers, given nothing more to do, go to sleep for good.

The jobs of one product wait for one another (each packs a share of a matrix that all of them
read), so they must run at the same time, one per thread; `run_blas_jobs` makes sure there are
as many threads as jobs. OpenBLAS passes each job a thread number, which picks that thread's
scratch buffer and status slot; its own (sleeping) workers own the low slots, so ours count down
from the top of its table (MAX_THREADS in its build configuration). Products called at the same
time from several Python threads take turns (a lock in the callback), since their jobs would get
the same slots.

Used only where it can work: numpy's BLAS is an OpenBLAS that takes a callback, Numba's OpenMP
layer loads, and nobody chose another threading layer. TINYGRAD_DROP_SHARED_THREADS=0 in the
environment keeps the two pools apart. Nothing here runs at import: thread_pool.py calls
share_blas_threads at the first kernel that asks for threads, and gives the products back to
OpenBLAS (stop_sharing_blas_threads) in a forked child, where GNU OpenMP's threads do not exist.
"""
from __future__ import annotations

import atexit
import ctypes
import glob
import os
import re

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import state

# The slot of Numba's thread 0 in OpenBLAS's thread table, counting down from the top: numpy's
# OpenBLAS builds have MAX_THREADS=64 (share_blas_threads checks that the table is this large).
TOP_SLOT = 63
# void callback(int sync, dojob_fn dojob, int numjobs, size_t jobdata_elsize, void *jobdata, int dojob_data)
# with dojob_fn: void dojob(int thread_number, void *job, int dojob_data). Pointers travel as
# integers (the same registers on x86-64 and ARM64) so that Numba can do address arithmetic on them.
CALLBACK_SIGNATURE = types.void(types.int32, types.intp, types.int32, types.intp, types.intp, types.int32)


@intrinsic
def _call_blas_job(typingctx, dojob_address, thread_number, job_address, dojob_data):
    """dojob(thread_number, job, dojob_data) through a C function pointer held as an integer."""
    signature = types.void(types.intp, types.intp, types.intp, types.int32)

    def codegen(context, builder, sig, args):
        address, number, job, data = args
        byte_pointer = ir.IntType(8).as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [ir.IntType(32), byte_pointer, ir.IntType(32)])
        function = builder.inttoptr(address, function_type.as_pointer())
        builder.call(function, [builder.trunc(number, ir.IntType(32)), builder.inttoptr(job, byte_pointer), data])
        return context.get_dummy_value()

    return signature, codegen


# Numba's thread pool exports its functions to compiled code by name once its threads start. Called
# by name, they keep run_blas_jobs cacheable: numba.get_num_threads() and set_num_threads() inside
# jitted code go through ctypes pointers instead, which Numba cannot cache.
@intrinsic
def _numba_thread_count(typingctx):
    def codegen(context, builder, sig, args):
        # Declared as Numba's parallel loops declare it (they call it in the same module)
        function_type = ir.FunctionType(cgutils.intp_t, [])
        return builder.call(cgutils.get_or_insert_function(builder.module, function_type, "get_num_threads"), [])

    return types.intp(), codegen


@intrinsic
def _set_numba_thread_count(typingctx, count):
    def codegen(context, builder, sig, args):
        function_type = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
        builder.call(cgutils.get_or_insert_function(builder.module, function_type, "set_num_threads"), args)
        return context.get_dummy_value()

    return types.void(types.int32), codegen


@njit(cache=True, parallel=True)
def run_blas_jobs(dojob, n_jobs, job_size, jobs, dojob_data):
    """Run OpenBLAS's n_jobs jobs at once, one per Numba thread (each job waits for the others,
    so with fewer threads than jobs, after a numba.set_num_threads, they would wait forever)."""
    thread_count = _numba_thread_count()
    if thread_count < n_jobs:
        _set_numba_thread_count(np.int32(n_jobs))
    for job in prange(n_jobs):
        _call_blas_job(dojob, TOP_SLOT - numba.get_thread_id(), jobs + job * job_size, dojob_data)
    _set_numba_thread_count(thread_count)


def _lock_word(builder):
    """A 32-bit word, 0 when free, private to the one compiled callback (so one per process)."""
    module = builder.module
    if "blas_jobs_lock" in module.globals:
        return module.globals["blas_jobs_lock"]
    word = ir.GlobalVariable(module, ir.IntType(32), "blas_jobs_lock")
    word.initializer = ir.Constant(ir.IntType(32), 0)
    word.linkage = "internal"
    return word


@intrinsic
def _lock_blas_jobs(typingctx):
    """Spin until this thread swaps the lock word from 0 to 1."""

    def codegen(context, builder, sig, args):
        word, i32 = _lock_word(builder), ir.IntType(32)
        spin, locked = builder.append_basic_block("spin"), builder.append_basic_block("locked")
        builder.branch(spin)
        builder.position_at_end(spin)
        swapped = builder.cmpxchg(word, i32(0), i32(1), "acquire", "monotonic")
        builder.cbranch(builder.extract_value(swapped, 1), locked, spin)
        builder.position_at_end(locked)
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def _unlock_blas_jobs(typingctx):
    def codegen(context, builder, sig, args):
        builder.store_atomic(ir.IntType(32)(0), _lock_word(builder), "release", 4)
        return context.get_dummy_value()

    return types.void(), codegen


def _run_blas_jobs_from_openblas(sync, dojob, n_jobs, job_size, jobs, dojob_data):
    # One product at a time: products called at once from several Python threads would give their
    # jobs the same slots, and so the same scratch buffers (measured: wrong results without the
    # lock). sync is always 1 (return once the jobs are done), which the prange loop does.
    _lock_blas_jobs()
    run_blas_jobs(dojob, n_jobs, job_size, jobs, dojob_data)
    _unlock_blas_jobs()


def find_openblas():
    """numpy's OpenBLAS as a ctypes library and its function names' prefix and suffix, or None."""
    numpy_dir = os.path.dirname(np.__file__)
    candidates = glob.glob(os.path.join(numpy_dir, os.pardir, "numpy.libs", "*openblas*.so*"))
    candidates += glob.glob(os.path.join(numpy_dir, ".dylibs", "*openblas*.dylib"))
    for path in candidates:
        library = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"), ("openblas", "")):
            if hasattr(library, f"{prefix}_set_threads_callback_function{suffix}"):
                return library, prefix, suffix
    return None


def _openmp_layer_loads() -> bool:
    try:
        from numba.np.ufunc import omppool  # noqa: F401  (loads libgomp; fails where it is missing)
    except ImportError:
        return False
    return True


def can_share_blas_threads() -> bool:
    """Whether this process can run numpy's BLAS on Numba's threads (before any thread starts)."""
    if os.environ.get("TINYGRAD_DROP_SHARED_THREADS", "1").strip() == "0" or numba.config.DISABLE_JIT:
        return False
    if numba.config.THREADING_LAYER not in ("default", "omp"):
        return False
    return _openmp_layer_loads() and find_openblas() is not None


def share_blas_threads() -> bool:
    """Hand numpy's OpenBLAS threading to Numba's pool; True if it now runs there."""
    if state.process.blas_callback is not None:
        return True
    if not can_share_blas_threads():
        return False
    library, prefix, suffix = find_openblas()
    get_config = getattr(library, f"{prefix}_get_config{suffix}")
    get_config.restype = ctypes.c_char_p
    max_threads = re.search(rb"MAX_THREADS=(\d+)", get_config())
    numba_threads = numba.config.NUMBA_NUM_THREADS
    get_threads = getattr(library, f"{prefix}_get_num_threads{suffix}")
    openblas_threads = max(get_threads(), os.cpu_count() or 1)
    # OpenBLAS's own workers use slots 0 .. (its threads - 2); ours count down from the top.
    if max_threads is None or int(max_threads.group(1)) <= TOP_SLOT or numba_threads + openblas_threads > TOP_SLOT:
        return False
    # Starting Numba's threads before the callback is compiled: its code links to the pool's symbols.
    run_blas_jobs(0, 0, 0, 0, 0)
    if numba.threading_layer() != "omp":
        return False
    callback = numba.cfunc(CALLBACK_SIGNATURE, cache=True)(_run_blas_jobs_from_openblas)
    # OpenBLAS hands out as many jobs as it has threads: never more than Numba can run at once.
    set_threads = getattr(library, f"{prefix}_set_num_threads{suffix}")
    set_threads(ctypes.c_int(min(get_threads(), numba_threads)))
    set_callback = getattr(library, f"{prefix}_set_threads_callback_function{suffix}")
    set_callback(ctypes.c_void_p(callback.address))
    state.process.blas_callback = callback  # kept alive here: OpenBLAS holds only its address
    atexit.register(stop_sharing_blas_threads)
    return True


def stop_sharing_blas_threads() -> None:
    """Give numpy's products back to OpenBLAS's own threads (at exit, and in a forked child)."""
    if state.process.blas_callback is None:
        return
    library, prefix, suffix = find_openblas()
    getattr(library, f"{prefix}_set_threads_callback_function{suffix}")(ctypes.c_void_p(None))
    state.process.blas_callback = None


def blas_thread_count(count: int | None = None) -> int:
    """numpy's OpenBLAS thread count; with `count`, set it first. 0 where numpy's BLAS is not an
    OpenBLAS this module can reach (then nothing is set)."""
    found = find_openblas()
    if found is None:
        return 0
    library, prefix, suffix = found
    if count is not None:
        getattr(library, f"{prefix}_set_num_threads{suffix}")(ctypes.c_int(count))
    return getattr(library, f"{prefix}_get_num_threads{suffix}")()
