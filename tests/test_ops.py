"""Every op of SPEC section 2, checked without trusting our own backward.

- Gradients: td.gradcheck compares each op's backward with central differences in float64, on both
  kernel backends. Ops with kinks (relu, abs, clip, max) get random inputs, which land on a kink
  with probability 0.
- Broadcasting: hypothesis draws pairs of broadcastable shapes for the binary ops and the matmul.
- Backends: the kernel-backed ops give the same forward values and gradients on float32 inputs
  under the numpy reference and under Numba.
"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_drop as td
from tinygrad_drop.nn import functional as F

pytestmark = pytest.mark.ops

# the backend fixture sets a global once per test; hypothesis may rerun the body under it
HYPOTHESIS = settings(max_examples=15, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


class Positive(tuple):
    """An input shape whose values are drawn from [0.5, 2]: the domain of log, sqrt, a divisor
    and pow's base, kept away from 0 where those derivatives blow up."""


def leaves(rng: np.random.Generator, *shapes) -> list[td.Tensor]:
    """float64 tensors that require grad: standard normal, or in [0.5, 2] for Positive shapes."""
    arrays = [rng.uniform(0.5, 2.0, s) if isinstance(s, Positive) else rng.standard_normal(s) for s in shapes]
    return [td.tensor(a, requires_grad=True) for a in arrays]


# Constants the cases close over: class targets (one row ignored), masks, lookup indices.
TARGETS = td.tensor([0, 2, -100, 1])
ROW_MASK = td.tensor([True, False, True, False])
ATTEND = td.tensor([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 1, 0, 0, 0]], dtype=td.bool_)
SCORE_BIAS = td.tensor(np.random.default_rng(1).standard_normal((3, 5)))
REPEATS = np.array([2, 0, 2, 1])

GRADCHECK_CASES = [
    # arithmetic with plain numbers on either side
    ("add_scalar", lambda x: x + 2.0, [(3, 4)]),
    ("rsub_scalar", lambda x: 2.0 - x, [(3, 4)]),
    ("mul_scalar", lambda x: 3 * x, [(3, 4)]),
    ("rdiv_scalar", lambda x: 2.0 / x, [Positive((3, 4))]),
    ("pow_scalar", lambda x: x ** 3, [(3, 4)]),
    ("rpow_scalar", lambda x: 2.0 ** x, [(3, 4)]),
    ("neg", lambda x: -x, [(3, 4)]),
    ("method_names", lambda a, b: a.add(b).mul(b).sub(a).div(b).pow(2).neg(), [(3,), Positive((2, 3))]),
    # matrix products: every rank combination of torch.matmul
    ("matmul_2d", lambda a, b: a @ b, [(2, 3), (3, 4)]),
    ("matmul_vec_vec", lambda a, b: a @ b, [(3,), (3,)]),
    ("matmul_vec_mat", lambda a, b: a @ b, [(3,), (3, 2)]),
    ("matmul_mat_vec", lambda a, b: a.matmul(b), [(2, 3), (3,)]),
    ("matmul_batched", lambda a, b: a @ b, [(2, 2, 3), (2, 3, 2)]),
    ("matmul_broadcast", lambda a, b: a @ b, [(2, 1, 2, 3), (3, 3, 2)]),
    ("matmul_vec_batched", lambda a, b: a @ b, [(3,), (2, 3, 2)]),
    ("matmul_batched_vec", lambda a, b: a @ b, [(2, 2, 3), (3,)]),
    # elementwise functions
    ("exp", lambda x: x.exp(), [(3, 4)]),
    ("sin", lambda x: x.sin(), [(3, 4)]),
    ("cos", lambda x: x.cos(), [(3, 4)]),
    ("gather", lambda x: x.gather(1, td.tensor([[0, 0], [3, 1], [2, 2]])), [(3, 4)]),
    ("roll", lambda x: x.roll((1, -2), (0, 1)), [(3, 4)]),
    ("repeat", lambda x: x.repeat(2, 1, 3), [(3, 4)]),
    ("clone", lambda x: x.clone(), [(3, 4)]),
    ("log", lambda x: x.log(), [Positive((3, 4))]),
    ("sqrt", lambda x: x.sqrt(), [Positive((3, 4))]),
    ("tanh", lambda x: x.tanh(), [(3, 4)]),
    ("sigmoid", lambda x: x.sigmoid(), [(3, 4)]),
    ("relu", lambda x: x.relu(), [(3, 4)]),
    ("gelu_exact", lambda x: x.gelu(), [(3, 4)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("abs", lambda x: x.abs(), [(3, 4)]),
    ("clip", lambda x: x.clip(-0.5, 0.5), [(3, 4)]),
    ("clip_min_only", lambda x: x.clip(min=0.2), [(3, 4)]),
    ("clamp_max_only", lambda x: x.clamp(max=-0.2), [(3, 4)]),
    # reductions
    ("sum_all", lambda x: x.sum(), [(2, 3, 4)]),
    ("sum_dim", lambda x: x.sum(1), [(2, 3, 4)]),
    ("sum_dims_keepdim", lambda x: x.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    ("sum_axis_keepdims", lambda x: x.sum(axis=-1, keepdims=True), [(2, 3, 4)]),
    ("mean_all", lambda x: x.mean(), [(2, 3, 4)]),
    ("mean_dim", lambda x: x.mean(dim=-1), [(2, 3, 4)]),
    ("mean_axis_keepdims", lambda x: x.mean(axis=(0, 1), keepdims=True), [(2, 3, 4)]),
    ("var_all", lambda x: x.var(), [(2, 3, 4)]),
    ("var_dim_keepdim", lambda x: x.var(1, keepdim=True), [(2, 3, 4)]),
    ("var_biased", lambda x: x.var(dim=-1, correction=0), [(2, 3, 4)]),
    ("var_axis", lambda x: x.var(axis=(0, 2)), [(2, 3, 4)]),
    ("max_all", lambda x: x.max(), [(2, 3, 4)]),
    ("max_dim", lambda x: x.max(1).values, [(2, 3, 4)]),
    ("max_axis_keepdims", lambda x: x.max(axis=-1, keepdims=True)[0], [(2, 3, 4)]),
    ("min_all", lambda x: x.min(), [(2, 3, 4)]),
    ("min_dim_keepdim", lambda x: x.min(dim=0, keepdim=True).values, [(2, 3, 4)]),
    # shape and movement
    ("reshape", lambda x: x.reshape(4, -1), [(2, 3, 4)]),
    ("view", lambda x: x.view((6, 4)), [(2, 3, 4)]),
    ("transpose", lambda x: x.transpose(0, -1), [(2, 3, 4)]),
    ("permute", lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
    ("T", lambda x: x.T, [(2, 3)]),
    ("squeeze_all", lambda x: x.squeeze(), [(2, 1, 3, 1)]),
    ("squeeze_dim", lambda x: x.squeeze(-1), [(2, 1, 3, 1)]),
    ("unsqueeze", lambda x: x.unsqueeze(-1), [(2, 3)]),
    ("expand", lambda x: x.expand(3, 2, 4), [(2, 1)]),
    ("expand_keep", lambda x: x.expand(3, -1, 4), [(2, 1)]),
    ("flatten", lambda x: x.flatten(), [(2, 3, 4)]),
    ("flatten_from", lambda x: x.flatten(1), [(2, 3, 4)]),
    # indexing
    ("index_int", lambda x: x[1], [(2, 3, 4)]),
    ("index_negative", lambda x: x[-1, -2], [(2, 3, 4)]),
    ("index_slices", lambda x: x[:, ::2, 1:3], [(2, 3, 4)]),
    ("index_none_ellipsis", lambda x: x[None, ..., 0], [(2, 3, 4)]),
    ("index_array_repeats", lambda x: x[REPEATS], [(3, 4)]),
    ("index_list_repeats", lambda x: x[[0, 0, 1]], [(3, 4)]),
    ("index_tensor_pairs", lambda x: x[td.tensor([1, 1, 0]), td.tensor([3, 3, 0])], [(3, 4)]),
    ("index_slice_and_array", lambda x: x[:, REPEATS], [(2, 3)]),
    ("index_bool", lambda x: x[ROW_MASK], [(4, 2)]),
    ("masked_fill", lambda x: x.masked_fill(ROW_MASK, -1.0), [(3, 4)]),
    # softmax family over several dims
    ("softmax_0", lambda x: x.softmax(0), [(2, 3, 4)]),
    ("softmax_1", lambda x: F.softmax(x, dim=1), [(2, 3, 4)]),
    ("softmax_last", lambda x: x.softmax(-1), [(2, 3, 4)]),
    ("log_softmax_0", lambda x: x.log_softmax(0), [(2, 3, 4)]),
    ("log_softmax_1", lambda x: F.log_softmax(x, dim=1), [(2, 3, 4)]),
    ("log_softmax_last", lambda x: x.log_softmax(-1), [(2, 3, 4)]),
    # joining and splitting
    ("cat_0", lambda a, b: td.cat([a, b]), [(2, 3), (1, 3)]),
    ("cat_last", lambda a, b, c: td.cat([a, b, c], dim=-1), [(2, 3), (2, 1), (2, 2)]),
    ("stack_0", lambda a, b: td.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack_last", lambda a, b: td.stack([a, b], dim=-1), [(2, 3), (2, 3)]),
    ("where", lambda a, b: td.where(a.detach() > 0, a, b), [(2, 3), (3,)]),
    ("where_scalar", lambda a: td.where(a.detach() > 0, a, 0.0), [(2, 3)]),
    ("split_size", lambda x: x.split(2, dim=1), [(2, 5)]),
    ("split_sections", lambda x: x.split([1, 3, 1], dim=-1), [(2, 5)]),
    ("chunk", lambda x: x.chunk(3), [(5, 2)]),
    # losses, normalization, attention
    ("cross_entropy_mean", lambda x: F.cross_entropy(x, TARGETS), [(4, 3)]),
    ("cross_entropy_sum", lambda x: F.cross_entropy(x, TARGETS, reduction="sum"), [(4, 3)]),
    ("cross_entropy_none", lambda x: F.cross_entropy(x, TARGETS, reduction="none"), [(4, 3)]),
    ("cross_entropy_ignore_1", lambda x: F.cross_entropy(x, td.tensor([0, 1, 2, 1]), ignore_index=1), [(4, 3)]),
    ("cross_entropy_1d", lambda x: F.cross_entropy(x, td.tensor(2)), [(3,)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, 4, w, b), [(3, 4), (4,), (4,)]),
    ("layer_norm_2d_shape", lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [(2, 2, 3), (2, 3), (2, 3)]),
    ("layer_norm_no_affine", lambda x: F.layer_norm(x, [4]), [(2, 2, 4)]),
    ("sdpa", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 3, 2), (2, 5, 2), (2, 5, 3)]),
    ("sdpa_causal_heads", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(1, 2, 3, 2), (1, 2, 3, 2), (1, 2, 3, 2)]),
    ("sdpa_bool_mask", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ATTEND),
     [(1, 3, 2), (1, 5, 2), (1, 5, 2)]),
    ("sdpa_float_mask", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=SCORE_BIAS),
     [(1, 3, 2), (1, 5, 2), (1, 5, 2)]),
    ("sdpa_learned_mask", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
     [(2, 3, 2), (2, 5, 2), (2, 5, 2), (3, 5)]),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(fn, shapes, id=name) for name, fn, shapes in GRADCHECK_CASES])
def test_gradcheck(fn, shapes, backend, rng):
    assert td.gradcheck(fn, leaves(rng, *shapes))


BINARY_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("name", BINARY_OPS)
@HYPOTHESIS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_binary_ops_broadcast(name, shapes, seed, backend):
    a_shape, b_shape = shapes.input_shapes
    # a positive base for pow, a divisor kept away from 0 for div
    a_spec = Positive(a_shape) if name == "pow" else a_shape
    b_spec = Positive(b_shape) if name == "div" else b_shape
    a, b = leaves(np.random.default_rng(seed), a_spec, b_spec)
    out = BINARY_OPS[name](a, b)
    assert out.shape == shapes.result_shape
    assert td.gradcheck(BINARY_OPS[name], [a, b])


@HYPOTHESIS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3),
       seed=st.integers(0, 2**16))
def test_matmul_broadcast(shapes, seed, backend):
    a, b = leaves(np.random.default_rng(seed), *shapes.input_shapes)
    out = a @ b
    np.testing.assert_allclose(out.data, np.matmul(a.data, b.data), rtol=1e-12)
    assert td.gradcheck(lambda x, y: x @ y, [a, b])


@HYPOTHESIS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data())
def test_reductions_over_any_dims(shape, data, backend):
    dims = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1), label="dims")
    keepdim = data.draw(st.booleans(), label="keepdim")
    (x,) = leaves(np.random.default_rng(len(shape)), shape)
    for name in ("sum", "mean"):
        out = getattr(x, name)(dim=dims, keepdim=keepdim)
        np.testing.assert_allclose(out.data, getattr(np, name)(x.data, axis=dims, keepdims=keepdim), rtol=1e-12)
        assert td.gradcheck(lambda t: getattr(t, name)(dim=dims, keepdim=keepdim), [x])


def test_reduction_aliases_match_dim_and_keepdim(rng):
    x = td.tensor(rng.standard_normal((2, 3, 4)))
    for name in ("sum", "mean", "var"):
        torch_style = getattr(x, name)(dim=1, keepdim=True)
        numpy_style = getattr(x, name)(axis=1, keepdims=True)
        assert numpy_style.shape == (2, 1, 4)
        np.testing.assert_array_equal(numpy_style.data, torch_style.data)
    np.testing.assert_array_equal(x.max(axis=2).values.data, x.data.max(axis=2))
    np.testing.assert_array_equal(x.min(axis=0, keepdims=True).indices.data, x.data.argmin(axis=0, keepdims=True))
    np.testing.assert_allclose(x.var(axis=(0, 2)).data, x.data.var(axis=(0, 2), ddof=1), rtol=1e-12)
    with pytest.raises(TypeError, match="dim or axis"):
        x.sum(dim=0, axis=1)


@pytest.mark.parametrize("compare", [
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b,
    lambda a, b: a >= b, lambda a, b: a == b, lambda a, b: a != b,
], ids=["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_return_bool_tensors_without_grad(compare, rng):
    a = td.tensor(rng.integers(0, 3, (3, 4)).astype(np.float32), requires_grad=True)
    b = td.tensor(rng.integers(0, 3, (4,)).astype(np.float32))
    for other, other_array in ((b, b.data), (1.0, 1.0)):
        result = compare(a, other)
        assert isinstance(result, td.Tensor)
        assert result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.data, compare(a.data, other_array))


def test_max_and_min_over_everything_share_the_gradient_among_ties():
    # as torch.max(): the gradient of the single maximum is split evenly among the tied elements
    x = td.tensor(np.array([1.0, 3.0, 3.0, -2.0, -2.0, -2.0]), requires_grad=True)
    (x.max() + x.min()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 2, 1 / 2, 1 / 3, 1 / 3, 1 / 3], rtol=1e-15)


def test_max_and_min_along_a_dim_give_the_gradient_to_the_first_tie():
    # as torch.max(dim): one index per row is chosen, the first of the tied elements
    x = td.tensor(np.array([[1.0, 3.0, 3.0], [-2.0, 0.0, -2.0]]), requires_grad=True)
    (x.max(dim=1).values.sum() + 10 * x.min(dim=1).values.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10, 1, 0], [10, 1, 0]])


def test_min_is_its_own_op_in_the_graph():
    x = td.tensor(np.array([[1.0, 3.0], [-2.0, 0.0]]), requires_grad=True)
    assert x.max().grad_fn.name == "MaxBackward" and x.max(0).values.grad_fn.name == "MaxBackward"
    assert x.min().grad_fn.name == "MinBackward" and x.min(0).values.grad_fn.name == "MinBackward"


# ---- numpy and numba backends agree ------------------------------------------------------------

def forward_and_grads(fn, arrays: list[np.ndarray], cotangent_seed: int = 0):
    """Outputs of fn and the gradients of a random weighted sum of them, with dropout reseeded so
    both backends draw the same mask bits."""
    td.manual_seed(0)
    inputs = [td.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    cotangent = np.random.default_rng(cotangent_seed).standard_normal(out.shape).astype(np.float32)
    out.backward(cotangent)
    return [out.data] + [t.grad.data for t in inputs]


INDICES = td.tensor([[1, 4, 1], [0, 4, 2]])
KERNEL_CASES = [
    ("softmax_last", lambda x: x.softmax(-1), [(6, 33)]),
    ("softmax_0", lambda x: x.softmax(0), [(6, 33)]),
    ("log_softmax_last", lambda x: x.log_softmax(-1), [(6, 33)]),
    ("log_softmax_1", lambda x: x.log_softmax(1), [(2, 5, 7)]),
    ("gelu_exact", lambda x: x.gelu(), [(4, 50)]),
    ("gelu_tanh", lambda x: x.gelu("tanh"), [(4, 50)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, 32, w, b), [(2, 5, 32), (32,), (32,)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, td.tensor([3, -100, 0, 9, 5])), [(5, 10)]),
    ("cross_entropy_none", lambda x: F.cross_entropy(x, td.tensor([3, 1, 0, 9, 5]), reduction="none"), [(5, 10)]),
    ("sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(2, 2, 6, 8), (2, 2, 6, 8), (2, 2, 6, 8)]),
    ("sdpa_mask_dropout", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ATTEND, dropout_p=0.3),
     [(2, 3, 8), (2, 5, 8), (2, 5, 4)]),
    ("dropout", lambda x: F.dropout(x, 0.4), [(7, 40)]),
    ("embedding", lambda w: F.embedding(INDICES, w), [(5, 6)]),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(fn, shapes, id=name) for name, fn, shapes in KERNEL_CASES])
def test_backends_agree_in_float32(fn, shapes, rng):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    with td.backend("numpy"):
        reference = forward_and_grads(fn, arrays)
    with td.backend("numba"):
        fast = forward_and_grads(fn, arrays)
    for expected, actual in zip(reference, fast):
        assert actual.dtype == np.float32 and expected.dtype == np.float32
        assert np.all(np.isfinite(expected)) and np.all(np.isfinite(actual))
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
