"""What is done to all parameters' gradients at once: clipping and forgetting them.

Gradient clipping keeps one unlucky batch from throwing the weights far away.

`clip_grad_norm_` treats the gradients of all parameters as one long vector g. If its norm
||g|| exceeds max_norm, every gradient is multiplied by max_norm / ||g||: the direction of the
step is kept, only its length is capped. (The 1e-6 keeps the division finite when ||g|| = 0.)
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..tensor import Tensor


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale the gradients so that their total norm is at most max_norm; return the norm before.

    norm_type is p in the p-norm (float("inf") for the largest absolute value). Parameters
    without a gradient are skipped. With error_if_nonfinite, a NaN or infinite total norm raises
    RuntimeError instead of writing NaNs into every gradient."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    max_norm, norm_type = float(max_norm), float(norm_type)
    # The norm of all entries equals the norm of the per-parameter norms, for any p.
    # Accumulated in float64 so that large float32 models do not lose precision.
    norms = [np.linalg.norm(g.data.astype(np.float64, copy=False).ravel(), ord=norm_type) for g in grads]
    total_norm = float(np.linalg.norm(np.array(norms), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the "
                           "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    clip_coef = max_norm / (total_norm + 1e-6)
    if clip_coef < 1.0:
        # Out of place: the engine may hand the same gradient array to several parameters
        # (e.g. both inputs of an addition), and an in-place *= would scale it twice. For the
        # same reason a gradient Tensor shared by two parameters is scaled once.
        unique_grads = {id(grad): grad for grad in grads}
        for grad in unique_grads.values():
            grad.data = (grad.data * clip_coef).astype(grad.data.dtype, copy=False)
    return total_norm


def zero_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Forget the gradients of the last backward (backward accumulates with +=): drop them, or
    give each parameter a fresh array of zeros."""
    for param in params:
        if param.grad is None:
            continue
        if set_to_none:
            param.grad = None
        else:
            # A fresh array, not an in-place fill: gradient arrays of different parameters
            # may be one shared array.
            param.grad.data = np.zeros_like(param.grad.data)
