"""exp in float32 written so that the compiler can vectorize it (8 lanes of AVX2 at a time).

A loop that calls `math.exp` stays scalar in Numba: LLVM has no vector exp unless Numba is
linked to Intel's SVML, which pip's llvmlite is not. GELU needs one or two exps per element, so
that scalar call was most of its cost. This is the textbook construction instead, in plain
arithmetic that LLVM turns into SIMD:

    exp(a) = 2^k * exp(r),   k = round(a / ln 2),   r = a - k ln 2,   |r| <= ln(2) / 2

exp(r) on that small interval is its Taylor polynomial to r^7 (truncation error below 1e-9
relative, under float32's 6e-8 rounding), and 2^k is built directly from its bits: a float32
with exponent field k + 127 and a zero mantissa. ln 2 is split into a part with few mantissa
bits (so k * LN2_HIGH is exact) and a small correction, so r keeps its digits.

Reinterpreting the int32 bits of 2^k as a float32 is one LLVM instruction (bitcast) that Numba
does not offer for scalars, so `float32_from_bits` adds it (an LLVM intrinsic). With it, exp is a
plain scalar function that the caller's loop inlines, and LLVM vectorizes that loop whole: GELU
computes its exp, Phi, value and derivative in one pass over memory (the first version built 2^k
in an int32 scratch array viewed as float32, which took four passes).

Inputs must be <= 0 (GELU's arguments are). Below -87.3, exp(a) is smaller than the smallest
normal float32 (1.2e-38, k = -126), whose bits this construction cannot build; such results are
flushed to 0. NaN stays NaN. Measured error against float64 exp: below 4e-7 relative (a few
float32 ulps; tests/test_kernels.py checks it over the whole range).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

LOG2_E = np.float32(1.4426950408889634)
LN2_HIGH = np.float32(0.693359375)  # 9 significant bits: k * LN2_HIGH is exact for |k| < 2^15
LN2_LOW = np.float32(-2.1219444005469057e-4)  # ln 2 - LN2_HIGH
SMALLEST_ARGUMENT = np.float32(-104.0)  # exp(-104) is 0 in float32; clamping keeps k in int32 range
FLOAT32_EXPONENT_BIAS = np.int32(127)
FLOAT32_MANTISSA_BITS = np.int32(23)


def float32_from_bits(bits):
    """The float32 whose bits are the int32 `bits` (C's memcpy between the two types). This is
    the plain-Python version (NUMBA_DISABLE_JIT runs it); compiled code gets the overload below."""
    return np.int32(bits).view(np.float32)


@intrinsic
def _bitcast_int32_to_float32(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@overload(float32_from_bits)
def _float32_from_bits_compiled(bits):
    return lambda bits: _bitcast_int32_to_float32(bits)


@njit(cache=True, inline="always")
def exp_float32(a):
    """exp(a) for a float32 a <= 0, as the module docstring builds it. Inlined into its caller,
    it is compiled with the caller's flags (GELU's fuse the polynomial's multiply-adds)."""
    a = SMALLEST_ARGUMENT if a < SMALLEST_ARGUMENT else a  # NaN passes
    k = np.floor(a * LOG2_E + np.float32(0.5))  # round(a / ln 2), as a float
    r = (a - k * LN2_HIGH) - k * LN2_LOW
    exp_r = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(1 / 2) + r * (
        np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (np.float32(1 / 120) + r * (
            np.float32(1 / 720) + r * np.float32(1 / 5040)))))))
    # the bits of 2^k; 0.0 (all bits 0) below the normal range
    biased_exponent = np.int32(k) + FLOAT32_EXPONENT_BIAS
    power_bits = np.int32(biased_exponent << FLOAT32_MANTISSA_BITS) if biased_exponent > 0 else np.int32(0)
    return exp_r * float32_from_bits(power_bits)


@njit(cache=True, inline="always")
def exp_float32_into(arguments, out):
    """out[i] = exp(arguments[i]) for float32 arguments <= 0 (out may be arguments itself)."""
    for i in range(arguments.size):
        out[i] = exp_float32(arguments[i])
