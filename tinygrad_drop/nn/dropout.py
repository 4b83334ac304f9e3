"""The dropout family as modules: Dropout, DropConnect and DropPath.

Each is active only in training mode (`model.train()`, the default) and the identity in
`model.eval()`, so the same model code serves both; `train()`/`eval()` on any parent reaches them.
"""
from __future__ import annotations

import numpy as np

from ..random import next_dropout_key
from ..tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p during training (a new mask every forward).

    After a training forward, `layer.mask` is the boolean keep-mask it used (True = kept).

    Args:
        p: probability of zeroing an element, in [0, 1].
        inverted: True (default, as PyTorch): kept elements are scaled by 1/(1-p) in training and
            eval is the identity. False (classic dropout): training leaves kept elements as they
            are and eval multiplies by (1-p).

    Shape:
        input (*) -> output of the same shape.
    """

    def __init__(self, p: float = 0.5, inverted: bool = True, *, inplace: bool = False):
        super().__init__()
        self.p = F.check_probability(p)
        self.inverted = inverted
        self.inplace = inplace  # PyTorch's argument: the result is a new tensor here (the same values)
        self._last_draw: tuple | None = None

    def forward(self, x: Tensor) -> Tensor:
        out, key = F.dropout_with_key(x, self.p, self.training, self.inverted)
        self._last_draw = (key, x.shape) if self.training else None
        return out

    @property
    def mask(self) -> np.ndarray | None:
        """The keep-mask of the last training forward (None before one, or after an eval
        forward). It is redrawn from the dropout key, never stored."""
        if self._last_draw is None:
            return None
        key, shape = self._last_draw
        if key is None:  # p == 0 drew nothing: everything was kept
            return np.ones(shape, dtype=bool)
        return F.dropout_mask_of(key, shape, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}" + ("" if self.inverted else ", inverted=False")


class DropConnect(Module):
    """Wrap a layer with a `weight` (e.g. Linear) and drop entries of that weight, not of the
    activations, during training, with inverted scaling (Wan et al., 2013).

    Args:
        module: the wrapped layer; it must have a `weight` tensor.
        p: probability of zeroing a weight entry, in [0, 1] (a new mask every training forward).

    Shape:
        the wrapped layer's.
    """

    def __init__(self, module: Module, p: float = 0.5):
        super().__init__()
        if not isinstance(getattr(module, "weight", None), Tensor):
            raise TypeError(f"DropConnect wraps a module with a `weight` tensor, got {type(module).__name__}")
        self.module = module
        self.p = F.check_probability(p)

    def forward(self, *args, **kwargs):
        if not self.training or self.p == 0.0:
            return self.module(*args, **kwargs)
        weight = self.module.weight
        # the wrapped layer runs with a dropped copy of its weight; gradients reach the original
        # through the dropout node, and the original parameter is put back afterwards
        self.module._parameters["weight"] = F.drop_connect(weight, self.p, True)
        try:
            return self.module(*args, **kwargs)
        finally:
            self.module._parameters["weight"] = weight

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropPath(Module):
    """Stochastic depth (Huang et al., 2016; timm's DropPath): drop a whole residual branch for
    some samples. Each sample (first axis) is kept with probability 1-p and scaled by 1/(1-p).

    Args:
        p: probability of dropping a sample's branch, in [0, 1].

    Shape:
        input (N, *) -> output of the same shape.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = F.check_probability(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = F.dropout_mask_of(next_dropout_key(), (x.shape[0],) + (1,) * (x.ndim - 1), self.p)
        return x * (keep.astype(x.dtype) * F.inverted_scale(self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
