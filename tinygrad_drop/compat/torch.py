"""What `import torch` gives a script run by `python -m tinygrad_drop.run`: tinygrad_drop's
public names under PyTorch's, in one module.

Most lines are plain aliases, because the name already means the same thing here (`tensor`,
`zeros`, `no_grad`, `manual_seed`...). The rest are small: PyTorch's dtype names for numpy's
dtypes, the function form of a Tensor method (`torch.tanh(x)` is `x.tanh()`), `torch.load`
returning tensors, and the GPU-only namespaces from compat/stubs.py. A name PyTorch has and this
module lacks raises AttributeError saying so, and where to read what is supported
(docs/from_pytorch.md).
"""
from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy as np

import tinygrad_drop as td
from tinygrad_drop import autograd as _autograd
from tinygrad_drop import nn, optim, utils
from tinygrad_drop.device import as_dtype, bfloat16, check_device, device
from tinygrad_drop.random import Generator
from tinygrad_drop.state import process as _process
from tinygrad_drop.state import this_thread as _this_thread
from tinygrad_drop.creation import (arange, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                                    ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros,
                                    zeros_like)
from tinygrad_drop.tensor import Tensor, bernoulli, cat, multinomial, stack, where
from tinygrad_drop.utils import data as _data  # noqa: F401 (makes torch.utils.data an attribute too)

from . import stubs
from .stubs import amp, backends, cuda, distributed, mps

__version__ = f"2.0 (tinygrad_drop {td.__version__})"
__path__: list = []  # a package to the import system, so `import torch.xyz` reaches the finder that names it

# ---- dtypes: numpy's, by PyTorch's names ---------------------------------------------------------
float32 = float = np.float32
float64 = double = np.float64
float16 = half = np.float16
int64 = long = np.int64
int32 = int = np.int32
int16 = short = np.int16
int8, uint8 = np.int8, np.uint8
bool = np.bool_
dtype = np.dtype
finfo, iinfo = np.finfo, np.iinfo
Size = tuple

# ---- plain aliases ----------------------------------------------------------------------------------
no_grad, enable_grad, is_grad_enabled = td.no_grad, td.enable_grad, td.is_grad_enabled
inference_mode = td.no_grad
manual_seed = td.manual_seed
get_rng_state, set_rng_state = td.get_rng_state, td.set_rng_state
concat = concatenate = cat
save = td.save


def _method_form(name: str) -> Callable:
    """torch.NAME(input, *args, **kwargs) is input.NAME(*args, **kwargs)."""
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            raise TypeError(f"torch.{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"torch.{name}(input, ...) is input.{name}(...)."
    return function


# the function form of each Tensor method PyTorch also offers as a function
abs, exp, log, sqrt, tanh, sigmoid, relu = (_method_form(n) for n in ("abs", "exp", "log", "sqrt", "tanh",
                                                                       "sigmoid", "relu"))
sum, mean, var, std, argmax, argmin = (_method_form(n) for n in ("sum", "mean", "var", "std", "argmax", "argmin"))
softmax, log_softmax = _method_form("softmax"), _method_form("log_softmax")
reshape, flatten, permute, transpose = (_method_form(n) for n in ("reshape", "flatten", "permute", "transpose"))
squeeze, unsqueeze, split, chunk = (_method_form(n) for n in ("squeeze", "unsqueeze", "split", "chunk"))
masked_fill, clamp, clip, gather = (_method_form(n) for n in ("masked_fill", "clamp", "clip", "gather"))
sort, argsort, topk, tril, triu = (_method_form(n) for n in ("sort", "argsort", "topk", "tril", "triu"))
roll, flip, numel, clone, t = (_method_form(n) for n in ("roll", "flip", "numel", "clone", "t"))
square, all, any = _method_form("square"), _method_form("all"), _method_form("any")
sin, cos, log10, log2 = (_method_form(n) for n in ("sin", "cos", "log10", "log2"))
eq, ne, lt, le, gt, ge = (_method_form(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
add, sub, mul, div, neg, pow = (_method_form(n) for n in ("add", "sub", "mul", "div", "neg", "pow"))
matmul = mm = bmm = _method_form("matmul")
detach, zero_, fill_, clamp_ = (_method_form(n) for n in ("detach", "zero_", "fill_", "clamp_"))
maximum, minimum, allclose, equal = (_method_form(n) for n in ("maximum", "minimum", "allclose", "equal"))
is_floating_point = _method_form("is_floating_point")


def is_tensor(obj: Any) -> builtins.bool:
    """Whether obj is a Tensor."""
    return isinstance(obj, Tensor)





def max(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:
    """torch.max(x) (the largest element), torch.max(x, dim) ((values, indices)), or
    torch.max(a, b) (the elementwise maximum), as PyTorch's three forms."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return input.max() if dim is None else input.max(dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:
    """torch.min(x), torch.min(x, dim) or torch.min(a, b), as torch.max."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return input.min() if dim is None else input.min(dim, keepdim)


def load(f: Any, map_location: Any = None, weights_only: Any = None, mmap: Any = None, **kwargs: Any) -> Any:
    """td.load, with the arrays as tensors as torch.load returns them. map_location may name the
    CPU (or be a dict or function, which have nothing to move here); weights_only is accepted:
    this format never runs code, so every file loads as with weights_only=True."""
    if isinstance(map_location, (str, device)):
        check_device(map_location, "torch.load(map_location=...)")
    return _as_tensors(td.load(f))


def _as_tensors(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return from_numpy(value)
    if isinstance(value, dict):
        return {key: _as_tensors(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(item) for item in value)
    return value


class set_grad_enabled:
    """torch.set_grad_enabled(mode): turns graph recording on or off, as a call or a `with` block."""

    def __init__(self, mode: builtins.bool):
        self._previous = _this_thread.grad_enabled
        _this_thread.grad_enabled = builtins.bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        _this_thread.grad_enabled = self._previous


def compile(model: Any = None, **kwargs: Any) -> Any:
    """torch.compile: returns the model (or function) unchanged, with one line saying so; as a
    decorator with options, returns the identity decorator."""
    stubs.notice("torch.compile is the identity here (Numba compiles the kernels already)")
    if model is None:
        return lambda fn: fn
    return model


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted and ignored: numpy's products are float32 (or float64) as asked."""


def get_default_dtype() -> Any:
    """float32, the default float of creation functions."""
    return np.float32


def set_default_dtype(d: Any) -> None:
    """Only float32, the default, is supported; anything else raises."""
    if as_dtype(d, "set_default_dtype") != np.float32:
        raise NotImplementedError("set_default_dtype: tinygrad_drop's default float is float32 only; pass "
                                  "dtype= to creation functions, or call model.double()")


def use_deterministic_algorithms(mode: builtins.bool, warn_only: builtins.bool = False) -> None:
    """Accepted: every op here is deterministic already."""


def set_num_threads(n: int) -> None:
    """Accepted and ignored: the kernels' threads follow the machine (see docs/performance.md)."""


def get_num_threads() -> int:
    """The number of threads Numba's kernels may use."""
    import numba
    return numba.get_num_threads()


def set_detect_anomaly(mode: builtins.bool, check_nan: builtins.bool = True) -> None:
    """torch.autograd.set_detect_anomaly(True): td.detect_anomaly() for the rest of the run."""
    _process.anomaly_mode = builtins.bool(mode)


autograd = stubs.namespace("torch.autograd", _autograd.__doc__, **{name: getattr(_autograd, name)
                                                                    for name in _autograd.__all__},
                           set_detect_anomaly=set_detect_anomaly, gradcheck=td.gradcheck, Variable=tensor,
                           grad_mode=stubs.namespace("torch.autograd.grad_mode", "grad mode", no_grad=td.no_grad))


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'torch' has no attribute '{name}': torch.{name} is not provided by tinygrad_drop "
                         "(docs/from_pytorch.md lists what is)")
