"""The Tensor: a numpy array plus what reverse-mode autograd needs.

It stays thin on purpose. Every method that computes something calls one `Function` in `ops/`,
where the forward and the backward of that op sit side by side; the Tensor only remembers
which node made it (`grad_fn`) and collects its gradient (`grad`).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .autograd import engine
from .autograd.function import Function
from .ops import arithmetic, movement, reduce, softmax, unary
from .random import generator

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_
DEFAULT_FLOAT = np.float32

MinMax = namedtuple("MinMax", ["values", "indices"])


def to_array(data: Any, dtype=None) -> np.ndarray:
    """A new numpy array from user data: Python floats become float32 (the default float),
    Python ints int64, a numpy array keeps its dtype unless `dtype` says otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)
    elif isinstance(data, (int, float, bool, list, tuple)):
        try:
            array = np.array(data, dtype=dtype)
        except ValueError:
            raise ValueError("tensor(): nested lists must be rectangular (every row the same length), "
                             f"got {data!r}") from None
        if dtype is None and array.dtype == np.float64:
            array = array.astype(DEFAULT_FLOAT)
    else:
        raise TypeError(f"tensor(): expected a number, a (nested) list, a numpy array or a Tensor, "
                        f"got {type(data).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor(): expected numbers (bool, int or float), got elements of dtype {array.dtype}")
    return array


class RemovableHandle:
    """Returned by register_hook; `.remove()` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)


class Tensor:
    """An n-dimensional array that records how it was computed, so gradients can flow back to it.

    `data` is a plain numpy array (float32 unless you ask otherwise); `grad` is a Tensor of the same
    shape once backward() has reached this tensor; `grad_fn` is the autograd node (a `Function`) that
    produced it, None for a leaf you created. Operators and methods follow PyTorch's names: each
    calls one Function in ops/, whose forward and backward sit side by side.

        x = td.tensor([[1.0, 2.0]], requires_grad=True)
        y = (x * x).sum()
        y.backward()            # x.grad is 2 * x

    Args:
        data: a number, a (nested) list, a numpy array or a Tensor; it is copied.
        requires_grad: record operations on this tensor so backward() fills its .grad.
        dtype: the numpy dtype of `data` (default: Python floats become float32, ints int64).
    """

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "_retains_grad", "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy array (op) Tensor defers to Tensor's reflected method

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None):
        self.data = to_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._retains_grad = False
        self._hooks: dict = {}
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_array(cls, array: np.ndarray, requires_grad: bool = False, grad_fn=None) -> "Tensor":
        """Wrap an array the library just computed (no copy, no checks): used by Function.apply."""
        tensor = object.__new__(Tensor)
        tensor.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        tensor.grad = None
        tensor._requires_grad = requires_grad
        tensor.grad_fn = grad_fn
        tensor._retains_grad = False
        tensor._hooks = {}
        return tensor

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward (only float tensors may)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.data.dtype}")
        if not value and self.grad_fn is not None:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded operation made (grad_fn is None): backward fills its .grad."""
        return self.grad_fn is None

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (see autograd/engine.py)."""
        for _ in engine.backward_walk(self, grad, retain_graph):
            pass

    def _accumulate_grad(self, grad: np.ndarray) -> None:
        # gradient arrays can be shared between tensors (add passes the same array to both
        # inputs), so a new .grad is a copy, and later accumulation makes a new array too
        grad = grad.astype(self.data.dtype, copy=False)
        if self.grad is None:
            self.grad = Tensor._from_array(np.array(grad, copy=True))
        else:
            self.grad.data = self.grad.data + grad

    def retain_grad(self) -> None:
        """Keep .grad on a non-leaf tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that does not require grad")
        self._retains_grad = True

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> RemovableHandle:
        """hook(grad) runs when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        key = max(self._hooks, default=-1) + 1
        self._hooks[key] = hook
        return RemovableHandle(self._hooks, key)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._from_array(self.data)

    def zero_(self) -> "Tensor":
        """Fill with zeros in place (outside the graph) and return self."""
        self.data[...] = 0
        return self

    @property
    def shape(self) -> tuple:
        """The size of each dimension, a tuple of ints."""
        return self.data.shape

    @property
    def dtype(self):
        """The numpy dtype of the data (float32, float64, int64, bool, ...)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def size(self, dim: int | None = None):
        """The shape, or the size of dimension `dim`."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ndim)."""
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self) -> np.ndarray:
        """The data itself, not a copy: writing to it changes the tensor."""
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extras = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def __add__(self, other): return arithmetic.Add.apply(self, _operand(other, "add"))
    def __radd__(self, other): return arithmetic.Add.apply(_operand(other, "add"), self)
    def __sub__(self, other): return arithmetic.Sub.apply(self, _operand(other, "sub"))
    def __rsub__(self, other): return arithmetic.Sub.apply(_operand(other, "sub"), self)
    def __mul__(self, other): return arithmetic.Mul.apply(self, _operand(other, "mul"))
    def __rmul__(self, other): return arithmetic.Mul.apply(_operand(other, "mul"), self)
    def __truediv__(self, other): return arithmetic.Div.apply(self, _operand(other, "div"))
    def __rtruediv__(self, other): return arithmetic.Div.apply(_operand(other, "div"), self)
    def __pow__(self, other): return arithmetic.Pow.apply(self, _operand(other, "pow"))
    def __rpow__(self, other): return arithmetic.Pow.apply(_operand(other, "pow"), self)
    def __neg__(self): return arithmetic.Neg.apply(self)
    def __matmul__(self, other): return arithmetic.MatMul.apply(self, _operand(other, "matmul"))
    def __rmatmul__(self, other): return arithmetic.MatMul.apply(_operand(other, "matmul"), self)

    def add(self, other):
        """self + other (numbers and arrays broadcast as in numpy)."""
        return self + other

    def sub(self, other):
        """self - other."""
        return self - other

    def mul(self, other):
        """self * other, elementwise."""
        return self * other

    def div(self, other):
        """self / other, elementwise."""
        return self / other

    def pow(self, other):
        """self ** other, elementwise."""
        return self ** other

    def neg(self):
        """-self."""
        return -self

    def matmul(self, other):
        """The matrix product self @ other (batched over leading dimensions)."""
        return self @ other


    # comparisons give bool tensors outside the graph
    def __lt__(self, other): return Tensor._from_array(self.data < _raw(other))
    def __le__(self, other): return Tensor._from_array(self.data <= _raw(other))
    def __gt__(self, other): return Tensor._from_array(self.data > _raw(other))
    def __ge__(self, other): return Tensor._from_array(self.data >= _raw(other))
    def __eq__(self, other): return Tensor._from_array(self.data == _raw(other))
    def __ne__(self, other): return Tensor._from_array(self.data != _raw(other))
    def __invert__(self): return Tensor._from_array(~self.data)
    def __and__(self, other): return Tensor._from_array(self.data & _raw(other))
    def __or__(self, other): return Tensor._from_array(self.data | _raw(other))
    __hash__ = object.__hash__

    def exp(self):
        """e to the power of each element."""
        return unary.Exp.apply(self)

    def log(self):
        """The natural logarithm of each element."""
        return unary.Log.apply(self)

    def sqrt(self):
        """The square root of each element."""
        return unary.Sqrt.apply(self)

    def tanh(self):
        """tanh of each element."""
        return unary.TanhFunction.apply(self)

    def sigmoid(self):
        """1 / (1 + exp(-x)) of each element."""
        return unary.SigmoidFunction.apply(self)

    def relu(self):
        """max(x, 0) of each element."""
        return unary.ReLUFunction.apply(self)

    def abs(self):
        """|x| of each element (its gradient at 0 is 0)."""
        return unary.Abs.apply(self)

    def gelu(self, approximate: str = "none") -> "Tensor":
        """GELU of each element: x * Phi(x), or its tanh approximation with approximate="tanh"."""
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return unary.GELUFunction.apply(self, approximate == "tanh")

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Each element limited to [min, max] (either may be None); clamp is the same method."""
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return unary.Clip.apply(self, min, max)

    clamp = clip

    def to(self, dtype) -> "Tensor":
        """This tensor in another dtype, in the graph (itself if it already has that dtype)."""
        return self if np.dtype(dtype) == self.dtype else unary.Cast.apply(self, np.dtype(dtype))

    def float(self):
        """This tensor as float32 (itself if it already is)."""
        return self.to(np.float32)

    def double(self):
        """This tensor as float64 (itself if it already is)."""
        return self.to(np.float64)

    def long(self):
        """An int64 copy, outside the graph."""
        return Tensor._from_array(self.data.astype(np.int64))

    def int(self):
        """An int32 copy, outside the graph."""
        return Tensor._from_array(self.data.astype(np.int32))

    def bool(self):
        """A bool copy, outside the graph."""
        return Tensor._from_array(self.data.astype(np.bool_))

    def sum(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """The sum over `dim` (an int or a tuple of ints; all dimensions if None)."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return reduce.Sum.apply(self, reduce.normalize_axes(dim, self.ndim, "sum"), keepdim)

    def mean(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """The mean over `dim` (an int or a tuple of ints; all dimensions if None)."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        if self.dtype.kind not in "fc":
            raise TypeError(f"mean: expected a floating point tensor, got dtype {self.dtype}")
        return reduce.Mean.apply(self, reduce.normalize_axes(dim, self.ndim, "mean"), keepdim)

    def var(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased: bool | None = None,
            axis=None, keepdims=None):
        """The variance over `dim`, dividing by N - correction (1 by default, as PyTorch)."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return reduce.Var.apply(self, reduce.normalize_axes(dim, self.ndim, "var"), keepdim, correction)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """max() over everything returns a tensor; max(dim) returns (values, indices) as in PyTorch."""
        return self._extreme(reduce.Max, np.argmax, dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """min() over everything returns a tensor; min(dim) returns (values, indices) as in PyTorch."""
        return self._extreme(reduce.Min, np.argmin, dim, keepdim, axis, keepdims)

    def _extreme(self, op, arg_extreme, dim, keepdim, axis, keepdims):
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        name = op.__name__.lower()
        if dim is None:
            if self.data.size == 0:
                raise ValueError(f"{name}: cannot reduce an empty tensor (it has no {name}); give a dim to reduce "
                                 "along an axis that is not empty")
            return op.apply(self, None, False)
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{name}: dim must be a single int, got {dim!r}")
        axes = reduce.normalize_axes(dim, self.ndim, name)  # None for a 0-d tensor: its one element
        if axes is not None and self.shape[axes[0]] == 0:
            raise IndexError(f"{name}: cannot reduce dim {dim} of shape {self.shape}: it is empty")
        values = op.apply(self, None if axes is None else axes[0], keepdim)
        indices = np.zeros((), np.int64) if axes is None else arg_extreme(self.data, axis=axes[0], keepdims=keepdim)
        return MinMax(values, Tensor._from_array(indices))

    def argmax(self, dim=None, keepdim: bool = False):
        """The index of the largest element along `dim` (of the flattened tensor if None)."""
        return Tensor._from_array(np.argmax(self.data, axis=dim, keepdims=keepdim and dim is not None))

    def argmin(self, dim=None, keepdim: bool = False):
        """The index of the smallest element along `dim` (of the flattened tensor if None)."""
        return Tensor._from_array(np.argmin(self.data, axis=dim, keepdims=keepdim and dim is not None))

    def softmax(self, dim: int = -1) -> "Tensor":
        """exp(x) / sum(exp(x)) along `dim`."""
        return softmax.Softmax.apply(self, _check_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int = -1) -> "Tensor":
        """log(softmax(x)) along `dim`, as x - logsumexp(x): finite where softmax underflows to 0."""
        return softmax.LogSoftmax.apply(self, _check_dim(dim, self.ndim, "log_softmax"))

    def reshape(self, *shape) -> "Tensor":
        """The same elements in another shape (one size may be -1); view is the same method."""
        return movement.Reshape.apply(self, _shape_args(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Dimensions start_dim to end_dim merged into one."""
        if self.ndim == 0:  # as PyTorch: a 0-d tensor has one dimension to name, 0 or -1
            _check_dim(start_dim, 1, "flatten"), _check_dim(end_dim, 1, "flatten")
            return self.reshape(1)
        start, end = _check_dim(start_dim, self.ndim, "flatten"), _check_dim(end_dim, self.ndim, "flatten")
        merged = int(np.prod(self.shape[start:end + 1]))  # not -1: with an empty axis it would be ambiguous
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def permute(self, *dims) -> "Tensor":
        """The dimensions in the order `dims`."""
        dims = tuple(_check_dim(d, self.ndim, "permute") for d in _shape_args(dims))
        return movement.Permute.apply(self, dims)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Dimensions dim0 and dim1 swapped."""
        dims = list(range(self.ndim))
        a, b = _check_dim(dim0, self.ndim, "transpose"), _check_dim(dim1, self.ndim, "transpose")
        dims[a], dims[b] = dims[b], dims[a]
        return movement.Permute.apply(self, tuple(dims))

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the transpose of a matrix)."""
        return movement.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def squeeze(self, dim: int | None = None) -> "Tensor":
        """Dimension `dim` removed if its size is 1 (every size-1 dimension if None)."""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = _check_dim(dim, self.ndim, "squeeze")
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        """A new dimension of size 1 inserted at `dim`."""
        dim = _check_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def expand(self, *shape) -> "Tensor":
        """Size-1 dimensions repeated to `shape` without copying (-1 keeps a size)."""
        shape = _shape_args(shape)
        # -1 keeps that dimension's size, as in PyTorch
        offset = len(shape) - self.ndim
        shape = tuple(self.shape[i - offset] if s == -1 else s for i, s in enumerate(shape))
        return movement.Expand.apply(self, shape)

    def __getitem__(self, index) -> "Tensor":
        return movement.GetItem.apply(self, _index_args(index))

    def masked_fill(self, mask, value: float) -> "Tensor":
        """`value` where the bool `mask` (broadcast to this shape) is True, this tensor elsewhere."""
        return movement.MaskedFill.apply(self, _raw(mask), value)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Pieces along `dim`: of split_size each (the last may be shorter), or of the given sizes."""
        dim = _check_dim(dim, self.ndim, "split")
        size = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
            sections = [min(split_size_or_sections, size - start) for start in range(0, size, split_size_or_sections)]
        else:
            sections = list(split_size_or_sections)
            if sum(sections) != size:
                raise ValueError(f"split: sections {sections} do not add up to the size {size} of dim {dim}")
        pieces, start = [], 0
        for length in sections:
            index = (slice(None),) * dim + (slice(start, start + length),)
            pieces.append(self[index])
            start += length
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """At most `chunks` pieces of equal size along `dim` (the last may be smaller)."""
        if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        size = self.shape[_check_dim(dim, self.ndim, "chunk")]
        if size == 0:  # as PyTorch: `chunks` empty pieces
            return tuple(self.split([0] * chunks, dim))
        return self.split(-(-size // chunks), dim)


Tensor.__module__ = "tinygrad_drop"
Function.tensor_type = Tensor  # what Function.apply wraps each op's result in


def _raw(value):
    """A Tensor's array; anything else as it is."""
    return value.data if isinstance(value, Tensor) else value


def _operand(value, op: str):
    """Numbers and numpy arrays may meet Tensors in arithmetic; anything else is a TypeError."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._from_array(value)
    raise TypeError(f"{op}: expected a Tensor, a number or a numpy array, got {type(value).__name__}")


def _reduction_args(dim, keepdim, axis, keepdims):
    """PyTorch's dim/keepdim, with numpy's axis/keepdims accepted as aliases."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _check_dim(dim: int, ndim: int, op: str) -> int:
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % max(ndim, 1)


def _shape_args(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"a shape must be ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _index_args(index):
    """Tensors inside an index become their arrays; lists become integer arrays."""
    items = index if isinstance(index, tuple) else (index,)
    converted = tuple(i.data if isinstance(i, Tensor) else np.asarray(i) if isinstance(i, list) else i for i in items)
    return converted if isinstance(index, tuple) else converted[0]


def tensor(data: Any, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new Tensor holding a copy of `data`: `td.tensor([1.0, 2.0], requires_grad=True)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    result = Tensor._from_array(array)
    result.requires_grad = requires_grad
    return result


def zeros(*shape, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: td.zeros(2, 3) or td.zeros((2, 3))."""
    return _new(np.zeros(_shape_args(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: td.ones(2, 3) or td.ones((2, 3))."""
    return _new(np.ones(_shape_args(shape), dtype=dtype), requires_grad)


def full(shape: Sequence[int], fill_value: float, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape, every element fill_value."""
    return _new(np.full(_shape_args((shape,)), fill_value, dtype=dtype), requires_grad)


def rand(*shape, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), drawn from the generator that td.manual_seed seeds."""
    return _new(generator().random(_shape_args(shape)).astype(dtype), requires_grad)


def randn(*shape, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """Standard normal, drawn from the generator that td.manual_seed seeds."""
    return _new(generator().standard_normal(_shape_args(shape)).astype(dtype), requires_grad)


def randint(low: int, high: int, size: Sequence[int]) -> Tensor:
    """int64 integers uniform on [low, high), drawn from the generator that td.manual_seed seeds."""
    return Tensor._from_array(generator().integers(low, high, size=tuple(size), dtype=np.int64))


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to end (excluded); arange(n) is 0 ... n - 1. int64 if all the
    arguments are ints, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if integral else DEFAULT_FLOAT
    return _new(np.arange(start, end, step, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype=DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    return _new(np.eye(n, m, dtype=dtype), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of t's shape (and dtype, unless given)."""
    return _new(np.zeros_like(_raw(t), dtype=dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of t's shape (and dtype, unless given)."""
    return _new(np.ones_like(_raw(t), dtype=dtype), requires_grad)


def cat(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """The tensors joined along the existing dimension `dim` (the other sizes must match)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return movement.Cat.apply(*tensors, dim=_check_dim(dim, tensors[0].ndim, "cat"))


def stack(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new dimension `dim`."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    return movement.Stack.apply(*tensors, dim=_check_dim(dim, tensors[0].ndim + 1, "stack"))


def where(condition, input, other) -> Tensor:
    """input where the bool `condition` is True, other elsewhere (the three broadcast together)."""
    condition = np.asarray(_raw(condition))
    if condition.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    return movement.Where.apply(condition, _operand(input, "where"), _operand(other, "where"))
