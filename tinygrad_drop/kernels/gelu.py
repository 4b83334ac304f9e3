"""GELU, elementwise on an array of any shape, in PyTorch's two flavours.

Exact (approximate=False), with Phi the standard normal CDF and phi its density:

    gelu(x)  = x * Phi(x),          Phi(x) = (1 + erf(x / sqrt(2))) / 2
    gelu'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

Tanh approximation (approximate=True, GPT-2's choice), with u = sqrt(2/pi) * (x + 0.044715 x^3):

    gelu(x)  = x * (1 + tanh(u)) / 2
    gelu'(x) = (1 + tanh(u)) / 2 + x * (1 - tanh(u)^2) / 2 * sqrt(2/pi) * (1 + 3 * 0.044715 x^2)

Backward is gelu'(x) * grad, so ops save the input x. Both implementations compute in float64 and
return the input's dtype. The Numba kernel sees a flat 1-D view (any shape, one compiled version
per dtype), threads take contiguous slices of it, and the result is reshaped back.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TANH_CUBIC = 0.044715

# numpy has no erf; math.erf per element is slow but exact in float64, which is what a reference
# is for (the Numba kernel is the fast path).
_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_forward_numpy(x: np.ndarray, approximate: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate:
        y = 0.5 * x64 * (1.0 + np.tanh(SQRT_2_OVER_PI * (x64 + TANH_CUBIC * x64**3)))
    else:
        y = 0.5 * x64 * (1.0 + _erf(x64 * INV_SQRT_2))
    return y.astype(x.dtype)


def gelu_forward_numba(x: np.ndarray, approximate: bool) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    return _gelu_forward_kernel(flat, bool(approximate)).reshape(x.shape)


@njit(cache=True, parallel=True)
def _gelu_forward_kernel(x, approximate):
    y = np.empty_like(x)
    # The branch is outside the loops so each loop body is a straight line of arithmetic.
    if approximate:
        for i in prange(x.size):
            xi = float(x[i])
            y[i] = 0.5 * xi * (1.0 + math.tanh(SQRT_2_OVER_PI * (xi + TANH_CUBIC * xi * xi * xi)))
    else:
        for i in prange(x.size):
            xi = float(x[i])
            y[i] = 0.5 * xi * (1.0 + math.erf(xi * INV_SQRT_2))
    return y


def gelu_backward_numpy(x: np.ndarray, grad: np.ndarray, approximate: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate:
        t = np.tanh(SQRT_2_OVER_PI * (x64 + TANH_CUBIC * x64**3))
        du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * x64**2)
        dy_dx = 0.5 * (1.0 + t) + 0.5 * x64 * (1.0 - t * t) * du_dx
    else:
        cdf = 0.5 * (1.0 + _erf(x64 * INV_SQRT_2))
        pdf = INV_SQRT_2PI * np.exp(-0.5 * x64 * x64)
        dy_dx = cdf + x64 * pdf
    return (dy_dx * grad).astype(x.dtype)


def gelu_backward_numba(x: np.ndarray, grad: np.ndarray, approximate: bool) -> np.ndarray:
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_grad = np.ascontiguousarray(grad).reshape(-1)
    return _gelu_backward_kernel(flat_x, flat_grad, bool(approximate)).reshape(x.shape)


@njit(cache=True, parallel=True)
def _gelu_backward_kernel(x, grad, approximate):
    dx = np.empty_like(x)
    if approximate:
        for i in prange(x.size):
            xi = float(x[i])
            t = math.tanh(SQRT_2_OVER_PI * (xi + TANH_CUBIC * xi * xi * xi))
            du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * xi * xi)
            dx[i] = (0.5 * (1.0 + t) + 0.5 * xi * (1.0 - t * t) * du_dx) * grad[i]
    else:
        for i in prange(x.size):
            xi = float(x[i])
            cdf = 0.5 * (1.0 + math.erf(xi * INV_SQRT_2))
            pdf = INV_SQRT_2PI * math.exp(-0.5 * xi * xi)
            dx[i] = (cdf + xi * pdf) * grad[i]
    return dx


gelu_forward = Kernel("gelu_forward", gelu_forward_numpy, gelu_forward_numba)
gelu_backward = Kernel("gelu_backward", gelu_backward_numpy, gelu_backward_numba)
