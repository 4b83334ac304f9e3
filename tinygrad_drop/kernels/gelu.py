"""GELU, elementwise on an array of any shape, in PyTorch's two flavours, with its derivative.

Exact (approximate=False), with Phi the standard normal CDF and phi its density:

    gelu(x)  = x * Phi(x),          Phi(x) = (1 + erf(x / sqrt(2))) / 2,   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

Tanh approximation (approximate=True, GPT-2's choice), with u = sqrt(2/pi) * (x + 0.044715 x^3):

    gelu(x)  = x * (1 + tanh(u)) / 2

The kernel returns the derivative gelu'(x) next to gelu(x) when asked (`with_derivative`): what
it needs is at hand in the forward pass, so the op saves gelu'(x) instead of x and its backward is
one multiply instead of a second round of exps.

Phi in float32: float32 needs only 24 bits, so float32 inputs take Phi from erfc written as

    erfc(z) = t exp(-z^2) Q(t),   t = 1/(1 + z/2) for z >= 0 (t runs from 1 at z = 0 to 0 as z grows)

where Q(t) = exp(z^2) erfc(z) / t is smooth on [0, 1] (from 1 at t = 1 to 1/(2 sqrt(pi)) at
t = 0), so a degree-10 polynomial fits it to a *relative* error of 4e-8 (2e-7 evaluated in
float32): the lower tail keeps its digits. The form is Numerical Recipes' (Press et al., 2nd ed.,
section 6.2), whose erfc = t exp(-z^2 + P(t)) needs a second exp; the polynomial replaces it.
With z = |x|/sqrt 2, exp(-z^2) = exp(-x^2/2) is also phi's exp, so value and derivative cost one
exp, which the Numba kernel computes with the vectorizable exp of exp_float32.py. Float64 inputs
(the gradchecks) keep the exact erf. The numpy reference computes in the input's dtype too.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import Kernel, checks, threads_available, threads_beside_products
from .exp_float32 import exp_float32
from .parallel import njit_parallel_or_serial, task_count

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TANH_CUBIC = 0.044715

# Q(t), lowest power first: a least-squares fit, weighted for relative error, of the Chebyshev
# series of degree 10 to exp(z^2) erfc(z) / t on t in [0, 1] (z = 2/t - 2), in the power basis.
ERFC_FACTOR_COEFFICIENTS = (0.282094802, 0.282093057, 0.246902774, 0.175106975, 0.0947491869, -0.0638927342,
                            0.142717393, -0.469811309, 0.506398145, -0.240780408, 0.0444221324)
ERFC_FACTOR_COEFFICIENTS_FLOAT32 = tuple(np.float32(c) for c in ERFC_FACTOR_COEFFICIENTS)

# numpy has no erf; math.erf per element is slow but exact, which float64 (gradchecks) wants
_erf = np.vectorize(math.erf, otypes=[np.float64])


def erfc_factor_numpy(t: np.ndarray) -> np.ndarray:
    """Q(t) by Horner's rule."""
    q = np.full_like(t, ERFC_FACTOR_COEFFICIENTS[-1])
    for coefficient in ERFC_FACTOR_COEFFICIENTS[-2::-1]:
        q = q * t + coefficient
    return q


def normal_cdf_numpy(x: np.ndarray, exact: bool) -> np.ndarray:
    """Phi(x) = erfc(-x/sqrt 2)/2, from erfc(|x|/sqrt 2) reflected for x > 0 (erfc(-z) = 2 - erfc(z))."""
    if exact:
        return 0.5 * (1.0 + _erf(x * INV_SQRT_2))
    z = np.abs(x) * INV_SQRT_2
    t = 1.0 / (1.0 + 0.5 * z)
    half_erfc = 0.5 * t * np.exp(-z * z) * erfc_factor_numpy(t)
    return np.where(x > 0, 1.0 - half_erfc, half_erfc)


def gelu_numpy(x: np.ndarray, approximate: bool, with_derivative: bool, out: np.ndarray | None = None) -> tuple:
    """(gelu(x), gelu'(x) or None), computed in x's dtype (Python floats do not promote numpy
    arrays): float64 with the exact erf, float32 with the erfc fit, as the Numba kernels.
    With `out` (C-contiguous, x's shape and dtype; it may be x itself), gelu(x) is written there."""
    if approximate:
        t = np.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x**3))
        y = 0.5 * x * (1.0 + t)
    else:
        cdf = normal_cdf_numpy(x, exact=x.dtype == np.float64)
        y = x * cdf
    dy_dx = None
    if with_derivative:
        # BEGIN SOLUTION gelu: dy_dx = gelu'(x), x's shape and dtype, for both flavours (t and cdf above are at hand)
        # exact: gelu'(x) = Phi(x) + x * phi(x); tanh form, with u = sqrt(2/pi) (x + 0.044715 x^3):
        # gelu'(x) = (1 + tanh(u)) / 2 + x (1 - tanh(u)^2) / 2 * du/dx, du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        if approximate:
            du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * x**2)
            dy_dx = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du_dx
        else:
            dy_dx = cdf + x * INV_SQRT_2PI * np.exp(-0.5 * x * x)
        # END SOLUTION
    if out is not None:
        out[...] = y
        y = out
    return y, dy_dx


# BEGIN SOLUTION gelu: the Numba twin
def gelu_numba(x: np.ndarray, approximate: bool, with_derivative: bool, out: np.ndarray | None = None) -> tuple:
    flat = np.ascontiguousarray(x).reshape(-1)
    if out is not None and not (out.flags.c_contiguous and out.shape == x.shape and out.dtype == x.dtype):
        raise ValueError("gelu: out must be a C-contiguous array of the input's shape and dtype")
    if flat.dtype == np.float32 and not approximate:
        # This kernel works in place: y holds x on entry, a copy of it unless y is x itself
        # (LinearGELU's use). It always writes gelu'(x) too: that costs it one more store.
        y = flat.copy() if out is None else out.reshape(-1)
        if out is not None and out is not x:
            y[...] = flat
        dy_dx = np.empty_like(flat)
        _gelu_exact_float32_kernel(y, dy_dx, threads=threads_beside_products())
    else:
        # Reads x[i] before it writes y[i], so y may be x itself. An empty derivative array tells
        # the kernel to skip it.
        y = np.empty_like(flat) if out is None else out.reshape(-1)
        dy_dx = np.empty_like(flat) if with_derivative else np.empty(0, flat.dtype)
        _gelu_scalar_kernel(flat, y, dy_dx, bool(approximate), threads=threads_available())
    return y.reshape(x.shape), dy_dx.reshape(x.shape) if with_derivative else None


CHUNK = 2048  # elements per thread task


@njit(cache=True, inline="always")
def erfc_factor_float32(t):
    """Q(t) by Horner's rule, in float32 arithmetic (float64 constants would promote it)."""
    q = np.float32(0.0)
    for coefficient in ERFC_FACTOR_COEFFICIENTS_FLOAT32[::-1]:
        q = q * t + coefficient
    return q


@njit(cache=True, inline="always")
def _gelu_exact_float32_element(xi):
    """(gelu(xi), gelu'(xi)) for a float32 xi: t, the exp, Phi, then value and derivative."""
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.5 * INV_SQRT_2) * abs(xi))
    gauss = exp_float32(np.float32(-0.5) * xi * xi)  # exp(-x^2/2) = exp(-z^2), shared by Phi and phi
    half_erfc = np.float32(0.5) * t * gauss * erfc_factor_float32(t)
    cdf = np.float32(1.0) - half_erfc if xi > 0 else half_erfc  # half erfc below 0, reflected above
    return xi * cdf, cdf + xi * np.float32(INV_SQRT_2PI) * gauss


@njit(cache=True, inline="always")
def _gelu_exact_float32_chunk(y, dy_dx, start):
    """GELU of y[start:start + CHUNK] in place, one loop that LLVM vectorizes whole: each element
    read once, value and derivative written once. In place because a loop reading x and writing
    a y that may be x vectorizes only after a run-time check that the two do not overlap, and
    LinearGELU's y is x: that loop ran scalar (and so did this one written as
    `for i in range(start, stop)` instead of over slices)."""
    ys, derivatives = y[start:start + CHUNK], dy_dx[start:start + CHUNK]
    for i in range(ys.size):
        ys[i], derivatives[i] = _gelu_exact_float32_element(ys[i])


# error_model="numpy": a division by zero gives inf instead of raising, so the division needs no
# per-element check and vectorizes. "contract" lets LLVM fuse each a * b + c into one FMA
# instruction, which halves the latency of the polynomial chains (and rounds once, not twice).
# GELU follows a matrix product, so threads only where the machine has cores to spare for them
# (threads_beside_products, kernels/thread_pool.py); otherwise the chunks run one after another on the caller.
@njit_parallel_or_serial(error_model="numpy", fastmath={"contract"})
def _gelu_exact_float32_kernel(y, dy_dx):
    for chunk in prange(task_count(y.size, CHUNK)):
        _gelu_exact_float32_chunk(y, dy_dx, chunk * CHUNK)


@njit_parallel_or_serial()
def _gelu_scalar_kernel(x, y, dy_dx, approximate):
    """The tanh flavour, and exact GELU in float64 (gradchecks): one libm call per element."""
    with_derivative = dy_dx.size > 0
    if approximate:
        for i in prange(x.size):
            xi = float(x[i])
            t = math.tanh(SQRT_2_OVER_PI * (xi + TANH_CUBIC * xi * xi * xi))
            y[i] = 0.5 * xi * (1.0 + t)
            if with_derivative:
                du_dx = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_CUBIC * xi * xi)
                dy_dx[i] = 0.5 * (1.0 + t) + 0.5 * xi * (1.0 - t * t) * du_dx
    else:
        for i in prange(x.size):
            xi = float(x[i])
            cdf = 0.5 * (1.0 + math.erf(xi * INV_SQRT_2))
            y[i] = xi * cdf
            if with_derivative:
                dy_dx[i] = cdf + xi * INV_SQRT_2PI * math.exp(-0.5 * xi * xi)


# STUDENT: gelu_numba = gelu_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_gelu(x, approximate, with_derivative, out=None) -> None:
    checks.floats("gelu", x=x, **({} if out is None else {"out": out}))
    if out is not None:
        checks.shapes("gelu", out=(out, x.shape))


gelu = Kernel("gelu", gelu_numpy, gelu_numba, check_gelu)
