"""`Function`: one differentiable op, its forward and its backward side by side.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):              # numpy arrays in, a numpy array out
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):          # dL/dy in, dL/dx out (one per input)
            (y,) = ctx.saved_tensors
            return grad * y               # d exp(x)/dx = exp(x)

    y = Exp.apply(x)                      # Tensor in, Tensor out, graph recorded

`apply` unwraps Tensor arguments to their numpy arrays, runs `forward`, and, when any input
requires grad, wraps the result in a Tensor whose `grad_fn` is the `Context` of this call: the
node of the graph. The engine later calls `backward(ctx, grad)` with that same ctx.
Non-tensor arguments (ints, shapes, flags) pass through unchanged and get `None` as gradient.

Layers: autograd sits below the ops (each op is a Function) and below tensor.py (whose methods
call the ops), so it never imports tensor.py. The class that results are wrapped in is the one
attribute tensor.py sets here, `Function.tensor_type`, once, right after defining Tensor.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import state
from .anomaly import check_forward, current_module_path, short_location, source_of, user_location


class Context:
    """The node of one op call: what backward needs (saved arrays, shapes, flags) and the graph
    edges (`inputs`). Ops may set any attribute on it, e.g. `ctx.shape = x.shape`.

    A node that saved arrays also remembers the version of each input Tensor (`saved_versions`;
    its output starts at version 0) and the process's count of in-place writes at the time
    (`writes_before`), so that backward can refuse values an in-place write has changed since
    (see check_versions), and skip looking when no write happened at all."""

    saved_versions: tuple | None = None

    def __init__(self, function: type, needs_input_grad: tuple[bool, ...]):
        self.function = function
        self.needs_input_grad = needs_input_grad
        self.inputs: tuple = ()
        self._saved: tuple | None = ()
        self.released = False
        self.created_at: str | None = None
        self.module_path: str | None = None

    @property
    def name(self) -> str:
        """"ExpBackward" for a node of Exp: the name tracebacks, grad_fn and the graph show."""
        return f"{self.function.__name__}Backward"

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep these arrays for backward, which reads them as ctx.saved_tensors."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What forward saved; a second backward through a freed graph raises here."""
        self.check_not_released()
        return self._saved

    def check_not_released(self) -> None:
        """Raise PyTorch's error for a node whose graph an earlier backward freed."""
        if self.released:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time; its saved "
                "buffers were freed. Call backward(retain_graph=True) the first time to keep them.")

    def check_versions(self, output) -> None:
        """PyTorch's in-place check, run by the engine before this node's backward: raise if an
        input or the output was written in place since forward (its version moved on) and this
        node saved its values, because backward would read the new values instead of the ones
        forward used and return a wrong gradient."""
        if self._saved is None:
            return  # released: saved_tensors names that problem
        candidates = [(f"input {i}", t, version) for i, (t, version) in enumerate(zip(self.inputs, self.saved_versions))
                      if t is not None and t._version != version]
        if output._version != 0:
            candidates.append(("output 0", output, 0))
        for role, tensor, expected in candidates:
            if any(isinstance(saved, np.ndarray) and np.may_share_memory(saved, tensor.data) for saved in self._saved):
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{tensor.dtype} tensor of shape {tuple(tensor.shape)}], which is {role} of "
                    f"{self.name}, is at version {tensor._version}; expected version {expected} instead. "
                    f"Hint: {self._where_made()} Look for a write into that tensor between there and "
                    "backward() (x[...] = v, copy_, zero_, add_, an optimizer step), and compute a new tensor "
                    "instead, or call backward() before the write.")

    def _where_made(self) -> str:
        if self.created_at is None:
            return (f"run the forward pass inside td.detect_anomaly() (torch.autograd.set_detect_anomaly(True) "
                    f"under tinygrad_drop.run) to see the line that created {self.name}.")
        source = source_of(self.created_at)
        return f"{self.name} was created at {short_location(self.created_at)}" + (f": {source}." if source else ".")

    def release(self) -> None:
        """Drop the saved buffers and the edges to the inputs (after backward), so that their
        memory returns at once: a loss kept in a list keeps one node alive, not the whole graph
        and every activation in it (PyTorch's stored losses pin no activations either)."""
        self._saved = None
        self.inputs = ()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, grad)`; call `.apply(...)`."""

    tensor_type: type  # tinygrad_drop.Tensor (set by tensor.py)

    @staticmethod
    def forward(ctx: Context, *args: Any) -> np.ndarray:
        """The op on numpy arrays (Tensors arrive unwrapped); saves on ctx what backward needs."""
        raise NotImplementedError("subclasses of Function define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Any:
        """dL/d(output) in, dL/d(each input) out: one array per input (None where none flows)."""
        raise NotImplementedError(f"{ctx.name}: backward is not implemented")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        """Run forward and wrap its result in a Tensor; where an input requires grad, the result
        records this call (a Context) as its grad_fn, the node backward will visit."""
        Tensor = Function.tensor_type
        # Under no_grad nothing needs a gradient, so forward can skip what only backward uses.
        grad_enabled = state.this_thread.grad_enabled
        needs_input_grad = tuple(grad_enabled and isinstance(a, Tensor) and a.requires_grad
                                 for a in args)
        record = any(needs_input_grad)
        ctx = Context(cls, needs_input_grad)
        raw_args = [a.data if isinstance(a, Tensor) else a for a in args]
        out = cls.forward(ctx, *raw_args, **kwargs)
        if isinstance(out, Tensor):
            out = out.data
        if not record:
            return Tensor._from_array(out)
        ctx.inputs = tuple(a if isinstance(a, Tensor) else None for a in args)
        if ctx._saved:
            ctx.saved_versions = tuple([0 if t is None else t._version for t in ctx.inputs])
            ctx.writes_before = state.process.inplace_writes
        if state.process.anomaly_mode:
            ctx.created_at = user_location()  # the user's file:line, for anomaly reports
            ctx.module_path = current_module_path()
            check_forward(ctx, raw_args, out)
        return Tensor._from_array(out, requires_grad=True, grad_fn=ctx)


def as_array(value) -> np.ndarray:
    """Gradients may be given as Tensors (hooks, user Functions) or arrays; the engine uses arrays."""
    return value.data if isinstance(value, Function.tensor_type) else np.asarray(value)
