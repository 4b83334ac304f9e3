"""`Module`: the building block of every model, as in PyTorch.

A module is a tree. Assigning an attribute registers it by its type:

    self.weight = Parameter(...)    ->  self._parameters["weight"]   (trained by the optimizer)
    self.block = SomeModule()       ->  self._modules["block"]       (a child in the tree)
    self.register_buffer("mask", m) ->  self._buffers["mask"]        (saved, but not trained)

Everything else walks that tree: `parameters()` collects the leaves, `train()`/`eval()` set the
`.training` flag on every node, `state_dict()` names each array by its dotted path
("transformer.h.0.attn.c_attn.weight"), and `__repr__` prints the tree.

A parameter shared by two modules (weight tying) is one object in two places: `parameters()`
yields it once, so the optimizer updates it once, while `state_dict()` lists it under both names,
exactly as PyTorch does, so checkpoints move between the two frameworks unchanged.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, TypeVar

import numpy as np

from .. import state
from ..autograd.anomaly import module_scope
from ..device import as_dtype, check_device, is_device_like
from ..tensor import Tensor
from .utils import zero_grads


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable when assigned as one of its attributes.

    Args:
        data: the initial values (array-like; a numpy array keeps its dtype).
        requires_grad: whether backward computes its gradient (default True).
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match, by name."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first, so a child's repr nests inside its parent's."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [" " * spaces + line for line in rest])


def _as_array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class Module:
    """Base class for all layers and models: subclass, call `super().__init__()`, define forward."""

    training: bool

    def __init__(self) -> None:
        # object.__setattr__ because our own __setattr__ needs these dictionaries to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---- calling -----------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this layer or model; `module(x)` calls it. Every subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if state.process.anomaly_mode:  # the nodes made inside record this module's path
            with module_scope(self):
                return self.forward(*args, **kwargs)
        return self.forward(*args, **kwargs)

    # ---- registration ------------------------------------------------------------------------

    def _require_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Remove `name` from the plain attributes and from every registry but `keep` (where the
        caller is about to overwrite it: replacing a key keeps its place in the printed order)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._require_init("module")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(nn.Module or None expected)")
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            self._check_buffer(name, value)
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when ordinary lookup fails: look in the registries; an unknown name raises
        # (returning None would turn a typo such as `self.wieght` into a confusing later error).
        attributes = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in attributes and name in attributes[registry]:
                return attributes[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if any(name in self.__dict__.get(r, {}) for r in ("_parameters", "_buffers", "_modules")):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    @staticmethod
    def _check_name(name: Any, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got "{name}"')

    @staticmethod
    def _check_buffer(name: str, value: Any) -> None:
        if value is not None and not isinstance(value, (np.ndarray, Tensor)):
            raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                            "(numpy array, Tensor or None expected)")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` under `name`, as `self.name = param` does (None reserves the name)."""
        self._require_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            "(nn.Parameter or None expected)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: np.ndarray | Tensor | None, persistent: bool = True) -> None:
        """A non-trainable array that belongs to the module (e.g. a causal mask, running statistics).

        Persistent buffers are saved in `state_dict()`; non-persistent ones are rebuilt by __init__."""
        self._require_init("buffers")
        self._check_name(name, "buffer")
        self._check_buffer(name, tensor)
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` as the child `name`, as `self.name = module` does; register_module is
        the same method."""
        self._require_init("module")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # ---- walking the tree --------------------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of each direct child, each module once."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct children, each once."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module in the tree (itself first), each once even if it appears twice."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            # Reversed onto the stack so children come out in registration order (depth first).
            for child_name, child in reversed(list(module._modules.items())):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        """Every module in the tree, itself first (see named_modules)."""
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None or id(member) in seen:
                    continue
                seen.add(id(member))
                yield (f"{module_prefix}.{name}" if module_prefix else name), member

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a tied parameter appears once, under its first name."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of the tree (of this module only if not recurse), a tied one once: what an
        optimizer is given."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        """(dotted name, buffer) pairs, each buffer once."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        """Every buffer of the tree (of this module only if not recurse), each once."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call fn on every child (recursively) and then on self, e.g. a custom initializer."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -----------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set `.training` on every module of the tree (dropout drops only in training) and return self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """train(False): evaluation mode, dropout off. Returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward (backward accumulates with +=)."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False) -> Module:
        """Convert floating-point parameters, their gradients and buffers to `dtype`, in place:
        model.to(td.float64), model.to("cpu"), model.to("cpu", td.float64). The CPU is the only
        device; another raises RuntimeError."""
        for arg in args:
            if is_device_like(arg):
                device = arg
            else:
                dtype = arg
        check_device(device, "Module.to")
        if dtype is None:
            return self
        dtype = as_dtype(dtype, "Module.to")
        if dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got {dtype}")
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            if param.grad is not None:
                param.grad.data = param.grad.data.astype(dtype)
        for module in self.modules():
            for name, buffer in module._buffers.items():
                if isinstance(buffer, Tensor) and buffer.data.dtype.kind == "f":
                    buffer.data = buffer.data.astype(dtype)
                elif isinstance(buffer, np.ndarray) and buffer.dtype.kind == "f":
                    module._buffers[name] = buffer.astype(dtype)
        return self

    def cpu(self) -> Module:
        """This module (it already lives on the CPU). Returns self."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Raises: there is no GPU here."""
        check_device("cuda", "Module.cuda")

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set requires_grad on every parameter (False freezes the module). Returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def float(self) -> Module:
        """to(float32): floating-point parameters and buffers to float32, in place. Returns self."""
        return self.to(np.float32)

    def double(self) -> Module:
        """to(float64): floating-point parameters and buffers to float64, in place (what gradcheck
        wants). Returns self."""
        return self.to(np.float64)

    # ---- state dict --------------------------------------------------------------------------

    def _state_entries(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """(name, parameter or buffer) for the state dict. Unlike named_parameters this does not
        skip repeats: a tied weight is listed under every name, as in PyTorch."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_entries(prefix + name + ".")

    def state_dict(self, keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Dotted name -> a Tensor sharing memory with the parameter or buffer, as in PyTorch:
        detached (outside the graph), so `sd[name].copy_(w)` under no_grad loads weights, and
        later training shows in it (copy a value to keep a snapshot). keep_vars=True gives the
        parameters themselves."""
        if keep_vars:
            return OrderedDict(self._state_entries())
        return OrderedDict((name, Tensor._from_array(_as_array(value))) for name, value in self._state_entries())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the existing parameters and buffers (so tied weights stay tied).

        Values may be numpy arrays or Tensors; they are cast to each parameter's dtype. All
        problems are found before anything is copied, and reported together in one RuntimeError.
        With strict=False, missing and unexpected keys are returned instead of raised; a shape
        mismatch is always an error."""
        own = OrderedDict(self._state_entries())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        mismatches = []
        for name, target in own.items():
            if name in state_dict:
                source_shape = np.shape(_as_array(state_dict[name]))
                target_shape = _as_array(target).shape
                if source_shape != target_shape:
                    mismatches.append(f"size mismatch for {name}: copying a param with shape {source_shape} "
                                      f"from checkpoint, the shape in current model is {target_shape}.")
        errors = list(mismatches)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for name, target in own.items():
            if name in state_dict:
                # Writing into the existing array keeps its dtype and every alias of it.
                _as_array(target)[...] = _as_array(state_dict[name])
                if isinstance(target, Tensor):
                    target._count_write()  # an in-place write, as copy_ counts it
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """One line of settings shown inside the parentheses, e.g. "in_features=4, out_features=2"."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


SequenceT = TypeVar("SequenceT", bound="ModuleSequence")


class ModuleSequence(Module):
    """What Sequential and ModuleList share: children kept in order and reached by position
    (seq[0], seq[-1] = m, len, iteration, append)."""

    def _key(self, index: int) -> str:
        """The registered name of the child at position `index` (negative counts from the end)."""
        size = len(self._modules)
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {size}")
        return list(self._modules)[index % size]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(self._key(index), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self: SequenceT, module: Module) -> SequenceT:
        """Add `module` at the end, registered under its position. Returns self."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(ModuleSequence):
    """Modules applied one after another: Sequential(a, b, c)(x) == c(b(a(x))).

    Args:
        *modules: the modules in order, registered as "0", "1", ...; or a single mapping of
            name -> module (e.g. an OrderedDict), whose names they keep.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            # a slice keeps the children's names, as in PyTorch
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x


class ModuleList(ModuleSequence):
    """A list of modules whose parameters are registered (a plain list would hide them).

    Args:
        modules: an iterable of modules, registered as "0", "1", ... (optional).
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        if isinstance(index, slice):
            # a slice is numbered from 0 again, as in PyTorch
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of `modules` in order. Returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert `module` before position `index`; the children are renumbered "0", "1", ..."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self.extend(items)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order.

    Args:
        modules: a mapping of name -> module, or an iterable of (name, module) pairs (optional).
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        """The names, in insertion order."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """(name, module) pairs, in insertion order."""
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def pop(self, key: str) -> Module:
        """Remove the module `key` and return it."""
        return self._modules.pop(key)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) the modules of a mapping or of (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self.add_module(key, module)


class ParameterList(Module):
    """A list of parameters that a module registers (a plain list would hide them from the optimizer).

    Args:
        values: an iterable of parameters (tensors become Parameters), registered as "0", "1", ...
    """

    def __init__(self, values: Iterable[Tensor] | None = None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def append(self, value: Tensor) -> ParameterList:
        """Add `value` (made a Parameter if it is a plain tensor) at the end. Returns self."""
        if not isinstance(value, Parameter):
            value = Parameter(_as_array(value))
        self.register_parameter(str(len(self)), value)
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        """Append each of `values`. Returns self."""
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index: int) -> Parameter:
        return list(self._parameters.values())[index]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())
