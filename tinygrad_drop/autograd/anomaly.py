"""Anomaly mode: find the op that first produced NaN (forward) or NaN or Inf (backward), the
module that ran it and the line that made it.

    with td.detect_anomaly():
        loss = model(x)        # forward: every new graph node remembers the module path and the
                               # user's file:line, and an op whose output holds NaN raises at once
        loss.backward()        # backward: every gradient a node returns is checked

A NaN spreads: once one node returns it, every node after it receives it and passes it on. So
the *first* node that returns a non-finite value is the culprit, and anomaly mode stops right
there with a RuntimeError naming that node (e.g. `LogBackward`), the path of the module whose
forward created it (e.g. `transformer.h.0.mlp.c_fc`) and the line of user code. Forward checks
NaN only (from inputs without NaN): an infinite value is how masks are written (-inf before a
softmax), so forward lets Inf pass.

Both halves cost time (a walk up the call stack per op, a scan of every gradient), which is why
they run only inside the context manager. "User code" means the first frame outside the
tinygrad_drop package: for an op made inside `nn.LayerNorm.forward` that is the line that called
the layer.
"""
from __future__ import annotations

import linecache
import os
import sys

import numpy as np

from .. import state

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location() -> str | None:
    """'file:line' of the innermost caller outside the tinygrad_drop package, or None."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(PACKAGE_DIR + os.sep):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def short_location(location: str) -> str:
    """'file:line' with the file relative to the working directory when it lies inside it."""
    filename, _, line = location.rpartition(":")
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        relative = filename
    return f"{filename if relative.startswith('..') else relative}:{line}"


def source_of(location: str) -> str:
    """The source text at 'file:line', stripped ('' when the file cannot be read)."""
    filename, _, line = location.rpartition(":")
    return linecache.getline(filename, int(line)).strip() if line.isdigit() else ""


class module_scope:
    """`with module_scope(module):` while a Module's forward runs in anomaly mode, so the nodes it
    creates record its path from the outermost module called (Module.__call__ enters it)."""

    def __init__(self, module: object):
        self.module = module

    def __enter__(self) -> "module_scope":
        called = state.this_thread.modules_called
        called.append((self.module, path_within(called, self.module)))
        return self

    def __exit__(self, *exc_info) -> None:
        state.this_thread.modules_called.pop()


def path_within(called: list, module: object) -> str:
    """The module's path from the outermost module being called: its name among its caller's
    children, else in the outermost module's tree; "" for the outermost module itself."""
    if not called:
        return ""
    for caller, caller_path in reversed(called):
        for name, child in getattr(caller, "_modules", {}).items():
            if child is module:
                return f"{caller_path}.{name}" if caller_path else name
    root = called[0][0]
    for name, candidate in root.named_modules():
        if candidate is module:
            return name
    return called[-1][1]


def current_module_path() -> str | None:
    """'transformer.h.0.mlp.c_fc (Linear)': the innermost module being called and its path
    ('GPT' for the outermost one); None outside every module."""
    called = state.this_thread.modules_called
    if not called:
        return None
    module, path = called[-1]
    kind = type(module).__name__
    return f"{path} ({kind})" if path else kind


def check_forward(ctx, inputs: list, out) -> None:
    """Called by Function.apply in anomaly mode: raise if the op's output holds NaN while none of
    its array inputs did (that op made it)."""
    if not isinstance(out, np.ndarray) or out.dtype.kind not in "fc" or not np.isnan(out).any():
        return
    if any(isinstance(a, np.ndarray) and a.dtype.kind in "fc" and np.isnan(a).any() for a in inputs):
        return
    bad = int(np.count_nonzero(np.isnan(out)))
    raise RuntimeError(f"anomaly: {ctx.function.__name__} returned NaN in its forward output ({bad} of {out.size} "
                       f"values, shape {out.shape}); {origin_of(ctx)}")


def origin_of(node) -> str:
    """Where a node was created: its module path, the user's line and its source text."""
    if node.created_at is None:
        return ("it was created outside td.detect_anomaly(); run the forward pass inside it "
                "too to see the line that created it")
    origin = f"it was created in {node.module_path} at " if node.module_path else "it was created at "
    origin += short_location(node.created_at)
    source = source_of(node.created_at)
    return origin + (f"\n    {source}" if source else "")


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on (inside td.detect_anomaly())."""
    return state.process.anomaly_mode


def check_gradients(node, input_grads: tuple) -> None:
    """Called by the engine after each node's backward while anomaly mode is on: raise at the
    first gradient (an array, or None where none flows) that holds NaN or Inf."""
    for position, array in enumerate(input_grads):
        if array is None:
            continue
        if array.dtype.kind not in "fc" or np.all(np.isfinite(array)):
            continue
        bad = int(np.count_nonzero(~np.isfinite(array)))
        kind = "NaN" if np.isnan(array).any() else "Inf"
        raise RuntimeError(
            f"anomaly: {node.name} returned {kind} in the gradient for its input {position} "
            f"({bad} of {array.size} values not finite, shape {array.shape}); {origin_of(node)}")


class detect_anomaly:
    """`with td.detect_anomaly():` record where each op is created, and raise RuntimeError at
    the first backward node that returns NaN or Inf. Nests; leaves the previous mode on exit."""

    def __enter__(self) -> "detect_anomaly":
        self._previous = state.process.anomaly_mode
        state.process.anomaly_mode = True
        return self

    def __exit__(self, *exc_info) -> None:
        state.process.anomaly_mode = self._previous
