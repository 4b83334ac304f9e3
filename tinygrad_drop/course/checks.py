"""Checks for the course's topic tests: one node's backward against central differences.

`check_backward(Function, x=..., weight=...)` runs the Function's forward and then its backward
*directly*, on one node, without the engine: a topic's tests then exercise that topic alone (the
engine is a topic of its own). The keyword names are the forward's argument names, so a failure
says which gradient is wrong (`d/dweight`), where (the worst element), expected (central
differences in float64) and got (the backward's value). In float32 the backward is compared with
its own float64 result, which the central differences checked: the dtype must not change the
answer beyond float32's rounding, and the gradient must come back in float32.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Context, Function


class WrongGradient(AssertionError):
    """A backward that disagrees with central differences; the message names the argument."""


def _forward(function: type[Function], arguments: dict[str, Any], needs: tuple[bool, ...]) -> tuple[Context, np.ndarray]:
    ctx = Context(function, needs)
    out = function.forward(ctx, *[np.copy(value) if isinstance(value, np.ndarray) else value
                                  for value in arguments.values()])
    return ctx, np.asarray(out)


def worst_element(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> tuple | None:
    """The index where got misses expected by most beyond atol + rtol |expected|; None if none does."""
    with np.errstate(invalid="ignore"):
        error = np.abs(got.astype(np.float64) - expected) - (atol + rtol * np.abs(expected))
    error = np.where(np.isnan(error), np.inf, error)
    if error.size == 0 or not np.any(error > 0):
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))


def describe(op: str, name: str, expected: np.ndarray, got: np.ndarray, index: tuple, atol: float,
             rtol: float, what: str) -> str:
    """One failure message: the argument, the worst element, expected vs got, how many differ."""
    with np.errstate(invalid="ignore"):
        wrong = int(np.count_nonzero(~(np.abs(got - expected) <= atol + rtol * np.abs(expected))))
    return (f"{op}: d/d{name} is wrong at index {index} (the worst of {wrong} wrong elements out of "
            f"{expected.size}, shape {expected.shape}): expected {expected[index]:.8g} ({what}), "
            f"got {got[index]:.8g} (your backward)")


def _gradients(function: type[Function], ctx: Context, grad: np.ndarray, names: list[str]) -> tuple:
    grads = function.backward(ctx, grad)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(names):
        raise WrongGradient(f"{function.__name__}.backward returned {len(grads)} gradients for the "
                            f"{len(names)} arguments of forward ({', '.join(names)}): one per argument, None "
                            "for those that are not arrays")
    return grads


def check_backward(function: type[Function], wrt: tuple[str, ...] | None = None, dtype: type = np.float64,
                   delta: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4, seed: int = 0,
                   **arguments: Any) -> None:
    """Check `function.backward` for forward's keyword `arguments` (in forward's order); raise
    WrongGradient naming the argument, the worst element, expected and got.

    Float arrays in `arguments` are the differentiated inputs (or only the names in `wrt`); they
    are cast to float64 for the central differences (steps of +-delta), and to `dtype` for the run
    whose gradients are compared with them."""
    names = list(arguments)
    floats = [name for name, value in arguments.items()
              if isinstance(value, np.ndarray) and value.dtype.kind == "f" and (wrt is None or name in wrt)]
    needs = tuple(name in floats for name in names)
    exact = {name: value.astype(np.float64) if name in floats else value for name, value in arguments.items()}
    ctx, out = _forward(function, exact, needs)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape)
    analytic = _gradients(function, ctx, cotangent, names)
    op = function.__name__
    for position, name in enumerate(names):
        if name not in floats:
            continue
        got = analytic[position]
        if got is None:
            raise WrongGradient(f"{op}: d/d{name} is None; {name} needs a gradient of shape {exact[name].shape}")
        got = np.asarray(got, dtype=np.float64)
        if got.shape != exact[name].shape:
            raise WrongGradient(f"{op}: d/d{name} has shape {got.shape}; it must have {name}'s shape "
                                f"{exact[name].shape}")
        expected = np.zeros(exact[name].shape)
        flat = exact[name].reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + delta
            plus = float((_forward(function, exact, needs)[1] * cotangent).sum())
            flat[i] = original - delta
            minus = float((_forward(function, exact, needs)[1] * cotangent).sum())
            flat[i] = original
            expected.reshape(-1)[i] = (plus - minus) / (2 * delta)
        index = worst_element(expected, got, atol, rtol)
        if index is not None:
            raise WrongGradient(describe(op, name, expected, got, index, atol, rtol, "central differences"))
    if dtype != np.float64:
        check_dtype(function, arguments, floats, needs, cotangent, analytic, dtype)


def check_dtype(function: type[Function], arguments: dict[str, Any], floats: list[str], needs: tuple,
                cotangent: np.ndarray, exact_grads: tuple, dtype: type) -> None:
    """The same backward in `dtype`: gradients in that dtype, equal to the float64 ones up to its rounding."""
    cast = {name: value.astype(dtype) if name in floats else value for name, value in arguments.items()}
    ctx, out = _forward(function, cast, needs)
    grads = _gradients(function, ctx, cotangent.astype(out.dtype), list(arguments))
    tolerance = 50 * float(np.finfo(dtype).eps)
    for position, name in enumerate(arguments):
        if name not in floats:
            continue
        got = grads[position]
        if got is None or np.asarray(got).dtype != dtype:
            raise WrongGradient(f"{function.__name__}: d/d{name} for {np.dtype(dtype).name} inputs must be "
                                f"{np.dtype(dtype).name}, got {None if got is None else np.asarray(got).dtype}")
        expected = np.asarray(exact_grads[position], dtype=np.float64)
        scale = float(np.abs(expected).max(initial=1.0))
        index = worst_element(expected, np.asarray(got, dtype=np.float64), tolerance * scale, tolerance)
        if index is not None:
            raise WrongGradient(describe(function.__name__, name, expected, np.asarray(got, np.float64), index,
                                         tolerance * scale, tolerance, f"your float64 backward, in {np.dtype(dtype).name}"))


def assert_close(what: str, expected: np.ndarray, got: np.ndarray, atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """Raise WrongGradient naming `what` and the worst element unless got matches expected."""
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape:
        raise WrongGradient(f"{what}: expected shape {expected.shape}, got {got.shape}")
    index = worst_element(expected, got, atol, rtol)
    if index is not None:
        with np.errstate(invalid="ignore"):
            wrong = int(np.count_nonzero(~(np.abs(got - expected) <= atol + rtol * np.abs(expected))))
        raise WrongGradient(f"{what} is wrong at index {index} (the worst of {wrong} wrong elements out of "
                            f"{expected.size}): expected {expected[index]:.8g}, got {got[index]:.8g}")
