"""Initializers: fill a parameter's array in place with a chosen distribution, as in torch.nn.init.

Why the scale matters: a layer y = W x with fan_in inputs sums fan_in terms, so Var(y) =
fan_in * Var(W) * Var(x). Choosing Var(W) = 1/fan_in (times a gain that makes up for what the
nonlinearity removes) keeps activations the same size from layer to layer.
- Xavier/Glorot (tanh, linear): Var(W) = gain^2 * 2 / (fan_in + fan_out), a compromise between
  keeping the forward activations and the backward gradients the same size.
- Kaiming/He (ReLU family): Var(W) = gain^2 / fan, with gain^2 = 2 for ReLU since ReLU zeroes
  half of its inputs.
A uniform distribution on [-b, b] has variance b^2 / 3, hence the sqrt(3) in the uniform versions.

Every function writes into `t.data` (so views and tied weights see the new values), draws from
`td.manual_seed`'s generator, and returns `t`. Working on the numpy array directly records no
graph, which is what running under `no_grad` means here.
"""
from __future__ import annotations

import math

import numpy as np

from ..random import generator
from ..tensor import Tensor


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    tensor.data[...] = values
    tensor._count_write()  # an in-place write, as Tensor.copy_ counts it
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that restores the activation scale a nonlinearity takes away (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        negative_slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """Weight shape (out, in, *kernel): each output sums in*prod(kernel) inputs (fan_in), each
    input feeds out*prod(kernel) outputs (fan_out)."""
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws uniform on [a, b)."""
    return _fill(tensor, generator().uniform(a, b, size=tensor.data.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from the normal distribution N(mean, std^2)."""
    return _fill(tensor, generator().normal(mean, std, size=tensor.data.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """Fill with draws from N(mean, std^2) restricted to [a, b]: draws outside are drawn again."""
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    values = generator().normal(mean, std, size=tensor.data.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = generator().normal(mean, std, size=int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with val."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Xavier/Glorot, uniform on [-b, b] with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Xavier/Glorot, normal with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """`a` is the negative slope of the leaky ReLU that follows (0: plain ReLU)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """Kaiming/He, normal with std = gain / sqrt(fan) (fan_in or fan_out by `mode`); `a` is the
    negative slope of the leaky ReLU that follows (0: plain ReLU)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)
