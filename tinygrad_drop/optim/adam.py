"""Adam and AdamW: per-coordinate step sizes from running moments of the gradient.

For each parameter, a step per coordinate scaled by running means of the gradient (exp_avg) and
of its square (exp_avg_sq), both starting at 0 and corrected for that (kernels/adamw.py).

The two differ only in weight decay:
- Adam adds it to the gradient, as an L2 penalty. It then passes through the adaptive scaling,
  so parameters with large gradients are barely decayed.
- AdamW decays the weights directly, before the Adam step, the same for every parameter:
  "decoupled" weight decay (Loshchilov & Hutter, 2019), what GPT training uses.

The arithmetic runs in one fused kernel per parameter (kernels/adamw.py), in place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.adamw import AdamHyperparameters, adamw_update
from ..ops.dtypes import require_float
from .optimizer import Optimizer, ParamsLike, checked_grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): a step per coordinate scaled by running moments of the gradient,
    weight decay added to the gradient (an L2 penalty). The module docstring has the update.

    Args:
        params: the parameters (e.g. model.parameters()), or a list of param-group dicts.
        lr: the learning rate.
        betas: decay factors of the running mean of g and of g^2.
        eps: added to the denominator, which keeps a step bounded where the mean of g^2 is near 0.
        weight_decay: L2 penalty, added to the gradient as weight_decay * p.
    """

    decoupled_weight_decay = False

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["eps"] < 0.0:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        for index, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")

    def step(self) -> None:
        """One update of every parameter that has a .grad, in place (kernels/adamw.py)."""
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            # Plain Python numbers, so the compiled kernel sees one signature whatever the caller passed.
            hyperparameters = AdamHyperparameters(float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                                                  float(group["weight_decay"]), self.decoupled_weight_decay)
            for param in group["params"]:
                if param.grad is None:
                    continue
                require_float(type(self).__name__, param.data)  # the kernel computes in this dtype
                # The kernel updates flat views of these arrays in place: they must be C-contiguous
                # and share the parameter's dtype. (The gradient may be a broadcast view: copy it.)
                if not (param.data.flags.c_contiguous and param.data.flags.writeable):
                    param.data = np.array(param.data, order="C")
                grad = np.ascontiguousarray(checked_grad(type(self).__name__, param), dtype=param.data.dtype)
                state = self.state.setdefault(param, {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param.data, order="C")
                    state["exp_avg_sq"] = np.zeros_like(param.data, order="C")
                state["step"] += 1
                adamw_update(param.data, grad, state["exp_avg"], state["exp_avg_sq"], int(state["step"]),
                             hyperparameters)
                param._count_write()  # an in-place write: a graph that saved this parameter is now stale


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the weights shrink by
    lr * weight_decay * p each step, outside the adaptive scaling, the same for every parameter.
    What GPT training uses; weight_decay defaults to 0.01, as in PyTorch.

        optimizer = td.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)

    Args:
        params: the parameters (e.g. model.parameters()), or a list of param-group dicts.
        lr: the learning rate.
        betas: decay factors of the running mean of g and of g^2.
        eps: added to the denominator, which keeps a step bounded where the mean of g^2 is near 0.
        weight_decay: the decoupled decay rate.
    """

    decoupled_weight_decay = True

    def __init__(self, params: ParamsLike, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
