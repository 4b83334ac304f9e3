"""`Optimizer`: what every update rule shares, laid out as in PyTorch.

- `param_groups`: a list of dicts, each holding some parameters ("params") and the
  hyperparameters used for them ("lr", "weight_decay", ...). One group is the usual case; several
  let e.g. biases and LayerNorm weights skip weight decay. Missing hyperparameters are filled from
  the optimizer's defaults.
- `state`: per-parameter memory of the update rule (momentum buffers, Adam's moments, step
  counts), a dict keyed by the parameter object itself.
- `state_dict()`: both of the above with every parameter replaced by its position (0, 1, 2, ...
  in group order), so a checkpoint holds numbers and arrays only and can be loaded into a fresh
  optimizer built over a fresh model's parameters in the same order.

Updates read `p.grad.data` and write `p.data`: plain numpy, so no autograd graph is recorded.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from ..nn.utils import zero_grads
from ..tensor import Tensor

ParamsLike = Iterable[Tensor] | Iterable[dict[str, Any]]


def _require_ordered(params: Any) -> None:
    # State dicts name parameters by position, so the order must be the same in every run.
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                        "ordering of tensors in sets will change between runs. Please use a list instead.")


def checked_grad(optimizer: str, param: Tensor) -> np.ndarray:
    """param.grad's array, refused unless it has the parameter's shape: the updates write through
    flat views of the parameter and read the gradient the same way, so another size would read
    past it or leave weights unread."""
    grad = param.grad.data
    if grad.shape != param.data.shape:
        raise ValueError(f"{optimizer}.step: a parameter of shape {param.data.shape} has a gradient of shape "
                         f"{grad.shape}")
    return grad


class Optimizer:
    """Base class: subclasses define `step()` and may check hyperparameters in `_validate`."""

    def __init__(self, params: ParamsLike, defaults: dict[str, Any]):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            f"or dicts, but got {type(params).__name__}")
        _require_ordered(params)
        self._validate(defaults)
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def _validate(self, hyperparameters: dict[str, Any]) -> None:
        """Raise ValueError for a hyperparameter out of range (checked for defaults and each group).
        Here the two that every update rule of this package has; subclasses check their own too."""
        if hyperparameters.get("lr", 0.0) < 0.0:
            raise ValueError(f"Invalid learning rate: {hyperparameters['lr']}")
        if hyperparameters.get("weight_decay", 0.0) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {hyperparameters['weight_decay']}")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add parameters with their own hyperparameters (e.g. to unfreeze layers while training)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        _require_ordered(params)
        params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(param).__name__}")
            if not param.requires_grad:
                raise ValueError("optimizing a parameter that doesn't require gradients")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter appears more than once in this parameter group; "
                             "it would be updated twice per step")
        already_optimized = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in already_optimized for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient before the next backward (which accumulates): .grad
        becomes None, or zeros with set_to_none=False."""
        zero_grads(self._params_in_order(), set_to_none)

    def step(self) -> None:
        """Update every parameter that has a .grad, by this optimizer's rule."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    # ---- checkpoints -------------------------------------------------------------------------

    def _params_in_order(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array or int}}, "param_groups": [{..., "params": [indices]}]}."""
        index_of = {id(p): i for i, p in enumerate(self._params_in_order())}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index_of[id(p)]: {name: np.array(value) if isinstance(value, np.ndarray) else value
                                   for name, value in param_state.items()}
                 for p, param_state in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by `state_dict()`."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for saved, group in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                                 "size of optimizer's group")
        param_at = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for index, param in zip(saved["params"], group["params"]):
                param_at[int(index)] = param
        new_state = {}
        for index, saved_state in state_dict["state"].items():
            if int(index) not in param_at:
                raise ValueError(f"loaded state dict has state for parameter {index}, but the optimizer "
                                 f"has only {len(param_at)} parameters")
            param = param_at[int(index)]
            new_state[param] = {name: self._restore_value(name, value, param) for name, value in saved_state.items()}
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            self._validate(restored)
            new_groups.append({**restored, "params": group["params"]})
        self.state = new_state
        self.param_groups = new_groups

    @staticmethod
    def _restore_value(name: str, value: Any, param: Tensor) -> Any:
        """State arrays are cast to the parameter's dtype and made contiguous, as the update
        kernels work on them in place; the step count stays an int."""
        if name == "step":
            return int(value)
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.shape != param.data.shape:
            raise ValueError(f"optimizer state '{name}' has shape {array.shape}, but its parameter "
                             f"has shape {param.data.shape}")
        return np.array(array, dtype=param.data.dtype, order="C")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params")
        lines.append(")")
        return "\n".join(lines)
