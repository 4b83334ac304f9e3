"""What a kernel may assume about its arguments, checked once where it is called (Kernel.__call__).

A compiled Numba loop does not check its indices: a class index past the end of a row, a bias
shorter than the rows it is added to, or a gradient smaller than the array it is read beside
makes the kernel read or write outside its arrays: a wrong number at best, a crash at worst. The
ops check what users pass them; each kernel's `check` holds the kernel's own contract for every
caller (the ops, the tests, a student's code), on both backends, so a bad call is one clear
exception that names the kernel. (NUMBA_BOUNDSCHECK=1 compiles every index check into the loops
themselves, for debugging: see docs/debugging.md.)
"""
from __future__ import annotations

import numpy as np

FLOATS = (np.float32, np.float64)


def shapes(kernel: str, **arrays_and_shapes: tuple) -> None:
    """Each keyword is (array, the tuple it must have as its shape)."""
    for name, (array, expected) in arrays_and_shapes.items():
        if getattr(array, "shape", None) != expected:
            raise ValueError(f"{kernel}: {name} has shape {np.shape(array)}, expected {tuple(expected)}")


def ndim(kernel: str, name: str, array, *allowed: int) -> None:
    """The array has one of the allowed numbers of axes."""
    if getattr(array, "ndim", None) not in allowed:
        raise ValueError(f"{kernel}: {name} must have {' or '.join(map(str, allowed))} axes, "
                         f"got shape {np.shape(array)}")


def floats(kernel: str, **arrays) -> None:
    """The arrays hold float32 or float64, all the same one: the kernels are compiled for those."""
    first = None
    for array in arrays.values():
        dtype = getattr(array, "dtype", None)
        first = dtype if first is None else first
        if dtype != first or dtype not in FLOATS:
            refuse_dtypes(kernel, arrays)


def refuse_dtypes(kernel: str, arrays: dict) -> None:
    """The error for arrays that `floats` refused, naming the one that is wrong."""
    dtypes = {name: getattr(array, "dtype", None) for name, array in arrays.items()}
    for name, dtype in dtypes.items():
        if dtype not in FLOATS:
            got = type(arrays[name]) if dtype is None else dtype
            raise TypeError(f"{kernel}: {name} must be a float32 or float64 array, got {got}")
    raise TypeError(f"{kernel}: the arrays must share one dtype, got "
                    + ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items()))


def indices(kernel: str, name: str, array, count: int, ignore: int | None = None) -> None:
    """Integer indices in [0, count), except those equal to `ignore`."""
    if getattr(getattr(array, "dtype", None), "kind", None) not in ("i", "u"):
        raise TypeError(f"{kernel}: {name} must be an integer array, got {getattr(array, 'dtype', type(array))}")
    if array.size == 0 or (array.min() >= 0 and array.max() < count):
        return  # the usual call: every index in range
    outside = (array < 0) | (array >= count)
    if ignore is not None:
        outside &= array != ignore
    if outside.any():
        raise IndexError(f"{kernel}: {name} holds {int(array[outside].flat[0])}, outside [0, {count})")


def probability(kernel: str, p: float) -> None:
    """A dropout probability in [0, 1]."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{kernel}: p must be in [0, 1], got {p}")
