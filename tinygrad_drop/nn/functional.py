"""nn.functional (import as F): the stateless layer functions, PyTorch's names and arguments."""
from __future__ import annotations

import math

import numpy as np

from ..kernels.dropout import dropout_mask, inverted_scale
from ..ops.attention import CausalQKVAttention, ScaledDotProductAttention
from ..ops.linear import LinearDropout, LinearFunction, LinearGELU
from ..ops.dropout import DropoutFunction
from ..ops.embedding import EmbeddingFunction
from ..ops.loss import CrossEntropy
from ..ops.normalization import LayerNormFunction
from ..random import next_dropout_key
from ..tensor import Tensor


def _tensor_arg(value, op: str, name: str = "input") -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(value).__name__}")
    return value


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    return LinearFunction.apply(_tensor_arg(input, "linear"), _tensor_arg(weight, "linear", "weight"), bias)


def linear_gelu(input: Tensor, weight: Tensor, bias: Tensor | None = None, approximate: str = "none") -> Tensor:
    """gelu(linear(input, weight, bias), approximate) as one node, GELU computed in place over the
    product (a transformer MLP's first half; the same numbers as the two calls)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"linear_gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return LinearGELU.apply(_tensor_arg(input, "linear_gelu"), _tensor_arg(weight, "linear_gelu", "weight"), bias,
                            approximate == "tanh")


def embedding(input: Tensor, weight: Tensor) -> Tensor:
    """Rows of `weight` picked by the integer tensor `input`: shape input.shape + (dim,)."""
    indices = input.data if isinstance(input, Tensor) else np.asarray(input)
    return EmbeddingFunction.apply(_tensor_arg(weight, "embedding", "weight"), indices)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """(input - mean) / sqrt(var + eps) * weight + bias, mean and (biased) variance over the last
    len(normalized_shape) dimensions; weight and bias of shape normalized_shape, or None."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    return LayerNormFunction.apply(_tensor_arg(input, "layer_norm"), weight, bias, shape, eps)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU of each element: input * Phi(input), or its tanh approximation with approximate="tanh"."""
    return _tensor_arg(input, "gelu").gelu(approximate)


def relu(input: Tensor) -> Tensor:
    """max(input, 0) of each element."""
    return _tensor_arg(input, "relu").relu()


def tanh(input: Tensor) -> Tensor:
    """tanh of each element."""
    return _tensor_arg(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)) of each element."""
    return _tensor_arg(input, "sigmoid").sigmoid()


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """exp(input) / sum(exp(input)) along `dim`."""
    return _tensor_arg(input, "softmax").softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(input)) along `dim`, as input - logsumexp(input)."""
    return _tensor_arg(input, "log_softmax").log_softmax(dim)


def cross_entropy(input: Tensor, target, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or per-row) of -log softmax(input)[target]; rows whose target equals
    ignore_index count for nothing, as in PyTorch."""
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    return CrossEntropy.apply(_tensor_arg(input, "cross_entropy"), target, int(ignore_index), reduction)


def check_probability(p) -> float:
    """Dropout's p must be a real number in [0, 1]: anything else is a ValueError."""
    valid = isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)
    if not valid or math.isnan(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def dropout_with_key(input: Tensor, p: float, training: bool, inverted: bool) -> tuple[Tensor, np.uint64 | None]:
    """Dropout that also returns the key its mask came from (None when no mask was drawn),
    so nn.Dropout can show `layer.mask` without storing it."""
    p = check_probability(p)
    input = _tensor_arg(input, "dropout")
    if not training:
        return (input if inverted or p == 0.0 else input * (1.0 - p)), None
    if p == 0.0:
        return input, None
    key = next_dropout_key()
    return DropoutFunction.apply(input, p, key, inverted_scale(p) if inverted else 1.0), key


def linear_dropout(input: Tensor, weight: Tensor, bias: Tensor | None = None, p: float = 0.5, training: bool = True,
                   inverted: bool = True) -> Tensor:
    """dropout(linear(input, weight, bias), p, training, inverted), as one node when a mask is drawn:
    the mask is applied in the pass that adds the bias. The same numbers, key and mask as the two
    calls."""
    p = check_probability(p)
    if not training or p == 0.0:
        return dropout(linear(input, weight, bias), p, training, inverted)
    return LinearDropout.apply(_tensor_arg(input, "linear_dropout"), _tensor_arg(weight, "linear_dropout", "weight"),
                               bias, p, next_dropout_key(), inverted_scale(p) if inverted else 1.0)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inverted: bool = True) -> Tensor:
    """Zero each element with probability p (a new mask every call).

    inverted=True (PyTorch's dropout): kept elements become x/(1-p) in training, identity in eval.
    inverted=False (classic dropout, the original paper's): training keeps x unscaled and eval
    multiplies by (1-p) instead. Either way the expected value at training equals the eval output."""
    return dropout_with_key(input, p, training, inverted)[0]


def drop_connect(weight: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """DropConnect (Wan et al., 2013): drop entries of a weight matrix instead of activations,
    with inverted scaling; identity in eval."""
    return dropout(weight, p, training)


def dropout_mask_of(key: np.uint64, shape: tuple, p: float) -> np.ndarray:
    """The boolean keep-mask a dropout call with this key drew (True = kept)."""
    return dropout_mask(int(np.prod(shape)), p, key).reshape(shape)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(query key^T * scale + mask) value, with dropout on the attention weights.

    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to
    (..., T, S). is_causal: position i attends to positions <= i. Pass dropout_p=0 in eval."""
    dropout_p = check_probability(dropout_p)
    # a float mask that requires grad stays a Tensor, so it gets its gradient (a learned bias)
    mask = attn_mask if attn_mask is None or isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    random_key = next_dropout_key() if dropout_p > 0 else np.uint64(0)
    return ScaledDotProductAttention.apply(
        _tensor_arg(query, "scaled_dot_product_attention", "query"),
        _tensor_arg(key, "scaled_dot_product_attention", "key"),
        _tensor_arg(value, "scaled_dot_product_attention", "value"),
        mask, bool(is_causal), scale, dropout_p, random_key)


def causal_self_attention(input: Tensor, weight: Tensor, bias: Tensor | None, num_heads: int,
                          dropout_p: float = 0.0) -> Tensor:
    """A GPT's attention before its output projection, as one node: q, k, v = split(input W^T + b)
    (W of shape (3C, C)), each cut into num_heads heads, causal scaled-dot-product attention with
    dropout_p on the weights, heads concatenated back to (B, T, C). The same numbers as

        q, k, v = linear(input, weight, bias).split(C, dim=2)      # then, for each of q, k, v:
        heads = t.view(B, T, num_heads, C // num_heads).transpose(1, 2)
        y = scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)
        y = y.transpose(1, 2).reshape(B, T, C)

    (the same dropout mask too, for the same random state), in one node instead of ~17."""
    dropout_p = check_probability(dropout_p)
    random_key = next_dropout_key() if dropout_p > 0 else np.uint64(0)
    return CausalQKVAttention.apply(_tensor_arg(input, "causal_self_attention"),
                                    _tensor_arg(weight, "causal_self_attention", "weight"),
                                    bias, int(num_heads), dropout_p, random_key)
