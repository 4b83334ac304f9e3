"""The fused middle of scaled-dot-product attention: scale, bias, causal mask, softmax, dropout.

The matrix products around it (scores = q @ k^T before, out = dropped @ v after) go to BLAS; this
kernel does everything in between, on scores of shape (BH, T, S) (batch*heads, queries, keys):

    z[b, i, j]       = scale * scores[b, i, j] + bias[b, i, j]      (bias only if has_bias)
    z[b, i, j]       = -inf  where causal and j > i                 (query i sees keys 0..i)
    probs[b, i, :]   = softmax(z[b, i, :])                          (a row that is all -inf: zeros)
    dropped[b, i, j] = probs[b, i, j] * keep[b, i, j] / (1 - p)

The causal mask is PyTorch's is_causal: tril(ones(T, S)), aligned at the top-left corner. The
dropout mask bit of element [b, i, j] is the one dropout.py draws for its flat index
(b*T + i)*S + j under `key`, so backward regenerates it instead of storing it. With p = 0 there is
no dropout and `dropped` is `probs` itself (same array); with p = 1 `dropped` is all zeros.

Backward, given probs, g = dL/d(dropped) and the same p and key:

    dP      = g * keep / (1 - p)                                    (0 everywhere when p = 1)
    dz      = probs * (dP - sum_j dP_j * probs_j)                   (softmax backward, per row)
    dscores = scale * dz                                            (a bias gradient would be dz)

Masked positions have probs = 0, so they get 0 gradient without any special case. The Numba
kernels run (b, i) rows in parallel; scores are scaled and exponentiated in their own dtype, sums
accumulate in float64, outputs have the scores' dtype.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel
from .dropout import dropout_apply_numpy
from .random_bits import drop_threshold, random_bits_jit


def _keep_scale(p: float) -> float:
    """The inverted-dropout factor 1/(1-p); with p = 1 nothing is kept and it is never used."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)


def attention_probs_forward_numpy(
    scores: np.ndarray,
    bias: np.ndarray,
    has_bias: bool,
    causal: bool,
    scale: float,
    p: float,
    key: np.uint64,
) -> tuple[np.ndarray, np.ndarray]:
    z = scores * scores.dtype.type(scale)
    if has_bias:
        z = z + bias
    if causal:
        n_queries, n_keys = scores.shape[1:]
        z = np.where(np.tril(np.ones((n_queries, n_keys), dtype=bool)), z, -np.inf)
    row_max = z.max(axis=-1, keepdims=True)
    # A fully masked row has max -inf, and -inf - (-inf) is nan: shift it by 0 instead, so its
    # exponentials are all 0, and divide it by 1 instead of its zero sum.
    row_max = np.where(row_max == -np.inf, 0.0, row_max)
    exps = np.exp(z - row_max)
    total = exps.sum(axis=-1, keepdims=True)
    probs = (exps / np.where(total > 0.0, total, 1.0)).astype(scores.dtype)
    if p == 0.0:
        return probs, probs
    return probs, dropout_apply_numpy(probs, p, key, _keep_scale(p))


def attention_probs_forward_numba(
    scores: np.ndarray,
    bias: np.ndarray,
    has_bias: bool,
    causal: bool,
    scale: float,
    p: float,
    key: np.uint64,
) -> tuple[np.ndarray, np.ndarray]:
    scores = np.ascontiguousarray(scores)
    probs = np.empty_like(scores)
    # Without dropout the kernel writes nothing to `dropped`, and `dropped` is probs itself.
    dropped = probs if p == 0.0 else np.empty_like(scores)
    _attention_probs_forward_kernel(
        scores,
        np.ascontiguousarray(bias, dtype=scores.dtype),
        bool(has_bias),
        bool(causal),
        scores.dtype.type(scale),
        drop_threshold(p),
        np.uint64(key),
        scores.dtype.type(_keep_scale(p)),
        probs,
        dropped,
    )
    return probs, dropped


@njit(cache=True, parallel=True)
def _attention_probs_forward_kernel(
    scores, bias, has_bias, causal, scale, threshold, key, keep_scale, probs, dropped
):
    n_heads, n_queries, n_keys = scores.shape
    for row in prange(n_heads * n_queries):
        b = row // n_queries
        i = row % n_queries
        # Keys j >= n_visible are masked: their probability is exactly 0 and never computed.
        n_visible = min(i + 1, n_keys) if causal else n_keys
        # z in the scores' dtype (scale arrives in it): float32 rows then take float32 exps,
        # about a third cheaper than float64 ones. z is parked in probs between the passes.
        row_max = scores.dtype.type(-np.inf)
        for j in range(n_visible):
            z = scale * scores[b, i, j]
            if has_bias:
                z += bias[b, i, j]
            probs[b, i, j] = z
            row_max = max(row_max, z)
        # row_max = -inf means every visible key has bias -inf: the row's probabilities are 0.
        total = 0.0
        for j in range(n_visible):
            e = math.exp(probs[b, i, j] - row_max) if row_max > -np.inf else scores.dtype.type(0.0)
            probs[b, i, j] = e
            total += e
        inv_total = 1.0 / total if total > 0.0 else 0.0
        for j in range(n_visible):
            probs[b, i, j] = probs[b, i, j] * inv_total
        for j in range(n_visible, n_keys):
            probs[b, i, j] = 0.0
        if threshold > 0:
            # Rounded probs times keep_scale, both in the dtype: the same product numpy forms.
            first = np.uint64(row * n_keys)
            for j in range(n_keys):
                if random_bits_jit(key, first + np.uint64(j)) >= threshold:
                    dropped[b, i, j] = probs[b, i, j] * keep_scale
                else:
                    dropped[b, i, j] = 0.0


def attention_probs_backward_numpy(
    probs: np.ndarray, grad_dropped: np.ndarray, p: float, key: np.uint64, scale: float
) -> np.ndarray:
    dprobs = grad_dropped if p == 0.0 else dropout_apply_numpy(grad_dropped, p, key, _keep_scale(p))
    dz = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
    return (scale * dz).astype(probs.dtype)


def attention_probs_backward_numba(
    probs: np.ndarray, grad_dropped: np.ndarray, p: float, key: np.uint64, scale: float
) -> np.ndarray:
    probs = np.ascontiguousarray(probs)
    return _attention_probs_backward_kernel(
        probs,
        np.ascontiguousarray(grad_dropped, dtype=probs.dtype),
        drop_threshold(p),
        np.uint64(key),
        probs.dtype.type(_keep_scale(p)),
        float(scale),
    )


@njit(cache=True, parallel=True)
def _attention_probs_backward_kernel(probs, grad_dropped, threshold, key, keep_scale, scale):
    n_heads, n_queries, n_keys = probs.shape
    dscores = np.empty_like(probs)
    for row in prange(n_heads * n_queries):
        b = row // n_queries
        i = row % n_queries
        # First pass: dP (the gradient reaching probs through dropout), parked in dscores, and its
        # dot product with the row of probs. The mask bit is drawn here, once per element.
        first = np.uint64(row * n_keys)
        dot = 0.0
        for j in range(n_keys):
            if threshold == 0:
                dscores[b, i, j] = grad_dropped[b, i, j]
            elif random_bits_jit(key, first + np.uint64(j)) >= threshold:
                dscores[b, i, j] = grad_dropped[b, i, j] * keep_scale
            else:
                dscores[b, i, j] = 0.0
            dot += dscores[b, i, j] * float(probs[b, i, j])
        for j in range(n_keys):
            dscores[b, i, j] = scale * probs[b, i, j] * (dscores[b, i, j] - dot)
    return dscores


attention_probs_forward = Kernel(
    "attention_probs_forward", attention_probs_forward_numpy, attention_probs_forward_numba
)
attention_probs_backward = Kernel(
    "attention_probs_backward", attention_probs_backward_numpy, attention_probs_backward_numba
)
