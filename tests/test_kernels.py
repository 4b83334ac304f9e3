"""Kernel tests: the numpy reference and the Numba twin agree, and both match an independent
reference (PyTorch in float64, autograd for gradients; skipped where torch is not installed).

Each kernel's two implementations are called directly (kernel.numpy_impl / kernel.numba_impl), so
these tests do not depend on, or change, the global backend setting.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_drop.kernels import (
    adamw,
    attention,
    cross_entropy,
    dropout,
    embedding,
    gelu,
    layer_norm,
    softmax,
)
from tinygrad_drop.kernels import bias as bias_kernels
from tinygrad_drop.kernels.exp_float32 import exp_float32_into
from tinygrad_drop.kernels.random_bits import hash32, random_bits, random_bits_jit

pytestmark = pytest.mark.kernels

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]

DTYPES = [np.float32, np.float64]
ROW_SHAPES = [(1, 1), (1, 7), (5, 33), (64, 128)]

# Tolerances against float64 truth: float32 results carry float32 rounding, float64 results only
# the differences in summation order between implementations.
TOLERANCE = {
    np.float32: dict(rtol=1e-4, atol=1e-5),
    np.float64: dict(rtol=1e-9, atol=1e-11),
}


def assert_close(actual, expected, dtype):
    """actual has `dtype` and matches expected (an array, or a float64 torch tensor)."""
    assert actual.dtype == dtype, f"result dtype {actual.dtype}, expected {np.dtype(dtype)}"
    expected = expected.detach().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    np.testing.assert_allclose(actual, expected, **TOLERANCE[dtype])


def both_implementations(kernel):
    return [kernel.numpy_impl, kernel.numba_impl]


def float64_tensor(torch, array, requires_grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


# ------------------------------------------------------------------------------------- softmax


SOFTMAX_PAIRS = {
    "softmax": (softmax.softmax_forward, softmax.softmax_backward),
    "log_softmax": (softmax.log_softmax_forward, softmax.log_softmax_backward),
}


@pytest.mark.parametrize("name", list(SOFTMAX_PAIRS))
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backends_agree(name, shape, dtype):
    forward, backward = SOFTMAX_PAIRS[name]
    rng = np.random.default_rng(1)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    y = forward.numpy_impl(x)
    assert_close(forward.numba_impl(x), y, dtype)
    assert_close(backward.numba_impl(y, grad), backward.numpy_impl(y, grad), dtype)


@pytest.mark.parametrize("name", list(SOFTMAX_PAIRS))
@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_torch(name, shape, dtype):
    torch = pytest.importorskip("torch")
    forward, backward = SOFTMAX_PAIRS[name]
    rng = np.random.default_rng(2)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    x_t = float64_tensor(torch, x, requires_grad=True)
    y_t = getattr(torch, name)(x_t, dim=-1)
    y_t.backward(float64_tensor(torch, grad))
    for forward_impl, backward_impl in zip(
        both_implementations(forward), both_implementations(backward)
    ):
        y = forward_impl(x)
        assert_close(y, y_t, dtype)
        assert_close(backward_impl(y, grad), x_t.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_huge_and_masked_logits(dtype):
    # exp(1000) overflows in any float dtype: only the max-subtraction keeps this finite.
    x = np.array([[1000.0, 999.0, -np.inf], [-1000.0, -1001.0, -1000.0]], dtype=dtype)
    expected_first_row = np.array([1.0, np.exp(-1.0), 0.0]) / (1.0 + np.exp(-1.0))
    for impl in both_implementations(softmax.softmax_forward):
        y = impl(x)
        assert np.all(np.isfinite(y))
        assert_close(y[0], expected_first_row, dtype)
        assert_close(y.sum(axis=-1), np.ones(2), dtype)
    for impl in both_implementations(softmax.log_softmax_forward):
        y = impl(x)
        assert y[0, 2] == -np.inf
        assert np.all(np.isfinite(y[:, :2]))


# ---------------------------------------------------------------------------------- bias


@pytest.mark.parametrize("shape", ROW_SHAPES + [(200, 65)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_add_and_gradient_backends_agree_with_float64(shape, dtype):
    rng = np.random.default_rng(6)
    rows = rng.standard_normal(shape).astype(dtype)
    row_bias = rng.standard_normal(shape[1]).astype(dtype)
    added = [add(rows.copy(), row_bias) for add in both_implementations(bias_kernels.add_bias)]
    np.testing.assert_array_equal(added[0], added[1])  # one rounding per element in both
    np.testing.assert_array_equal(added[0], rows + row_bias)
    truth = rows.astype(np.float64).sum(axis=0)
    for bias_grad in both_implementations(bias_kernels.bias_grad):
        summed = bias_grad(rows)
        assert summed.dtype == dtype and summed.shape == (shape[1],)
        assert_close(summed, truth, dtype)


def test_bias_add_works_in_place_on_any_layout():
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    transposed = rows.T  # not C-contiguous: added through numpy's broadcasting instead
    for add in both_implementations(bias_kernels.add_bias):
        out = rows.copy()
        assert add(out, np.ones(4, np.float32)) is out
        np.testing.assert_array_equal(out, rows + 1)
        out_t = transposed.copy(order="F")
        assert add(out_t, np.ones(3, np.float32)) is out_t
        np.testing.assert_array_equal(out_t, transposed + 1)


# ---------------------------------------------------------------------------------- layer norm


def layer_norm_inputs(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (2 * rng.standard_normal(shape) + 0.5).astype(dtype)
    weight = rng.standard_normal(shape[1]).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    return x, weight, bias, grad


@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_backends_agree(shape, dtype):
    x, weight, bias, grad = layer_norm_inputs(shape, dtype, seed=3)
    expected = layer_norm.layer_norm_forward.numpy_impl(x, weight, bias, 1e-5)
    actual = layer_norm.layer_norm_forward.numba_impl(x, weight, bias, 1e-5)
    for actual_part, wanted in zip(actual, expected):
        assert_close(actual_part, wanted, dtype)
    _, mean, rstd = expected
    expected = layer_norm.layer_norm_backward.numpy_impl(grad, x, weight, mean, rstd)
    actual = layer_norm.layer_norm_backward.numba_impl(grad, x, weight, mean, rstd)
    for actual_part, wanted in zip(actual, expected):
        assert_close(actual_part, wanted, dtype)


@pytest.mark.parametrize("shape", ROW_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_matches_torch(shape, dtype):
    torch = pytest.importorskip("torch")
    x, weight, bias, grad = layer_norm_inputs(shape, dtype, seed=4)
    eps = 1e-5
    x_t, weight_t, bias_t = (
        float64_tensor(torch, array, requires_grad=True) for array in (x, weight, bias)
    )
    y_t = torch.nn.functional.layer_norm(x_t, (shape[1],), weight_t, bias_t, eps)
    y_t.backward(float64_tensor(torch, grad))
    x64 = x.astype(np.float64)
    for forward_impl, backward_impl in zip(
        both_implementations(layer_norm.layer_norm_forward),
        both_implementations(layer_norm.layer_norm_backward),
    ):
        y, mean, rstd = forward_impl(x, weight, bias, eps)
        assert_close(y, y_t, dtype)
        assert_close(mean, x64.mean(axis=1), dtype)
        assert_close(rstd, 1.0 / np.sqrt(x64.var(axis=1) + eps), dtype)
        dx, dweight, dbias = backward_impl(grad, x, weight, mean, rstd)
        assert_close(dx, x_t.grad, dtype)
        assert_close(dweight, weight_t.grad, dtype)
        assert_close(dbias, bias_t.grad, dtype)


def test_layer_norm_variance_survives_a_huge_mean():
    # Rows with mean 1e8 and std 1: the naive one-pass E[x^2] - E[x]^2 cancels 16 digits away and
    # returns garbage (or 0) in float64; the shifted one-pass sums must match two-pass numpy.
    rng = np.random.default_rng(5)
    x = 1e8 + rng.standard_normal((4, 300))
    weight, bias = np.ones(300), np.zeros(300)
    _, mean, rstd = layer_norm.layer_norm_forward.numba_impl(x, weight, bias, 0.0)
    np.testing.assert_allclose(mean, x.mean(axis=1), rtol=1e-15)
    np.testing.assert_allclose(rstd, 1.0 / x.std(axis=1), rtol=1e-7)


# ---------------------------------------------------------------------------------------- gelu


GELU_SHAPES = [(1,), (5, 33), (2, 3, 17), (3, 5000)]  # the last spans several kernel chunks


def gelu_inputs(shape, dtype, seed):
    # Wide enough to reach both tails, where Phi saturates to 0 and 1.
    return (4 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("shape", GELU_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_backends_agree(approximate, shape, dtype):
    x = gelu_inputs(shape, dtype, seed=6)
    y, dy_dx = gelu.gelu.numba_impl(x, approximate, True)
    y_ref, dy_dx_ref = gelu.gelu.numpy_impl(x, approximate, True)
    assert y.shape == dy_dx.shape == shape
    assert_close(y, y_ref, dtype)
    assert_close(dy_dx, dy_dx_ref, dtype)
    y_alone, no_derivative = gelu.gelu.numba_impl(x, approximate, False)
    assert no_derivative is None
    np.testing.assert_array_equal(y_alone, y)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_can_write_over_its_input(approximate, dtype):
    # LinearGELU passes out=x: every kernel must read x[i] before it writes y[i] there.
    x = gelu_inputs((3, 5000), dtype, seed=8)
    for implementation in both_implementations(gelu.gelu):
        expected_y, expected_derivative = implementation(x, approximate, True)
        overwritten = x.copy()
        y, dy_dx = implementation(overwritten, approximate, True, overwritten)
        assert np.shares_memory(y, overwritten)
        np.testing.assert_array_equal(y, expected_y)
        np.testing.assert_array_equal(dy_dx, expected_derivative)
    with pytest.raises(ValueError, match="out must be"):
        gelu.gelu.numba_impl(x, approximate, True, np.empty_like(x).T)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_leaves_its_input_alone_unless_asked_to_write_over_it(approximate, dtype):
    # The float32 Numba kernel works in place on y, so the wrapper must first give it a copy of x
    # (no out) or x's values in out (another array): x itself is never changed.
    x = gelu_inputs((3, 5000), dtype, seed=10)
    untouched = x.copy()
    for implementation in both_implementations(gelu.gelu):
        expected_y, expected_derivative = gelu.gelu.numpy_impl(untouched, approximate, True)
        y, _ = implementation(x, approximate, False)
        out = np.full_like(x, np.nan)
        y_out, dy_dx = implementation(x, approximate, True, out)
        np.testing.assert_array_equal(x, untouched)
        assert y_out is out or np.shares_memory(y_out, out)
        for result, expected in ((y, expected_y), (y_out, expected_y), (dy_dx, expected_derivative)):
            assert_close(result, expected, dtype)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("shape", GELU_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_matches_torch(approximate, shape, dtype):
    torch = pytest.importorskip("torch")
    x = gelu_inputs(shape, dtype, seed=7)
    x_t = float64_tensor(torch, x, requires_grad=True)
    y_t = torch.nn.functional.gelu(x_t, approximate="tanh" if approximate else "none")
    # Backward with an all-ones gradient gives gelu'(x) itself.
    y_t.backward(torch.ones_like(y_t))
    for implementation in both_implementations(gelu.gelu):
        y, dy_dx = implementation(x, approximate, True)
        assert_close(y, y_t, dtype)
        assert_close(dy_dx, x_t.grad, dtype)


def test_gelu_float32_lower_tail_keeps_relative_accuracy():
    # Down to x = -13, where Phi(x) is 6e-39, gelu(x) = x Phi(x) keeps its leading digits: an
    # absolute-error approximation of erf would be off by orders of magnitude out there. The
    # bound is the float32 rounding of the exponent -x^2/2 (2^-24 * 84.5 at x = -13), not the fit.
    x = np.linspace(-13.0, 6.0, 20001).astype(np.float32)
    x = x[x != 0]
    x64 = x.astype(np.float64)
    expected = x64 * 0.5 * np.array([math.erfc(-value / math.sqrt(2.0)) for value in x64])
    for implementation in both_implementations(gelu.gelu):
        y, _ = implementation(x, False, False)
        np.testing.assert_allclose(y, expected, rtol=3e-5, atol=0)


def test_exp_float32_matches_float64_exp():
    # Every exponent GELU can ask for: 0 down past the float32 range, exact powers of two, NaN.
    arguments = np.concatenate([-np.geomspace(1e-6, 200.0, 20001), [0.0, -math.log(2.0), -87.0, np.nan]])
    arguments = arguments.astype(np.float32)
    out = np.empty_like(arguments)
    exp_float32_into(arguments, out)
    expected = np.exp(arguments.astype(np.float64))
    normal = expected >= np.finfo(np.float32).tiny
    np.testing.assert_allclose(out[normal], expected[normal], rtol=4e-7, atol=0)
    # below the normal range: flushed to 0 (or a subnormal right at its edge), never garbage
    assert (out[arguments < -88.0] == 0).all()
    assert (out[~normal & ~np.isnan(arguments)] <= np.finfo(np.float32).tiny).all()
    assert np.isnan(out[-1])


def test_gelu_float32_keeps_nan_and_the_limits_at_infinity():
    x = np.array([np.nan, -np.inf, np.inf, -200.0, 200.0], np.float32)
    for implementation in both_implementations(gelu.gelu):
        with np.errstate(invalid="ignore"):  # numpy warns about -inf * 0, as it should
            y, dy_dx = implementation(x, False, True)
        # as PyTorch: inf * Phi gives inf or NaN (-inf * 0), and gelu' at +-inf is NaN
        np.testing.assert_array_equal(y, [np.nan, np.nan, np.inf, 0.0, 200.0])
        np.testing.assert_array_equal(dy_dx, [np.nan, np.nan, np.nan, 0.0, 1.0])


# ------------------------------------------------------------------------------- cross-entropy


CROSS_ENTROPY_SHAPES = [(1, 1), (1, 5), (9, 13), (64, 65), (130, 7)]  # the last spans three row blocks


def cross_entropy_inputs(shape, dtype, ignore_index, seed):
    rng = np.random.default_rng(seed)
    n_rows, n_classes = shape
    logits = (3 * rng.standard_normal(shape)).astype(dtype)
    target = rng.integers(0, n_classes, n_rows)
    target[rng.random(n_rows) < 0.25] = ignore_index
    return logits, target


@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("shape", CROSS_ENTROPY_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_backends_agree(ignore_index, shape, dtype):
    logits, target = cross_entropy_inputs(shape, dtype, ignore_index, seed=8)
    loss_sum, count, row_max, log_sum = cross_entropy.cross_entropy_forward.numpy_impl(
        logits, target, ignore_index
    )
    loss_sum_nb, count_nb, row_max_nb, log_sum_nb = cross_entropy.cross_entropy_forward.numba_impl(
        logits, target, ignore_index
    )
    assert count_nb == count == int(np.sum(target != ignore_index))
    assert isinstance(loss_sum_nb, float) and isinstance(count_nb, int)
    np.testing.assert_allclose(loss_sum_nb, loss_sum, **TOLERANCE[dtype])
    assert np.array_equal(row_max_nb, row_max) and row_max_nb.dtype == dtype
    assert log_sum_nb.dtype == log_sum.dtype == np.float64
    np.testing.assert_allclose(log_sum_nb, log_sum, **TOLERANCE[dtype])
    scale = 1.0 / max(count, 1)
    assert_close(
        cross_entropy.cross_entropy_backward.numba_impl(logits, target, row_max, log_sum, ignore_index, scale),
        cross_entropy.cross_entropy_backward.numpy_impl(logits, target, row_max, log_sum, ignore_index, scale),
        dtype,
    )


@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("shape", CROSS_ENTROPY_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_torch(ignore_index, shape, dtype):
    torch = pytest.importorskip("torch")
    logits, target = cross_entropy_inputs(shape, dtype, ignore_index, seed=9)
    scale = 0.37
    logits_t = float64_tensor(torch, logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(
        logits_t, torch.tensor(target), ignore_index=ignore_index, reduction="sum"
    )
    (scale * loss_t).backward()
    for forward_impl, backward_impl in zip(
        both_implementations(cross_entropy.cross_entropy_forward),
        both_implementations(cross_entropy.cross_entropy_backward),
    ):
        loss_sum, count, row_max, log_sum = forward_impl(logits, target, ignore_index)
        assert count == int(np.sum(target != ignore_index))
        np.testing.assert_allclose(loss_sum, loss_t.item(), **TOLERANCE[dtype])
        assert_close((row_max + log_sum).astype(dtype), torch.logsumexp(logits_t, dim=1), dtype)
        dlogits = backward_impl(logits, target, row_max, log_sum, ignore_index, scale)
        assert_close(dlogits, logits_t.grad, dtype)


def test_cross_entropy_with_every_row_ignored():
    logits = np.ones((3, 4), dtype=np.float32)
    target = np.full(3, -100)
    for forward_impl, backward_impl in zip(
        both_implementations(cross_entropy.cross_entropy_forward),
        both_implementations(cross_entropy.cross_entropy_backward),
    ):
        loss_sum, count, row_max, log_sum = forward_impl(logits, target, -100)
        assert (loss_sum, count) == (0.0, 0)
        assert np.array_equal(backward_impl(logits, target, row_max, log_sum, -100, 1.0), np.zeros_like(logits))


# ------------------------------------------------------------------------------------- dropout


def lowbias32(x: int) -> int:
    """Wellons' lowbias32 in plain Python integers, written from the published algorithm."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def reference_bits(key: int, index: int) -> int:
    """The documented construction: hash(hash(i + key_low) ^ key_high) >> 8."""
    return lowbias32(lowbias32((index + key) & 0xFFFFFFFF) ^ (key >> 32)) >> 8


def test_hash32_is_lowbias32_and_a_bijection():
    # Undo each step: x ^= x >> 16 is its own inverse on 32 bits, x ^= x >> 15 is undone by
    # x ^= (x >> 15) ^ (x >> 30), and an odd multiply by its inverse modulo 2**32.
    def inverse(x):
        x ^= x >> 16
        x = (x * pow(0x846CA68B, -1, 2**32)) & 0xFFFFFFFF
        x ^= (x >> 15) ^ (x >> 30)
        x = (x * pow(0x7FEB352D, -1, 2**32)) & 0xFFFFFFFF
        return x ^ (x >> 16)

    x = np.random.default_rng(0).integers(0, 2**32, size=1000, dtype=np.uint64).astype(np.uint32)
    hashed = hash32(x)
    assert hashed.dtype == np.uint32
    assert hashed.tolist() == [lowbias32(int(v)) for v in x]
    assert [inverse(int(v)) for v in hashed] == x.tolist()


def test_random_bits_follow_the_documented_construction():
    key = 0x0123456789ABCDEF
    expected = [reference_bits(key, i) for i in range(64)]
    assert random_bits(np.uint64(key), np.arange(64, dtype=np.uint64)).tolist() == expected
    assert [int(random_bits_jit(np.uint64(key), np.uint64(i))) for i in range(64)] == expected


@pytest.mark.parametrize("n", [1, 7, 1000])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_mask_is_the_same_on_both_backends(n, p):
    key = np.uint64(12345)
    # Independent definition: element i is dropped iff its 24 bits are below p * 2**24.
    expected = np.array([reference_bits(int(key), i) >= round(p * 2**24) for i in range(n)])
    for impl in both_implementations(dropout.dropout_mask):
        mask = impl(n, p, key)
        assert mask.dtype == np.bool_ and mask.shape == (n,)
        assert np.array_equal(mask, expected)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_drops_a_binomial_fraction(p):
    n = 50_000
    for key in (np.uint64(1), np.uint64(2**63 + 5)):
        dropped = n - int(dropout.dropout_mask.numba_impl(n, p, key).sum())
        # Within 5 standard deviations of Binomial(n, p): fails by chance with probability ~6e-7.
        assert abs(dropped - n * p) <= 5 * np.sqrt(n * p * (1 - p))


def test_dropout_masks_differ_between_keys():
    first = dropout.dropout_mask.numba_impl(1000, 0.5, np.uint64(1))
    second = dropout.dropout_mask.numba_impl(1000, 0.5, np.uint64(2))
    assert 0.4 < np.mean(first != second) < 0.6


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5, 17)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_apply_keeps_exact_scaled_values(shape, dtype):
    p, key = 0.3, np.uint64(99)
    scale = 1.0 / (1.0 - p)
    x = np.random.default_rng(10).standard_normal(shape).astype(dtype)
    kept = dropout.dropout_mask.numpy_impl(x.size, p, key).reshape(shape)
    results = [impl(x, p, key, scale) for impl in both_implementations(dropout.dropout_apply)]
    for y in results:
        assert y.dtype == dtype and y.shape == shape
        assert np.array_equal(y[kept], x[kept] * dtype(scale))
        assert np.all(y[~kept] == 0.0)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_apply_edges(dtype):
    x = np.array([[1.5, -2.0, np.inf], [np.nan, 0.25, 3.0]], dtype=dtype)
    key = np.uint64(7)
    for impl in both_implementations(dropout.dropout_apply):
        # p = 0 keeps everything: exactly x * scale.
        assert np.array_equal(impl(x, 0.0, key, 1.0), x, equal_nan=True)
        assert np.array_equal(impl(x, 0.0, key, 2.0), x * dtype(2.0), equal_nan=True)
        # p = 1 drops everything: exact zeros, even for inf and nan (no 0 * inf).
        assert np.array_equal(impl(x, 1.0, key, 0.0), np.zeros_like(x))
    for impl in both_implementations(dropout.dropout_mask):
        assert impl(1000, 0.0, key).all()
        assert not impl(1000, 1.0, key).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_backward_reuses_the_forward_mask(dtype):
    # Backward is dropout_apply on the gradient with the forward's key: the same elements are zeroed
    # and the survivors carry the same scale, which is d(x * mask * scale)/dx.
    p, key, scale = 0.5, np.uint64(2024), 2.0
    rng = np.random.default_rng(11)
    x = rng.uniform(1.0, 2.0, (6, 9)).astype(dtype)  # no zeros, so y == 0 exactly marks a drop
    grad = rng.uniform(1.0, 2.0, (6, 9)).astype(dtype)
    for impl in both_implementations(dropout.dropout_apply):
        y = impl(x, p, key, scale)
        dx = impl(grad, p, key, scale)
        assert np.array_equal(y == 0, dx == 0)
        assert np.array_equal(dx[y != 0], grad[y != 0] * dtype(scale))


# ----------------------------------------------------------------------------------- embedding


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows", [1, 50])
def test_embedding_backward_adds_repeated_rows(dtype, n_rows):
    rng = np.random.default_rng(12)
    num_embeddings, dim = 11, 6
    indices = rng.integers(0, 4, n_rows)  # few distinct rows: many repeats
    grad = rng.standard_normal((n_rows, dim)).astype(dtype)
    expected = np.zeros((num_embeddings, dim))
    for n, row in enumerate(indices):
        expected[row] += grad[n]
    results = [
        impl(indices, grad, num_embeddings)
        for impl in both_implementations(embedding.embedding_backward)
    ]
    for dweight in results:
        assert_close(dweight, expected, dtype)
    # Both add the same numbers in the same order.
    assert np.array_equal(results[0], results[1])


def test_embedding_backward_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    indices = rng.integers(0, 9, 40)
    grad = rng.standard_normal((40, 5))
    weight_t = torch.zeros((9, 5), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(indices), weight_t).backward(torch.tensor(grad))
    for impl in both_implementations(embedding.embedding_backward):
        assert_close(impl(indices, grad, 9), weight_t.grad, np.float64)


# ----------------------------------------------------------------------------------- attention


ATTENTION_SHAPES = [(1, 1, 1), (2, 5, 7), (3, 7, 5), (4, 16, 16)]


def attention_inputs(shape, dtype, has_bias, seed):
    rng = np.random.default_rng(seed)
    scores = (2 * rng.standard_normal(shape)).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    if not has_bias:
        return scores, np.zeros((1, 1, 1), dtype), grad
    bias = rng.standard_normal(shape).astype(dtype)
    bias[rng.random(shape) < 0.2] = -np.inf  # an attn_mask turned into a bias
    bias[0, -1, :] = -np.inf  # a query that may see nothing
    return scores, bias, grad


def attention_reference(torch, scores, bias, has_bias, causal, scale, p, key):
    """Differentiable float64 torch version: masked softmax, then the dropout mask the dropout
    kernel draws for the flat index of each element. Returns (scores tensor, probs, dropped)."""
    scores_t = float64_tensor(torch, scores, requires_grad=True)
    z = scale * scores_t
    if has_bias:
        z = z + float64_tensor(torch, bias)
    if causal:
        visible = torch.ones(scores.shape[1:], dtype=torch.bool).tril()
        z = z.masked_fill(~visible, float("-inf"))
    # torch.softmax gives nan for a row with nothing visible, where the contract is a row of zeros:
    # such rows go through softmax as constants (no gradient) and are zeroed afterwards.
    nothing_visible = (z == float("-inf")).all(dim=-1, keepdim=True)
    probs = torch.softmax(torch.where(nothing_visible, 0.0, z), dim=-1) * ~nothing_visible
    kept = dropout.dropout_mask.numpy_impl(scores.size, p, key).reshape(scores.shape)
    keep_scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return scores_t, probs, probs * torch.tensor(kept) * keep_scale


ATTENTION_CASES = [
    (has_bias, causal, p)
    for has_bias in (False, True)
    for causal in (False, True)
    for p in (0.0, 0.25)
]


@pytest.mark.parametrize("has_bias, causal, p", ATTENTION_CASES)
@pytest.mark.parametrize("shape", ATTENTION_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_backends_agree(has_bias, causal, p, shape, dtype):
    scores, bias, grad = attention_inputs(shape, dtype, has_bias, seed=14)
    key, scale = np.uint64(31), 0.7
    # Both kernels work in place (probs over the scores, dscores over the gradient): copies.
    probs, dropped = attention.attention_probs_forward.numpy_impl(
        scores.copy(), bias, has_bias, causal, scale, p, key
    )
    probs_nb, dropped_nb = attention.attention_probs_forward.numba_impl(
        scores.copy(), bias, has_bias, causal, scale, p, key
    )
    assert_close(probs_nb, probs, dtype)
    assert_close(dropped_nb, dropped, dtype)
    assert np.array_equal(dropped_nb == 0, dropped == 0)
    assert_close(
        attention.attention_probs_backward.numba_impl(probs, dropped, grad.copy(), scale),
        attention.attention_probs_backward.numpy_impl(probs, dropped, grad.copy(), scale),
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_give_the_same_bits_on_threads_and_on_the_calling_thread(dtype, monkeypatch):
    # The kernels run on threads or on the caller depending on the machine (kernels/__init__.py):
    # force each way here, so that both are tested whatever the machine's cores.
    x = gelu_inputs((3, 5000), dtype, seed=9)  # several chunks of the float32 kernel
    rows, weight, row_bias, row_grad = layer_norm_inputs((150, 33), dtype, seed=4)  # 3 tasks of rows
    flat = np.random.default_rng(5).standard_normal(40000).astype(dtype)  # 3 chunks of dropout
    results = []
    for use_threads in (True, False):
        for module in (gelu, layer_norm, dropout, bias_kernels):
            monkeypatch.setattr(module, "threads_beside_products", lambda: use_threads)
        y, dy_dx = gelu.gelu.numba_impl(x, False, True)
        normalized, mean, rstd = layer_norm.layer_norm_forward.numba_impl(rows, weight, row_bias, 1e-5)
        row_grads = layer_norm.layer_norm_backward.numba_impl(row_grad, rows, weight, mean, rstd)
        kept = dropout.dropout_apply.numba_impl(flat, 0.3, np.uint64(11), 1 / 0.7)
        biased = bias_kernels.add_bias.numba_impl(rows.copy(), row_bias)
        results.append((y, dy_dx, normalized, mean, rstd, *row_grads, biased,
                        bias_kernels.bias_grad.numba_impl(row_grad), kept))
    assert_close(results[1][0], gelu.gelu.numpy_impl(x, False, True)[0], dtype)
    assert_close(results[1][-1], dropout.dropout_apply.numpy_impl(flat, 0.3, np.uint64(11), 1 / 0.7), dtype)
    for threaded, on_the_caller in zip(*results):
        np.testing.assert_array_equal(threaded, on_the_caller)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_kernels_give_the_same_bits_on_threads_and_on_the_calling_thread(dtype, monkeypatch):
    # Both ways call one compiled head function, whose sums and roundings do not depend on its
    # caller (no "contract" in its flags: see attention.py). Rows of 8 and 9 visible keys are
    # where a vectorized row sum or a fused multiply-add would show.
    scores, bias, grad = attention_inputs((6, 9, 9), dtype, True, seed=15)
    results = []
    for use_threads in (True, False):
        monkeypatch.setattr(attention, "threads_beside_products", lambda: use_threads)
        probs, dropped = attention.attention_probs_forward.numba_impl(
            scores.copy(), bias, True, True, 0.7, 0.25, np.uint64(3)
        )
        dscores = attention.attention_probs_backward.numba_impl(probs, dropped, grad.copy(), 0.7)
        results.append((probs, dropped, dscores))
    for threaded, on_the_caller in zip(*results):
        np.testing.assert_array_equal(threaded, on_the_caller)


@pytest.mark.parametrize("has_bias, causal, p", ATTENTION_CASES)
@pytest.mark.parametrize("shape", ATTENTION_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_matches_torch(has_bias, causal, p, shape, dtype):
    torch = pytest.importorskip("torch")
    scores, bias, grad = attention_inputs(shape, dtype, has_bias, seed=15)
    key, scale = np.uint64(2**40 + 3), 0.125
    scores_t, probs_t, dropped_t = attention_reference(
        torch, scores, bias, has_bias, causal, scale, p, key
    )
    dropped_t.backward(float64_tensor(torch, grad))
    for forward_impl, backward_impl in zip(
        both_implementations(attention.attention_probs_forward),
        both_implementations(attention.attention_probs_backward),
    ):
        probs, dropped = forward_impl(scores.copy(), bias, has_bias, causal, scale, p, key)
        assert not np.isnan(probs).any()
        assert_close(probs, probs_t, dtype)
        assert_close(dropped, dropped_t, dtype)
        if p == 0.0:
            assert dropped is probs
        # Backward reads the mask out of (probs, dropped): gradients match autograd through the
        # very mask the forward applied.
        assert_close(backward_impl(probs, dropped, grad.copy(), scale), scores_t.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_with_every_weight_dropped(dtype):
    scores, bias, grad = attention_inputs((2, 4, 6), dtype, has_bias=False, seed=16)
    key = np.uint64(5)
    for forward_impl, backward_impl in zip(
        both_implementations(attention.attention_probs_forward),
        both_implementations(attention.attention_probs_backward),
    ):
        probs, dropped = forward_impl(scores.copy(), bias, False, True, 1.0, 1.0, key)
        assert np.array_equal(dropped, np.zeros_like(scores))
        assert np.array_equal(backward_impl(probs, dropped, grad.copy(), 1.0), np.zeros_like(scores))


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_nan_score_poisons_its_row(dtype):
    # Softmax mixes a row: a NaN score must make every probability of its row NaN (and only that
    # row), on both backends, never a row that looks valid.
    scores, bias, _ = attention_inputs((2, 4, 6), dtype, has_bias=False, seed=18)
    scores[1, 2, 0] = np.nan
    for forward_impl in both_implementations(attention.attention_probs_forward):
        probs, _ = forward_impl(scores.copy(), bias, False, False, 1.0, 0.0, np.uint64(1))
        assert np.isnan(probs[1, 2]).all()
        assert not np.isnan(np.delete(probs.reshape(-1, 6), 1 * 4 + 2, axis=0)).any()


def test_attention_numba_kernels_work_in_place():
    # The op hands the kernels arrays it needs no more; the Numba twin reuses their memory rather
    # than page in new arrays: probs is the scores array, dscores the gradient array. (The numpy
    # reference makes new arrays, as the formulas read.)
    scores, bias, grad = attention_inputs((3, 5, 5), np.float32, has_bias=False, seed=19)
    scores_in, grad_in = scores.copy(), grad.copy()
    probs, dropped = attention.attention_probs_forward.numba_impl(scores_in, bias, False, True, 0.5, 0.25, np.uint64(2))
    assert probs is scores_in and dropped is not probs
    assert attention.attention_probs_backward.numba_impl(probs, dropped, grad_in, 0.5) is grad_in


# --------------------------------------------------------------------------------------- adamw


@pytest.mark.parametrize("decoupled", [True, False])
@pytest.mark.parametrize("shape", [(1,), (3, 5), (2, 3, 4), (130, 130)])  # the last is updated by threads
@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_matches_torch(decoupled, shape, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    lr, betas, eps, weight_decay = 0.05, (0.8, 0.95), 1e-6, 0.1
    initial = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(3)]

    param_t = torch.tensor(initial, requires_grad=True)
    optimizer_class = torch.optim.AdamW if decoupled else torch.optim.Adam
    optimizer = optimizer_class([param_t], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    states = {
        impl: [initial.astype(dtype), np.zeros(shape, dtype), np.zeros(shape, dtype)]
        for impl in both_implementations(adamw.adamw_update)
    }
    for step, grad in enumerate(grads, start=1):
        param_t.grad = torch.tensor(grad)
        optimizer.step()
        for impl, (param, exp_avg, exp_avg_sq) in states.items():
            hyperparameters = adamw.AdamHyperparameters(lr, *betas, eps, weight_decay, decoupled)
            result = impl(param, grad.astype(dtype), exp_avg, exp_avg_sq, step, hyperparameters)
            assert result is None  # the update is in place
    torch_state = optimizer.state[param_t]
    for param, exp_avg, exp_avg_sq in states.values():
        assert_close(param, param_t, dtype)
        assert_close(exp_avg, torch_state["exp_avg"], dtype)
        assert_close(exp_avg_sq, torch_state["exp_avg_sq"], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_backends_agree(dtype):
    rng = np.random.default_rng(18)
    arrays = [rng.standard_normal((4, 7)).astype(dtype) for _ in range(3)]
    arrays[2] = np.abs(arrays[2])  # a second moment is never negative
    grad = rng.standard_normal((4, 7)).astype(dtype)
    numpy_state = [a.copy() for a in arrays]
    numba_state = [a.copy() for a in arrays]
    for decoupled in (True, False):
        hyperparameters = adamw.AdamHyperparameters(1e-2, 0.9, 0.999, 1e-8, 0.01, decoupled)
        adamw.adamw_update.numpy_impl(numpy_state[0], grad, *numpy_state[1:], 7, hyperparameters)
        adamw.adamw_update.numba_impl(numba_state[0], grad, *numba_state[1:], 7, hyperparameters)
    for actual, expected in zip(numba_state, numpy_state):
        assert_close(actual, expected, dtype)


def test_adamw_refuses_a_non_contiguous_parameter():
    param = np.zeros((4, 6))[:, ::2]  # a strided view: a flat copy of it would lose the update
    state = [np.zeros((4, 3)) for _ in range(3)]  # grad, exp_avg, exp_avg_sq
    with pytest.raises(ValueError, match="C-contiguous"):
        adamw.adamw_update.numba_impl(param, *state, 1, adamw.AdamHyperparameters(0.1, 0.9, 0.999, 1e-8, 0.0, True))


# ------------------------------------------------------------------------------------- compile


def test_importing_the_kernels_compiles_nothing():
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("nothing is ever compiled with NUMBA_DISABLE_JIT=1")
    # A fresh interpreter: in this one, the tests above have compiled everything already.
    code = (
        "import numba.core.registry\n"
        "from tinygrad_drop.kernels import (\n"
        "    adamw, attention, bias, cross_entropy, dropout, embedding, gelu, layer_norm, softmax)\n"
        "from tinygrad_drop.kernels.parallel import ParallelOrSerial\n"
        "modules = [adamw, attention, bias, cross_entropy, dropout, embedding, gelu, layer_norm, softmax]\n"
        "values = [value for module in modules for value in vars(module).values()]\n"
        "values += [twin for value in values if isinstance(value, ParallelOrSerial)\n"
        "           for twin in (value.parallel, value.serial)]\n"
        "dispatchers = [value for value in values if isinstance(value, numba.core.registry.CPUDispatcher)]\n"
        "assert len(dispatchers) >= 16, len(dispatchers)\n"
        "compiled = [d.py_func.__name__ for d in dispatchers if d.signatures]\n"
        "assert not compiled, compiled\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# Each kernel that may run on threads is compiled twice (kernels/parallel.py), and both twins must
# come back from Numba's disk cache in a new process, each its own machine code: a twin compiled
# again, or loading the other's, would show as a cache miss or in the fork test below.
CACHE_SCRIPT = """
import json
import numpy as np
from tinygrad_drop.kernels import adamw, bias, cross_entropy, dropout, gelu, layer_norm, softmax
from tinygrad_drop.kernels.parallel import ParallelOrSerial

modules = (adamw, bias, cross_entropy, dropout, gelu, layer_norm, softmax)
rng = np.random.default_rng(0)
rows = rng.standard_normal((150, 65)).astype(np.float32)
flat = rng.standard_normal(20000).astype(np.float32)
target = rng.integers(0, 65, 150)
for threads in (True, False):
    for module in modules:
        module.threads_beside_products = module.threads_available = lambda: threads
    for param in (flat[:10].copy(), flat.copy()):  # below and above adamw's PARALLEL_MIN_SIZE
        adamw.adamw_update.numba_impl(param, param.copy(), np.zeros_like(param), np.zeros_like(param), 1,
                                      adamw.AdamHyperparameters(1e-3, 0.9, 0.999, 1e-8, 0.1, True))
    bias.bias_grad.numba_impl(bias.add_bias.numba_impl(rows.copy(), rows[0]))
    layer_norm.layer_norm_backward.numba_impl(rows, rows, rows[0], *layer_norm.layer_norm_forward.numba_impl(
        rows, rows[0], rows[0], 1e-5)[1:])
    loss, _, row_max, log_sum = cross_entropy.cross_entropy_forward.numba_impl(rows, target, -100)
    cross_entropy.cross_entropy_backward.numba_impl(rows, target, row_max, log_sum, -100, 0.5)
    dropout.dropout_apply.numba_impl(flat, 0.1, np.uint64(3), 1 / 0.9)
    dropout.add_bias_dropout.numba_impl(rows.copy(), rows[0], 0.1, np.uint64(3), 1 / 0.9)
    gelu.gelu.numba_impl(flat, False, True), gelu.gelu.numba_impl(flat, True, True)
    for forward, backward in ((softmax.softmax_forward, softmax.softmax_backward),
                              (softmax.log_softmax_forward, softmax.log_softmax_backward)):
        backward.numba_impl(forward.numba_impl(rows), rows)
twins = {f"{module.__name__}.{name}.{which}": getattr(value, which).stats
         for module in modules for name, value in vars(module).items() if isinstance(value, ParallelOrSerial)
         for which in ("parallel", "serial")}
print(json.dumps({name: [sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]
                  for name, stats in twins.items()}))
"""


def test_both_twins_of_every_threaded_kernel_load_from_the_disk_cache():
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("nothing is compiled or cached with NUMBA_DISABLE_JIT=1")
    runs = [subprocess.run([sys.executable, "-c", CACHE_SCRIPT], cwd=REPOSITORY_ROOT, capture_output=True,
                           text=True, timeout=170) for _ in range(2)]  # the first fills the cache
    assert runs[1].returncode == 0, runs[1].stderr[-3000:]
    hits_and_misses = json.loads(runs[1].stdout)
    assert len(hits_and_misses) >= 20, hits_and_misses
    assert all(hits > 0 and misses == 0 for hits, misses in hits_and_misses.values()), hits_and_misses


# ---------------------------------------------------------------------------------------- fork


# Every kernel in a child forked after the parent ran them on threads: the child runs each one on
# its calling thread (kernels/thread_pool.py), through the serial twin that holds no parallel code
# (kernels/parallel.py); any call into Numba's OpenMP pool there would stop the child.
FORK_SCRIPT = """
import json, os, pickle
import numpy as np
import tinygrad_drop as td
from tinygrad_drop.kernels import adamw, bias, cross_entropy, dropout, gelu, layer_norm, softmax


def run_every_kernel():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((150, 65)).astype(np.float32)  # three tasks of rows
    weight = rng.standard_normal(65).astype(np.float32)
    target = rng.integers(0, 65, 150)
    flat = rng.standard_normal(40000).astype(np.float32)
    param = flat[:20000].copy()  # above adamw's PARALLEL_MIN_SIZE
    adamw.adamw_update.numba_impl(param, flat[20000:], np.zeros_like(param), np.zeros_like(param), 1,
                                  adamw.AdamHyperparameters(1e-3, 0.9, 0.999, 1e-8, 0.1, True))
    y, mean, rstd = layer_norm.layer_norm_forward.numba_impl(rows, weight, weight, 1e-5)
    loss, _, row_max, log_sum = cross_entropy.cross_entropy_forward.numba_impl(rows, target, -100)
    results = [
        param, y, mean, rstd, *layer_norm.layer_norm_backward.numba_impl(rows, rows, weight, mean, rstd),
        np.array(loss), row_max, log_sum,
        cross_entropy.cross_entropy_backward.numba_impl(rows, target, row_max, log_sum, -100, 0.5),
        bias.add_bias.numba_impl(rows.copy(), weight), bias.bias_grad.numba_impl(rows),
        dropout.dropout_apply.numba_impl(flat, 0.1, np.uint64(3), 1 / 0.9),
        dropout.add_bias_dropout.numba_impl(rows.copy(), weight, 0.1, np.uint64(3), 1 / 0.9),
        *gelu.gelu.numba_impl(flat, False, True), *gelu.gelu.numba_impl(flat, True, True),
        softmax.softmax_forward.numba_impl(rows), softmax.log_softmax_forward.numba_impl(rows),
        softmax.softmax_backward.numba_impl(rows, rows), softmax.log_softmax_backward.numba_impl(rows, rows),
    ]
    return results, td.state.process.thread_pool


in_parent, pool_in_parent = run_every_kernel()
reader, writer = os.pipe()
child = os.fork()
if child == 0:
    code = 1
    try:
        with os.fdopen(writer, "wb") as pipe:
            pickle.dump(run_every_kernel(), pipe)
        code = 0
    finally:
        os._exit(code)
os.close(writer)
with os.fdopen(reader, "rb") as pipe:
    data = pipe.read()
_, status = os.waitpid(child, 0)
assert os.waitstatus_to_exitcode(status) == 0, f"the child ended with {os.waitstatus_to_exitcode(status)}"
in_child, pool_in_child = pickle.loads(data)
same = [bool(np.array_equal(a, b)) for a, b in zip(in_parent, in_child)]
print(json.dumps([same, pool_in_parent, pool_in_child]))
"""


def test_every_kernel_runs_in_a_forked_child_with_the_same_bits():
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT], cwd=REPOSITORY_ROOT, capture_output=True,
                            text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # no "fork() called from a process already using GNU OpenMP"
    same, pool_in_parent, pool_in_child = json.loads(result.stdout)
    assert pool_in_parent in ("shared", "separate") and pool_in_child == "forked child"
    assert all(same), same
