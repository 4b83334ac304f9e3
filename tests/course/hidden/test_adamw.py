"""Hidden adamw tests (an example for instructors): ten steps against PyTorch's Adam and AdamW."""
from __future__ import annotations

import numpy as np
import pytest

from tinygrad_drop.course.checks import assert_close
from tinygrad_drop.kernels.adamw import AdamHyperparameters, adamw_update_numpy


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("decoupled", [True, False])
def test_ten_steps_against_pytorch(decoupled):
    torch = pytest.importorskip("torch")
    param = draw((5,), 0)
    mine, exp_avg, exp_avg_sq = param.copy(), np.zeros(5), np.zeros(5)
    theirs = torch.tensor(param, requires_grad=True)
    kind = torch.optim.AdamW if decoupled else torch.optim.Adam
    optimizer = kind([theirs], lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.3)
    settings = AdamHyperparameters(0.05, 0.8, 0.95, 1e-6, 0.3, decoupled)
    for step in range(1, 11):
        grad = draw((5,), step)
        adamw_update_numpy(mine, grad, exp_avg, exp_avg_sq, step, settings)
        theirs.grad = torch.tensor(grad)
        optimizer.step()
        assert_close(f"the parameter after step {step}", theirs.detach().numpy(), mine, atol=1e-12, rtol=1e-9)
