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
from ..tensor import Tensor, where


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


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0) of each element (inplace is accepted; the result is a new tensor)."""
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


def cross_entropy(input: Tensor, target, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Mean (or sum, or per-row) of -log softmax(input)[target]; rows whose target equals
    ignore_index count for nothing, as in PyTorch. Classes are dim 1: input (N, C) or (C,), or
    (N, C, d1, ...) with target (N, d1, ...). label_smoothing=eps mixes in eps times the mean of
    -log softmax over all classes; a float target of input's shape gives class probabilities."""
    _no_legacy_arguments("cross_entropy", weight=weight, size_average=size_average, reduce=reduce)
    input = _tensor_arg(input, "cross_entropy")
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    if target.dtype.kind == "f" and target.shape == input.shape:
        return _reduce("cross_entropy", -(log_softmax(input, 1 if input.ndim > 1 else 0) * target).sum(
            1 if input.ndim > 1 else 0), reduction)
    if input.ndim > 2:  # (N, C, d1, ...): classes last, rows flattened, the result shaped back
        classes = input.shape[1]
        rows = input.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)
        loss = cross_entropy(rows, target.reshape(-1), ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=label_smoothing)
        return loss.reshape(target.shape) if reduction == "none" else loss
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    loss = CrossEntropy.apply(input, target, int(ignore_index), reduction)
    if label_smoothing == 0.0:
        return loss
    # PyTorch's smoothing: (1 - eps) * the usual loss + eps * mean over classes of -log p, over kept rows
    kept = np.asarray(target != ignore_index)
    smooth = -log_softmax(input, -1).mean(-1).masked_fill(~kept, 0.0)
    if reduction == "mean":
        smooth = smooth.sum() / max(int(kept.sum()), 1)
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1.0 - label_smoothing) + smooth * label_smoothing


def _no_legacy_arguments(function: str, **arguments) -> None:
    """PyTorch arguments this framework does not implement: a clear error rather than ignoring them."""
    for name, value in arguments.items():
        if value is not None:
            raise NotImplementedError(f"{function}: the argument {name}= is not supported by tinygrad_drop "
                                      f"(use reduction= for size_average/reduce; weigh the classes by hand)")


def _reduce(function: str, losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{function}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def nll_loss(input: Tensor, target, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n]] averaged over the rows whose target is not ignore_index: the loss
    of log-probabilities (cross_entropy is log_softmax followed by this)."""
    _no_legacy_arguments("nll_loss", weight=weight, size_average=size_average, reduce=reduce)
    input = _tensor_arg(input, "nll_loss")
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if input.ndim != 2 or target.shape != input.shape[:1]:
        raise ValueError(f"nll_loss: expected input (N, C) and target (N,), got {input.shape} and {target.shape}")
    kept = target != ignore_index
    if ((target[kept] < 0) | (target[kept] >= input.shape[1])).any():
        raise IndexError(f"nll_loss: a target is out of bounds for {input.shape[1]} classes")
    picked = input.gather(1, np.where(kept, target, 0)[:, None].astype(np.int64))[:, 0]
    losses = -picked.masked_fill(~kept, 0.0)
    if reduction == "mean":
        return losses.sum() / float(kept.sum()) if kept.any() else losses.sum() * float("nan")
    return _reduce("nll_loss", losses, reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """The mean (or sum, or each) of (input - target)^2."""
    difference = _tensor_arg(input, "mse_loss") - target
    return _reduce("mse_loss", difference * difference, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """The mean (or sum, or each) of |input - target|."""
    return _reduce("l1_loss", (_tensor_arg(input, "l1_loss") - target).abs(), reduction)


def binary_cross_entropy(input: Tensor, target, weight: Tensor | None = None, reduction: str = "mean") -> Tensor:
    """-(target log p + (1 - target) log(1 - p)) for probabilities p = input; each log is
    clamped at -100, as PyTorch does, so p = 0 or 1 gives a finite loss."""
    _no_legacy_arguments("binary_cross_entropy", weight=weight)
    p = _tensor_arg(input, "binary_cross_entropy")
    if p.data.size and (p.data.min() < 0 or p.data.max() > 1):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(use binary_cross_entropy_with_logits for logits)")
    losses = -(p.log().clamp(min=-100) * target + (1 - p).log().clamp(min=-100) * (1 - target))
    return _reduce("binary_cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits x: for
    x >= 0 as x (1 - target) + log(1 + exp(-x)), for x < 0 as -x target + log(1 + exp(x)), so
    exp never overflows; the gradient is sigmoid(x) - target everywhere, 0 included."""
    _no_legacy_arguments("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    x = _tensor_arg(input, "binary_cross_entropy_with_logits")
    positive = x * (1 - target) + ((-x.clamp(min=0.0)).exp() + 1.0).log()
    negative = -x * target + (x.clamp(max=0.0).exp() + 1.0).log()
    losses = where(x.data >= 0, positive, negative)
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where positive, negative_slope * input elsewhere (inplace is accepted; the result is a new tensor)."""
    input = _tensor_arg(input, "leaky_relu")
    return where(input.data > 0, input, input * negative_slope)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """input * sigmoid(input), also called swish (inplace is accepted; the result is a new tensor)."""
    input = _tensor_arg(input, "silu")
    return input * input.sigmoid()


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 of shape tensor.shape + (num_classes,): 1 at each index, 0 elsewhere."""
    indices = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {indices.dtype}")
    num_classes = int(indices.max()) + 1 if num_classes == -1 else num_classes
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes})")
    return Tensor._from_array((indices[..., None] == np.arange(num_classes)).astype(np.int64))


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


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inverted: bool = True, *,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p (a new mask every call).

    inverted=True (PyTorch's dropout): kept elements become x/(1-p) in training, identity in eval.
    inverted=False (classic dropout, the original paper's): training keeps x unscaled and eval
    multiplies by (1-p) instead. Either way the expected value at training equals the eval output.
    inplace is PyTorch's argument, accepted: the result is a new tensor (the same values)."""
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
