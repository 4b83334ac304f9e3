"""Broadcasting, forward and backward.

Forward, numpy broadcasts: a (3, 1) and a (4,) operand act as (3, 4). Backward, each input must get
a gradient of its *own* shape from the gradient of the broadcast result ("un-broadcasting").
"""
from __future__ import annotations

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched, giving an array of `shape`."""
    if grad.shape == shape:
        return grad
    # BEGIN SOLUTION broadcast: grad has the broadcast shape; return an array of `shape` (sum what broadcasting added or stretched)
    leading = grad.ndim - len(shape)
    if leading:
        grad = grad.sum(axis=tuple(range(leading)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
    # END SOLUTION


def broadcast_error(op: str, *operands) -> ValueError:
    shapes = " and ".join(str(tuple(np.shape(x))) for x in operands)
    return ValueError(f"{op}: shapes {shapes} cannot be broadcast together")


def broadcast_binary(op: str, ufunc, a, b) -> np.ndarray:
    """Apply a numpy ufunc, turning numpy's shape error into one that names the op and shapes."""
    try:
        return ufunc(a, b)
    except ValueError:
        raise broadcast_error(op, a, b) from None
