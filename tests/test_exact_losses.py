"""cross_entropy and log_softmax stay exact at any logit scale, tied maxima included.

log-sum-exp is m + log sum_j exp(z_j - m); adding m to the small log before subtracting z_t would
round the log away once m is large (float32 holds 1e7 only to the nearest integer). The oracle is
the same maths in numpy's extended precision (np.longdouble, 64-bit mantissa on x86), and PyTorch
where installed; hypothesis draws the scale from 1e-3 up to 1e30 (float32) and 1e300 (float64).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F

# float32 results are rounded to float32 once (about 6e-8); the tolerances leave a few roundings
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}
LARGEST_EXPONENT = {np.float32: 30, np.float64: 300}


def logits_at_scale(seed: int, rows: int, classes: int, exponent: int, ties: int, dtype) -> np.ndarray:
    """Normal logits times 10**exponent, with `ties` entries of row 0 set equal to its max."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((rows, classes)) * 10.0 ** exponent).astype(dtype)
    logits[0, :ties] = logits[0].max()
    return logits


def exact_log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.longdouble)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def assert_relatively_close(got: np.ndarray, expected: np.ndarray, dtype, what: str) -> None:
    got = np.asarray(got, dtype=np.longdouble)
    assert np.all(np.isfinite(got)), f"{what}: not finite: {got}"
    error = np.abs(got - expected) / np.maximum(np.abs(expected), 1)
    assert error.max() <= TOLERANCE[dtype], f"{what}: worst relative error {float(error.max()):.3g}"


def check_cross_entropy(logits: np.ndarray) -> None:
    dtype = logits.dtype.type
    target = np.arange(len(logits)) % logits.shape[1]
    log_probs = exact_log_softmax(logits)
    picked = -log_probs[np.arange(len(logits)), target]
    expected_grad = np.exp(log_probs)
    expected_grad[np.arange(len(logits)), target] -= 1
    for backend in ("numpy", "numba"):
        with td.backend(backend):
            x = td.tensor(logits, requires_grad=True)
            loss = F.cross_entropy(x, target, reduction="sum")
            loss.backward()
            assert_relatively_close(loss.item(), picked.sum(), dtype, f"{backend} loss")
            assert_relatively_close(F.cross_entropy(td.tensor(logits), target, reduction="none").numpy(),
                                    picked, dtype, f"{backend} per-row losses")
            assert_relatively_close(x.grad.numpy(), expected_grad, dtype, f"{backend} gradient")
            assert np.abs(x.grad.numpy().astype(np.float64).sum(axis=1)).max() <= 10 * TOLERANCE[dtype]


def check_log_softmax(logits: np.ndarray) -> None:
    dtype = logits.dtype.type
    for backend in ("numpy", "numba"):
        with td.backend(backend):
            assert_relatively_close(F.log_softmax(td.tensor(logits), dim=-1).numpy(),
                                    exact_log_softmax(logits), dtype, f"{backend} log_softmax")


magnitudes = dict(seed=st.integers(0, 2**16), rows=st.integers(1, 4), classes=st.integers(1, 7),
                  ties=st.integers(1, 3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=25, deadline=None)
@given(exponent_fraction=st.floats(0, 1), **magnitudes)
def test_cross_entropy_and_log_softmax_are_exact_at_any_scale(dtype, exponent_fraction, seed, rows, classes, ties):
    exponent = round(-3 + exponent_fraction * (LARGEST_EXPONENT[dtype] + 3))
    logits = logits_at_scale(seed, rows, classes, exponent, min(ties, classes), dtype)
    check_cross_entropy(logits)
    check_log_softmax(logits)


@pytest.mark.parametrize("dtype, value", [(np.float32, 1e4), (np.float32, 1e7), (np.float32, 1e30),
                                          (np.float64, 1e12), (np.float64, 1e16), (np.float64, 1e300)])
def test_the_reported_cases(dtype, value):
    """Logits near `value` with small differences (the hard case: m is large, the log is small),
    and three tied maxima, where log_softmax must be exactly -ln 3."""
    rng = np.random.default_rng(1)
    spacing = float(np.spacing(dtype(value)))
    logits = (value + spacing * rng.integers(-4, 4, (3, 5))).astype(dtype)
    check_cross_entropy(logits)
    check_log_softmax(logits)
    tied = np.full((1, 3), value, dtype)
    for backend in ("numpy", "numba"):
        with td.backend(backend):
            np.testing.assert_allclose(F.log_softmax(td.tensor(tied), dim=-1).numpy(), -np.log(3), rtol=1e-6)


@pytest.mark.parametrize("dtype, value", [(np.float32, 1e7), (np.float64, 1e16)])
def test_matches_pytorch_at_large_logits(dtype, value):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    logits = (value + float(np.spacing(dtype(value))) * rng.integers(-4, 4, (4, 6))).astype(dtype)
    target = np.array([0, 1, 2, 3])
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(target))
    loss_t.backward()
    for backend in ("numpy", "numba"):
        with td.backend(backend):
            x = td.tensor(logits, requires_grad=True)
            loss = F.cross_entropy(x, target)
            loss.backward()
            np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=TOLERANCE[dtype])
            np.testing.assert_allclose(x.grad.numpy(), logits_t.grad.numpy(), atol=TOLERANCE[dtype])


@pytest.mark.parametrize("ignore_index", [2**63, -2**63 - 1, 2**70])
def test_ignore_index_beyond_int64_is_refused_as_pytorch_does(backend, ignore_index):
    with pytest.raises(ValueError, match="cross_entropy: ignore_index must fit in int64"):
        F.cross_entropy(td.randn(3, 4), np.array([0, 1, 2]), ignore_index=ignore_index)
