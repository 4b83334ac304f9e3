"""GELU, elementwise on an array of any shape, in PyTorch's two flavours.

Exact (approximate=False), with Phi the standard normal CDF and phi its density:

    gelu(x)  = x * Phi(x),          Phi(x) = (1 + erf(x / sqrt(2))) / 2
    gelu'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

Tanh approximation (approximate=True, GPT-2's choice), with u = sqrt(2/pi) * (x + 0.044715 x^3):

    gelu(x)  = x * (1 + tanh(u)) / 2
    gelu'(x) = (1 + tanh(u)) / 2 + x * (1 - tanh(u)^2) / 2 * sqrt(2/pi) * (1 + 3 * 0.044715 x^2)

Phi in float32: libm's erf costs about four times an exp, and float32 needs only 24 bits, so
float32 inputs take Phi from a Chebyshev fit of the complementary error function (Press et al.,
Numerical Recipes, 2nd ed., section 6.2): erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2) for
z >= 0, with *relative* error below 1.2e-7 everywhere, so the lower tail keeps its digits. It is
one exp and a polynomial, and numpy evaluates it with vectorized ufuncs. Float64 inputs (the
gradchecks) keep the exact erf.

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

# numpy has no erf; math.erf per element is slow but exact, which float64 (gradchecks) wants
_erf = np.vectorize(math.erf, otypes=[np.float64])


def erfc_exponent(t):
    """P(t) in erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2) (the Numerical Recipes fit)."""
    return -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))


erfc_exponent_jit = njit(cache=True, inline="always")(erfc_exponent)


def normal_cdf_numpy(x: np.ndarray, exact: bool) -> np.ndarray:
    """Phi(x) = erfc(-x/sqrt 2)/2, from erfc(|x|/sqrt 2) reflected for x > 0 (erfc(-z) = 2 - erfc(z))."""
    if exact:
        return 0.5 * (1.0 + _erf(x * INV_SQRT_2))
    z = np.abs(x) * INV_SQRT_2
    t = 1.0 / (1.0 + 0.5 * z)
    half_erfc = 0.5 * t * np.exp(-z * z + erfc_exponent(t))
    return np.where(x > 0, 1.0 - half_erfc, half_erfc)


@njit(cache=True, inline="always")
def normal_cdf(x, exact):
    if exact:
        return 0.5 * (1.0 + math.erf(x * INV_SQRT_2))
    z = abs(x) * INV_SQRT_2
    t = 1.0 / (1.0 + 0.5 * z)
    half_erfc = 0.5 * t * math.exp(-z * z + erfc_exponent_jit(t))
    return 1.0 - half_erfc if x > 0 else half_erfc


def gelu_forward_numpy(x: np.ndarray, approximate: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate:
        y = 0.5 * x64 * (1.0 + np.tanh(SQRT_2_OVER_PI * (x64 + TANH_CUBIC * x64**3)))
    else:
        y = x64 * normal_cdf_numpy(x64, exact=x.dtype == np.float64)
    return y.astype(x.dtype)


def gelu_forward_numba(x: np.ndarray, approximate: bool) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    return _gelu_forward_kernel(flat, bool(approximate), flat.dtype == np.float64).reshape(x.shape)


@njit(cache=True, parallel=True)
def _gelu_forward_kernel(x, approximate, exact_cdf):
    y = np.empty_like(x)
    # The branch is outside the loops so each loop body is a straight line of arithmetic.
    if approximate:
        for i in prange(x.size):
            xi = float(x[i])
            y[i] = 0.5 * xi * (1.0 + math.tanh(SQRT_2_OVER_PI * (xi + TANH_CUBIC * xi * xi * xi)))
    else:
        for i in prange(x.size):
            xi = float(x[i])
            y[i] = xi * normal_cdf(xi, exact_cdf)
    return y


def gelu_backward_numpy(x: np.ndarray, grad: np.ndarray, approximate: bool) -> np.ndarray:
    x64 = x.astype(np.float64)
    if approximate:
        t = np.tanh(SQRT_2_OVER_PI * (x64 + TANH_CUBIC * x64**3))
        du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * x64**2)
        dy_dx = 0.5 * (1.0 + t) + 0.5 * x64 * (1.0 - t * t) * du_dx
    else:
        cdf = normal_cdf_numpy(x64, exact=x.dtype == np.float64)
        pdf = INV_SQRT_2PI * np.exp(-0.5 * x64 * x64)
        dy_dx = cdf + x64 * pdf
    return (dy_dx * grad).astype(x.dtype)


def gelu_backward_numba(x: np.ndarray, grad: np.ndarray, approximate: bool) -> np.ndarray:
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_grad = np.ascontiguousarray(grad).reshape(-1)
    return _gelu_backward_kernel(flat_x, flat_grad, bool(approximate), flat_x.dtype == np.float64).reshape(x.shape)


@njit(cache=True, parallel=True)
def _gelu_backward_kernel(x, grad, approximate, exact_cdf):
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
            cdf = normal_cdf(xi, exact_cdf)
            pdf = INV_SQRT_2PI * math.exp(-0.5 * xi * xi)
            dx[i] = (cdf + xi * pdf) * grad[i]
    return dx


gelu_forward = Kernel("gelu_forward", gelu_forward_numpy, gelu_forward_numba)
gelu_backward = Kernel("gelu_backward", gelu_backward_numpy, gelu_backward_numba)
