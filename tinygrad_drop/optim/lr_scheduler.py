"""Learning-rate schedules: set each param group's "lr" as a function of the iteration.

Used as in PyTorch: the scheduler sets the lr for iteration 0 when it is built, and each
`scheduler.step()` (called after `optimizer.step()`) moves to the next iteration.

    scheduler = CosineWithWarmup(optimizer, warmup_iters=100, max_iters=2000, min_lr=1e-4)
    for it in range(max_iters):
        ...; optimizer.step(); scheduler.step()

The base lr of each group is remembered in group["initial_lr"], which is saved in the optimizer's
state dict, so a scheduler rebuilt after loading a checkpoint still knows the original lr.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .optimizer import Optimizer


def cosine_with_warmup(it: int, warmup_iters: int, max_iters: int, max_lr: float, min_lr: float) -> float:
    """nanoGPT's schedule: linear warmup, then half a cosine from max_lr down to min_lr.

    Warmup rises as max_lr * (it + 1) / (warmup_iters + 1), so iteration 0 already takes a
    small step. From warmup_iters to max_iters the lr follows
    min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2, with progress going 0 -> 1;
    after max_iters it stays at min_lr."""
    if it < warmup_iters:
        return max_lr * (it + 1) / (warmup_iters + 1)
    if it >= max_iters:
        return min_lr
    progress = (it - warmup_iters) / (max_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (max_lr - min_lr)


class LRScheduler:
    """Base class: subclasses define `lr_at(iteration, group_index)`."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        # PyTorch's name: the number of step() calls so far, here the training iteration.
        self.last_epoch = 0
        self._apply()

    def lr_at(self, iteration: int, group_index: int) -> float:
        """The learning rate of param group `group_index` at `iteration` (0 is the first)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement lr_at()")

    def _apply(self) -> None:
        self._last_lr = [self.lr_at(self.last_epoch, i) for i in range(len(self.base_lrs))]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def step(self) -> None:
        """Move to the next iteration and set every group's lr for it (call after optimizer.step())."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The lr of each param group, as set for the current iteration."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The iteration and the base lrs: what a resumed run needs to continue the schedule."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a state_dict(): its iteration and base lrs, the groups' lr set to match."""
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._apply()


class CosineWithWarmup(LRScheduler):
    """`cosine_with_warmup` for every param group.

    max_lr=None uses each group's own initial lr as its peak; min_lr is shared by all groups."""

    def __init__(self, optimizer: Optimizer, warmup_iters: int, max_iters: int, max_lr: float | None = None,
                 min_lr: float = 0.0):
        if warmup_iters < 0:
            raise ValueError(f"warmup_iters must be >= 0, got {warmup_iters}")
        if max_iters < warmup_iters:
            raise ValueError(f"max_iters ({max_iters}) must be >= warmup_iters ({warmup_iters})")
        if min_lr < 0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr}")
        self.warmup_iters, self.max_iters = warmup_iters, max_iters
        self.max_lr, self.min_lr = max_lr, min_lr
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        max_lr = self.base_lrs[group_index] if self.max_lr is None else self.max_lr
        return cosine_with_warmup(iteration, self.warmup_iters, self.max_iters, max_lr, self.min_lr)


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(iteration); one function for all groups or one per group."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]]):
        groups = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(self.lr_lambdas) != groups:
            raise ValueError(f"Expected {groups} lr_lambdas, but got {len(self.lr_lambdas)}")
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        return self.base_lrs[group_index] * self.lr_lambdas[group_index](iteration)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (iteration // step_size): a drop by gamma every step_size steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        return self.base_lrs[group_index] * self.gamma ** (iteration // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (the number of milestones reached): a drop at each milestone."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        return self.base_lrs[group_index] * self.gamma ** sum(iteration >= m for m in self.milestones)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** iteration."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        return self.base_lrs[group_index] * self.gamma ** iteration


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * iteration / T_max)) / 2: half a cosine
    from the base lr down to eta_min over T_max steps (and back up after, as PyTorch's)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, iteration: int, group_index: int) -> float:
        base = self.base_lrs[group_index]
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * iteration / self.T_max)) / 2
