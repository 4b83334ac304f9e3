"""Loss functions as modules, as in PyTorch: `criterion = nn.CrossEntropyLoss(); loss =
criterion(logits, targets)`. Each keeps its settings and calls the function of the same name in
nn.functional."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    """Holds `reduction` ("mean", "sum" or "none"), as every PyTorch loss module does."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """F.cross_entropy(input, target): log_softmax and negative log-likelihood in one.

    Args:
        weight: not supported (raises if given).
        ignore_index: targets equal to it count for nothing.
        reduction: "mean" over the counted targets, "sum", or "none".
        label_smoothing: eps in [0, 1]: mixes in eps times the mean over classes of -log p.
    """

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        F._no_legacy_arguments("CrossEntropyLoss", weight=weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(input, target, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """F.nll_loss(input, target) for log-probabilities input (after LogSoftmax).

    Args:
        weight: not supported (raises if given).
        ignore_index: targets equal to it count for nothing.
        reduction: "mean" over the counted targets, "sum", or "none".
    """

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        F._no_legacy_arguments("NLLLoss", weight=weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(input, target, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """F.mse_loss: squared error, averaged (or summed, or kept) over elements."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """F.l1_loss: absolute error, averaged (or summed, or kept) over elements."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """F.binary_cross_entropy: for probabilities (after a Sigmoid) against targets in [0, 1]."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """F.binary_cross_entropy_with_logits: Sigmoid and BCELoss in one, stable for large logits."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
