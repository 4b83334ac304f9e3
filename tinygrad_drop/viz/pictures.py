"""A tensor as a small picture the page can draw: a grid of some of its elements, and a summary.

Any tensor is read as a matrix (the last axis across, every other axis folded into rows; a
scalar is 1 x 1). A matrix larger than the cap keeps evenly spaced rows and columns: each cell
drawn is a real element (never an average), so a dropped element still shows as exactly 0. The
cells travel as base64 float32, a quarter of the size of printed numbers.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

MAX_ROWS = 24
MAX_COLS = 32


@dataclass
class Grid:
    """Which rows and columns of a tensor's matrix view the picture keeps."""

    shape: tuple
    rows: np.ndarray
    cols: np.ndarray

    @classmethod
    def for_shape(cls, shape: tuple, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> Grid:
        """Evenly spaced rows and columns of the matrix view of a tensor of this shape."""
        n_rows, n_cols = matrix_shape(shape)
        return cls(tuple(shape), spaced(n_rows, max_rows), spaced(n_cols, max_cols))

    def cells(self, array: np.ndarray) -> np.ndarray:
        """The kept elements of `array` (of this grid's shape) as a (rows, cols) matrix."""
        return np.asarray(array).reshape(matrix_shape(self.shape))[np.ix_(self.rows, self.cols)]

    def picture(self, array: np.ndarray) -> dict:
        """What the page needs to draw `array`: the cells, where they came from, and a summary."""
        cells = self.cells(array).astype(np.float32)
        return {"rows": len(self.rows), "cols": len(self.cols), "rowIndex": self.rows.tolist(),
                "colIndex": self.cols.tolist(), "cells": base64.b64encode(cells.tobytes()).decode("ascii"),
                "stats": statistics(array)}

    def bits(self, mask: np.ndarray) -> str:
        """A boolean mask's kept cells as '1' (kept) and '0' (dropped), row after row."""
        return "".join("1" if kept else "0" for kept in self.cells(mask).ravel())


def matrix_shape(shape: tuple) -> tuple[int, int]:
    """(rows, columns) of the matrix view: the last axis across, the others folded into rows."""
    if len(shape) == 0:
        return 1, 1
    return int(np.prod(shape[:-1], dtype=np.int64)), int(shape[-1])


def spaced(size: int, cap: int) -> np.ndarray:
    """All of range(size) if it fits in cap, else cap evenly spaced indices from 0 to size - 1."""
    if size <= cap:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, cap).round().astype(np.int64))


def statistics(array: np.ndarray) -> dict:
    """min, max, mean, std, L2 norm and the fraction of exact zeros, in float64."""
    values = np.asarray(array, dtype=np.float64)
    if values.size == 0:
        return {"size": 0}
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"size": int(values.size), "nonfinite": int(values.size)}
    return {"size": int(values.size), "min": float(finite.min()), "max": float(finite.max()),
            "mean": float(finite.mean()), "std": float(finite.std()),
            "norm": float(np.sqrt(np.sum(np.square(finite)))), "zeros": float(np.mean(values == 0)),
            "nonfinite": int(values.size - finite.size)}
