"""Embedding lookup: row i of the table for each index i.

Forward is a gather (weight[indices]); backward is the matching scatter-add: the gradient of a
row is the sum of the gradients of every position that looked it up (kernels/embedding.py).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..kernels.embedding import embedding_backward


class EmbeddingFunction(Function):
    @staticmethod
    def forward(ctx, weight, indices):
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"embedding: indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
            bad = indices[(indices < 0) | (indices >= weight.shape[0])][0]
            raise IndexError(f"embedding: index {int(bad)} is out of range for {weight.shape[0]} embeddings")
        # a copy: backward scatters by these indices, so they must be the ones checked above even
        # if the caller's array is refilled before backward
        ctx.indices, ctx.num_embeddings = np.array(indices, dtype=np.int64).ravel(), weight.shape[0]
        ctx.embedding_dim = weight.shape[1]
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        grad2d = np.ascontiguousarray(grad).reshape(ctx.indices.size, ctx.embedding_dim)
        return embedding_backward(ctx.indices, grad2d, ctx.num_embeddings), None
