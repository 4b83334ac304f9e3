"""Gradcheck one node alone: its Function's backward against central differences of its forward.

For a node y = f(x_1, ..., x_n) and a random direction r (shaped like y), the scalar
L = sum(r * f(x)) has dL/dx_i = backward(r) for input i: the analytic side. The numeric side
nudges single elements of x_i by +-eps and divides the change in L by 2 eps. As td.gradcheck, in
float64 and on the numpy reference kernels (the backend's kernels are tested equal to them); unlike
it, only a few elements of each input are nudged, so a GPT's nodes are checked in moments. The
forward runs again with the call's own arguments, dropout keys included: the same mask.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Context
from ..kernels import backend
from ..tensor import Tensor
from .record import OpCall

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-3
SAMPLES = 4


def float64_arguments(call: OpCall) -> tuple[list, list[int]]:
    """The call's arguments as numpy arrays (floats in float64) and the positions needing a gradient."""
    arrays, checked = [], []
    for position, arg in enumerate(call.args):
        if isinstance(arg, Tensor):
            data = arg.data
            if np.issubdtype(data.dtype, np.floating):
                data = data.astype(np.float64)
                if arg.requires_grad:
                    checked.append(position)
            arrays.append(data)
        else:
            arrays.append(arg)
    return arrays, checked


def check_node(call: OpCall, seed: int = 0, samples: int = SAMPLES) -> dict:
    """{"ok", "input", "index", "analytic", "numeric", "checked"} for the worst element nudged, or
    {"error": why} when the node cannot be checked alone."""
    arrays, checked = float64_arguments(call)
    needs = tuple(position in checked for position in range(len(arrays)))
    rng = np.random.default_rng(seed)

    def forward(values: list) -> np.ndarray:
        copies = [v.copy() if isinstance(v, np.ndarray) else v for v in values]
        out = call.function.forward(Context(call.function, needs), *copies, **call.kwargs)
        return np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)

    try:
        with backend("numpy"):
            ctx = Context(call.function, needs)
            out = call.function.forward(ctx, *[v.copy() if isinstance(v, np.ndarray) else v for v in arrays],
                                        **call.kwargs)
            out = np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)
            direction = rng.standard_normal(out.shape)
            grads = call.function.backward(ctx, direction.copy())
            grads = grads if isinstance(grads, tuple) else (grads,)
            worst = None
            count = 0
            for position in checked:
                x = arrays[position]
                analytic = np.zeros(x.shape) if grads[position] is None else np.asarray(grads[position], np.float64)
                for flat in rng.choice(x.size, size=min(samples, x.size), replace=False):
                    index = np.unravel_index(flat, x.shape)
                    sides = []
                    for sign in (1, -1):
                        nudged = list(arrays)
                        nudged[position] = x.copy()
                        nudged[position][index] += sign * EPS
                        nudged_out = forward(nudged)
                        finite = np.isfinite(nudged_out)  # a mask's -inf is a constant: no gradient there
                        sides.append(float(np.sum(direction[finite] * nudged_out[finite])))
                    numeric = (sides[0] - sides[1]) / (2 * EPS)
                    error = abs(numeric - float(analytic[index]))
                    count += 1
                    if worst is None or error - RTOL * abs(numeric) > worst[0]:
                        worst = (error - RTOL * abs(numeric), position, index, float(analytic[index]), numeric, error)
    except Exception as error:  # a node whose op cannot run alone in float64: say why, keep the page
        return {"error": f"{type(error).__name__}: {error}"}
    if worst is None:
        return {"error": "no input of this node needs a gradient"}
    _, position, index, analytic_value, numeric, error = worst
    return {"ok": bool(error <= ATOL + RTOL * abs(numeric)), "input": position,
            "index": [int(i) for i in index], "analytic": finite_or_none(analytic_value),
            "numeric": finite_or_none(numeric), "error": None, "abs_error": finite_or_none(error), "checked": count}


def finite_or_none(value: float) -> float | None:
    """The value, or None for NaN and infinities, which JSON (and so the page) cannot carry."""
    return value if np.isfinite(value) else None
