"""Every op of SPEC section 2 against PyTorch: forward values and gradients in float64, on both
kernel backends, to 1e-6 relative.

Our API follows PyTorch's names, so each case is written once as `fn(lib, F, *inputs)` and run
twice: with lib = tinygrad_drop and with lib = torch (F is the matching nn.functional). Gradients
are those of a random weighted sum of the outputs, so every output element matters.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop.nn import functional as td_F

pytestmark = pytest.mark.ops


class Positive(tuple):
    """An input shape whose values are drawn from [0.5, 2] (log, sqrt, divisors, pow's base)."""


ATTEND = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 1, 0, 0, 0]], dtype=bool)

CASES = [
    ("add_broadcast", lambda lib, F, a, b: a + b, [(2, 1, 3), (4, 1)]),
    ("sub_broadcast", lambda lib, F, a, b: a - b, [(3,), (2, 3)]),
    ("mul_broadcast", lambda lib, F, a, b: a * b, [(2, 3, 1), (1, 4)]),
    ("div_broadcast", lambda lib, F, a, b: a / b, [(2, 3), Positive((2, 1))]),
    ("pow_broadcast", lambda lib, F, a, b: a ** b, [Positive((2, 3)), (3,)]),
    ("scalars", lambda lib, F, x: (2.0 - x) * 3 / (x * x + 1.0) + 2.0 ** x - x ** 3, [(3, 4)]),
    ("neg", lambda lib, F, x: -x, [(3, 4)]),
    ("matmul_2d", lambda lib, F, a, b: a @ b, [(2, 3), (3, 4)]),
    ("matmul_vec_vec", lambda lib, F, a, b: a @ b, [(3,), (3,)]),
    ("matmul_vec_mat", lambda lib, F, a, b: a @ b, [(3,), (3, 2)]),
    ("matmul_mat_vec", lambda lib, F, a, b: a @ b, [(2, 3), (3,)]),
    ("matmul_broadcast", lambda lib, F, a, b: a.matmul(b), [(2, 1, 2, 3), (3, 3, 2)]),
    ("exp", lambda lib, F, x: x.exp(), [(3, 4)]),
    ("sin_cos", lambda lib, F, x: x.sin() * x.cos(), [(3, 4)]),
    ("log", lambda lib, F, x: x.log(), [Positive((3, 4))]),
    ("sqrt", lambda lib, F, x: x.sqrt(), [Positive((3, 4))]),
    ("tanh", lambda lib, F, x: x.tanh(), [(3, 4)]),
    ("sigmoid", lambda lib, F, x: x.sigmoid(), [(3, 4)]),
    ("relu", lambda lib, F, x: x.relu(), [(3, 4)]),
    ("gelu_exact", lambda lib, F, x: F.gelu(x), [(3, 4)]),
    ("gelu_tanh", lambda lib, F, x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("abs", lambda lib, F, x: x.abs(), [(3, 4)]),
    ("clip", lambda lib, F, x: x.clip(-0.5, 0.5), [(3, 4)]),
    ("sum", lambda lib, F, x: x.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    ("mean", lambda lib, F, x: x.mean(-1), [(2, 3, 4)]),
    ("var", lambda lib, F, x: x.var(1), [(2, 3, 4)]),
    ("var_biased", lambda lib, F, x: x.var(dim=(0, 2), keepdim=True, correction=0), [(2, 3, 4)]),
    ("max_all", lambda lib, F, x: x.max(), [(2, 3, 4)]),
    ("max_dim", lambda lib, F, x: x.max(dim=1).values, [(2, 3, 4)]),
    ("min_dim_keepdim", lambda lib, F, x: x.min(-1, keepdim=True).values, [(2, 3, 4)]),
    ("reshape_view", lambda lib, F, x: x.reshape(4, -1).view(2, 12), [(2, 3, 4)]),
    ("transpose_permute", lambda lib, F, x: x.transpose(0, 1).permute(2, 0, 1), [(2, 3, 4)]),
    ("T", lambda lib, F, x: x.T, [(2, 3)]),
    ("squeeze_unsqueeze", lambda lib, F, x: x.squeeze(1).unsqueeze(0), [(2, 1, 3)]),
    ("expand", lambda lib, F, x: x.expand(3, -1, 4), [(2, 1)]),
    ("flatten", lambda lib, F, x: x.flatten(1), [(2, 3, 4)]),
    ("index_basic", lambda lib, F, x: x[1:, None, ..., ::2], [(3, 2, 4)]),
    ("index_repeats", lambda lib, F, x: x[lib.tensor([2, 0, 2])], [(3, 4)]),
    ("index_pairs", lambda lib, F, x: x[lib.tensor([1, 1]), lib.tensor([0, 3])], [(3, 4)]),
    ("index_bool", lambda lib, F, x: x[lib.tensor([True, False, True])], [(3, 4)]),
    ("masked_fill", lambda lib, F, x: x.masked_fill(lib.tensor([True, False, False, True]), 0.5), [(3, 4)]),
    ("softmax", lambda lib, F, x: x.softmax(1), [(2, 3, 4)]),
    ("log_softmax", lambda lib, F, x: x.log_softmax(0), [(2, 3, 4)]),
    ("cat", lambda lib, F, a, b: lib.cat([a, b], dim=1), [(2, 3), (2, 2)]),
    ("stack", lambda lib, F, a, b: lib.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    ("where", lambda lib, F, a, b: lib.where(a.detach() > 0, a, b), [(2, 3), (3,)]),
    ("split", lambda lib, F, x: x.split([1, 3, 1], dim=-1), [(2, 5)]),
    ("chunk", lambda lib, F, x: x.chunk(3), [(5, 2)]),
    ("cross_entropy_mean", lambda lib, F, x: F.cross_entropy(x, lib.tensor([0, 2, -100, 1])), [(4, 3)]),
    ("cross_entropy_sum_ignore", lambda lib, F, x: F.cross_entropy(x, lib.tensor([0, 2, 2, 1]), ignore_index=2,
                                                                   reduction="sum"), [(4, 3)]),
    ("cross_entropy_none", lambda lib, F, x: F.cross_entropy(x, lib.tensor([0, 2, -100, 1]), reduction="none"),
     [(4, 3)]),
    ("layer_norm", lambda lib, F, x, w, b: F.layer_norm(x, (4,), w, b), [(2, 3, 4), (4,), (4,)]),
    ("sdpa_causal", lambda lib, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4)]),
    ("sdpa_bool_mask", lambda lib, F, q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=lib.tensor(ATTEND)),
     [(2, 3, 4), (2, 5, 4), (2, 5, 3)]),
    ("sdpa_float_mask", lambda lib, F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.7),
     [(2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5)]),
]


def forward_and_grads(lib, F, fn, arrays: list[np.ndarray]):
    """Output arrays, and the input gradients of sum_i <output_i, random cotangent_i>."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, F, *inputs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    cotangents = np.random.default_rng(1)
    loss = sum((out * lib.tensor(cotangents.standard_normal(out.shape))).sum() for out in outs)
    loss.backward()
    return [o.detach().numpy() for o in outs], [t.grad.detach().numpy() for t in inputs]


@pytest.mark.parametrize("fn, shapes", [pytest.param(fn, shapes, id=name) for name, fn, shapes in CASES])
def test_matches_torch(fn, shapes, backend, rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.uniform(0.5, 2.0, s) if isinstance(s, Positive) else rng.standard_normal(s) for s in shapes]
    ours = forward_and_grads(td, td_F, fn, arrays)
    theirs = forward_and_grads(torch, torch.nn.functional, fn, arrays)
    for our_arrays, their_arrays in zip(ours, theirs):
        assert len(our_arrays) == len(their_arrays)
        for actual, expected in zip(our_arrays, their_arrays):
            assert actual.dtype == np.float64
            assert actual.shape == expected.shape
            assert np.all(np.isfinite(actual))
            np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)
