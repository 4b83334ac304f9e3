"""gradcheck: compare backward's gradients with central differences, element by element.

For every input element x_i:  numeric_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), where f is
the sum of the outputs weighted by a fixed random cotangent (so every output element matters).
Analytic gradients come from one backward pass with that cotangent. Run in float64: in float32
the rounding error of f swamps eps-sized differences.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .autograd.grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; the message names the worst element."""


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """True if backward matches central differences for every element of every input that
    requires grad; otherwise raises GradcheckError with the worst element, analytic vs numeric."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 (central differences need the precision), got {t.dtype}")
    rng = np.random.default_rng(0)
    cotangents = [rng.standard_normal(o.shape) for o in _outputs(fn, inputs)]

    def weighted_sum() -> float:
        with no_grad():
            return sum(float((o.data * c).sum()) for o, c in zip(_outputs(fn, inputs), cotangents))

    for t in checked:
        t.grad = None
    outs = _outputs(fn, inputs)
    for o, c in zip(outs, cotangents):
        if o.requires_grad:
            o.backward(c, retain_graph=True)

    for position, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad.data.astype(np.float64)
        numeric = np.zeros(t.shape)
        flat = t.data.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = weighted_sum()
            flat[i] = original - eps
            minus = weighted_sum()
            flat[i] = original
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if not np.all(np.isfinite(analytic)) or not np.all(np.isfinite(numeric)) or np.any(error > 0):
            finite_error = np.where(np.isfinite(error), error, np.inf)
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(finite_error)), t.shape))
            raise GradcheckError(
                f"gradcheck failed for input {position} (shape {t.shape}) at index {worst}: "
                f"analytic {analytic[worst]:.8g} vs numeric {numeric[worst]:.8g} "
                f"(atol={atol}, rtol={rtol})")
    return True
