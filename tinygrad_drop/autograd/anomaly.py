"""Anomaly mode: find the op whose backward first produced NaN or Inf, and the line that made it.

    with td.detect_anomaly():
        loss = model(x)        # forward: every new graph node remembers the user's file:line
        loss.backward()        # backward: every gradient a node returns is checked

A NaN spreads: once one node's backward returns it, every node after it in the walk receives it
and passes it on. So the *first* node whose backward returns a non-finite value is the culprit,
and anomaly mode stops right there with a RuntimeError naming that node (e.g. `SqrtBackward`) and
the line of user code that created it in the forward pass.

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
        if node.created_at is None:
            origin = ("it was created outside td.detect_anomaly(); run the forward pass inside it "
                      "too to see the line that created it")
        else:
            origin = f"it was created at {short_location(node.created_at)}"
            source = source_of(node.created_at)
            if source:
                origin += f"\n    {source}"
        raise RuntimeError(
            f"anomaly: {node.name} returned {kind} in the gradient for its input {position} "
            f"({bad} of {array.size} values not finite, shape {array.shape}); {origin}")


class detect_anomaly:
    """`with td.detect_anomaly():` record where each op is created, and raise RuntimeError at
    the first backward node that returns NaN or Inf. Nests; leaves the previous mode on exit."""

    def __enter__(self) -> "detect_anomaly":
        self._previous = state.process.anomaly_mode
        state.process.anomaly_mode = True
        return self

    def __exit__(self, *exc_info) -> None:
        state.process.anomaly_mode = self._previous
