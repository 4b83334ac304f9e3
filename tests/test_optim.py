"""Optimizers against torch.optim (float64, several steps), state dicts, and the lr schedules."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import nn, optim
from tinygrad_drop.optim.lr_scheduler import CosineWithWarmup, LambdaLR, cosine_with_warmup

pytestmark = pytest.mark.optim

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 8


def make_params(seed: int = 0, dtype=np.float64) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.normal(size=shape).astype(dtype)) for shape in SHAPES]


def gradient_of(values: np.ndarray) -> np.ndarray:
    """A deterministic, nonlinear 'gradient' so trajectories differ when the math differs."""
    return np.sin(3.0 * values) + 0.1 * values ** 3 - 0.5


def set_grads(params, skip: int | None = None) -> None:
    for i, p in enumerate(params):
        p.grad = None if i == skip else td.Tensor(gradient_of(p.data))


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    with td.backend(request.param):
        yield request.param


def run_both(make_ours, make_theirs, groups=None, skip=None):
    """Run STEPS steps of our optimizer and torch's on the same start; return both param lists."""
    torch = pytest.importorskip("torch")
    ours = make_params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    if groups is None:
        opt_ours, opt_theirs = make_ours(ours), make_theirs(theirs)
    else:
        opt_ours = make_ours([{**g, "params": [ours[i] for i in g["params"]]} for g in groups])
        opt_theirs = make_theirs([{**g, "params": [theirs[i] for i in g["params"]]} for g in groups])
    for _ in range(STEPS):
        set_grads(ours, skip)
        for i, q in enumerate(theirs):
            q.grad = None if i == skip else torch.from_numpy(gradient_of(q.detach().numpy()))
        opt_ours.step()
        opt_theirs.step()
    return ours, [q.detach().numpy() for q in theirs], opt_ours, opt_theirs


def assert_same(ours, theirs):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.data, q, rtol=1e-6, atol=1e-12)


SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.8, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True),
]


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
def test_sgd_matches_torch(settings):
    torch = pytest.importorskip("torch")
    ours, theirs, *_ = run_both(lambda p: optim.SGD(p, **settings), lambda p: torch.optim.SGD(p, **settings))
    assert_same(ours, theirs)


ADAM_SETTINGS = [dict(lr=0.01), dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)]


@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=str)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_and_adamw_match_torch(name, settings, backend):
    torch = pytest.importorskip("torch")
    ours, theirs, opt_ours, opt_theirs = run_both(lambda p: getattr(optim, name)(p, **settings),
                                                  lambda p: getattr(torch.optim, name)(p, **settings))
    assert_same(ours, theirs)
    p, q = opt_ours.param_groups[0]["params"][0], opt_theirs.param_groups[0]["params"][0]
    assert opt_ours.state[p]["step"] == STEPS
    np.testing.assert_allclose(opt_ours.state[p]["exp_avg_sq"], opt_theirs.state[q]["exp_avg_sq"].numpy(), rtol=1e-6)


def test_adamw_default_weight_decay_matches_torch():
    torch = pytest.importorskip("torch")
    assert optim.AdamW(make_params(), lr=1e-3).defaults["weight_decay"] == 0.01
    ours, theirs, *_ = run_both(lambda p: optim.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01))
    assert_same(ours, theirs)


GROUPS = [{"params": [0, 2], "lr": 0.03, "weight_decay": 0.2}, {"params": [1], "lr": 0.005, "weight_decay": 0.0}]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_param_groups_match_torch(name):
    torch = pytest.importorskip("torch")
    extra = {"momentum": 0.9} if name == "SGD" else {}
    ours, theirs, opt_ours, _ = run_both(lambda g: getattr(optim, name)(g, lr=1.0, **extra),
                                         lambda g: getattr(torch.optim, name)(g, lr=1.0, **extra), groups=GROUPS)
    assert_same(ours, theirs)
    assert [g["lr"] for g in opt_ours.param_groups] == [0.03, 0.005]


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_parameters_without_grad_are_skipped(name):
    torch = pytest.importorskip("torch")
    extra = {"momentum": 0.9} if name == "SGD" else {}
    ours, theirs, opt_ours, _ = run_both(lambda p: getattr(optim, name)(p, lr=0.1, **extra),
                                         lambda p: getattr(torch.optim, name)(p, lr=0.1, **extra), skip=1)
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours[1].data, make_params()[1].data)
    assert all(p is not ours[1] for p in opt_ours.state)


def test_sgd_formula_without_torch():
    p = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.5, weight_decay=0.2)
    grads = [np.array([0.5, 1.0]), np.array([-1.0, 2.0])]
    expected, buf = p.data.copy(), None
    for g in grads:
        p.grad = td.Tensor(g)
        opt.step()
        d = g + 0.2 * expected
        buf = d if buf is None else 0.5 * buf + d
        expected = expected - 0.1 * buf
        np.testing.assert_allclose(p.data, expected, rtol=1e-15)


def test_adam_float32_non_contiguous_and_broadcast_grads():
    reference = nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
    transposed = nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
    transposed.data = np.asfortranarray(transposed.data)
    opt = optim.Adam([reference, transposed], lr=0.1, weight_decay=0.1)
    for _ in range(3):
        grad = np.broadcast_to(np.array([1.0, -2.0, 0.5], dtype=np.float32), (2, 3))  # read-only view
        reference.grad, transposed.grad = td.Tensor(grad), td.Tensor._from_array(grad)
        opt.step()
    np.testing.assert_array_equal(reference.data, transposed.data)
    assert reference.dtype == np.float32 and opt.state[reference]["exp_avg"].dtype == np.float32
    assert not np.array_equal(reference.data, np.arange(6).reshape(2, 3))


def test_adam_refuses_a_parameter_that_is_not_float32_or_float64():
    # The fused update computes in the parameter's dtype; Numba has no float16.
    half = nn.Parameter(np.ones(3, dtype=np.float16))
    half.grad = td.Tensor(np.ones(3, dtype=np.float16))
    with pytest.raises(TypeError, match="AdamW: expected a float32 or float64 tensor, got dtype float16"):
        optim.AdamW([half]).step()


def test_zero_grad():
    params = make_params()
    set_grads(params)
    opt = optim.SGD(params, lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.SGD(p, momentum=-1.0), "Invalid momentum value: -1.0"),
    (lambda p: optim.SGD(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.AdamW([{"params": p, "lr": -1.0}]), "Invalid learning rate: -1.0"),
    (lambda p: optim.Adam([]), "optimizer got an empty parameter list"),
    (lambda p: optim.SGD([{"params": p[:1]}, {"params": p}]), "more than one parameter group"),
    (lambda p: optim.SGD([p[0], p[0]]), "more than once"),
    (lambda p: optim.SGD([nn.Parameter([1.0], requires_grad=False)]), "doesn't require gradients"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        make(make_params())


def test_params_must_be_an_iterable_of_tensors():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(make_params()[0])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD(set(make_params()))


# ---- state dict -------------------------------------------------------------------------------

def _train(opt, params, steps):
    for _ in range(steps):
        set_grads(params)
        opt.step()


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
    lambda p: optim.AdamW([{"params": p[:2]}, {"params": p[2:], "lr": 0.002, "weight_decay": 0.0}], lr=0.01),
], ids=["SGD", "Adam", "AdamW-groups"])
def test_state_dict_round_trip_continues_identically(make, tmp_path):
    params = make_params()
    opt = make(params)
    _train(opt, params, 5)
    td.save({"optimizer": opt.state_dict(), "params": [p.data for p in params]}, tmp_path / "ckpt.npz")
    _train(opt, params, 5)

    checkpoint = td.load(tmp_path / "ckpt.npz")
    resumed_params = [nn.Parameter(a) for a in checkpoint["params"]]
    resumed = make(resumed_params)
    resumed.load_state_dict(checkpoint["optimizer"])
    _train(resumed, resumed_params, 5)
    for p, q in zip(params, resumed_params):
        np.testing.assert_array_equal(p.data, q.data)
    assert [g["lr"] for g in resumed.param_groups] == [g["lr"] for g in opt.param_groups]


def test_state_dict_layout_and_copies():
    params = make_params()
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1)
    _train(opt, params, 2)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["state"]) == {0, 1, 2}
    assert sd["state"][2]["step"] == 2 and isinstance(sd["state"][2]["step"], int)
    assert sd["state"][2]["exp_avg"].shape == SHAPES[2]
    saved = sd["state"][0]["exp_avg"].copy()
    _train(opt, params, 1)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)  # not a view of the live state


def test_load_state_dict_errors():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _train(opt, params, 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(params[:2], lr=0.1).load_state_dict(sd)
    swapped = [params[1], params[0], params[2]]
    with pytest.raises(ValueError, match="has shape"):
        optim.SGD(swapped, lr=0.1, momentum=0.9).load_state_dict(sd)


# ---- learning-rate schedules ------------------------------------------------------------------

def nanogpt_get_lr(it, warmup_iters, lr_decay_iters, learning_rate, min_lr):
    """nanoGPT's train.py, verbatim apart from the arguments."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def test_cosine_with_warmup_values():
    for it in range(0, 130):
        assert cosine_with_warmup(it, 10, 110, 1e-3, 1e-4) == pytest.approx(
            nanogpt_get_lr(it, 10, 110, 1e-3, 1e-4), rel=1e-12, abs=1e-18)
    assert cosine_with_warmup(0, 10, 110, 1.0, 0.1) == pytest.approx(1.0 / 11)
    assert cosine_with_warmup(10, 10, 110, 1.0, 0.1) == 1.0
    assert cosine_with_warmup(60, 10, 110, 1.0, 0.1) == pytest.approx(0.55)
    assert cosine_with_warmup(110, 10, 110, 1.0, 0.1) == pytest.approx(0.1)
    assert cosine_with_warmup(500, 10, 110, 1.0, 0.1) == 0.1
    assert cosine_with_warmup(0, 0, 0, 1.0, 0.1) == 0.1


def test_cosine_scheduler_drives_the_optimizer():
    params = make_params()
    opt = optim.AdamW([{"params": params[:1], "lr": 1.0}, {"params": params[1:], "lr": 0.5}])
    scheduler = CosineWithWarmup(opt, warmup_iters=5, max_iters=50, min_lr=0.01)
    for it in range(60):
        expected = [cosine_with_warmup(it, 5, 50, peak, 0.01) for peak in (1.0, 0.5)]
        assert scheduler.get_last_lr() == pytest.approx(expected, rel=1e-12)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(expected, rel=1e-12)
        scheduler.step()
    fixed_peak = CosineWithWarmup(opt, warmup_iters=5, max_iters=50, max_lr=2.0, min_lr=0.0)
    assert fixed_peak.get_last_lr() == pytest.approx([2.0 / 6, 2.0 / 6])


def test_scheduler_resumes_from_state_dicts():
    params = make_params()
    opt = optim.SGD(params, lr=0.3)
    scheduler = CosineWithWarmup(opt, 3, 20, min_lr=0.03)
    for _ in range(7):
        scheduler.step()
    checkpoint = {"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}

    opt2 = optim.SGD(params, lr=0.3)
    opt2.load_state_dict(checkpoint["optimizer"])
    scheduler2 = CosineWithWarmup(opt2, 3, 20, min_lr=0.03)
    assert scheduler2.base_lrs == [0.3]  # the peak, from "initial_lr", not the lr saved mid-schedule
    scheduler2.load_state_dict(checkpoint["scheduler"])
    for _ in range(5):
        scheduler.step()
        scheduler2.step()
        assert scheduler2.get_last_lr() == scheduler.get_last_lr()
    assert opt2.param_groups[0]["lr"] == cosine_with_warmup(12, 3, 20, 0.3, 0.03)


def test_scheduler_validation_and_lambda_lr():
    opt = optim.SGD(make_params(), lr=0.2)
    with pytest.raises(ValueError, match="max_iters"):
        CosineWithWarmup(opt, warmup_iters=10, max_iters=5)
    with pytest.raises(ValueError, match="warmup_iters"):
        CosineWithWarmup(opt, warmup_iters=-1, max_iters=5)
    scheduler = LambdaLR(opt, lambda it: 0.5 ** it)
    scheduler.step()
    scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas"):
        LambdaLR(opt, [lambda it: 1.0, lambda it: 2.0])
