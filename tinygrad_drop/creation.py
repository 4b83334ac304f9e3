"""Making tensors: from data (`tensor`, `from_numpy`), filled with a constant (`zeros`, `ones`,
`full`, `empty`, `eye`, `arange`, `linspace`), drawn at random (`rand`, `randn`, `randint`,
`randperm`), or shaped like another tensor (`zeros_like`, ...), with PyTorch's arguments: `dtype=`,
`device=` (the CPU), `requires_grad=`, and `generator=` where PyTorch has it.

Floats are float32 unless `dtype` says otherwise; random draws come from td.manual_seed's stream,
or from the `td.Generator` given.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .device import as_dtype, check_device
from .random import Generator, draws, generator
from .tensor import DEFAULT_FLOAT, Tensor, _raw, _shape_args


def tensor(data: Any, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """A new Tensor holding a copy of `data`: `td.tensor([1.0, 2.0], requires_grad=True)`."""
    check_device(device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor that shares memory with the numpy array (writing to one changes the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: expected numbers (bool, int or float), got elements of dtype {array.dtype}")
    return Tensor._from_array(array)


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    result = Tensor._from_array(array)
    result.requires_grad = requires_grad
    return result


def _creation_dtype(dtype, device, function: str, default=DEFAULT_FLOAT) -> np.dtype:
    """The dtype a creation function makes (its default if None), once the device is checked."""
    check_device(device, function)
    return np.dtype(default) if dtype is None else as_dtype(dtype, function)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: td.zeros(2, 3) or td.zeros((2, 3))."""
    return _new(np.zeros(_shape_args(shape), dtype=_creation_dtype(dtype, device, "zeros")), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: td.ones(2, 3) or td.ones((2, 3))."""
    return _new(np.ones(_shape_args(shape), dtype=_creation_dtype(dtype, device, "ones")), requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are to be overwritten (zeros here, so a forgotten write is visible)."""
    return _new(np.zeros(_shape_args(shape), dtype=_creation_dtype(dtype, device, "empty")), requires_grad)


def full(shape: Sequence[int], fill_value: float, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape, every element fill_value (float32 unless dtype says otherwise)."""
    dtype = _creation_dtype(dtype, device, "full")
    return _new(np.full(_shape_args((shape,)), fill_value, dtype=dtype), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False, generator: Generator | None = None) -> Tensor:
    """Uniform on [0, 1), drawn from the generator that td.manual_seed seeds (or `generator`)."""
    dtype = _creation_dtype(dtype, device, "rand")
    return _new(draws(generator).random(_shape_args(shape)).astype(dtype), requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad: bool = False, generator: Generator | None = None) -> Tensor:
    """Standard normal, drawn from the generator that td.manual_seed seeds (or `generator`)."""
    dtype = _creation_dtype(dtype, device, "randn")
    return _new(draws(generator).standard_normal(_shape_args(shape)).astype(dtype), requires_grad)


def randint(*args, size=None, dtype=None, device=None, generator: Generator | None = None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high): randint(high, size) or randint(low, high, size), as
    PyTorch; int64 unless dtype says otherwise."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        *args, size = args
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), size a tuple")
    low, high = (0, args[0]) if len(args) == 1 else args
    dtype = _creation_dtype(dtype, device, "randint", np.int64)
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    return _new(draws(generator).integers(low, high, size=tuple(size)).astype(dtype), requires_grad)


def randperm(n: int, *, dtype=None, device=None, generator: Generator | None = None) -> Tensor:
    """0 ... n - 1 in random order (int64)."""
    dtype = _creation_dtype(dtype, device, "randperm", np.int64)
    return Tensor._from_array(draws(generator).permutation(int(n)).astype(dtype))


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to end (excluded); arange(n) is 0 ... n - 1. int64 if all the
    arguments are ints, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if integral else DEFAULT_FLOAT
    dtype = _creation_dtype(dtype, device, "arange")
    return _new(np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included."""
    dtype = _creation_dtype(dtype, device, "linspace")
    return _new(np.linspace(start, end, steps, dtype=np.float64).astype(dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    return _new(np.eye(n, m, dtype=_creation_dtype(dtype, device, "eye")), requires_grad)


def _like(function: str, fill, t: Tensor, dtype, device, requires_grad: bool) -> Tensor:
    check_device(device, function)
    array = np.asarray(_raw(t))
    dtype = array.dtype if dtype is None else as_dtype(dtype, function)
    return _new(fill(array.shape).astype(dtype, copy=False), requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of t's shape (and dtype, unless given)."""
    return _like("zeros_like", np.zeros, t, dtype, device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of t's shape (and dtype, unless given)."""
    return _like("ones_like", np.ones, t, dtype, device, requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of t's shape to be overwritten (zeros here)."""
    return _like("empty_like", np.zeros, t, dtype, device, requires_grad)


def full_like(t: Tensor, fill_value: float, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """fill_value in t's shape (and dtype, unless given)."""
    return _like("full_like", lambda shape: np.full(shape, fill_value), t, dtype, device, requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1) in t's shape (and dtype, unless given)."""
    return _like("rand_like", generator().random, t, dtype, device, requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal in t's shape (and dtype, unless given)."""
    return _like("randn_like", generator().standard_normal, t, dtype, device, requires_grad)
