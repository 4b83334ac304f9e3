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

Reinterpreting an int32 as a float32 is `ndarray.view`, so callers pass a chunk at a time (small
enough to stay in cache) and an int32 scratch array: one loop writes the exponent bits into it,
another multiplies by the same memory viewed as float32.

Inputs must be <= 0 (GELU's arguments are). Below -87.3, exp(a) is smaller than the smallest
normal float32 (1.2e-38, k = -126), whose bits this construction cannot build; such results are
flushed to 0. NaN stays NaN. Measured error against float64 exp: below 4e-7 relative (a few
float32 ulps; tests/test_kernels.py checks it over the whole range).
"""
from __future__ import annotations

import numpy as np
from numba import njit

LOG2_E = np.float32(1.4426950408889634)
LN2_HIGH = np.float32(0.693359375)  # 9 significant bits: k * LN2_HIGH is exact for |k| < 2^15
LN2_LOW = np.float32(-2.1219444005469057e-4)  # ln 2 - LN2_HIGH
SMALLEST_ARGUMENT = np.float32(-104.0)  # exp(-104) is 0 in float32; clamping keeps k in int32 range
FLOAT32_EXPONENT_BIAS = np.int32(127)
FLOAT32_MANTISSA_BITS = np.int32(23)


@njit(cache=True, inline="always")
def exp_float32_into(arguments, out, scratch_bits):
    """out[i] = exp(arguments[i]) for float32 arguments <= 0 (out may be arguments itself);
    scratch_bits is an int32 array of the same length.

    Each loop writes one array: a loop that stores to several arrays, which might overlap for
    all LLVM knows, stays scalar, and scalar here is about ten times slower."""
    for i in range(arguments.size):  # k = round(a / ln 2)
        a = SMALLEST_ARGUMENT if arguments[i] < SMALLEST_ARGUMENT else arguments[i]  # NaN passes
        scratch_bits[i] = np.int32(np.floor(a * LOG2_E + np.float32(0.5)))
    for i in range(arguments.size):  # exp(r), r = a - k ln 2
        a = SMALLEST_ARGUMENT if arguments[i] < SMALLEST_ARGUMENT else arguments[i]
        k = np.float32(scratch_bits[i])
        r = (a - k * LN2_HIGH) - k * LN2_LOW
        out[i] = np.float32(1.0) + r * (np.float32(1.0) + r * (np.float32(1 / 2) + r * (
            np.float32(1 / 6) + r * (np.float32(1 / 24) + r * (np.float32(1 / 120) + r * (
                np.float32(1 / 720) + r * np.float32(1 / 5040)))))))
    for i in range(arguments.size):  # the bits of 2^k; 0.0 (all bits 0) below the normal range
        biased_exponent = scratch_bits[i] + FLOAT32_EXPONENT_BIAS
        scratch_bits[i] = biased_exponent << FLOAT32_MANTISSA_BITS if biased_exponent > 0 else 0
    powers_of_two = scratch_bits.view(np.float32)
    for i in range(arguments.size):
        out[i] *= powers_of_two[i]
