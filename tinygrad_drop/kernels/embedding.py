"""Backward of an embedding lookup: a scatter-add of output gradients into weight rows.

Forward (plain numpy indexing, no kernel) picks rows: out[n] = weight[indices[n]], out (N, D),
weight (V, D). Backward gives each weight row the gradient it earned, from grad (N, D) and the
indices (N,); a token may appear several times in a batch. The Numba loop is serial on purpose:
two threads adding into the same row at once would race and lose updates. Both twins add in
index order, in grad's dtype, so they agree bit for bit.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import Kernel, checks


def embedding_backward_numpy(
    indices: np.ndarray, grad: np.ndarray, num_embeddings: int
) -> np.ndarray:
    # BEGIN SOLUTION embedding: dweight (num_embeddings, D) in grad's dtype: row v gets the gradients of every position n with indices[n] == v
    # dweight[v] = sum over n with indices[n] == v of grad[n]: a repeated index must add, and
    # `dweight[indices] += grad` would keep only one of its rows (it reads all rows, then writes),
    # so the reference uses np.add.at.
    dweight = np.zeros((num_embeddings, grad.shape[1]), dtype=grad.dtype)
    np.add.at(dweight, indices, grad)
    return dweight
    # END SOLUTION


# BEGIN SOLUTION embedding: the Numba twin
def embedding_backward_numba(
    indices: np.ndarray, grad: np.ndarray, num_embeddings: int
) -> np.ndarray:
    return _embedding_backward_kernel(
        np.ascontiguousarray(indices, dtype=np.int64), np.ascontiguousarray(grad), int(num_embeddings)
    )


@njit(cache=True)
def _embedding_backward_kernel(indices, grad, num_embeddings):
    n_rows, dim = grad.shape
    dweight = np.zeros((num_embeddings, dim), dtype=grad.dtype)
    for n in range(n_rows):
        row = indices[n]
        for d in range(dim):
            dweight[row, d] += grad[n, d]
    return dweight


# STUDENT: embedding_backward_numba = embedding_backward_numpy  # the Numba twin: yours to write once yours passes
# END SOLUTION


def check_embedding_backward(indices, grad, num_embeddings) -> None:
    checks.ndim("embedding_backward", "grad", grad, 2)
    checks.floats("embedding_backward", grad=grad)
    checks.shapes("embedding_backward", indices=(indices, grad.shape[:1]))
    checks.indices("embedding_backward", "indices", indices, num_embeddings)


embedding_backward = Kernel(
    "embedding_backward", embedding_backward_numpy, embedding_backward_numba, check_embedding_backward
)
