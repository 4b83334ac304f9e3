"""Stochastic gradient descent with momentum, PyTorch's exact update.

For each parameter p with gradient g, in this order:

    g   = g + weight_decay * p                 (L2 penalty weight_decay/2 * ||p||^2)
    buf = g                                    on the first step
    buf = momentum * buf + (1 - dampening) * g afterwards
    g   = g + momentum * buf   if nesterov     (look ahead along the velocity)
    g   = buf                  otherwise
    p   = p - lr * g

Note that PyTorch's momentum multiplies the buffer, not the learning rate: buf is a running sum
of gradients, and lr scales the whole step.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsLike, checked_grad


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (heavy ball or Nesterov) and weight
    decay, PyTorch's update (the module docstring spells it out).

        optimizer = td.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss.backward(); optimizer.step(); optimizer.zero_grad()

    Args:
        params: the parameters (e.g. model.parameters()), or a list of param-group dicts.
        lr: the learning rate.
        momentum: the velocity's decay factor (0: plain SGD).
        dampening: scales each new gradient into the velocity by (1 - dampening).
        weight_decay: L2 penalty, added to the gradient as weight_decay * p.
        nesterov: step along g + momentum * velocity instead of the velocity.
    """

    def __init__(self, params: ParamsLike, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov)
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = checked_grad(type(self).__name__, param)
                if weight_decay != 0:
                    grad = grad + weight_decay * param.data
                if momentum != 0:
                    state = self.state.setdefault(param, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = np.array(grad, dtype=param.data.dtype, order="C")
                        state["momentum_buffer"] = buf
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * grad
                    grad = grad + momentum * buf if nesterov else buf
                param.data -= lr * grad
                param._count_write()  # an in-place write: a graph that saved this parameter is now stale
