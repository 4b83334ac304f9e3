"""adamw: one Adam / AdamW update, in place, against what the update must do (the hidden tests
compare ten steps with PyTorch)."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_drop.course.checks import assert_close
from tinygrad_drop.kernels.adamw import AdamHyperparameters, adamw_update_numpy


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def first_step(decoupled: bool, weight_decay: float, dtype=np.float64):
    param, grad = draw((3, 4), 0).astype(dtype), draw((3, 4), 1).astype(dtype)
    exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
    before = param.copy()
    adamw_update_numpy(param, grad, exp_avg, exp_avg_sq, 1, AdamHyperparameters(0.1, 0.9, 0.999, 1e-8,
                                                                               weight_decay, decoupled))
    return before, grad, param, exp_avg, exp_avg_sq


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_first_step_is_lr_times_the_sign(dtype):
    # the bias corrections make the first step lr * g / (|g| + eps): about lr per coordinate
    before, grad, param, exp_avg, exp_avg_sq = first_step(True, 0.0, dtype)
    assert param.dtype == dtype, f"adamw: the parameter must stay {np.dtype(dtype).name}, got {param.dtype}"
    assert_close("the first step (param before - after)", 0.1 * np.sign(grad), before - param, atol=1e-5, rtol=1e-3)
    assert_close("exp_avg after the first step", 0.1 * grad, exp_avg, rtol=1e-5)
    assert_close("exp_avg_sq after the first step", 0.001 * grad * grad, exp_avg_sq, rtol=1e-4)


def test_adamw_decays_the_weights_and_adam_the_gradient():
    before, grad, param, *_ = first_step(True, 0.5)
    assert_close("AdamW's first step with weight decay 0.5", before * (1 - 0.1 * 0.5) - 0.1 * np.sign(grad), param,
                 atol=1e-6, rtol=1e-5)
    before, grad, param, *_ = first_step(False, 0.5)
    assert_close("Adam's first step with weight decay 0.5", before - 0.1 * np.sign(grad + 0.5 * before), param,
                 atol=1e-6, rtol=1e-5)
