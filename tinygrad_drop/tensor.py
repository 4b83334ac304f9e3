"""The Tensor: a numpy array plus what reverse-mode autograd needs.

It stays thin on purpose. Every method that computes something calls one `Function` in `ops/`,
where the forward and the backward of that op sit side by side; the Tensor only remembers
which node made it (`grad_fn`) and collects its gradient (`grad`).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Iterable

import numpy as np

from . import state
from .autograd import engine
from .autograd.function import Function
from .device import as_dtype, check_device, device, is_device_like
from .ops import arithmetic, movement, reduce, selection, softmax, unary
from .random import Generator, draws

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_
DEFAULT_FLOAT = np.float32

MinMax = namedtuple("MinMax", ["values", "indices"])
CPU = device("cpu")


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

    In-place writes (`x[i] = v`, `copy_`, `zero_`, `add_`, an optimizer step, ...) add one to
    `x._version`; a recorded op that saved x for backward remembers the version it saw, and
    backward raises PyTorch's "modified by an inplace operation" error if they differ, instead
    of computing a gradient from the new values.
    """

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "_retains_grad", "_hooks", "_version", "__weakref__")
    __array_priority__ = 1000  # numpy array (op) Tensor defers to Tensor's reflected method

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None):
        self.data = to_array(data, as_dtype(dtype, "tensor"))
        self._version = 0
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
        tensor._version = 0
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

    # ---- in-place writes: outside the graph, each one counted in _version ---------------------

    def _check_inplace(self, op: str, value: Any = None) -> None:
        """PyTorch's rules for writing into a tensor: not into a leaf that requires grad while
        grad mode is on (optimizers and initializers write under no_grad), and, here, not into
        or from a tensor that the graph records (PyTorch would record the write itself)."""
        if not state.this_thread.grad_enabled:
            return
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
                               "Write into it under `with td.no_grad():` (torch.no_grad()), as optimizers and "
                               "initializers do.")
        if self._requires_grad or (isinstance(value, Tensor) and value._requires_grad):
            raise RuntimeError(f"{op}: in-place writes that autograd would have to record are not supported by "
                               "tinygrad_drop; compute a new tensor instead (x = x + y, x.masked_fill(mask, v), "
                               "td.where(c, a, b), td.stack/td.cat of the pieces), or write under td.no_grad() "
                               "to change values only")

    def _write(self, op: str, value: Any, write: Callable[[np.ndarray, Any], None]) -> "Tensor":
        """Run write(self.data, value's array) after the checks; count the write; return self."""
        self._check_inplace(op, value)
        try:
            write(self.data, _raw(value))
        except (ValueError, TypeError, IndexError) as error:
            # numpy's own subclasses (a casting error, say) take other arguments: raise the plain kind
            kind = next(k for k in (IndexError, TypeError, ValueError) if isinstance(error, k))
            raise kind(f"{op}: cannot write a value of shape {np.shape(_raw(value))} and dtype "
                              f"{np.asarray(_raw(value)).dtype} into a tensor of shape {self.shape} and dtype "
                              f"{self.dtype}: {error}") from None
        self._count_write()
        return self

    def _count_write(self) -> None:
        """Count one in-place write of this tensor (its version) and of the process (see autograd/function.py)."""
        self._version += 1
        state.process.inplace_writes += 1

    def __setitem__(self, index, value) -> None:
        index = _index_args(index)

        def assign(data, value):
            data[index] = value
        self._write("__setitem__", value, assign)

    def copy_(self, src: Any) -> "Tensor":
        """Copy src's values (broadcast to this shape, cast to this dtype) into this tensor."""
        def assign(data, value):
            data[...] = value
        return self._write("copy_", src, assign)

    def zero_(self) -> "Tensor":
        """Fill with zeros in place (outside the graph) and return self."""
        return self.fill_(0)

    def fill_(self, value: float) -> "Tensor":
        """Fill with `value` in place (outside the graph) and return self."""
        return self.copy_(value)

    def add_(self, other: Any, alpha: float = 1) -> "Tensor":
        """self += alpha * other, in place."""
        return self._write("add_", other, lambda data, v: np.add(data, v if alpha == 1 else alpha * v, out=data))

    def sub_(self, other: Any, alpha: float = 1) -> "Tensor":
        """self -= alpha * other, in place."""
        return self._write("sub_", other, lambda data, v: np.subtract(data, v if alpha == 1 else alpha * v, out=data))

    def mul_(self, other: Any) -> "Tensor":
        """self *= other, in place."""
        return self._write("mul_", other, lambda data, v: np.multiply(data, v, out=data))

    def div_(self, other: Any) -> "Tensor":
        """self /= other, in place."""
        return self._write("div_", other, lambda data, v: np.divide(data, v, out=data))

    def clamp_(self, min: float | None = None, max: float | None = None) -> "Tensor":
        """Each element limited to [min, max], in place."""
        return self._write("clamp_", None, lambda data, _: np.clip(data, min, max, out=data))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> "Tensor":
        """Fill with draws from N(mean, std^2), in place."""
        return self.copy_(draws(generator).normal(mean, std, size=self.shape))

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Generator | None = None) -> "Tensor":
        """Fill with draws uniform on [a, b), in place."""
        return self.copy_(draws(generator).uniform(a, b, size=self.shape))

    def _augmented(self, op: str, other: Any, operator: Callable, inplace: Callable) -> "Tensor":
        """x += y and friends: in place, as in PyTorch, where the write records nothing; where
        autograd is involved (an intermediate of the graph), a new tensor bound to the same name,
        which gives the same values and the gradients PyTorch's recorded write gives."""
        recorded = state.this_thread.grad_enabled and (
            self._requires_grad or (isinstance(other, Tensor) and other._requires_grad))
        if recorded and not (self._requires_grad and self.grad_fn is None):
            return operator(self, other)
        return inplace(other)

    def __iadd__(self, other): return self._augmented("+=", other, Tensor.__add__, self.add_)
    def __isub__(self, other): return self._augmented("-=", other, Tensor.__sub__, self.sub_)
    def __imul__(self, other): return self._augmented("*=", other, Tensor.__mul__, self.mul_)
    def __itruediv__(self, other): return self._augmented("/=", other, Tensor.__truediv__, self.div_)

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
        """The number of elements; nelement is the same method."""
        return self.data.size

    nelement = numel

    @property
    def device(self) -> device:
        """Where the data lives: always the CPU here (td.device("cpu"))."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        """False: tensors live on the CPU."""
        return False

    def cpu(self) -> "Tensor":
        """This tensor (it already lives on the CPU)."""
        return self

    def cuda(self, *args, **kwargs) -> "Tensor":
        """Raises: there is no GPU here (see td.device)."""
        check_device("cuda", "cuda")

    def contiguous(self) -> "Tensor":
        """This tensor: numpy arrays need no contiguous copy for anything the ops do."""
        return self

    def clone(self) -> "Tensor":
        """A copy with its own data, in the graph (gradients flow back to this tensor)."""
        return selection.Clone.apply(self)

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ndim)."""
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __contains__(self, element: Any) -> bool:
        return bool((self.data == _raw(element)).any())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} and shape {self.shape}")
        return int(self.data.item())

    def __format__(self, format_spec: str) -> str:
        if self.data.ndim == 0 or (format_spec and self.data.size == 1):
            return format(self.data.item(), format_spec)
        if format_spec:
            raise TypeError(f"format spec {format_spec!r} needs a one-element tensor, this one has shape {self.shape}")
        return repr(self)

    def __abs__(self) -> "Tensor":
        return self.abs()

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

    def __array_ufunc__(self, ufunc, method: str, *inputs, **kwargs):
        # numpy meeting a Tensor. `array += tensor` (PyTorch's `p.data += -lr * p.grad`) writes
        # into the array, as it reads; `array + tensor` is the Tensor's reflected op, in the
        # graph; any other ufunc (np.exp(t), np.isfinite(t)) computes on the arrays.
        arrays = tuple(_raw(value) for value in inputs)
        if "out" in kwargs or method != "__call__" or len(inputs) != 2 or ufunc not in REFLECTED_OPS:
            if "out" in kwargs:
                kwargs["out"] = tuple(_raw(out) for out in kwargs["out"])
            return getattr(ufunc, method)(*arrays, **kwargs)
        forward, reflected = REFLECTED_OPS[ufunc]
        if isinstance(inputs[0], Tensor):
            return getattr(inputs[0], forward)(inputs[1])
        return getattr(inputs[1], reflected)(inputs[0])

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
        """The matrix product self @ other (batched over leading dimensions); mm and bmm are the same method."""
        return self @ other

    mm = bmm = matmul

    def maximum(self, other) -> "Tensor":
        """The larger of self and other at each element; where they tie, each gets half the gradient."""
        b = _raw(other)
        return (where(self.data > b, self, other) + where(self.data >= b, self, other)) * 0.5

    def minimum(self, other) -> "Tensor":
        """The smaller of self and other at each element; where they tie, each gets half the gradient."""
        b = _raw(other)
        return (where(self.data < b, self, other) + where(self.data <= b, self, other)) * 0.5

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
        """Whether |self - other| <= atol + rtol * |other| everywhere."""
        return bool(np.allclose(self.data, _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def equal(self, other) -> bool:
        """Whether other has this shape and these elements."""
        return bool(np.array_equal(self.data, _raw(other)))

    def bernoulli(self, *, generator: Generator | None = None) -> "Tensor":
        """1 with probability self (each element a probability), else 0 (td.bernoulli(self))."""
        return bernoulli(self, generator=generator)


    # comparisons give bool tensors outside the graph
    def __lt__(self, other): return Tensor._from_array(self.data < _raw(other))
    def __le__(self, other): return Tensor._from_array(self.data <= _raw(other))
    def __gt__(self, other): return Tensor._from_array(self.data > _raw(other))
    def __ge__(self, other): return Tensor._from_array(self.data >= _raw(other))
    def __eq__(self, other): return Tensor._from_array(self.data == _raw(other))
    def __ne__(self, other): return Tensor._from_array(self.data != _raw(other))
    def __invert__(self): return Tensor._from_array(~self.data)
    def eq(self, other):
        """self == other, elementwise (a bool tensor)."""
        return self == other

    def ne(self, other):
        """self != other, elementwise (a bool tensor)."""
        return self != other

    def lt(self, other):
        """self < other, elementwise (a bool tensor)."""
        return self < other

    def le(self, other):
        """self <= other, elementwise (a bool tensor)."""
        return self <= other

    def gt(self, other):
        """self > other, elementwise (a bool tensor)."""
        return self > other

    def ge(self, other):
        """self >= other, elementwise (a bool tensor)."""
        return self >= other

    def all(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Whether every element (along dim) is true/non-zero: a bool tensor, outside the graph."""
        return Tensor._from_array(np.asarray(np.all(self.data, axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim: bool = False) -> "Tensor":
        """Whether any element (along dim) is true/non-zero: a bool tensor, outside the graph."""
        return Tensor._from_array(np.asarray(np.any(self.data, axis=dim, keepdims=keepdim)))

    def __mod__(self, other): return self._no_grad_op("%", np.remainder, other)
    def __floordiv__(self, other): return self._no_grad_op("//", np.floor_divide, other)
    def __and__(self, other): return Tensor._from_array(self.data & _raw(other))
    def __or__(self, other): return Tensor._from_array(self.data | _raw(other))
    __hash__ = object.__hash__

    def _no_grad_op(self, op: str, ufunc, other) -> "Tensor":
        """An op with no gradient (% and //, on indices mostly): computed outside the graph, and
        refused where a gradient would be expected to flow."""
        if state.this_thread.grad_enabled and (self._requires_grad or getattr(other, "_requires_grad", False)):
            raise RuntimeError(f"{op} has no gradient in tinygrad_drop; apply it to a detached tensor (x.detach()) "
                               "or under td.no_grad()")
        return Tensor._from_array(ufunc(self.data, _raw(other)))

    def exp(self):
        """e to the power of each element."""
        return unary.Exp.apply(self)

    def log(self):
        """The natural logarithm of each element."""
        return unary.Log.apply(self)

    def log10(self):
        """The base-10 logarithm of each element (ln(x) / ln(10))."""
        return self.log() * (1.0 / np.log(10.0))

    def log2(self):
        """The base-2 logarithm of each element (ln(x) / ln(2))."""
        return self.log() * (1.0 / np.log(2.0))

    def sin(self):
        """sin of each element (radians)."""
        return unary.Sin.apply(self)

    def cos(self):
        """cos of each element (radians)."""
        return unary.Cos.apply(self)

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

    def to(self, *args, dtype=None, device=None, non_blocking: bool = False, copy: bool = False) -> "Tensor":
        """This tensor in another dtype, in the graph (itself if it already has that dtype and
        copy is False): x.to(td.float64), x.to("cpu"), x.to("cpu", td.float64), x.to(other).
        A device other than the CPU raises RuntimeError."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif is_device_like(arg):
                device = arg
            else:
                dtype = arg
        check_device(device, "to")
        dtype = self.dtype if dtype is None else as_dtype(dtype, "to")
        if dtype == self.dtype:
            return self.clone() if copy else self
        if dtype.kind not in "fc":
            return Tensor._from_array(self.data.astype(dtype))  # an integer result is outside the graph
        return unary.Cast.apply(self, dtype)

    def type(self, dtype=None):
        """With no argument, the type name ("torch.FloatTensor" for float32, as PyTorch prints it);
        with a dtype, to(dtype)."""
        if dtype is None:
            return f"torch.{TYPE_NAMES.get(self.dtype, str(self.dtype))}"
        if isinstance(dtype, str) and dtype.startswith("torch."):
            names = {name: np_dtype for np_dtype, name in TYPE_NAMES.items()}
            if dtype[6:] not in names:
                raise TypeError(f"type(): unknown type name {dtype!r}")
            dtype = names[dtype[6:]]
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        """This tensor in other's dtype."""
        return self.to(other.dtype)

    def view_as(self, other: "Tensor") -> "Tensor":
        """This tensor in other's shape; reshape_as is the same method."""
        return self.reshape(other.shape)

    reshape_as = view_as

    def repeat(self, *repeats) -> "Tensor":
        """The tensor tiled `repeats[i]` times along dimension i (leading repeats add dimensions),
        as torch's repeat: an expand of interleaved size-1 dimensions, then a reshape, so the
        gradient sums over the copies."""
        repeats = _shape_args(repeats)
        if len(repeats) < self.ndim:
            raise RuntimeError(f"repeat: {len(repeats)} repeats for a tensor with {self.ndim} dimensions; give at "
                               "least one per dimension")
        shape = (1,) * (len(repeats) - self.ndim) + self.shape
        interleaved = self.reshape(tuple(size for s in shape for size in (1, s)))
        tiled = interleaved.expand(tuple(size for r, s in zip(repeats, shape) for size in (r, s)))
        return tiled.reshape(tuple(r * s for r, s in zip(repeats, shape)))

    def expand_as(self, other: "Tensor") -> "Tensor":
        """This tensor expanded to other's shape."""
        return self.expand(other.shape)

    def square(self) -> "Tensor":
        """Each element squared."""
        return self * self

    def short(self):
        """An int16 copy, outside the graph."""
        return Tensor._from_array(self.data.astype(np.int16))

    def is_floating_point(self) -> bool:
        """Whether this tensor holds floats."""
        return self.data.dtype.kind == "f"

    def half(self):
        """This tensor as float16 (numpy's half precision; the fused kernels compute in float32 or float64)."""
        return self.to(np.float16)

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

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """The index of the largest element along `dim` (of the flattened tensor if None)."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return Tensor._from_array(np.argmax(self.data, axis=dim, keepdims=keepdim and dim is not None))

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        """The index of the smallest element along `dim` (of the flattened tensor if None)."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return Tensor._from_array(np.argmin(self.data, axis=dim, keepdims=keepdim and dim is not None))

    def std(self, dim=None, keepdim: bool = False, *, correction: int = 1, unbiased: bool | None = None,
            axis=None, keepdims=None):
        """The standard deviation over `dim`: sqrt of var (N - correction in the denominator)."""
        return self.var(dim, keepdim, correction=correction, unbiased=unbiased, axis=axis, keepdims=keepdims).sqrt()

    # ---- selection by index ------------------------------------------------------------------

    def gather(self, dim: int, index) -> "Tensor":
        """out[i][j] = self[index[i][j]][j] for dim=0 (index names a position along `dim`)."""
        dim = _check_dim(dim, self.ndim, "gather")
        return selection.Gather.apply(self, dim, np.asarray(_raw(index)))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """(values, indices) sorted along `dim`, ascending unless descending (ties keep their order)."""
        dim = _check_dim(dim, self.ndim, "sort")
        indices = self.argsort(dim, descending)
        return SortResult(self.gather(dim, indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> "Tensor":
        """The indices that sort the tensor along `dim`."""
        dim = _check_dim(dim, self.ndim, "argsort")
        keys = -self.data if descending and self.dtype != np.bool_ else self.data
        indices = np.argsort(keys, axis=dim, kind="stable")
        if descending and self.dtype == np.bool_:
            indices = np.flip(np.argsort(keys, axis=dim, kind="stable"), axis=dim)
        return Tensor._from_array(indices.astype(np.int64))

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """(values, indices) of the k largest (or smallest) elements along `dim`, largest first."""
        dim = _check_dim(dim, self.ndim, "topk")
        if not 0 <= k <= self.shape[dim]:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {self.shape[dim]}")
        order = self.argsort(dim, descending=largest).data
        indices = Tensor._from_array(np.ascontiguousarray(np.take(order, np.arange(k), axis=dim)))
        return TopKResult(self.gather(dim, indices), indices)

    def tril(self, diagonal: int = 0) -> "Tensor":
        """The lower triangle of the last two dimensions (elements above `diagonal` set to 0)."""
        return self._triangle("tril", lambda n, m: ~np.tri(n, m, diagonal, dtype=bool))

    def triu(self, diagonal: int = 0) -> "Tensor":
        """The upper triangle of the last two dimensions (elements below `diagonal` set to 0)."""
        return self._triangle("triu", lambda n, m: np.tri(n, m, diagonal - 1, dtype=bool))

    def _triangle(self, op: str, zeroed: Callable) -> "Tensor":
        if self.ndim < 2:
            raise ValueError(f"{op}: expected a tensor with at least 2 dimensions, got shape {self.shape}")
        return self.masked_fill(zeroed(*self.shape[-2:]), 0)

    def roll(self, shifts, dims=None) -> "Tensor":
        """The elements shifted by `shifts` places along `dims` (of the flattened tensor if None), wrapping."""
        if dims is None:
            return selection.Roll.apply(self.flatten(), int(shifts), 0).reshape(self.shape)
        if isinstance(dims, (tuple, list)):
            dims = tuple(_check_dim(d, self.ndim, "roll") for d in dims)
            shifts = tuple(int(s) for s in shifts)
        else:
            dims, shifts = _check_dim(dims, self.ndim, "roll"), int(shifts)
        return selection.Roll.apply(self, shifts, dims)

    def flip(self, *dims) -> "Tensor":
        """The elements in reverse order along each of `dims`."""
        dims = {_check_dim(d, self.ndim, "flip") for d in _shape_args(dims)}
        return self[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(self.ndim))]

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator: Generator | None = None):
        """Indices drawn from each row of these (unnormalized, non-negative) weights: an int64
        tensor of shape (..., num_samples); without replacement each index at most once per row."""
        return multinomial(self, num_samples, replacement, generator=generator)

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

    def t(self) -> "Tensor":
        """The transpose of a matrix (a tensor of at most 2 dimensions, as PyTorch's t())."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D; use transpose")
        return self.T

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
        return movement.MaskedFill.apply(self, np.asarray(_raw(mask)), _raw(value))

    def masked_fill_(self, mask, value: float) -> "Tensor":
        """`value` written where the bool `mask` is True, in place."""
        mask = np.asarray(_raw(mask))
        return self._write("masked_fill_", value, lambda data, v: np.copyto(data, v, where=mask))

    def where(self, condition, other) -> "Tensor":
        """self where `condition` is True, other elsewhere (td.where(condition, self, other))."""
        return where(condition, self, other)

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
# the ufunc behind each of numpy's binary operators -> (Tensor's method, its reflected twin)
REFLECTED_OPS = {np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
                 np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
                 np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
                 np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"),
                 np.greater: ("__gt__", "__lt__"), np.greater_equal: ("__ge__", "__le__"),
                 np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__")}
SortResult = namedtuple("SortResult", ["values", "indices"])
TopKResult = namedtuple("TopKResult", ["values", "indices"])
# PyTorch's legacy type names, which Tensor.type() prints
TYPE_NAMES = {np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor",
              np.dtype(np.float16): "HalfTensor", np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor",
              np.dtype(np.int16): "ShortTensor", np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor",
              np.dtype(np.bool_): "BoolTensor"}
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


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Indices drawn from each row of the non-negative weights `input` (1-d or 2-d; rows need
    not sum to 1): int64 of shape (..., num_samples). Without replacement, an index is drawn at
    most once per row (so num_samples may not exceed the number of non-zero weights)."""
    weights = np.asarray(_raw(input), dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: expected a 1-d or 2-d tensor of weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise RuntimeError("multinomial: the weights must be finite and non-negative (probs from softmax are)")
    rows = weights.reshape(-1, weights.shape[-1])
    sums = rows.sum(axis=1)
    if (sums <= 0).any():
        raise RuntimeError("multinomial: a row of weights sums to 0; there is nothing to draw from")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample {num_samples} > {rows.shape[1]} samples without replacement")
    rng = draws(generator)
    samples = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, row in enumerate(rows):
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError(f"multinomial: row {i} has fewer than {num_samples} non-zero weights to draw "
                               "without replacement")
        samples[i] = rng.choice(row.size, size=num_samples, replace=replacement, p=row / sums[i])
    return Tensor._from_array(samples.reshape(weights.shape[:-1] + (num_samples,)))


def bernoulli(input: Tensor, *, generator: Generator | None = None) -> Tensor:
    """1 with probability input (each element a probability in [0, 1]), else 0; input's dtype."""
    probabilities = np.asarray(_raw(input))
    if probabilities.size and (probabilities.min() < 0 or probabilities.max() > 1):
        raise RuntimeError("bernoulli: every probability must be in [0, 1]")
    draws_ = draws(generator).random(probabilities.shape) < probabilities
    return Tensor._from_array(draws_.astype(probabilities.dtype))


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
