"""Attention's per-head matrix products, one head per thread task.

Attention multiplies a small matrix pair per (batch, head): at nanoGPT's CPU shape 48 products of
64 x 64 x 32 or less each way, twelve such batches per layer and step. numpy's matmul sends them to
BLAS one after another on the calling thread, and each is too small for OpenBLAS to split over its
threads, so the second core idled through them: 12 ms of a 98 ms GPT step (measured on this
project's 2-core machine, scripts/bench.py's model, block 64).

Here the same BLAS routine (numpy's OpenBLAS, cblas_sgemm/cblas_dgemm, called through its address)
runs one head per `prange` task, on the threads that also run the kernels and numpy's threaded
products (blas_threads.py). The arithmetic is BLAS's own, so the result has numpy's bits; only
the loop over heads moved from numpy's C into a Numba kernel.

A product called from inside a prange should not be threaded by OpenBLAS itself: its jobs come
back to the pool (blas_threads.py), which starts a second team of threads for them beside the
loop's own, more threads than cores, while the other tasks' products wait at the pool's lock.
(It stays correct: measured, 256 x 256 x 256 products gave numpy's bits.) OpenBLAS runs a product
on the calling thread alone while m * n * k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4 unless a
build changes it; 0.3.31 waits for twice that with 2 threads), so only products up to
SINGLE_THREAD_PRODUCT come here, and larger ones, on which OpenBLAS's own split pays, go to numpy
as before. So do products whose layout BLAS cannot read in place, and every product where the pool
is not shared (where nothing promises that the kernel's threads find idle cores).

Measured (paired A/B in one process, scripts/bench.py's model, block 64, dropout 0.1): the
products took 8.7 ms of a step instead of 11.9, and the step was 3.7% faster (0.963). Each product
is small enough (32 x 32 x 32 for half of them) that OpenBLAS runs it at ~6 GFLOP/s, a fifth of
its speed on large ones, so it is the number of products, not their arithmetic, that costs.
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from . import Kernel
from .blas_threads import find_openblas, shares_blas_threads

# The largest m * n * k that OpenBLAS multiplies on the calling thread alone (see above).
SINGLE_THREAD_PRODUCT = 65536 * 4
# CBLAS's enum values: row-major storage, and whether an operand is read transposed.
ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE = 101, 111, 112


@intrinsic
def _gemm(typingctx, address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc):
    """cblas_?gemm(RowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, ldc), c = op(a) op(b),
    through a C function pointer held as an integer; a, b, c are arrays of float32 or float64
    (single or double precision gemm; OpenBLAS's 64-bit integer interface, as numpy's wheels ship)."""
    signature = types.void(address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc)

    def codegen(context, builder, sig, args):
        address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc = args
        i32, i64 = ir.IntType(32), ir.IntType(64)
        real = ir.FloatType() if sig.args[6].dtype == types.float32 else ir.DoubleType()
        pointer = real.as_pointer()
        function_type = ir.FunctionType(
            ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64, real, pointer, i64]
        )
        function = builder.inttoptr(address, function_type.as_pointer())
        data = [context.make_array(ty)(context, builder, value).data for ty, value in zip(sig.args[6::2], (a, b, c))]
        builder.call(function, [
            i32(ROW_MAJOR), builder.trunc(transpose_a, i32), builder.trunc(transpose_b, i32), m, n, k,
            real(1.0), data[0], lda, data[1], ldb, real(0.0), data[2], ldc,
        ])
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True, parallel=True)
def _head_products_kernel(gemm, a, transpose_a, lda, b, transpose_b, ldb, out):
    """out[i, j] = a[i, j] @ b[i, j] for every (i, j) of the two leading axes, one per task."""
    n_outer, n_inner, m, n = out.shape
    k = a.shape[3]
    for task in prange(n_outer * n_inner):
        i, j = task // n_inner, task % n_inner
        _gemm(gemm, transpose_a, transpose_b, m, n, k, a[i, j], lda, b[i, j], ldb, out[i, j], out.strides[2] // out.itemsize)


class _Gemm:
    """numpy's OpenBLAS cblas_sgemm and cblas_dgemm addresses by dtype, looked up once."""

    addresses: dict | None = None


def _gemm_addresses() -> dict:
    if _Gemm.addresses is None:
        _Gemm.addresses = {}
        found = find_openblas()
        if found is not None and found[2] == "64_":  # the 64-bit integer interface _gemm calls
            library, prefix, suffix = found
            for dtype, letter in ((np.dtype(np.float32), "s"), (np.dtype(np.float64), "d")):
                # scipy_openblas_set_threads_callback_function64_ goes with scipy_cblas_sgemm64_
                name = f"{prefix.removesuffix('openblas')}cblas_{letter}gemm{suffix}"
                if hasattr(library, name):
                    _Gemm.addresses[dtype] = ctypes.cast(getattr(library, name), ctypes.c_void_p).value
    return _Gemm.addresses


def _blas_layout(matrices: np.ndarray) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) reading these (..., rows, cols) matrices in place:
    rows contiguous is the matrix as stored, columns contiguous its transpose; else None."""
    item = matrices.itemsize
    row_stride, col_stride = matrices.strides[-2:]
    rows, cols = matrices.shape[-2:]
    if col_stride == item and row_stride % item == 0 and row_stride >= item * max(1, cols):
        return NO_TRANSPOSE, row_stride // item
    if row_stride == item and col_stride % item == 0 and col_stride >= item * max(1, rows):
        return TRANSPOSE, col_stride // item
    return None


def head_products_numpy(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.matmul(a, b, out=out)


def head_products_numba(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    gemm = _gemm_addresses().get(out.dtype) if shares_blas_threads() else None
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if (gemm is None or out.ndim != 4 or a.dtype != out.dtype or b.dtype != out.dtype
            or a.shape[:-2] != out.shape[:-2] or b.shape[:-2] != out.shape[:-2]
            or not 0 < m * n * k <= SINGLE_THREAD_PRODUCT or _blas_layout(out) != (NO_TRANSPOSE, out.strides[2] // out.itemsize)
            or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return head_products_numpy(a, b, out)
    layout_a, layout_b = _blas_layout(a), _blas_layout(b)
    if layout_a is None or layout_b is None:
        return head_products_numpy(a, b, out)
    _head_products_kernel(gemm, a, *layout_a, b, *layout_b, out)
    return out


head_products = Kernel("head_products", head_products_numpy, head_products_numba)
