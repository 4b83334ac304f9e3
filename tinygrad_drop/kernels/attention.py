"""The fused middle of scaled-dot-product attention: scale, bias, causal mask, softmax, dropout.

The matrix products around it (scores = q @ k^T before, out = dropped @ v after) go to BLAS; this
kernel does everything in between, on scores of shape (BH, T, S) (batch*heads, queries, keys):

    z[b, i, j]       = scale * scores[b, i, j] + bias[b, i, j]      (bias only if has_bias)
    z[b, i, j]       = -inf  where causal and j > i                 (query i sees keys 0..i)
    probs[b, i, :]   = softmax(z[b, i, :])                          (a row that is all -inf: zeros)
    dropped[b, i, j] = probs[b, i, j] * keep[b, i, j] / (1 - p)

The causal mask is PyTorch's is_causal: tril(ones(T, S)), aligned at the top-left corner. The
dropout mask bit of element [b, i, j] is the one dropout.py draws for its flat index
(b*T + i)*S + j under `key`. With p = 0 there is no dropout and `dropped` is `probs` itself (same
array); with p = 1 `dropped` is all zeros.

Backward, given probs, dropped and g = dL/d(dropped). Through dropout, dL/dprobs = g * keep/(1-p),
and softmax's backward multiplies by probs: probs * dL/dprobs = g * probs * keep/(1-p) = g * dropped.
So the mask never has to be drawn again:

    dz      = g * dropped - probs * sum_j (g_j * dropped_j)         (per row)
    dscores = scale * dz                                            (a bias gradient would be dz)

With p = 0 (dropped = probs) this is the plain softmax backward, probs * (g - sum_j g_j probs_j).
Masked positions have probs = dropped = 0, so they get 0 gradient without any special case.

The Numba twin works in place, on arrays the op has just made and needs no more: forward turns
the scores into probs, backward turns g into dscores (a fresh array would be paged in on its first
write). It takes one head per thread task where threads pay beside the matrix products around
it, else one head at a time on the calling thread (kernels/thread_pool.py); scores are scaled and
exponentiated in their own dtype, sums accumulate in float64, outputs have the scores' dtype.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import Kernel, checks, threads_beside_products
from .dropout import dropout_apply_numpy, inverted_scale
from .exp_float32 import exp_float32
from .parallel import njit_parallel_or_serial
from .random_bits import drop_threshold, random_bits_jit


def attention_probs_forward_numpy(scores: np.ndarray, bias: np.ndarray, has_bias: bool, causal: bool, scale: float,
                                  p: float, key: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    z = scores * scores.dtype.type(scale)
    if has_bias:
        z = z + bias
    if causal:
        n_queries, n_keys = scores.shape[1:]
        z = np.where(np.tril(np.ones((n_queries, n_keys), dtype=bool)), z, -np.inf)
    # A fully masked row has max -inf, and -inf - (-inf) is nan: shift it by 0 instead, so its
    # exponentials are all 0, and divide it by 1 instead of its zero sum.
    row_max = z.max(axis=-1, keepdims=True)
    exps = np.exp(z - np.where(row_max == -np.inf, 0.0, row_max))
    total = exps.sum(axis=-1, keepdims=True)
    probs = exps / np.where(total > 0.0, total, 1.0)
    if p == 0.0:
        return probs, probs
    return probs, dropout_apply_numpy(probs, p, key, inverted_scale(p))


def attention_probs_backward_numpy(probs: np.ndarray, dropped: np.ndarray, grad_dropped: np.ndarray,
                                   scale: float) -> np.ndarray:
    # BEGIN SOLUTION attention: scale * dZ (BH, T, S), dZ the gradient of the masked, scaled scores, from P = probs, D = dropped and grad_dropped = dL/dD
    # dZ is softmax's backward, P * (dP - rowsum(P * dP)), with dP = dD * keep / (1-p) the gradient
    # through dropout: P * dP = dD * D, so dZ = dD * D - P * rowsum(dD * D) needs no mask.
    through_dropout = grad_dropped * dropped
    return scale * (through_dropout - probs * through_dropout.sum(axis=-1, keepdims=True))
    # END SOLUTION


class MiddleSettings(NamedTuple):
    """The forward middle's scalars, one kernel argument (Numba compiles one version per dtype)."""

    has_bias: bool
    causal: bool
    scale: np.floating  # in the scores' dtype
    threshold: np.uint32  # drop_threshold(p): an element is dropped iff its bits are below it
    key: np.uint64
    keep_scale: np.floating  # 1/(1-p), in the scores' dtype
    float32_exp: bool  # exponentiate with exp_float32 (float32 scores)


def middle_settings(dtype: np.dtype, has_bias: bool, causal: bool, scale: float, p: float,
                    key: np.uint64) -> MiddleSettings:
    return MiddleSettings(bool(has_bias), bool(causal), dtype.type(scale), drop_threshold(p), np.uint64(key),
                          dtype.type(inverted_scale(p)), dtype == np.float32)


def attention_probs_forward_numba(scores: np.ndarray, bias: np.ndarray, has_bias: bool, causal: bool, scale: float,
                                  p: float, key: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    probs = np.ascontiguousarray(scores)  # the scores themselves, unless they had to be copied
    # Without dropout the kernel writes nothing to `dropped`, and `dropped` is probs itself.
    dropped = probs if p == 0.0 else np.empty_like(probs)
    settings = middle_settings(scores.dtype, has_bias, causal, scale, p, key)
    _attention_probs_forward_kernel(np.ascontiguousarray(bias, dtype=scores.dtype), settings, probs, dropped,
                                    threads=threads_beside_products())
    return probs, dropped


# The Numba flags of the middle. No "contract": with it, whether a multiply and an add fuse into
# one rounding (scale * score + bias, the exponential's polynomial) is the compiler's choice for
# each compiled copy (a copy inlined into a parallel loop, a fresh compile, one from the disk
# cache), and copies gave different bits. "reassoc" lets the row sums and maxima vectorize.
MIDDLE_FLAGS = dict(error_model="numpy", fastmath={"reassoc"})


# One head per call, compiled once and called by every kernel that runs heads (both twins below,
# and attention_heads.py's), with an int64 head index, so that one machine code serves them all.
@njit(cache=True, **MIDDLE_FLAGS)
def attention_probs_forward_head(b, bias, settings, probs, dropped):
    """Head b: probs[b] holds its scores on entry and their probabilities on exit."""
    has_bias, causal, scale, threshold, key, keep_scale, float32_exp = settings
    _, n_queries, n_keys = probs.shape
    # One row at a time, so a row stays in cache through all its steps. Float32 rows take the
    # vectorizable exp of exp_float32.py instead of a scalar math.exp per element, and only over
    # the visible keys (a causal row's masked half is never exponentiated).
    for i in range(n_queries):
        n_visible = min(i + 1, n_keys) if causal else n_keys
        # z = scale * scores + bias over the visible keys, and its max
        row_max = probs.dtype.type(-np.inf)
        for j in range(n_visible):
            z = scale * probs[b, i, j]
            if has_bias:
                z += bias[b, i, j]
            probs[b, i, j] = z
            row_max = max(row_max, z)
        # exp(z - max): every exponent <= 0. A row_max of -inf means every visible key has
        # bias -inf: shifting by +inf makes all its exponentials 0.
        shift = row_max if row_max > -np.inf else probs.dtype.type(np.inf)
        if float32_exp:
            for j in range(n_visible):
                probs[b, i, j] = exp_float32(probs[b, i, j] - shift)
        else:
            for j in range(n_visible):
                probs[b, i, j] = math.exp(probs[b, i, j] - shift)
        # normalize by the sum (accumulated in float64); masked keys get probability 0
        total = 0.0
        for j in range(n_visible):
            total += probs[b, i, j]
        inv_total = probs.dtype.type(0.0 if total == 0.0 else 1.0 / total)  # a NaN total: a NaN row
        for j in range(n_visible):
            probs[b, i, j] *= inv_total
        for j in range(n_visible, n_keys):
            probs[b, i, j] = 0.0
        if threshold > 0:
            # Rounded probs times keep_scale, both in the dtype: the same product numpy forms.
            # Masked keys have probability 0 whatever their mask bit: no bits drawn for them.
            # The product is formed for every key, kept or not: plain vector loads, not the
            # masked ones a conditional read compiles to (see dropout.py).
            first = np.uint64((b * n_queries + i) * n_keys)
            for j in range(n_visible):
                scaled = probs[b, i, j] * keep_scale
                kept = random_bits_jit(key, first + np.uint64(j)) >= threshold
                dropped[b, i, j] = scaled if kept else probs.dtype.type(0.0)
            for j in range(n_visible, n_keys):
                dropped[b, i, j] = 0.0


# Heads on threads only where the machine has cores to spare beside the matrix products'
# (threads_beside_products); otherwise one after another on the calling thread (parallel.py).
@njit_parallel_or_serial(**MIDDLE_FLAGS)
def _attention_probs_forward_kernel(bias, settings, probs, dropped):
    for b in prange(probs.shape[0]):
        attention_probs_forward_head(np.int64(b), bias, settings, probs, dropped)


# BEGIN SOLUTION attention: the Numba twin
def attention_probs_backward_numba(probs: np.ndarray, dropped: np.ndarray, grad_dropped: np.ndarray,
                                   scale: float) -> np.ndarray:
    probs = np.ascontiguousarray(probs)
    dscores = np.ascontiguousarray(grad_dropped, dtype=probs.dtype)  # itself, unless copied
    dropped = np.ascontiguousarray(dropped, dtype=probs.dtype)
    _attention_probs_backward_kernel(probs, dropped, dscores, float(scale), threads=threads_beside_products())
    return dscores


@njit(cache=True, **MIDDLE_FLAGS)
def attention_probs_backward_head(b, probs, dropped, dscores, scale):
    """Head b: dscores[b] holds g = dL/d(dropped) on entry and the scores' gradient on exit."""
    _, n_queries, n_keys = probs.shape
    for i in range(n_queries):
        # g * dropped, in place, and its row sum
        total = 0.0
        for j in range(n_keys):
            dscores[b, i, j] *= dropped[b, i, j]
            total += dscores[b, i, j]
        for j in range(n_keys):
            dscores[b, i, j] = scale * (dscores[b, i, j] - probs[b, i, j] * total)


@njit_parallel_or_serial(**MIDDLE_FLAGS)
def _attention_probs_backward_kernel(probs, dropped, dscores, scale):
    for b in prange(probs.shape[0]):
        attention_probs_backward_head(np.int64(b), probs, dropped, dscores, scale)


# STUDENT: attention_probs_backward_numba = attention_probs_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_attention_probs_forward(scores, bias, has_bias, causal, scale, p, key) -> None:
    checks.ndim("attention_probs_forward", "scores", scores, 3)
    checks.probability("attention_probs_forward", p)
    if has_bias:
        checks.floats("attention_probs_forward", scores=scores, bias=bias)
        checks.shapes("attention_probs_forward", bias=(bias, scores.shape))
    else:
        checks.floats("attention_probs_forward", scores=scores)


def check_attention_probs_backward(probs, dropped, grad_dropped, scale) -> None:
    checks.ndim("attention_probs_backward", "probs", probs, 3)
    checks.floats("attention_probs_backward", probs=probs, dropped=dropped, grad_dropped=grad_dropped)
    checks.shapes("attention_probs_backward", dropped=(dropped, probs.shape), grad_dropped=(grad_dropped, probs.shape))


attention_probs_forward = Kernel("attention_probs_forward", attention_probs_forward_numpy,
                                 attention_probs_forward_numba, check_attention_probs_forward)
attention_probs_backward = Kernel("attention_probs_backward", attention_probs_backward_numpy,
                                  attention_probs_backward_numba, check_attention_probs_backward)
