"""The fused kernels (kernels/) are written for float32 and float64, the dtypes that train and
gradcheck. An integer array would make them compute in integers and round every result (softmax
of ints is all zeros), so the ops that call them check their input first."""
from __future__ import annotations

import numpy as np

KERNEL_FLOATS = (np.float32, np.float64)


def require_float(op: str, array: np.ndarray) -> None:
    """TypeError naming the op unless `array` is float32 or float64."""
    if array.dtype not in KERNEL_FLOATS:
        raise TypeError(f"{op}: expected a float32 or float64 tensor, got dtype {array.dtype}")
