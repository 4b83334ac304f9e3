"""Devices and dtypes by PyTorch's names.

This framework computes on the CPU with numpy, so there is one device, `device("cpu")`, and
every tensor is on it. PyTorch code names devices anyway (`x.to(device)`, `device=` on creation
functions): "cpu" is accepted everywhere, and a device that is not here ("cuda", "mps", ...)
raises one clear error instead of being silently ignored, so a script never believes it runs
on a GPU.

Dtypes are numpy's: torch.long is np.int64, torch.float np.float32, and so on (the names are
in compat/torch.py), so `x.dtype == torch.long` compares as PyTorch code expects. bfloat16 has no numpy type; its name exists (scripts pick
dtypes from tables that mention it) and using it raises.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class device:
    """A device name, as torch.device: `td.device("cpu")`; "cuda" or "mps" raise RuntimeError.

    Args:
        type: "cpu" (optionally "cpu:0"), or a device to copy.
        index: accepted for PyTorch's signature; only index 0 (or None) exists.
    """

    def __init__(self, type: "str | device", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a device name such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        check_device(name, "device")
        if number:
            index = int(number)
        if index not in (None, 0):
            raise RuntimeError(f"device(): there is one CPU device here, got index {index}")
        self.type, self.index = "cpu", index

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"


def check_device(name: Any, function: str) -> None:
    """RuntimeError naming `function` unless `name` is the CPU ("cpu", "cpu:0", device("cpu") or None)."""
    if name is None or isinstance(name, device):
        return
    if isinstance(name, int):
        name = "cuda"  # PyTorch reads a bare int as a CUDA device index
    if not isinstance(name, str):
        raise TypeError(f"{function}: expected a device ('cpu' or td.device('cpu')), got {type(name).__name__}")
    if name.partition(":")[0] != "cpu":
        raise RuntimeError(f"{function}: device '{name}' is not available: tinygrad_drop runs on the CPU "
                           "only (numpy and Numba). Use device='cpu', or drop the device argument.")


class UnsupportedDtype:
    """A PyTorch dtype numpy cannot hold (bfloat16): its name exists, using it raises TypeError."""

    def __init__(self, name: str, instead: str):
        self.name, self.instead = name, instead

    def __repr__(self) -> str:
        return f"td.{self.name}"


bfloat16 = UnsupportedDtype("bfloat16", "float32 (or float16)")


def as_dtype(value: Any, function: str) -> np.dtype | None:
    """A numpy dtype from PyTorch's or numpy's name for one (None stays None); a dtype numpy
    lacks raises TypeError naming `function` and what to use instead."""
    if value is None:
        return None
    if isinstance(value, UnsupportedDtype):
        raise TypeError(f"{function}: dtype {value.name} is not supported (numpy has no {value.name}); "
                        f"use {value.instead} instead")
    try:
        return np.dtype(value)
    except TypeError:
        raise TypeError(f"{function}: {value!r} is not a dtype; use e.g. td.float32 or td.long") from None


def is_device_like(value: Any) -> bool:
    """Whether `value` names a device (a string or a td.device), as in `x.to("cpu")`."""
    return isinstance(value, (str, device))
