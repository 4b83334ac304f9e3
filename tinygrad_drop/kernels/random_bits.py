"""A counter-based random generator: the random bits of element i are a pure function of (key, i).

Nothing is carried from one element to the next, so the numpy reference (all indices at once) and
the Numba kernels (one index per loop iteration, on any number of threads) draw *the same bits*.
This is what makes dropout masks identical on both backends and regenerable in backward.

The mixing function is SplitMix64's finalizer (Steele, Lea & Flood, 2014): multiply-xorshift
rounds that turn consecutive counters into well-scrambled 64-bit words. All arithmetic is uint64
and wraps modulo 2**64, the same in numpy arrays and in Numba.
"""
from __future__ import annotations

import numpy as np
from numba import njit

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads counters apart
MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_2 = np.uint64(0x94D049BB133111EB)
UNIFORM_BITS = 24  # uniforms are multiples of 2**-24: exact in float32


def random_bits(key, index):
    """Top 24 random bits of element `index` under `key`, as an integer in [0, 2**24).

    Works on np.uint64 scalars (inside Numba kernels) and on uint64 arrays (numpy reference)."""
    z = key + (index + np.uint64(1)) * GOLDEN_GAMMA
    z = (z ^ (z >> np.uint64(30))) * MIX_1
    z = (z ^ (z >> np.uint64(27))) * MIX_2
    z = z ^ (z >> np.uint64(31))
    return z >> np.uint64(64 - UNIFORM_BITS)


random_bits_jit = njit(cache=True, inline="always")(random_bits)


def drop_threshold(p: float) -> np.uint64:
    """Element i is dropped iff random_bits(key, i) < drop_threshold(p): probability p exactly
    for p a multiple of 2**-24, and p=0 drops nothing, p=1 drops everything."""
    return np.uint64(round(p * (1 << UNIFORM_BITS)))


def make_key(seed: int, counter: int) -> np.uint64:
    """One key per random draw (one dropout call): the seed and the draw's counter, mixed with the
    same SplitMix64 rounds in exact Python integer arithmetic."""
    mask = (1 << 64) - 1
    z = (seed * int(GOLDEN_GAMMA) + (counter + 1) * int(MIX_2)) & mask
    z = ((z ^ (z >> 30)) * int(MIX_1)) & mask
    z = ((z ^ (z >> 27)) * int(MIX_2)) & mask
    return np.uint64(z ^ (z >> 31))
