"""nn.Module tree, containers, nn.init statistics and nn.utils.clip_grad_norm_."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import nn

pytestmark = pytest.mark.nn


class Affine(nn.Module):
    def __init__(self, n_in: int, n_out: int, dtype=np.float32):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = nn.Parameter(np.arange(n_out * n_in, dtype=dtype).reshape(n_out, n_in))
        self.bias = nn.Parameter(np.zeros(n_out, dtype=dtype))

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}"


class AddOne(nn.Module):
    def forward(self, x):
        return x + 1


class Double(nn.Module):
    def forward(self, x):
        return x * 2


class TiedNet(nn.Module):
    """Embedding and output weights tied, as in GPT; a buffer and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.encoder = Affine(3, 4)
        self.blocks = nn.ModuleList([Affine(4, 4), Affine(4, 4)])
        self.heads = nn.ModuleDict({"out": Affine(3, 4)})
        self.heads["out"].weight = self.encoder.weight
        self.register_buffer("scale", np.array([2.0, 3.0], dtype=np.float32))
        self.register_buffer("mask", np.ones(3, dtype=bool), persistent=False)


# ---- tree walking -----------------------------------------------------------------------------

def test_train_and_eval_reach_every_child():
    net = TiedNet()
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    assert len(list(net.modules())) == 7
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.blocks[1].training and not net.heads["out"].training
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_tied_parameter_yielded_once_under_first_name():
    net = TiedNet()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "blocks.0.weight", "blocks.0.bias",
                     "blocks.1.weight", "blocks.1.bias", "heads.out.bias"]
    params = list(net.parameters())
    assert len(params) == 7
    assert sum(p is net.encoder.weight for p in params) == 1
    assert [p is q for p, q in zip(net.encoder.parameters(), [net.encoder.weight, net.encoder.bias])] == [True, True]
    assert len(list(net.parameters(recurse=False))) == 0


def test_named_modules_children_and_buffers():
    net = TiedNet()
    assert [name for name, _ in net.named_modules()] == ["", "encoder", "blocks", "blocks.0", "blocks.1",
                                                          "heads", "heads.out"]
    assert [name for name, _ in net.named_children()] == ["encoder", "blocks", "heads"]
    assert list(net.children())[1] is net.blocks
    assert [name for name, _ in net.named_buffers()] == ["scale", "mask"]
    assert net.scale is net._buffers["scale"]


def test_apply_visits_children_before_parent():
    net = nn.Sequential(AddOne(), nn.Sequential(Double()))
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["AddOne", "Double", "Sequential", "Sequential"]


def test_zero_grad():
    net = Affine(2, 3)
    for p in net.parameters():
        p.grad = td.Tensor(np.ones(p.shape, dtype=np.float32))
    shared = net.weight.grad.data
    net.zero_grad(set_to_none=False)
    assert np.all(net.weight.grad.data == 0) and np.all(shared == 1)  # a new array, not an in-place fill
    net.zero_grad()
    assert net.weight.grad is None and net.bias.grad is None


def test_to_double_and_float_convert_in_place():
    net = TiedNet()
    weight = net.encoder.weight
    assert net.double() is net
    assert weight is net.encoder.weight is net.heads["out"].weight
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.scale.dtype == np.float64 and net.mask.dtype == bool
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="floating point"):
        net.to(np.int64)


# ---- attributes and registration ----------------------------------------------------------------

def test_unknown_attribute_raises_attribute_error():
    net = Affine(2, 2)
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'wieght'"):
        net.wieght
    assert not hasattr(net, "missing")
    assert getattr(net, "missing", "default") == "default"


def test_registration_rules():
    net = Affine(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        net.weight = td.Tensor(np.zeros((2, 2), dtype=np.float32))
    net.bias = None
    assert net.bias is None and "bias" not in net.state_dict()
    net.note = "plain attribute"
    assert net.note == "plain attribute" and len(list(net.parameters())) == 1
    del net.weight
    assert len(list(net.parameters())) == 0
    with pytest.raises(KeyError):
        net.register_buffer("a.b", np.zeros(1))

    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Forgetful()


def test_forward_missing():
    with pytest.raises(NotImplementedError, match="forward"):
        Affine(1, 1)(np.zeros(1))


def test_parameter():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, td.Tensor) and p.requires_grad and p.dtype == np.float32
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_repr_tree():
    net = nn.Sequential(Affine(2, 3), AddOne(), nn.ModuleList([Double()]))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Affine(n_in=2, n_out=3)\n"
        "  (1): AddOne()\n"
        "  (2): ModuleList(\n"
        "    (0): Double()\n"
        "  )\n"
        ")")


# ---- containers -------------------------------------------------------------------------------

def test_sequential():
    seq = nn.Sequential(AddOne(), Double(), AddOne())
    assert seq(1) == 5
    assert len(seq) == 3 and isinstance(seq[1], Double) and isinstance(seq[-1], AddOne)
    assert [type(m).__name__ for m in seq] == ["AddOne", "Double", "AddOne"]
    assert seq[1:](1) == 3 and isinstance(seq[:2], nn.Sequential)
    seq[0] = Double()
    assert seq(1) == 5 and [name for name, _ in seq.named_children()] == ["0", "1", "2"]
    seq.append(Double())
    assert seq(1) == 10
    with pytest.raises(IndexError):
        seq[4]
    named = nn.Sequential({"first": AddOne(), "second": Double()})
    assert named(0) == 2 and isinstance(named.first, AddOne)
    named[-1] = AddOne()
    assert named(0) == 2 and list(named._modules) == ["first", "second"] and isinstance(named.second, AddOne)
    assert list(named[1:]._modules) == ["second"]


def test_module_list_and_dict():
    layers = nn.ModuleList([Affine(1, 1)])
    layers.append(Affine(1, 2)).extend([Affine(1, 3)])
    layers.insert(0, Affine(1, 4))
    assert len(layers) == 4 and [m.n_out for m in layers] == [4, 1, 2, 3]
    assert layers[-1].n_out == 3 and len(layers[1:]) == 3
    assert [name for name, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError):
        layers[4]
    layers[-1] = Affine(1, 5)
    assert [m.n_out for m in layers] == [4, 1, 2, 5] and list(layers[2:]._modules) == ["0", "1"]
    heads = nn.ModuleDict({"a": Affine(1, 1)})
    heads["b"] = Affine(1, 2)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [name for name, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    del heads["a"]
    assert list(heads.keys()) == ["b"]


# ---- state dict -------------------------------------------------------------------------------

def test_state_dict_names_tied_entries_and_shares_memory_as_pytorch():
    net = TiedNet()
    sd = net.state_dict()
    assert list(sd) == ["scale", "encoder.weight", "encoder.bias", "blocks.0.weight", "blocks.0.bias",
                        "blocks.1.weight", "blocks.1.bias", "heads.out.weight", "heads.out.bias"]
    assert all(isinstance(v, td.Tensor) and not v.requires_grad for v in sd.values())
    np.testing.assert_array_equal(sd["heads.out.weight"], sd["encoder.weight"])
    net.encoder.weight.data[...] = -1
    assert sd["encoder.weight"].data[0, 1] == -1  # a view of the live parameter, as PyTorch's
    with td.no_grad():
        sd["encoder.bias"].copy_(np.full(net.encoder.bias.shape, 3.0))  # loads the weight
    np.testing.assert_array_equal(net.encoder.bias.data, 3.0)
    assert net.state_dict(keep_vars=True)["encoder.weight"] is net.encoder.weight


def test_state_dict_round_trip_keeps_ties_and_dtypes():
    source, target = TiedNet(), TiedNet()
    for i, p in enumerate(source.parameters()):
        p.data[...] = np.random.default_rng(i).normal(size=p.shape)
    source.scale[...] = [5.0, 7.0]
    sd = {k: v.numpy().astype(np.float64) for k, v in source.state_dict().items()}
    sd["blocks.0.bias"] = td.Tensor(sd["blocks.0.bias"])  # Tensors are accepted too
    weight_array = target.encoder.weight.data
    result = target.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert target.encoder.weight.data is weight_array and weight_array.dtype == np.float32
    assert target.heads["out"].weight is target.encoder.weight
    np.testing.assert_array_equal(target.scale, [5.0, 7.0])


def test_load_state_dict_reports_every_problem_at_once():
    net = Affine(2, 3)
    before = {name: value.numpy().copy() for name, value in net.state_dict().items()}
    bad = {"weight": np.zeros((2, 3)), "extra": np.zeros(1)}
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(bad)
    message = str(error.value)
    assert message.startswith("Error(s) in loading state_dict for Affine:")
    assert 'Missing key(s) in state_dict: "bias".' in message
    assert 'Unexpected key(s) in state_dict: "extra".' in message
    assert ("size mismatch for weight: copying a param with shape (2, 3) from checkpoint, "
            "the shape in current model is (3, 2).") in message
    np.testing.assert_array_equal(net.weight.data, before["weight"])  # nothing was half-loaded


def test_load_state_dict_missing_and_unexpected_alone():
    net = Affine(2, 3)
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "weight", "bias"'):
        net.load_state_dict({})
    sd = dict(net.state_dict())
    sd["bonus"] = np.zeros(2)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "bonus"') as error:
        net.load_state_dict(sd)
    assert "Missing" not in str(error.value)


def test_load_state_dict_non_strict():
    net = Affine(2, 3)
    result = net.load_state_dict({"bias": np.full(3, 4.0), "other": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["weight"] and result.unexpected_keys == ["other"]
    assert result == (["weight"], ["other"])
    np.testing.assert_array_equal(net.bias.data, [4.0, 4.0, 4.0])
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        net.load_state_dict({"bias": np.zeros(4)}, strict=False)


# ---- nn.init ----------------------------------------------------------------------------------

def _param(*shape, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def test_init_in_place_and_reproducible():
    p = _param(30, 40, dtype=np.float32)
    array = p.data
    td.manual_seed(3)
    assert nn.init.normal_(p, 0.0, 0.02) is p
    assert p.data is array and p.dtype == np.float32
    first = array.copy()
    td.manual_seed(3)
    nn.init.normal_(p, 0.0, 0.02)
    np.testing.assert_array_equal(p.data, first)
    assert nn.init.zeros_(p) is p and not p.data.any()
    assert np.all(nn.init.ones_(p).data == 1)
    assert np.all(nn.init.constant_(p, 0.5).data == 0.5)


def test_init_statistics():
    # 400*500 = 200,000 draws: the sample std of a std-s distribution is within 1% of s
    # (its standard error is s/sqrt(2n) ~ 0.16% of s), the sample mean within 5 standard errors.
    td.manual_seed(0)
    p = _param(400, 500)
    fan_in, fan_out, n = 500, 400, 200_000

    def check(std, mean=0.0):
        assert abs(p.data.mean() - mean) < 5 * std / np.sqrt(n)
        assert p.data.std() == pytest.approx(std, rel=0.01)

    nn.init.normal_(p, 1.0, 2.0)
    check(std=2.0, mean=1.0)
    nn.init.uniform_(p, -3.0, 1.0)
    check(std=4.0 / np.sqrt(12), mean=-1.0)
    assert p.data.min() >= -3.0 and p.data.max() < 1.0
    nn.init.xavier_uniform_(p, gain=2.0)
    bound = 2.0 * np.sqrt(6.0 / (fan_in + fan_out))
    check(std=bound / np.sqrt(3))
    assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.99 * bound
    nn.init.xavier_normal_(p)
    check(std=np.sqrt(2.0 / (fan_in + fan_out)))
    nn.init.kaiming_uniform_(p)  # a=0, leaky_relu: gain sqrt(2), so bound sqrt(6 / fan_in)
    assert np.abs(p.data).max() <= np.sqrt(6.0 / fan_in)
    check(std=np.sqrt(2.0 / fan_in))
    nn.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu")
    check(std=np.sqrt(2.0 / fan_out))
    nn.init.kaiming_normal_(p, a=np.sqrt(5.0))  # leaky_relu slope sqrt(5): gain^2 = 2 / 6
    check(std=np.sqrt(1.0 / 3.0 / fan_in))


def test_init_fans_and_errors():
    conv = _param(8, 4, 3, 3)  # fan_in = 4*9, fan_out = 8*9
    assert nn.init._calculate_fan_in_and_fan_out(conv) == (36, 72)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu") == pytest.approx(np.sqrt(2 / (1 + 0.01 ** 2)))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(conv, mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.kaiming_normal_(conv, nonlinearity="swish")


def test_init_fans_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (8, 4, 3, 3), (2, 6, 5)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert nn.init._calculate_fan_in_and_fan_out(_param(*shape)) == expected
    for name, param in [("relu", None), ("leaky_relu", 0.2), ("selu", None), ("sigmoid", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


# ---- clip_grad_norm_ --------------------------------------------------------------------------

def _params_with_grads(seed: int):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (5,), (2, 2, 2), (3,)]
    params = [nn.Parameter(rng.normal(size=s)) for s in shapes]
    for p in params[:3]:  # the last one has no gradient and is skipped
        p.grad = td.Tensor(rng.normal(size=p.shape) * 3.0)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours = _params_with_grads(0)
    theirs = [torch.tensor(p.data, requires_grad=True) for p in ours]
    for p, q in zip(ours, theirs):
        q.grad = None if p.grad is None else torch.tensor(p.grad.data)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_formula_without_torch():
    params = _params_with_grads(1)
    grads = [p.grad.data.copy() for p in params[:3]]
    expected_norm = np.sqrt(sum((g ** 2).sum() for g in grads))
    total = nn.utils.clip_grad_norm_(iter(params), 1.0)
    assert total == pytest.approx(expected_norm, rel=1e-12)
    coef = 1.0 / (expected_norm + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
    single = nn.Parameter(np.array([3.0, 4.0]))
    single.grad = td.Tensor(np.array([3.0, 4.0]))
    assert nn.utils.clip_grad_norm_(single, 10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(single.grad.data, [3.0, 4.0])  # under max_norm: untouched
    assert nn.utils.clip_grad_norm_([nn.Parameter([1.0])], 1.0) == 0.0


def test_clip_grad_norm_scales_shared_gradient_arrays_once():
    # The engine may give two parameters one gradient array (both inputs of an addition).
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    shared = np.array([3.0, 4.0])
    a.grad, b.grad = td.Tensor._from_array(shared), td.Tensor._from_array(shared)
    total = nn.utils.clip_grad_norm_([a, b], 1.0)
    assert total == pytest.approx(np.sqrt(50.0))
    coef = 1.0 / (np.sqrt(50.0) + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3.0 * coef, 4.0 * coef])
    np.testing.assert_allclose(b.grad.data, [3.0 * coef, 4.0 * coef])


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(np.zeros(2))
    p.grad = td.Tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
