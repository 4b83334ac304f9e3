"""One Adam / AdamW step for one parameter array, in place, in PyTorch's exact order.

With g the gradient, m and v the running first and second moments (exp_avg, exp_avg_sq), and
t = step counting from 1: AdamW (decoupled=True) decays the weights, Adam (decoupled=False) adds
an L2 term to the gradient; both then update m and v and take a step corrected for the zero
initialisation of m and v (adamw_update_numpy has the update). param, grad, exp_avg and exp_avg_sq have one shape and dtype and must be
C-contiguous: they are updated through flat views, so a copy would silently lose the update.
The Numba kernel reads and writes each element once (one pass, everything in registers), in the
arrays' dtype as PyTorch computes (float32 arithmetic vectorizes over twice the lanes of float64),
threads taking contiguous slices of large arrays; the numpy reference makes several passes.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from . import Kernel, checks, threads_available
from .parallel import njit_parallel_or_serial


class AdamHyperparameters(NamedTuple):
    """One parameter group's settings (PyTorch's names, betas split in two)."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    decoupled: bool  # AdamW's weight decay (True) or Adam's L2 term in the gradient (False)


def adamw_update_numpy(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                       step: int, hyperparameters: AdamHyperparameters) -> None:
    # BEGIN SOLUTION adamw: one step of Adam (decoupled=False: weight decay as an L2 term in the gradient) or AdamW (decoupled: the weights decay), in place, in PyTorch's order
    # AdamW decays the weights first, param = param * (1 - lr * weight_decay); Adam adds
    # weight_decay * param to the gradient. Then m = beta1 m + (1 - beta1) g,
    # v = beta2 v + (1 - beta2) g^2, and with the bias corrections 1 - beta^t (t = step):
    # param -= (lr / bias_correction1) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
    lr, beta1, beta2, eps, weight_decay, decoupled = hyperparameters
    if decoupled:
        param *= 1.0 - lr * weight_decay
    else:
        grad = grad + weight_decay * param
    exp_avg[...] = beta1 * exp_avg + (1.0 - beta1) * grad
    exp_avg_sq[...] = beta2 * exp_avg_sq + (1.0 - beta2) * grad * grad
    bias_correction1 = 1.0 - beta1**step
    bias_correction2 = 1.0 - beta2**step
    denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * exp_avg / denom
    # END SOLUTION


# BEGIN SOLUTION adamw: the Numba twin
def adamw_update_numba(param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                       step: int, hyperparameters: AdamHyperparameters) -> None:
    lr, beta1, beta2, eps, weight_decay, decoupled = hyperparameters
    # Both variants in one formula: AdamW scales the weights by `decay` and adds nothing to the
    # gradient (l2 = 0); Adam adds l2 * param to the gradient and keeps the weights (decay = 1).
    # A loop without that branch vectorizes. In an array of param's dtype, so that the kernel
    # computes in that dtype and Numba dispatches on one array, not on seven scalars.
    coefficients = np.array([
        beta1,
        beta2,
        eps,
        0.0 if decoupled else weight_decay,  # l2
        1.0 - lr * weight_decay if decoupled else 1.0,  # decay
        lr / (1.0 - beta1**step),  # the step size, lr / bias_correction1
        math.sqrt(1.0 - beta2**step),  # sqrt(bias_correction2)
    ], dtype=param.dtype)
    _adamw_kernel(
        _flat_view(param),
        np.ascontiguousarray(grad, dtype=param.dtype).reshape(-1),
        _flat_view(exp_avg),
        _flat_view(exp_avg_sq),
        coefficients,
        threads=param.size >= PARALLEL_MIN_SIZE and threads_available(),
    )


def _flat_view(array: np.ndarray) -> np.ndarray:
    if not array.flags.c_contiguous:
        raise ValueError("adamw_update: needs C-contiguous arrays, since it updates them through flat views")
    return array.reshape(-1)


# The update is bound by memory (16 bytes read and 12 written per float32 element), and waking the
# threads has a fixed cost. Alone, with the arrays still in cache, threads pay only for the largest
# arrays. In a training step they pay much earlier: forward and backward have pushed the parameters,
# moments and gradients out of the caches, and two threads keep twice as many loads from memory in
# flight. From 16k elements on, a GPT's weight matrices are threaded and its biases and LayerNorm
# gains are not (docs/performance.md has the timings behind the threshold).
PARALLEL_MIN_SIZE = 16_384


# error_model="numpy": a zero denominator (eps=0 and v=0) gives nan as in PyTorch, instead of
# raising, and the division needs no per-element check, which lets LLVM vectorize the loop.
@njit_parallel_or_serial(error_model="numpy")
def _adamw_kernel(param, grad, exp_avg, exp_avg_sq, coefficients):
    for i in prange(param.size):
        beta1, beta2, eps, l2, decay, step_size, sqrt_bias_correction2 = coefficients
        one = coefficients.dtype.type(1.0)
        g = grad[i] + l2 * param[i]
        exp_avg[i] = beta1 * exp_avg[i] + (one - beta1) * g
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (one - beta2) * g * g
        denom = np.sqrt(exp_avg_sq[i]) / sqrt_bias_correction2 + eps
        param[i] = param[i] * decay - step_size * exp_avg[i] / denom


# STUDENT: adamw_update_numba = adamw_update_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_adamw_update(param, grad, exp_avg, exp_avg_sq, step, hyperparameters) -> None:
    if (type(param) is type(grad) is type(exp_avg) is type(exp_avg_sq) is np.ndarray and param.dtype in checks.FLOATS
            and grad.dtype == exp_avg.dtype == exp_avg_sq.dtype == param.dtype
            and grad.shape == exp_avg.shape == exp_avg_sq.shape == param.shape):
        return  # the usual call, every step of every parameter; the checks below find what is wrong
    checks.floats("adamw_update", param=param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)
    checks.shapes("adamw_update", grad=(grad, param.shape), exp_avg=(exp_avg, param.shape),
                  exp_avg_sq=(exp_avg_sq, param.shape))


adamw_update = Kernel("adamw_update", adamw_update_numpy, adamw_update_numba, check_adamw_update)
