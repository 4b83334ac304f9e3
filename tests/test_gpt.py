"""The GPT model: nanoGPT's names and init, the same training trajectory as a PyTorch nanoGPT,
dropout switched by train()/eval(), generation, and clear errors.

Models are tiny (2 layers, width 32, block 16) so the whole file runs in seconds; the PyTorch
comparisons skip when torch is not installed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest


import tinygrad_drop as td
from tinygrad_drop import nn
from models.gpt import GPT, GPTConfig
from torch_reference import copy_into_torch, nanogpt_classes, single_torch_thread

# a whole model runs every topic's backward, so a student copy missing any topic fails here too
pytestmark = [pytest.mark.gpt, pytest.mark.whole_model]

SIZES = dict(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=32)
DROPOUT = dict(embd_pdrop=0.2, attn_pdrop=0.2, resid_pdrop=0.2)

one_torch_thread = pytest.fixture(autouse=True, scope="module")(single_torch_thread)


def make_gpt(seed: int = 0, **overrides) -> GPT:
    td.manual_seed(seed)
    return GPT(GPTConfig(**{**SIZES, **overrides}))


def random_tokens(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, SIZES["vocab_size"], size=shape)


def torch_twin(torch, model: GPT):
    twin = nanogpt_classes(torch).GPT(**SIZES)
    copy_into_torch(torch, twin, model)
    return twin


# ---- names, shapes, init ------------------------------------------------------------------------

def nanogpt_names(n_layer: int, bias: bool) -> list[str]:
    """The state dict keys nanoGPT's model.py writes, in its order (from its module layout)."""
    def with_bias(prefix: str) -> list[str]:
        return [f"{prefix}.weight"] + ([f"{prefix}.bias"] if bias else [])
    block = [name for part in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj")
             for name in with_bias(part)]
    return (["transformer.wte.weight", "transformer.wpe.weight"]
            + [f"transformer.h.{i}.{name}" for i in range(n_layer) for name in block]
            + with_bias("transformer.ln_f") + ["lm_head.weight"])


@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_has_nanogpts_names_with_tied_embeddings(bias):
    model = make_gpt(bias=bias)
    state = model.state_dict()
    assert list(state) == nanogpt_names(SIZES["n_layer"], bias)
    C, V = SIZES["n_embd"], SIZES["vocab_size"]
    assert state["transformer.h.1.attn.c_attn.weight"].shape == (3 * C, C)  # (out, in), as torch.nn.Linear
    assert state["transformer.h.0.mlp.c_fc.weight"].shape == (4 * C, C)
    assert state["lm_head.weight"].shape == state["transformer.wte.weight"].shape == (V, C)
    assert model.transformer.wte.weight is model.lm_head.weight
    # the tied table is one parameter, counted once
    assert model.num_parameters() == sum(v.numel() for v in state.values()) - V * C


def test_untied_head_is_the_tied_model_with_the_shared_gradient_split_in_two():
    """Tying makes one parameter serve as input table and output layer, so its gradient is the sum
    of the two uses. An untied model loaded with equal tables computes the same loss, and the
    gradients of its two tables add up to the tied model's one."""
    tied, untied = make_gpt(seed=1), make_gpt(seed=2, tie_weights=False)
    assert untied.transformer.wte.weight is not untied.lm_head.weight
    state = tied.state_dict()
    assert list(untied.state_dict()) == list(state)
    assert untied.num_parameters() == sum(v.numel() for v in state.values())
    untied.load_state_dict(state)
    idx = random_tokens((3, SIZES["block_size"]), seed=1)
    targets = np.roll(idx, -1, axis=1)
    _, tied_loss = tied(idx, targets)
    _, untied_loss = untied(idx, targets)
    assert untied_loss.item() == pytest.approx(tied_loss.item(), rel=1e-6)
    tied_loss.backward()
    untied_loss.backward()
    np.testing.assert_allclose(untied.transformer.wte.weight.grad + untied.lm_head.weight.grad,
                               tied.lm_head.weight.grad, rtol=1e-4, atol=1e-6)
    assert np.abs(untied.transformer.wte.weight.grad).max() > 0 and np.abs(untied.lm_head.weight.grad).max() > 0


@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_shapes_match_a_torch_nanogpt(bias):
    torch = pytest.importorskip("torch")
    ours = {name: value.shape for name, value in make_gpt(bias=bias).state_dict().items()}
    twin = nanogpt_classes(torch).GPT(**SIZES, bias=bias)
    assert ours == {name: tuple(value.shape) for name, value in twin.state_dict().items()}


def test_a_torch_state_dict_loads_back_unchanged():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    twin = nanogpt_classes(torch).GPT(**SIZES)
    model = make_gpt()
    model.load_state_dict({name: value.numpy() for name, value in twin.state_dict().items()}, strict=True)
    assert model.transformer.wte.weight is model.lm_head.weight
    np.testing.assert_array_equal(model.lm_head.weight.numpy(), twin.lm_head.weight.detach().numpy())
    idx = random_tokens((2, 8))
    logits, _ = model(idx, idx)
    expected, _ = twin(torch.from_numpy(idx), torch.from_numpy(idx))
    np.testing.assert_allclose(logits.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_init_follows_nanogpt():
    """Matrices N(0, 0.02), residual projections (c_proj) N(0, 0.02/sqrt(2 n_layer)), biases 0,
    LayerNorm gains 1. A sample std of n normals has relative standard error 1/sqrt(2n); the
    tolerance is 5 of those, and the mean is within 5 std/sqrt(n) of 0."""
    model = make_gpt(seed=3)
    projections, matrices = [], []
    for name, parameter in model.named_parameters():
        values = parameter.numpy().astype(np.float64).ravel()
        if name.endswith("c_proj.weight"):
            projections.append(values)
        elif parameter.ndim == 2:
            matrices.append(values)
        elif name.endswith(".bias"):
            assert not values.any(), f"{name} should start at 0"
        else:
            assert (values == 1).all(), f"{name} should start at 1"
    residual_std = 0.02 / math.sqrt(2 * SIZES["n_layer"])
    for values, std in [(np.concatenate(matrices), 0.02), (np.concatenate(projections), residual_std)]:
        n = values.size
        assert abs(values.std() / std - 1) <= 5 / math.sqrt(2 * n)
        assert abs(values.mean()) <= 5 * std / math.sqrt(n)


# ---- training matches PyTorch -------------------------------------------------------------------

def test_ten_adamw_steps_match_pytorch_nanogpt(backend):
    torch = pytest.importorskip("torch")
    model = make_gpt(seed=4)
    twin = torch_twin(torch, model)
    settings = dict(weight_decay=0.1, learning_rate=3e-3, betas=(0.9, 0.99))
    optimizer, their_optimizer = model.configure_optimizers(**settings), twin.configure_optimizers(**settings)
    assert [len(g["params"]) for g in optimizer.param_groups] == [len(g["params"]) for g in their_optimizer.param_groups]
    rng = np.random.default_rng(5)
    ours, theirs = [], []
    for _ in range(10):
        x = rng.integers(0, SIZES["vocab_size"], size=(4, SIZES["block_size"]))
        y = np.roll(x, -1, axis=1)
        y[:, -1] = -1  # nanoGPT's ignore_index: the last position has no target
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _, their_loss = twin(torch.from_numpy(x), torch.from_numpy(y))
        their_optimizer.zero_grad()
        their_loss.backward()
        their_optimizer.step()
        ours.append(loss.item())
        theirs.append(their_loss.item())
    assert np.isfinite(ours).all()
    assert ours[-1] < ours[0]  # it learned something, so the comparison covers real updates
    np.testing.assert_allclose(ours, theirs, rtol=3e-4)


# ---- one switch: fused nodes or nanoGPT's lines ------------------------------------------------

def node_names(root: td.Tensor) -> set[str]:
    """The grad_fn names of every node behind root."""
    names, stack, seen = set(), [root], set()
    while stack:
        tensor = stack.pop()
        if tensor is None or tensor.grad_fn is None or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        names.add(tensor.grad_fn.name)
        stack.extend(tensor.grad_fn.inputs)
    return names


def step_both_ways(dtype, seed: int = 20, **overrides) -> list[tuple]:
    """(logits, loss, gradients, RNG state after the step, node names) of the fused and the
    unfused model, built from one seed, stepping one batch under one seed."""
    idx = random_tokens((3, SIZES["block_size"]), seed=seed)
    results = []
    for fused in (True, False):
        model = make_gpt(seed=seed, fused=fused, **overrides)
        for parameter in model.parameters():
            parameter.data = parameter.data.astype(dtype)
        td.manual_seed(seed + 1)
        logits, loss = model(idx, np.roll(idx, -1, axis=1))
        names = node_names(loss)  # before backward, which frees the graph
        loss.backward()
        grads = {name: parameter.grad.numpy() for name, parameter in model.named_parameters()}
        results.append((logits.numpy(), loss.item(), grads, td.get_rng_state(), names))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_and_unfused_models_give_the_same_loss_and_gradients_with_dropout(dtype, backend):
    # The fused nodes draw the same dropout keys, in the same order, and index each mask the same way
    # as nanoGPT's lines: with dropout on, the two models compute the same function.
    fused, unfused = step_both_ways(dtype, **DROPOUT)
    tolerance = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert fused[0].dtype == dtype
    np.testing.assert_allclose(fused[0], unfused[0], **tolerance)
    assert fused[1] == pytest.approx(unfused[1], rel=tolerance["rtol"])
    assert fused[2].keys() == unfused[2].keys()
    for name in fused[2]:
        np.testing.assert_allclose(fused[2][name], unfused[2][name], err_msg=name, **tolerance)
    assert fused[3] == unfused[3]  # as many dropout keys drawn
    assert {"CausalQKVAttentionBackward", "LinearGELUBackward", "LinearDropoutBackward"} <= fused[4]
    assert not {"ScaledDotProductAttentionBackward", "GELUFunctionBackward"} & fused[4]
    assert {"SoftmaxBackward", "MaskedFillBackward", "GELUFunctionBackward", "DropoutFunctionBackward"} <= unfused[4]
    assert "ScaledDotProductAttentionBackward" not in unfused[4]  # attention as the lecture draws it, op by op
    assert not {"CausalQKVAttentionBackward", "LinearGELUBackward", "LinearDropoutBackward"} & unfused[4]
    # and dropout really acted: without it the loss differs
    without_dropout, _ = step_both_ways(dtype)
    assert abs(without_dropout[1] - fused[1]) > 1e-3


@pytest.mark.parametrize("where", ["attn", "mlp"])
def test_fused_and_unfused_residual_branches_drop_the_same_elements(where, backend):
    # A residual branch ends in dropout: its exact zeros are the mask's dropped elements. The
    # unfused branch's Dropout module shows its mask; the fused branch's zeros must be the same.
    outputs, masks = [], []
    x = td.tensor(np.random.default_rng(21).standard_normal((2, 9, SIZES["n_embd"])).astype(np.float32))
    for fused in (True, False):
        block = make_gpt(seed=22, resid_pdrop=0.5, attn_pdrop=0.3, fused=fused).transformer.h[0]
        branch = getattr(block, where)
        td.manual_seed(23)
        outputs.append(branch(x).numpy())
        masks.append(branch.resid_dropout.mask if where == "attn" else branch.dropout.mask)
    fused_out, unfused_out = outputs
    assert masks[0] is None  # the fused node drew the mask; the Dropout module was not called
    np.testing.assert_array_equal(fused_out != 0, masks[1])
    np.testing.assert_array_equal(unfused_out != 0, masks[1])
    assert 0 < masks[1].sum() < masks[1].size
    np.testing.assert_allclose(fused_out, unfused_out, rtol=1e-5, atol=1e-7)


# ---- dropout: train() and eval() ----------------------------------------------------------------

def test_eval_reaches_every_dropout_and_makes_the_output_deterministic(backend):
    model = make_gpt(seed=6, **DROPOUT)
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 1 + 3 * SIZES["n_layer"]  # embedding; attention weights, attention and MLP residuals
    idx = random_tokens((2, 10))
    first, second = model(idx, idx)[0].numpy(), model(idx, idx)[0].numpy()
    assert not np.allclose(first, second)
    model.eval()
    assert not any(m.training for m in model.modules())
    first, second = model(idx, idx)[0].numpy(), model(idx, idx)[0].numpy()
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)
    # eval equals the same weights without any dropout: attention dropout is off too
    plain = make_gpt(seed=7)
    plain.load_state_dict(model.state_dict())
    np.testing.assert_allclose(first, plain(idx, idx)[0].numpy(), rtol=1e-6, atol=1e-6, equal_nan=False)
    model.train()
    assert all(m.training for m in dropouts)


# ---- generation ---------------------------------------------------------------------------------

def test_generate_crops_the_context_to_block_size(backend):
    model = make_gpt(seed=8).eval()
    block = SIZES["block_size"]
    prompt = random_tokens((2, block + 5), seed=9)
    out = model.generate(td.tensor(prompt), max_new_tokens=4, temperature=0)
    assert out.shape == (2, block + 5 + 4)
    np.testing.assert_array_equal(out.numpy()[:, :block + 5], prompt)
    # greedy decoding sees only the last block_size tokens, so a cropped prompt continues the same way
    cropped = model.generate(td.tensor(prompt[:, -block:]), max_new_tokens=4, temperature=0)
    np.testing.assert_array_equal(out.numpy()[:, -4:], cropped.numpy()[:, -4:])


def test_greedy_and_top_k_one_pick_the_most_likely_token(backend):
    model = make_gpt(seed=10).eval()
    prompt = random_tokens((3, 5), seed=11)
    greedy = model.generate(prompt, max_new_tokens=6, temperature=0).numpy()
    td.manual_seed(12)
    top_one = model.generate(prompt, max_new_tokens=6, temperature=0.8, top_k=1).numpy()
    np.testing.assert_array_equal(greedy, top_one)
    # the first new token is the argmax of the full forward's last-position logits
    logits, _ = model(prompt, prompt)
    np.testing.assert_array_equal(greedy[:, 5], logits.numpy()[:, -1].argmax(axis=-1))


def test_sampling_is_reproducible_with_manual_seed():
    model = make_gpt(seed=13).eval()
    prompt = random_tokens((2, 3), seed=14)
    td.manual_seed(15)
    first = model.generate(prompt, max_new_tokens=8, top_k=10).numpy()
    td.manual_seed(15)
    np.testing.assert_array_equal(first, model.generate(prompt, max_new_tokens=8, top_k=10).numpy())


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5,), (1, 2, 3)])
def test_idx_must_be_two_dimensional(shape):
    model = make_gpt()
    idx = np.zeros(shape, dtype=np.int64)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(idx)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model.generate(idx, max_new_tokens=1)


def test_a_sequence_longer_than_block_size_is_refused():
    model = make_gpt()
    with pytest.raises(ValueError, match="block_size"):
        model(np.zeros((1, SIZES["block_size"] + 1), dtype=np.int64))


@pytest.mark.parametrize("bad", [dict(n_embd=30, n_head=4), dict(n_layer=0), dict(attn_pdrop=1.5)])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        GPTConfig(**{**SIZES, **bad})
