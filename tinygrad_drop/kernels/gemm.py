"""BLAS's matrix product, callable from inside a Numba kernel.

Attention multiplies small matrices per (batch, head): at nanoGPT's CPU shape 48 products of
64 x 64 x 32 or less each way, twelve such batches per layer and step. numpy's matmul sends them to
BLAS one after another on the calling thread, and each is too small for OpenBLAS to split over its
threads, so the second core idled through them, a noticeable share of a GPT step on 2 cores
(docs/performance.md).

`gemm` below calls numpy's own OpenBLAS (cblas_sgemm or cblas_dgemm, through its address) from
compiled code, so a kernel can run each head's products on the thread that handles the head
(kernels/attention_heads.py), between the fused steps that need no BLAS. The arithmetic is BLAS's
own, the same routine numpy's matmul calls for the same operands: the same bits.

A product called from a thread task should not be threaded by OpenBLAS itself: its jobs come back
to the pool (blas_threads.py), which starts a second team of threads for them beside the tasks'
own, more threads than cores, while the other tasks' products wait at the pool's lock. (It stays
correct: measured, 256 x 256 x 256 products from a prange gave numpy's bits.) OpenBLAS runs a
product on the calling thread alone while m * n * k <= 65536 * GEMM_MULTITHREAD_THRESHOLD (4
unless a build changes it; 0.3.31 waits for twice that with 2 threads), so kernels call `gemm` only
for products up to SINGLE_THREAD_PRODUCT and leave larger ones, on which OpenBLAS's own split
pays, to numpy.
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .blas_threads import find_openblas

# The largest m * n * k that OpenBLAS multiplies on the calling thread alone (see above).
SINGLE_THREAD_PRODUCT = 65536 * 4
# CBLAS's enum values: row-major storage, and whether an operand is read transposed.
ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE = 101, 111, 112


@intrinsic
def gemm(typingctx, address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc):
    """c = op(a) op(b) as cblas_?gemm(RowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, ldc),
    through a C function pointer held as an integer (gemm_address). Each of a, b, c is an array
    whose first element starts the matrix (a view such as x[i, row:] is one) or that address as an
    integer; at least one is an array, float32 or float64, which picks sgemm or dgemm. OpenBLAS's
    64-bit integer interface, as numpy's wheels ship."""
    arrays = [ty for ty in (a, b, c) if isinstance(ty, types.Array)]
    if not arrays or any(ty.dtype not in (types.float32, types.float64) or ty.dtype != arrays[0].dtype for ty in arrays):
        return None
    signature = types.void(address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc)

    def codegen(context, builder, sig, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        real = ir.FloatType() if arrays[0].dtype == types.float32 else ir.DoubleType()
        pointer = real.as_pointer()

        def matrix(ty, value):
            if isinstance(ty, types.Array):
                return context.make_array(ty)(context, builder, value).data
            return builder.inttoptr(value, pointer)

        def integer(value):
            return builder.sext(value, i64) if value.type.width < 64 else value

        address, transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc = args
        function_type = ir.FunctionType(
            ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64, real, pointer, i64]
        )
        function = builder.inttoptr(address, function_type.as_pointer())
        builder.call(function, [
            i32(ROW_MAJOR), builder.trunc(transpose_a, i32), builder.trunc(transpose_b, i32),
            integer(m), integer(n), integer(k), real(1.0),
            matrix(sig.args[6], a), integer(lda), matrix(sig.args[8], b), integer(ldb), real(0.0),
            matrix(sig.args[10], c), integer(ldc),
        ])
        return context.get_dummy_value()

    return signature, codegen


class _Addresses:
    """numpy's OpenBLAS cblas_sgemm and cblas_dgemm addresses by dtype, looked up once."""

    by_dtype: dict | None = None


def gemm_address(dtype: np.dtype) -> int | None:
    """The address `gemm` calls for this dtype (float32 or float64), or None where numpy's BLAS is
    not an OpenBLAS with the 64-bit integer interface (then products stay with numpy)."""
    if _Addresses.by_dtype is None:
        _Addresses.by_dtype = {}
        found = find_openblas()
        if found is not None and found[2] == "64_":
            library, prefix, suffix = found
            for float_dtype, letter in ((np.dtype(np.float32), "s"), (np.dtype(np.float64), "d")):
                # scipy_openblas_set_threads_callback_function64_ goes with scipy_cblas_sgemm64_
                name = f"{prefix.removesuffix('openblas')}cblas_{letter}gemm{suffix}"
                if hasattr(library, name):
                    _Addresses.by_dtype[float_dtype] = ctypes.cast(getattr(library, name), ctypes.c_void_p).value
    return _Addresses.by_dtype.get(np.dtype(dtype))
