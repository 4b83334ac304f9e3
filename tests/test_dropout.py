"""The dropout family against its contract (SPEC section 4).

Dropout is random, so most claims are statistical. Each statistical test states its tolerance as a
number of standard deviations of the quantity it measures, computed from the binomial or
Bernoulli model of the draw: 5 standard deviations, so a correct implementation fails about once
in 1.7 million runs, while a wrong p, a missing scale or a reused mask misses by far more.
The exact claims (kept values, masked gradients, edge cases, errors, reproducibility) are exact.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop import nn

pytestmark = pytest.mark.nn

SIGMAS = 5
P_MESSAGE = "dropout probability has to be between 0 and 1, but got"


def random_array(shape, dtype=np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def forward_backward(layer, x: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run layer on x and pull a random upstream gradient g back: (output, x.grad, g)."""
    inputs = td.tensor(x, requires_grad=True)
    out = layer(inputs)
    upstream = random_array(out.shape, x.dtype, seed)
    (out * td.tensor(upstream)).sum().backward()
    return out.numpy(), inputs.grad.numpy(), upstream


def assert_identical(ours: np.ndarray, reference: np.ndarray) -> None:
    """Bit-identical and finite (assert_array_equal alone lets NaN equal NaN)."""
    assert np.isfinite(ours).all(), "result is not finite"
    np.testing.assert_array_equal(ours, reference)


def binomial_tolerance(p: float, n: int) -> float:
    """SIGMAS standard deviations of the fraction of n independent Bernoulli(p) draws."""
    return SIGMAS * math.sqrt(p * (1 - p) / n)


# ---- statistics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_fraction_dropped_is_p(p, backend):
    td.manual_seed(0)
    n = 100_000
    layer = nn.Dropout(p)
    out = layer(td.ones(n)).numpy()
    dropped = np.mean(out == 0)
    assert abs(dropped - p) <= binomial_tolerance(p, n), f"dropped {dropped:.4f} of elements, expected {p}"
    np.testing.assert_array_equal(out != 0, layer.mask)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_mean_is_preserved(p, backend):
    """E[y_i] = x_i; Var[y_i] = x_i^2 p/(1-p), so mean(y) - mean(x) has standard deviation
    sqrt(sum x_i^2 p/(1-p)) / n."""
    td.manual_seed(1)
    x = np.random.default_rng(2).uniform(0.5, 1.5, size=100_000).astype(np.float32)
    out = nn.Dropout(p)(td.tensor(x)).numpy()
    std_of_mean = math.sqrt(np.sum(x.astype(np.float64) ** 2) * p / (1 - p)) / x.size
    assert abs(out.mean(dtype=np.float64) - x.mean(dtype=np.float64)) <= SIGMAS * std_of_mean


# ---- exact values and gradient masking ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.5, 0.75, 0.1, 0.3])
def test_kept_values_are_x_over_one_minus_p(p, dtype, backend):
    td.manual_seed(3)
    x = random_array((64, 33), dtype)
    layer = nn.Dropout(p)
    out = layer(td.tensor(x)).numpy()
    kept = layer.mask
    assert out.dtype == dtype and kept.dtype == np.bool_ and kept.shape == x.shape
    assert 0 < kept.sum() < kept.size
    assert (out[~kept] == 0).all()
    expected = (x[kept].astype(np.float64) / (1 - p)).astype(dtype)
    if p in (0.5, 0.75):  # 1/(1-p) is a power of two: the scaled value is exact
        np.testing.assert_array_equal(out[kept], expected)
    else:  # x * (1/(1-p)) is rounded once more than x / (1-p): at most one unit in the last place
        np.testing.assert_array_max_ulp(out[kept], expected, maxulp=1)


@pytest.mark.parametrize("p", [0.25, 0.6])
def test_gradient_is_zero_where_dropped_and_scaled_where_kept(p, backend):
    td.manual_seed(4)
    layer = nn.Dropout(p)
    out, grad, upstream = forward_backward(layer, random_array((16, 40), np.float64))
    kept = layer.mask
    np.testing.assert_array_equal(out != 0, kept)  # the inspected mask is the forward's mask
    assert (grad[~kept] == 0).all()
    np.testing.assert_array_max_ulp(grad[kept], upstream[kept] / (1 - p), maxulp=1)


def test_mask_follows_the_logical_layout_of_a_transposed_input(backend):
    td.manual_seed(5)
    layer = nn.Dropout(0.5)
    x = td.tensor(random_array((6, 9))).T  # a non-contiguous view
    out = layer(x).numpy()
    np.testing.assert_array_equal(out != 0, layer.mask)
    np.testing.assert_array_equal(out[layer.mask], 2 * x.numpy()[layer.mask])


# ---- edge cases and errors ----------------------------------------------------------------------

def test_p_zero_is_the_identity(backend):
    layer = nn.Dropout(0.0)
    x = random_array((5, 7))
    out, grad, upstream = forward_backward(layer, x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(grad, upstream)
    assert layer.mask.all() and layer.mask.shape == x.shape
    np.testing.assert_array_equal(F.dropout(td.tensor(x), 0.0).numpy(), x)


def test_p_one_gives_zeros_and_zero_gradient_without_nan(backend):
    layer = nn.Dropout(1.0)
    out, grad, _ = forward_backward(layer, random_array((5, 7)) * 1e30)
    assert not out.any() and not grad.any()
    assert np.isfinite(grad).all()
    assert not layer.mask.any()
    # nothing is kept, so nothing is multiplied: even inf and nan inputs give exact zeros
    special = td.tensor(np.array([np.inf, -np.inf, np.nan, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(F.dropout(special, 1.0).numpy(), np.zeros(4, np.float32))


BAD_P = [-0.1, 1.5, float("nan"), float("inf"), "0.5", None]


@pytest.mark.parametrize("p", BAD_P, ids=repr)
def test_invalid_p_is_rejected_everywhere(p):
    x = td.ones(3, 3)
    constructors = [lambda: nn.Dropout(p), lambda: nn.Dropout(p, inverted=False),
                    lambda: nn.DropConnect(nn.Linear(3, 3), p), lambda: nn.DropPath(p)]
    calls = [lambda: F.dropout(x, p), lambda: F.dropout(x, p, training=False), lambda: F.drop_connect(x, p),
             lambda: F.scaled_dot_product_attention(x[None], x[None], x[None], dropout_p=p)]
    for make in constructors + calls:
        with pytest.raises(ValueError, match=P_MESSAGE):
            make()


def test_eval_is_the_identity(backend):
    layer = nn.Dropout(0.5).eval()
    x = random_array((5, 7))
    out, grad, upstream = forward_backward(layer, x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(grad, upstream)
    assert layer.mask is None
    np.testing.assert_array_equal(F.dropout(td.tensor(x), 0.5, training=False).numpy(), x)


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_classic_dropout_scales_at_eval_instead(p, backend):
    td.manual_seed(6)
    layer = nn.Dropout(p, inverted=False)
    x = random_array((32, 50))
    out, grad, upstream = forward_backward(layer, x)
    kept = layer.mask
    np.testing.assert_array_equal(out, np.where(kept, x, 0))  # kept values untouched
    np.testing.assert_array_equal(grad, np.where(kept, upstream, 0))
    layer.eval()
    np.testing.assert_allclose(layer(td.tensor(x)).numpy(), x * (1 - p), rtol=1e-6)


@pytest.mark.parametrize("inverted", [True, False], ids=["inverted", "classic"])
def test_training_expectation_equals_eval_output(inverted, backend):
    """On ones: training mean is (kept fraction) * scale, eval is 1 (inverted) or 1-p (classic)."""
    td.manual_seed(7)
    p, n = 0.4, 100_000
    layer = nn.Dropout(p, inverted=inverted)
    training_mean = layer(td.ones(n)).numpy().mean(dtype=np.float64)
    eval_value = float(layer.eval()(td.ones(1)).item())
    scale = 1 / (1 - p) if inverted else 1.0
    assert abs(training_mean - eval_value) <= scale * binomial_tolerance(p, n)


# ---- randomness: seeds, backends, fresh masks ---------------------------------------------------

def draw_masks(seed: int, count: int = 2, shape=(8, 50)) -> list[np.ndarray]:
    td.manual_seed(seed)
    layer = nn.Dropout(0.5)
    masks = []
    for _ in range(count):
        layer(td.ones(*shape))
        masks.append(layer.mask)
    return masks


def test_manual_seed_reproduces_masks(backend):
    first, again, other = draw_masks(11), draw_masks(11), draw_masks(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_each_forward_draws_a_new_mask(backend):
    masks = draw_masks(13, count=3)
    for i in range(3):
        for j in range(i):
            # two independent masks of 400 fair coins agree on about half the elements
            agreement = np.mean(masks[i] == masks[j])
            assert abs(agreement - 0.5) <= binomial_tolerance(0.5, masks[i].size)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_masks_are_identical_on_numpy_and_numba(p):
    results = {}
    for name in ("numpy", "numba"):
        with td.backend(name):
            td.manual_seed(21)
            layer = nn.Dropout(p)
            out, grad, _ = forward_backward(layer, random_array((37, 129)))
            results[name] = (out, grad, layer.mask)
    for a, b in zip(results["numpy"], results["numba"]):
        assert_identical(a, b)


# ---- attention dropout (scaled_dot_product_attention) -------------------------------------------

def attention_weights_after_dropout(q: np.ndarray, k: np.ndarray, p: float) -> np.ndarray:
    """The dropped attention weights themselves: with v = identity, output = weights @ I."""
    S = k.shape[-2]
    identity = np.broadcast_to(np.eye(S, dtype=q.dtype), k.shape[:-2] + (S, S)).copy()
    return F.scaled_dot_product_attention(td.tensor(q), td.tensor(k), td.tensor(identity), dropout_p=p).numpy()


def softmax_weights(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    exps = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


def test_attention_dropout_uses_the_same_mask_forward_and_backward(backend):
    """gradcheck with the random stream rewound before every call, so every call draws the same
    mask: numeric differences then see the forward's mask, and backward must use that mask too."""
    p = 0.5
    rng = np.random.default_rng(0)
    q, k, v = (td.tensor(rng.normal(size=(1, 2, 4, 3)), requires_grad=True) for _ in range(3))
    td.manual_seed(30)
    state = td.get_rng_state()
    dropped = attention_weights_after_dropout(q.numpy(), k.numpy(), p)
    kept = dropped != 0
    assert 0 < kept.sum() < kept.size  # this seed drops some weights and keeps others
    np.testing.assert_allclose(dropped[kept], softmax_weights(q.numpy(), k.numpy())[kept] / (1 - p), rtol=1e-12)

    def attention_with_rewound_mask(q, k, v):
        td.set_rng_state(state)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p)

    out = attention_with_rewound_mask(q, k, v).numpy()
    np.testing.assert_allclose(out, dropped @ v.numpy(), rtol=1e-12, atol=1e-14)
    assert td.gradcheck(attention_with_rewound_mask, [q, k, v])


def test_attention_dropout_gradients_agree_across_backends():
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(2, 2, 6, 4)) for _ in range(3)]
    results = {}
    for name in ("numpy", "numba"):
        with td.backend(name):
            td.manual_seed(31)
            q, k, v = (td.tensor(a, requires_grad=True) for a in arrays)
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)
            (out * td.tensor(arrays[0])).sum().backward()
            results[name] = [out.numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()]
    for a, b in zip(results["numpy"], results["numba"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, equal_nan=False)


def test_attention_dropout_statistics(backend):
    """Fraction of dropped weights within SIGMAS binomial std of p, and each row of dropped
    weights sums to 1 on average: row sum r = sum_j w_j m_j / (1-p) has mean 1 and variance
    p/(1-p) sum_j w_j^2."""
    p = 0.3
    rng = np.random.default_rng(2)
    q, k = rng.normal(size=(4, 4, 32, 8)), rng.normal(size=(4, 4, 32, 8))
    td.manual_seed(32)
    dropped = attention_weights_after_dropout(q, k, p)
    weights = softmax_weights(q, k)
    fraction = np.mean(dropped == 0)
    assert abs(fraction - p) <= binomial_tolerance(p, dropped.size)
    row_sums = dropped.sum(axis=-1)
    std_of_mean = math.sqrt(p / (1 - p) * np.sum(weights ** 2)) / row_sums.size
    assert abs(row_sums.mean() - 1.0) <= SIGMAS * std_of_mean


def test_attention_dropout_changes_outputs_but_p_zero_is_deterministic(backend):
    td.manual_seed(33)
    q, k, v = (td.tensor(random_array((2, 2, 5, 4), seed=s)) for s in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    assert_identical(plain, F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy())
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).numpy()
    second = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).numpy()
    assert not np.allclose(first, plain) and not np.allclose(first, second)


def test_attention_layer_dropout_is_off_in_eval(backend):
    td.manual_seed(34)
    layer = nn.CausalSelfAttention(8, 2, attn_pdrop=0.5, resid_pdrop=0.0)
    reference = nn.CausalSelfAttention(8, 2)
    reference.load_state_dict(layer.state_dict())
    x = td.tensor(random_array((2, 5, 8)))
    first, second = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(first, second)
    layer.eval()
    assert_identical(layer(x).numpy(), layer(x).numpy())
    np.testing.assert_allclose(layer(x).numpy(), reference(x).numpy(), rtol=1e-6, atol=1e-7, equal_nan=False)


def test_attention_dropout_p_one_gives_zeros_without_nan(backend):
    q, k, v = (td.tensor(random_array((1, 2, 3, 4), seed=s), requires_grad=True) for s in range(3))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    out.sum().backward()
    assert not out.numpy().any()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all() and not t.grad.numpy().any()


# ---- DropConnect --------------------------------------------------------------------------------

def test_drop_connect_mean_over_draws_equals_the_undropped_layer(backend):
    """Each output y_o = b_o + sum_i x_i W_oi m_oi / (1-p): mean over draws -> the plain layer, and
    one draw has variance p/(1-p) sum_i x_i^2 W_oi^2, so the mean of N draws is within
    SIGMAS * sqrt(that / N) of it."""
    td.manual_seed(40)
    p, draws = 0.3, 1000
    linear = nn.Linear(6, 3)
    layer = nn.DropConnect(linear, p)
    x = random_array((4, 6))
    plain = linear(td.tensor(x)).numpy().astype(np.float64)
    total = np.zeros_like(plain)
    for _ in range(draws):
        total += layer(td.tensor(x)).numpy()
    variance = p / (1 - p) * (x.astype(np.float64) ** 2) @ (linear.weight.numpy().astype(np.float64) ** 2).T
    assert (np.abs(total / draws - plain) <= SIGMAS * np.sqrt(variance / draws)).all()


def test_drop_connect_masks_the_weight_and_its_gradient(backend):
    """With x = identity, y - b is the dropped weight transposed, which shows the mask; the
    gradient reaching the wrapped weight is g^T masked and scaled by 1/(1-p)."""
    td.manual_seed(41)
    p = 0.5
    linear = nn.Linear(5, 4)
    weight = linear.weight
    layer = nn.DropConnect(linear, p)
    out, _, upstream = forward_backward(layer, np.eye(5, dtype=np.float32))
    dropped_weight = (out - linear.bias.numpy()).T
    kept = dropped_weight != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dropped_weight[kept], weight.numpy()[kept] / (1 - p), rtol=1e-6)
    assert linear.weight is weight  # the wrapped layer gets its own parameter back
    np.testing.assert_array_equal(weight.grad.numpy(), np.where(kept, upstream.T / (1 - p), 0))
    np.testing.assert_allclose(linear.bias.grad.numpy(), upstream.sum(axis=0), rtol=1e-6)


def test_drop_connect_is_the_identity_in_eval_and_draws_anew_in_training(backend):
    td.manual_seed(42)
    linear = nn.Linear(5, 4)
    layer = nn.DropConnect(linear, 0.5)
    x = td.tensor(random_array((3, 5)))
    first, second = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(first, second)
    layer.eval()
    assert_identical(layer(x).numpy(), linear(x).numpy())
    np.testing.assert_array_equal(F.drop_connect(linear.weight, 0.5, training=False).numpy(), linear.weight.numpy())


def test_drop_connect_needs_a_layer_with_a_weight():
    with pytest.raises(TypeError, match="weight"):
        nn.DropConnect(nn.ReLU(), 0.5)


# ---- DropPath (stochastic depth) ----------------------------------------------------------------

def test_drop_path_drops_whole_samples_and_scales_the_rest(backend):
    td.manual_seed(50)
    p, samples = 0.25, 4000
    layer = nn.DropPath(p)
    out, grad, upstream = forward_backward(layer, np.ones((samples, 3, 2), dtype=np.float32))
    per_sample = out.reshape(samples, -1)
    kept = per_sample[:, 0] != 0
    np.testing.assert_array_equal(per_sample, per_sample[:, :1] * np.ones((1, 6)))  # all or nothing
    np.testing.assert_allclose(per_sample[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(np.mean(~kept) - p) <= binomial_tolerance(p, samples)
    np.testing.assert_allclose(grad, np.where(kept[:, None, None], upstream / (1 - p), 0), rtol=1e-6)
    layer.eval()
    x = random_array((4, 3))
    np.testing.assert_array_equal(layer(td.tensor(x)).numpy(), x)
