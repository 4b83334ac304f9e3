"""Layers against PyTorch, forward and gradients, on both backends.

Each test builds one of our layers, copies its weights into the PyTorch twin (torch.nn where torch
has the layer, tests/torch_reference.py where it does not), runs the same input through both, pulls
the same random upstream gradient back through both, and compares outputs, input gradients and
parameter gradients. Tests skip when torch is not installed.

Tolerances: float64 to 1e-6 relative (far above rounding; a wrong formula misses by orders of
magnitude), float32 to 1e-5 for single layers and 1e-4 for the composed attention layers, whose
sums over heads, keys and features accumulate float32 rounding in a different order than torch's.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import nn
from tinygrad_drop.ops.attention import CausalQKVAttention
from torch_reference import copy_into_torch, nanogpt_classes, single_torch_thread

pytestmark = pytest.mark.nn

FLOAT64 = dict(rtol=1e-6, atol=1e-9)
FLOAT32 = dict(rtol=1e-5, atol=1e-6)
COMPOSED = dict(rtol=1e-4, atol=1e-5)

one_torch_thread = pytest.fixture(autouse=True, scope="module")(single_torch_thread)


def random_array(shape, dtype=np.float32, seed: int = 0, loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc, scale, size=shape).astype(dtype)


def backward_both(torch, ours: td.Tensor, theirs, seed: int = 99) -> None:
    """Backpropagate one random upstream gradient through both outputs (sum(out * g))."""
    assert ours.shape == tuple(theirs.shape), f"output shapes differ: {ours.shape} vs {tuple(theirs.shape)}"
    upstream = random_array(ours.shape, ours.dtype, seed)
    (ours * td.tensor(upstream)).sum().backward()
    (theirs * torch.from_numpy(upstream)).sum().backward()


def assert_matches(ours, theirs, tolerance: dict, what: str) -> None:
    assert ours is not None, f"{what}: no gradient reached our tensor"
    ours = ours.numpy() if isinstance(ours, td.Tensor) else ours
    theirs = theirs.detach().numpy()
    assert np.isfinite(ours).all(), f"{what}: not finite"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **tolerance)


def assert_parameter_grads_match(ours: nn.Module, theirs, tolerance: dict) -> None:
    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert our_params.keys() == their_params.keys()
    for name, parameter in our_params.items():
        assert_matches(parameter.grad, their_params[name].grad, tolerance, f"grad of {name}")


# ---- Linear, Embedding, GELU --------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    torch = pytest.importorskip("torch")
    layer = nn.Linear(5, 4, bias=bias)
    twin = torch.nn.Linear(5, 4, bias=bias)
    copy_into_torch(torch, twin, layer)
    x = random_array((2, 3, 5))
    ours, theirs = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(ours), twin(theirs)
    assert_matches(out.data, expected, FLOAT32, "Linear forward")
    backward_both(torch, out, expected)
    assert_matches(ours.grad, theirs.grad, FLOAT32, "Linear input grad")
    assert_parameter_grads_match(layer, twin, FLOAT32)


def test_embedding_weight_grad_sums_repeated_indices(backend):
    torch = pytest.importorskip("torch")
    table = nn.Embedding(6, 4)
    twin = torch.nn.Embedding(6, 4)
    copy_into_torch(torch, twin, table)
    # row 1 is looked up 3 times, row 3 twice, rows 2 and 5 never (their gradient must be 0)
    indices = np.array([[1, 3, 1], [0, 4, 1], [3, 3, 3]])
    out, expected = table(td.tensor(indices)), twin(torch.from_numpy(indices))
    assert_matches(out.data, expected, FLOAT32, "Embedding forward")
    backward_both(torch, out, expected)
    assert_matches(table.weight.grad, twin.weight.grad, FLOAT32, "Embedding weight grad")
    assert not table.weight.grad.numpy()[[2, 5]].any()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch_in_float64(approximate, backend):
    torch = pytest.importorskip("torch")
    x = np.linspace(-6.0, 6.0, 61)
    ours, theirs = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = nn.GELU(approximate)(ours), torch.nn.GELU(approximate)(theirs)
    assert_matches(out.data, expected, FLOAT64, f"GELU({approximate}) forward")
    backward_both(torch, out, expected)
    assert_matches(ours.grad, theirs.grad, FLOAT64, f"GELU({approximate}) grad")


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("sigmoid")


# ---- LayerNorm ----------------------------------------------------------------------------------

AFFINE_CASES = [dict(elementwise_affine=True, bias=True), dict(elementwise_affine=True, bias=False),
                dict(elementwise_affine=False, bias=True)]


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, FLOAT64), (np.float32, FLOAT32)], ids=["float64", "float32"])
@pytest.mark.parametrize("normalized_shape", [(8,), (3, 4)], ids=["1d", "2d"])
@pytest.mark.parametrize("affine", AFFINE_CASES, ids=["affine", "no-bias", "no-affine"])
def test_layer_norm_matches_torch(affine, normalized_shape, dtype, tolerance, backend):
    torch = pytest.importorskip("torch")
    layer = nn.LayerNorm(normalized_shape, dtype=dtype, **affine)
    twin = torch.nn.LayerNorm(normalized_shape, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                              **affine)
    for i, parameter in enumerate(layer.parameters()):  # away from 1 and 0, so mistakes show
        parameter.data[...] = random_array(parameter.shape, dtype, seed=10 + i)
    copy_into_torch(torch, twin, layer)
    # a mean far from 0 and a spread far from 1, so the normalization has work to do
    x = random_array((2, 3) + normalized_shape, dtype, loc=3.0, scale=2.5)
    ours, theirs = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(ours), twin(theirs)
    assert out.dtype == dtype
    assert_matches(out.data, expected, tolerance, "LayerNorm forward")
    backward_both(torch, out, expected)
    assert_matches(ours.grad, theirs.grad, tolerance, "LayerNorm input grad")
    assert_parameter_grads_match(layer, twin, tolerance)


def test_layer_norm_parameters_follow_its_options():
    assert [name for name, _ in nn.LayerNorm(4).named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    with pytest.raises(ValueError, match="layer_norm"):
        nn.LayerNorm(4)(td.zeros(2, 5))


# ---- attention layers ---------------------------------------------------------------------------

@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("dropout_in_eval", [False, True], ids=["no-dropout", "eval-with-dropout"])
def test_causal_self_attention_matches_torch(dropout_in_eval, fused, backend):
    """With copied weights; a layer with dropout in eval() must equal the dropout-free twin."""
    torch = pytest.importorskip("torch")
    td.manual_seed(0)
    p = 0.5 if dropout_in_eval else 0.0
    layer = nn.CausalSelfAttention(8, 2, attn_pdrop=p, resid_pdrop=p, fused=fused)
    if dropout_in_eval:
        layer.eval()
    twin = nanogpt_classes(torch).CausalSelfAttention(8, 2)
    copy_into_torch(torch, twin, layer)
    x = random_array((2, 5, 8))
    ours, theirs = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(ours), twin(theirs)
    assert_matches(out.data, expected, COMPOSED, "CausalSelfAttention forward")
    backward_both(torch, out, expected)
    assert_matches(ours.grad, theirs.grad, COMPOSED, "CausalSelfAttention input grad")
    assert_parameter_grads_match(layer, twin, COMPOSED)


def unfused_causal_self_attention(x, weight, bias, n_head, p):
    """F.causal_self_attention spelled out in PyTorch's pieces, as nanoGPT writes it."""
    B, T, C = x.shape
    q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2)
               for t in td.nn.functional.linear(x, weight, bias).split(C, dim=2))
    y = td.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
    return y.transpose(1, 2).reshape(B, T, C)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_fused_causal_self_attention_equals_its_pieces(p, backend):
    # One node or ~17: the same output, the same gradients, and with dropout the same mask (the
    # weights are laid out (B*heads, T, T) either way, so the mask bits fall on the same weights).
    F = td.nn.functional
    x, weight, bias = random_array((3, 6, 8)), random_array((24, 8), seed=1), random_array((24,), seed=2)
    results = []
    for attention in (F.causal_self_attention, unfused_causal_self_attention):
        leaves = [td.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        td.manual_seed(7)
        out = attention(*leaves, 2, p)
        (out * td.tensor(random_array(out.shape, seed=3))).sum().backward()
        results.append([out.data] + [leaf.grad.data for leaf in leaves])
    for fused, pieces, name in zip(*results, ["output", "dx", "dweight", "dbias"]):
        np.testing.assert_allclose(fused, pieces, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("p", [0.0, 0.4])
def test_fused_causal_self_attention_gradcheck(p, numpy_backend):
    rng = np.random.default_rng(4)
    x, weight, bias = (td.tensor(rng.standard_normal(shape), requires_grad=True)
                       for shape in [(2, 4, 6), (18, 6), (18,)])
    key = np.uint64(99)  # a fixed mask, so the function gradcheck probes is deterministic
    op = CausalQKVAttention  # the op itself, so the test gives its key
    assert td.gradcheck(lambda x, w, b: op.apply(x, w, b, 3, p, key), [x, weight, bias])


@pytest.mark.parametrize("p", [0.0, 0.3])
@pytest.mark.parametrize("T", [5, 6])
def test_causal_blocks_give_the_whole_products_results(p, T, backend, monkeypatch):
    # The products that skip the masked top-right quarter against the same op on whole matrices
    # (causal_blocks patched to one block), in float64: outputs, dx, dW, db and the mask agree.
    from tinygrad_drop.kernels import attention_heads as attention
    x, weight, bias = (random_array(shape, np.float64, seed) for seed, shape in
                       enumerate([(3, T, 8), (24, 8), (24,)]))
    upstream = random_array((3, T, 8), np.float64, seed=3)
    by_rows, by_keys = attention.causal_blocks(T, T, True)
    assert len(by_rows) == len(by_keys) == 2  # this shape splits: the blocks really are blocks here
    results = []
    for blocks in (attention.causal_blocks, lambda T, S, causal: ([(slice(0, T), slice(0, S))],) * 2):
        monkeypatch.setattr(attention, "causal_blocks", blocks)
        leaves = [td.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        out = CausalQKVAttention.apply(*leaves, 2, p, np.uint64(5))
        (out * td.tensor(upstream)).sum().backward()
        results.append([out.data] + [leaf.grad.data for leaf in leaves])
    for split_result, whole_result, name in zip(*results, ["output", "dx", "dweight", "dbias"]):
        np.testing.assert_allclose(split_result, whole_result, rtol=1e-12, atol=1e-12, err_msg=name)


def test_causal_blocks_split_only_where_it_pays():
    from tinygrad_drop.kernels.attention_heads import causal_blocks
    quarters = ([(slice(0, 32), slice(0, 32)), (slice(32, 64), slice(0, 64))],
                [(slice(0, 64), slice(0, 32)), (slice(32, 64), slice(32, 64))])
    assert causal_blocks(64, 64, True) == quarters
    assert len(causal_blocks(256, 256, True)[0]) == 2
    whole = [(slice(0, 128), slice(0, 128))]
    assert causal_blocks(128, 128, True) == (whole, whole)  # measured slower split (WHOLE_PRODUCTS_AT)
    assert causal_blocks(64, 64, False)[0] == [(slice(0, 64), slice(0, 64))]  # no mask, no skip
    assert causal_blocks(4, 6, True)[0] == [(slice(0, 4), slice(0, 6))]  # T != S: whole


def test_fused_causal_self_attention_rejects_a_weight_that_does_not_fit():
    x = td.zeros(2, 4, 6)
    with pytest.raises(ValueError, match="causal self-attention: weight of shape"):
        td.nn.functional.causal_self_attention(x, td.zeros(12, 6), None, 3)
    with pytest.raises(ValueError, match="divisible"):
        td.nn.functional.causal_self_attention(x, td.zeros(18, 6), None, 4)
    with pytest.raises(ValueError, match=r"expected input \(B, T, C\)"):
        td.nn.functional.causal_self_attention(td.zeros(4, 6), td.zeros(18, 6), None, 3)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_linear_gelu_equals_its_pieces(approximate, dtype, backend):
    # GELU written over the product in one node, or Linear then GELU: the same output and gradients.
    F = td.nn.functional
    x, weight, bias = (random_array(shape, dtype, seed) for seed, shape in enumerate([(3, 5, 8), (12, 8), (12,)]))
    results = []
    for mlp_half in (lambda *a: F.linear_gelu(*a, approximate), lambda *a: F.gelu(F.linear(*a), approximate)):
        leaves = [td.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        out = mlp_half(*leaves)
        (out * td.tensor(random_array(out.shape, dtype, seed=3))).sum().backward()
        results.append([out.data] + [leaf.grad.data for leaf in leaves])
    tolerance = FLOAT32 if dtype == np.float32 else FLOAT64
    for fused, pieces, name in zip(*results, ["output", "dx", "dweight", "dbias"]):
        np.testing.assert_allclose(fused, pieces, err_msg=name, **tolerance)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_fused_linear_gelu_gradcheck(approximate, numpy_backend):
    rng = np.random.default_rng(6)
    x, weight, bias = (td.tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(2, 3, 4), (5, 4), (5,)])
    assert td.gradcheck(lambda x, w, b: td.nn.functional.linear_gelu(x, w, b, approximate), [x, weight, bias])
    assert td.gradcheck(lambda x, w: td.nn.functional.linear_gelu(x, w), [x, weight])  # no bias


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_linear_dropout_equals_its_pieces_bit_for_bit(with_bias, dtype, backend):
    # The mask applied in the bias pass, in one node, or Linear then Dropout under the same seed:
    # the same key, the same roundings, so the same bits forward and backward.
    F = td.nn.functional
    arrays = [random_array(shape, dtype, seed) for seed, shape in enumerate([(3, 5, 8), (12, 8), (12,)])]
    results = []
    for branch in (lambda x, w, *b: F.linear_dropout(x, w, *b, p=0.3), lambda x, w, *b: F.dropout(F.linear(x, w, *b), 0.3)):
        td.manual_seed(5)
        leaves = [td.tensor(a, requires_grad=True) for a in arrays[:3 if with_bias else 2]]
        out = branch(*leaves)
        (out * td.tensor(random_array(out.shape, dtype, seed=3))).sum().backward()
        results.append([out.data] + [leaf.grad.data for leaf in leaves])
    fused, pieces = results
    assert 0 < (fused[0] == 0).sum() < fused[0].size  # some outputs dropped, some kept
    for a, b, name in zip(fused, pieces, ["output", "dx", "dweight", "dbias"]):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_fused_linear_dropout_gradcheck(numpy_backend):
    rng = np.random.default_rng(7)
    x, weight, bias = (td.tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(2, 3, 4), (5, 4), (5,)])
    td.manual_seed(11)
    state = td.get_rng_state()

    def branch(x, w, b):  # the stream rewound: every call draws the forward's mask
        td.set_rng_state(state)
        return td.nn.functional.linear_dropout(x, w, b, p=0.4)

    assert 0 < (branch(x, weight, bias).numpy() == 0).sum() < 30
    assert td.gradcheck(branch, [x, weight, bias])


def test_fused_linear_dropout_errors():
    F = td.nn.functional
    with pytest.raises(ValueError, match="linear_dropout: input of shape"):
        F.linear_dropout(td.zeros(2, 4), td.zeros(5, 3), p=0.5)
    with pytest.raises(ValueError, match="linear_dropout: bias of shape"):
        F.linear_dropout(td.zeros(2, 4), td.zeros(5, 4), td.zeros(4), p=0.5)
    with pytest.raises(ValueError, match="probability"):
        F.linear_dropout(td.zeros(2, 4), td.zeros(5, 4), p=1.5)
    with pytest.raises(TypeError, match="linear_dropout"):
        F.linear_dropout(td.tensor(np.ones((2, 4), dtype=np.int64)), td.tensor(np.ones((5, 4), dtype=np.int64)), p=0.5)


def test_fused_linear_gelu_errors():
    F = td.nn.functional
    with pytest.raises(ValueError, match="linear_gelu: input of shape"):
        F.linear_gelu(td.zeros(2, 4), td.zeros(5, 3))
    with pytest.raises(ValueError, match="linear_gelu: bias of shape"):
        F.linear_gelu(td.zeros(2, 4), td.zeros(5, 4), td.zeros(4))
    with pytest.raises(ValueError, match="approximate"):
        F.linear_gelu(td.zeros(2, 4), td.zeros(5, 4), None, "erf")
    with pytest.raises(TypeError, match="linear_gelu"):
        F.linear_gelu(td.tensor(np.ones((2, 4), dtype=np.int64)), td.tensor(np.ones((5, 4), dtype=np.int64)))


def test_mlp_switch_picks_the_fused_nodes_or_the_modules():
    # fused=True: c_fc with GELU and c_proj with dropout as one node each; fused=False: the four
    # modules in turn, so one can be swapped for another.
    x = td.tensor(random_array((2, 3, 8)))
    fused, modules = nn.MLP(8), nn.MLP(8, fused=False)
    modules.load_state_dict(fused.state_dict())
    hidden_node = lambda out: out.grad_fn.inputs[0].grad_fn.name  # the node feeding c_proj
    assert hidden_node(fused(x)) == "LinearGELUBackward"
    assert hidden_node(modules(x)) == "GELUFunctionBackward"
    np.testing.assert_allclose(fused(x).data, modules(x).data, **FLOAT32)
    modules.gelu = nn.ReLU()
    assert hidden_node(modules(x)) == "ReLUFunctionBackward"
    expected_relu = modules.c_proj(modules.c_fc(x).relu())
    np.testing.assert_allclose(modules(x).data, expected_relu.data, **FLOAT32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformer_block_fused_or_not_gives_the_same_numbers_and_masks(dtype, backend):
    # Dropout everywhere on: the fused nodes draw the same keys in the same order and index each
    # mask as the unfused layers do, so output and gradients agree to rounding.
    x = random_array((2, 6, 8), dtype, seed=4)
    upstream = random_array((2, 6, 8), dtype, seed=5)
    results = []
    for fused in (True, False):
        td.manual_seed(6)
        block = nn.TransformerBlock(8, 2, attn_pdrop=0.3, resid_pdrop=0.3, fused=fused)
        for parameter in block.parameters():
            parameter.data = parameter.data.astype(dtype)
        leaf = td.tensor(x, requires_grad=True)
        td.manual_seed(7)
        out = block(leaf)
        (out * td.tensor(upstream)).sum().backward()
        results.append([out.data, leaf.grad.data] + [p.grad.data for p in block.parameters()])
    tolerance = FLOAT32 if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for fused, unfused in zip(*results):
        np.testing.assert_allclose(fused, unfused, **tolerance)


def mha_masks(torch, T: int, S: int) -> dict:
    """(our attn_mask, torch's attn_mask, is_causal) per case. Bool masks follow
    torch.nn.MultiheadAttention: True = this key is hidden. Every query keeps a visible key."""
    rng = np.random.default_rng(5)
    hidden = rng.random((T, S)) < 0.4
    hidden[:, 0] = False
    additive = rng.normal(size=(T, S)).astype(np.float32)
    future = np.triu(np.ones((T, S), dtype=bool), k=1)
    return {
        "no-mask": (None, None, False),
        "bool-mask": (hidden, torch.from_numpy(hidden), False),
        "float-mask": (additive, torch.from_numpy(additive), False),
        "causal": (None, torch.from_numpy(future), True),
    }


@pytest.mark.parametrize("case", ["no-mask", "bool-mask", "float-mask", "causal"])
def test_multihead_attention_matches_torch(case, backend):
    torch = pytest.importorskip("torch")
    E, heads, T, S = 8, 2, 4, 6
    torch.manual_seed(0)
    twin = torch.nn.MultiheadAttention(E, heads, batch_first=True)
    with torch.no_grad():  # torch starts its biases at 0; random ones show whether they are used
        twin.in_proj_bias.normal_()
        twin.out_proj.bias.normal_()
    # torch stacks the q, k and v projections in one in_proj matrix: split it into ours
    w_q, w_k, w_v = twin.in_proj_weight.detach().numpy().reshape(3, E, E)
    b_q, b_k, b_v = twin.in_proj_bias.detach().numpy().reshape(3, E)
    layer = nn.MultiheadAttention(E, heads)
    layer.load_state_dict({"q_proj.weight": w_q, "q_proj.bias": b_q, "k_proj.weight": w_k, "k_proj.bias": b_k,
                           "v_proj.weight": w_v, "v_proj.bias": b_v,
                           "out_proj.weight": twin.out_proj.weight.detach().numpy(),
                           "out_proj.bias": twin.out_proj.bias.detach().numpy()}, strict=True)
    our_mask, their_mask, is_causal = mha_masks(torch, T, S)[case]
    arrays = [random_array((2, T, E), seed=1), random_array((2, S, E), seed=2), random_array((2, S, E), seed=3)]
    ours = [td.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, weights = layer(*ours, attn_mask=our_mask, is_causal=is_causal)
    expected, _ = twin(*theirs, attn_mask=their_mask, is_causal=is_causal, need_weights=False)
    assert weights is None
    assert_matches(out.data, expected, COMPOSED, "MultiheadAttention forward")
    backward_both(torch, out, expected)
    for name, mine, their in zip(["query", "key", "value"], ours, theirs):
        assert_matches(mine.grad, their.grad, COMPOSED, f"grad of {name}")
    stacked = np.concatenate([layer.q_proj.weight.grad.numpy(), layer.k_proj.weight.grad.numpy(),
                              layer.v_proj.weight.grad.numpy()])
    assert_matches(stacked, twin.in_proj_weight.grad, COMPOSED, "grad of in_proj_weight")
    assert_matches(layer.out_proj.weight.grad, twin.out_proj.weight.grad, COMPOSED, "grad of out_proj.weight")
    stacked = np.concatenate([layer.q_proj.bias.grad.numpy(), layer.k_proj.bias.grad.numpy(),
                              layer.v_proj.bias.grad.numpy()])
    assert_matches(stacked, twin.in_proj_bias.grad, COMPOSED, "grad of in_proj_bias")


def test_attention_layers_reject_bad_configurations():
    with pytest.raises(ValueError, match="divisible"):
        nn.CausalSelfAttention(10, 3)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 4)
    layer = nn.MultiheadAttention(8, 2)
    x = td.zeros(1, 3, 8)
    with pytest.raises(NotImplementedError, match="need_weights"):
        layer(x, x, x, need_weights=True)


# ---- the transformer block ----------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
def test_transformer_block_matches_torch(norm_first, backend):
    torch = pytest.importorskip("torch")
    td.manual_seed(1)
    block = nn.TransformerBlock(8, 2, norm_first=norm_first)
    for name, parameter in block.named_parameters():  # LayerNorm away from (1, 0): it matters where it sits
        if "ln_" in name:
            parameter.data[...] = random_array(parameter.shape, seed=len(name), loc=1.0, scale=0.3)
    twin = nanogpt_classes(torch).Block(8, 2, norm_first=norm_first)
    copy_into_torch(torch, twin, block)
    x = random_array((2, 5, 8), loc=0.5, scale=2.0)
    ours, theirs = td.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = block(ours), twin(theirs)
    assert_matches(out.data, expected, COMPOSED, "TransformerBlock forward")
    backward_both(torch, out, expected)
    assert_matches(ours.grad, theirs.grad, COMPOSED, "TransformerBlock input grad")
    assert_parameter_grads_match(block, twin, COMPOSED)
