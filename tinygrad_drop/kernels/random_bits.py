"""A counter-based random generator: the random bits of element i are a pure function of (key, i).

Nothing is carried from one element to the next, so the numpy reference (all indices at once) and
the Numba kernels (one index per loop iteration, on any number of threads) draw *the same bits*.
This is what makes dropout masks identical on both backends and regenerable in backward.

The mixing function is Chris Wellons' "lowbias32" integer hash (2018): two multiply-xorshift
rounds that turn consecutive counters into well-scrambled 32-bit words. The 64-bit key is split
into two 32-bit halves, one added to the counter before a first hash and one xored in before a
second, so that different keys give unrelated masks, not shifted copies of one mask:

    bits(key, i) = hash(hash(i + key_low) ^ key_high) >> 8          (24 bits)

All arithmetic is uint32 and wraps modulo 2**32 (indices too: a tensor of more than 2**32
elements would reuse bits). Uint32, not uint64, because AVX2 multiplies eight uint32 lanes in one
instruction but has no 64-bit multiply, so a 64-bit hash (the SplitMix64 finalizer used before)
vectorizes poorly. Numba widens
integer arithmetic to 64 bits, so every step casts back to np.uint32; numpy's uint32 arrays wrap
by themselves and the casts change nothing there.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

MIX_1 = np.uint32(0x7FEB352D)
MIX_2 = np.uint32(0x846CA68B)
LOW_32_BITS = np.uint64(0xFFFFFFFF)
UNIFORM_BITS = 24  # uniforms are multiples of 2**-24: exact in float32


@register_jitable  # plain Python on numpy arrays, and compiled into the kernels that call it
def hash32(x):
    """lowbias32: each xorshift folds high bits into low ones, each odd multiply spreads low bits
    upward; two rounds make every output bit depend on every input bit."""
    x = np.uint32(x ^ (x >> np.uint32(16)))
    x = np.uint32(x * MIX_1)
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32(x * MIX_2)
    return np.uint32(x ^ (x >> np.uint32(16)))


def random_bits(key, index):
    """24 random bits of element `index` under `key`, as an integer in [0, 2**24).

    Works on np.uint64 scalars (inside Numba kernels) and on integer arrays (numpy reference)."""
    key_low = np.uint32(key & LOW_32_BITS)
    key_high = np.uint32(key >> np.uint64(32))
    first = hash32(np.uint32(np.uint32(index) + key_low))
    return np.uint32(hash32(np.uint32(first ^ key_high)) >> np.uint32(32 - UNIFORM_BITS))


random_bits_jit = njit(cache=True, inline="always")(random_bits)


def drop_threshold(p: float) -> np.uint32:
    """Element i is dropped iff random_bits(key, i) < drop_threshold(p): probability p exactly
    for p a multiple of 2**-24, and p=0 drops nothing, p=1 drops everything."""
    return np.uint32(round(p * (1 << UNIFORM_BITS)))


def make_key(seed: int, counter: int) -> np.uint64:
    """One key per random draw (one dropout call): the seed and the draw's counter, mixed with
    SplitMix64's rounds (Steele, Lea & Flood, 2014) in exact Python integer arithmetic, so that
    nearby seeds and counters give unrelated keys."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + (counter + 1) * 0x94D049BB133111EB) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return np.uint64(z ^ (z >> 31))
