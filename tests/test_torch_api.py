"""Each PyTorch name that `import torch` gives a script under tinygrad_drop.run, called the same
way on tinygrad_drop's stand-in (tinygrad_drop.compat.torch) and on PyTorch, with the same
results: values, shapes, dtypes, and gradients where they flow."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop.compat import torch as ours

torch = pytest.importorskip("torch")


def as_numpy(value):
    if isinstance(value, (tuple, list)):
        return [as_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, td.Tensor):
        return value.numpy()
    return value


def same(a, b, **tolerances):
    a, b = as_numpy(a), as_numpy(b)
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y, **tolerances)
        return
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        assert np.shape(a) == np.shape(b), (np.shape(a), np.shape(b))
        assert np.asarray(a).dtype == np.asarray(b).dtype, (np.asarray(a).dtype, np.asarray(b).dtype)
        np.testing.assert_allclose(a, b, **tolerances)
    else:
        assert a == b, (a, b)


X = np.array([[0.5, -1.5, 2.0, 0.25], [3.0, 1.0, -0.5, 1.0], [-2.0, 0.0, 0.75, 1.5]], dtype=np.float32)

# (name, function of the library) -- deterministic calls, compared value by value
CASES = [
    ("tensor_long", lambda lib: lib.tensor([1, 2], dtype=lib.long)),
    ("tensor_float", lambda lib: lib.tensor([1, 2], dtype=lib.float)),
    ("tensor_double", lambda lib: lib.tensor([1, 2], dtype=lib.double)),
    ("tensor_int_bool_half", lambda lib: [lib.tensor([1, 0], dtype=lib.int), lib.tensor([1, 0], dtype=lib.bool),
                                           lib.tensor([1.5], dtype=lib.float16), lib.tensor([1.5], dtype=lib.half)]),
    ("zeros_ones_device", lambda lib: [lib.zeros(2, 3, device="cpu"), lib.ones((2,), dtype=lib.long, device="cpu")]),
    ("arange_device", lambda lib: [lib.arange(5, device="cpu"), lib.arange(0, 1, 0.25), lib.arange(2, 8, 2)]),
    ("full_empty_shape", lambda lib: [lib.full((2, 2), 7.0), lib.empty(3, 2).shape, lib.eye(3)]),
    ("like", lambda lib: [lib.zeros_like(lib.from_numpy(X)), lib.ones_like(lib.from_numpy(X)),
                          lib.full_like(lib.from_numpy(X), 2.0), lib.empty_like(lib.from_numpy(X)).shape,
                          lib.rand_like(lib.from_numpy(X)).shape, lib.randn_like(lib.from_numpy(X)).dtype == lib.float]),
    ("linspace", lambda lib: lib.linspace(0, 1, 5)),
    ("tril_triu", lambda lib: [lib.tril(lib.ones(3, 4)), lib.triu(lib.ones(3, 4), 1), lib.from_numpy(X).tril(-1)]),
    ("where", lambda lib: lib.where(lib.from_numpy(X) > 0, lib.from_numpy(X), lib.zeros(3, 4))),
    ("gather", lambda lib: lib.gather(lib.from_numpy(X), 1, lib.tensor([[0, 0], [3, 1], [2, 2]]))),
    ("sort", lambda lib: list(lib.sort(lib.from_numpy(X), dim=1))),
    ("sort_descending", lambda lib: list(lib.sort(lib.from_numpy(X), dim=0, descending=True))),
    ("argsort", lambda lib: lib.argsort(lib.from_numpy(X), dim=-1)),
    ("topk", lambda lib: list(lib.topk(lib.from_numpy(X), 2))),
    ("topk_smallest_dim0", lambda lib: list(lib.topk(lib.from_numpy(X), 2, dim=0, largest=False))),
    ("roll", lambda lib: [lib.roll(lib.from_numpy(X), 1, 1), lib.roll(lib.from_numpy(X), -2),
                          lib.roll(lib.from_numpy(X), (1, 2), (0, 1))]),
    ("flip", lambda lib: [lib.flip(lib.from_numpy(X), [0]), lib.from_numpy(X).flip(0, 1)]),
    ("max_forms", lambda lib: [lib.max(lib.from_numpy(X)), *lib.max(lib.from_numpy(X), 1),
                               lib.max(lib.from_numpy(X), lib.zeros(3, 4)), *lib.min(lib.from_numpy(X), dim=0)]),
    ("maximum_minimum", lambda lib: [lib.maximum(lib.from_numpy(X), lib.zeros(3, 4)),
                                     lib.minimum(lib.from_numpy(X), lib.zeros(3, 4))]),
    ("function_forms", lambda lib: [lib.tanh(lib.from_numpy(X)), lib.exp(lib.from_numpy(X)),
                                    lib.pow(lib.from_numpy(X), 2), lib.sum(lib.from_numpy(X), dim=1),
                                    lib.mean(lib.from_numpy(X), 0, keepdim=True), lib.abs(lib.from_numpy(X)),
                                    lib.sigmoid(lib.from_numpy(X)), lib.relu(lib.from_numpy(X)),
                                    lib.softmax(lib.from_numpy(X), dim=-1), lib.log_softmax(lib.from_numpy(X), 1),
                                    lib.sqrt(lib.from_numpy(np.abs(X))), lib.clamp(lib.from_numpy(X), min=0.0),
                                    lib.matmul(lib.from_numpy(X), lib.from_numpy(X).T), lib.std(lib.from_numpy(X)),
                                    lib.var(lib.from_numpy(X), 1), lib.numel(lib.from_numpy(X))]),
    ("cat_stack", lambda lib: [lib.cat([lib.ones(2, 2), lib.zeros(1, 2)]), lib.stack([lib.ones(2), lib.zeros(2)], 1),
                               lib.concat([lib.ones(1), lib.zeros(1)])]),
    ("argmax_dims", lambda lib: [lib.from_numpy(X).argmax(dim=1), lib.from_numpy(X).argmax(dim=0, keepdim=True),
                                 lib.from_numpy(X).argmin(), lib.argmax(lib.from_numpy(X), 1)]),
    ("argmax_numpy_axis", lambda lib: lib.from_numpy(X).argmax(axis=1)),
    ("size_numel_dim", lambda lib: [lib.from_numpy(X).size(), lib.from_numpy(X).size(1), lib.from_numpy(X).size(-1),
                                    lib.from_numpy(X).nelement(), lib.from_numpy(X).numel(), lib.from_numpy(X).dim()]),
    ("casts", lambda lib: [lib.from_numpy(X).long(), lib.from_numpy(X).int(), lib.from_numpy(X).double(),
                           lib.from_numpy(X).bool(), lib.from_numpy(X).float(), lib.from_numpy(X).half(),
                           lib.from_numpy(X).to(lib.float64), lib.from_numpy(X).to("cpu"),
                           lib.from_numpy(X).to("cpu", lib.long), lib.from_numpy(X).type(lib.long),
                           lib.from_numpy(X).type()]),
    ("contiguous_view", lambda lib: [lib.from_numpy(X).T.contiguous().view(-1), lib.from_numpy(X).view(2, 6),
                                     lib.from_numpy(X).t(), lib.from_numpy(X).clone()]),
    ("item_tolist", lambda lib: [lib.tensor(2.5).item(), lib.from_numpy(X).tolist(), lib.tensor([3]).item()]),
    ("python_protocol", lambda lib: [f"{lib.tensor(2.25):.1f}", f"{lib.tensor(3):>3}", int(lib.tensor([7])),
                                     float(lib.tensor(1.5)), bool(lib.tensor([1])), [10, 20, 30][lib.tensor(1)],
                                     len(lib.ones(4, 2)), 2.0 in lib.tensor([1.0, 2.0]), 5 in lib.tensor([1, 2]),
                                     abs(lib.tensor([-1.0, 2.0])), [t.shape for t in lib.ones(3, 2)],
                                     range(10)[lib.tensor(3):lib.tensor(5)]]),
    ("one_hot", lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 2, 1]), 4)),
    ("device", lambda lib: [str(lib.device("cpu")), lib.ones(1).device == lib.device("cpu"), lib.ones(1).device.type,
                            lib.ones(1).cpu().is_cuda, lib.cuda.is_available(), lib.cuda.device_count(),
                            str(lib.ones(1).device)]),
    ("dtype_compare", lambda lib: [lib.ones(1).dtype == lib.float32, lib.ones(1, dtype=lib.long).dtype == lib.int64,
                                   lib.is_floating_point(lib.ones(1)), lib.is_tensor(lib.ones(1))]),
    ("comparisons_all_any", lambda lib: [lib.from_numpy(X).gt(0), lib.eq(lib.from_numpy(X), 1.0), lib.ge(lib.ones(2), 1),
                                         lib.from_numpy(X).lt(0).any(), lib.all(lib.from_numpy(X) > -5),
                                         lib.from_numpy(X).ne(0).all(dim=1), lib.square(lib.from_numpy(X)),
                                         lib.ones(2, 3).view_as(lib.ones(3, 2)), lib.ones(1, 3).expand_as(lib.ones(2, 3)),
                                         lib.ones(2).type_as(lib.ones(1, dtype=lib.float64))]),
    ("allclose_equal", lambda lib: [lib.allclose(lib.ones(2), lib.ones(2) + 1e-9), lib.equal(lib.ones(2), lib.zeros(2))]),
]


@pytest.mark.parametrize("name, call", CASES, ids=[name for name, _ in CASES])
def test_same_result_as_pytorch(name, call):
    same(call(ours), call(torch), rtol=1e-6, atol=1e-6)


# functions whose gradients flow: compared after backward
GRAD_CASES = [
    ("gather", lambda lib, x: lib.gather(x, 1, lib.tensor([[0, 0], [3, 1], [2, 2]])).sum()),
    ("sort_values", lambda lib, x: (lib.sort(x, dim=1)[0] * lib.arange(4.0)).sum()),
    ("topk_values", lambda lib, x: (lib.topk(x, 2)[0] ** 2).sum()),
    ("roll", lambda lib, x: (lib.roll(x, 1, 1) * lib.arange(12.0).reshape(3, 4)).sum()),
    ("flip", lambda lib, x: (lib.flip(x, [1]) * lib.arange(12.0).reshape(3, 4)).sum()),
    ("tril", lambda lib, x: (lib.tril(x) * x).sum()),
    ("max_elementwise", lambda lib, x: lib.max(x, lib.zeros(3, 4)).sum()),
    ("clone", lambda lib, x: (x.clone() * 3).sum()),
    ("std", lambda lib, x: x.std(dim=1).sum()),
    ("mse_loss", lambda lib, x: lib.nn.functional.mse_loss(x, lib.ones(3, 4))),
    ("l1_loss_sum", lambda lib, x: lib.nn.functional.l1_loss(x, lib.ones(3, 4), reduction="sum")),
    ("nll_loss", lambda lib, x: lib.nn.functional.nll_loss(x.log_softmax(1), lib.tensor([1, -100, 3]))),
    ("cross_entropy_smoothing", lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor([1, 0, 3]),
                                                                               label_smoothing=0.1)),
    ("cross_entropy_ignore_smoothing", lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([1, -100, 3]), label_smoothing=0.2, reduction="sum")),
    ("cross_entropy_3d", lambda lib, x: lib.nn.functional.cross_entropy(x.reshape(1, 3, 4), lib.tensor([[0, 2, 1, 1]]))),
    ("cross_entropy_probabilities", lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.softmax(lib.arange(12.0).reshape(3, 4), 1))),
    ("bce", lambda lib, x: lib.nn.functional.binary_cross_entropy(lib.sigmoid(x), (lib.arange(12.0).reshape(3, 4) % 2))),
    ("bce_with_logits", lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x * 10, (lib.arange(12.0).reshape(3, 4) % 2))),
    ("leaky_relu_silu", lambda lib, x: (lib.nn.functional.leaky_relu(x, 0.1) + lib.nn.functional.silu(x)).sum()),
    ("iteration", lambda lib, x: sum(row.sum() * i for i, row in enumerate(x))),
    ("sin_cos", lambda lib, x: (lib.sin(x) * lib.cos(x * 2)).sum()),
    ("log10_log2", lambda lib, x: (lib.log10(x.abs() + 1) + (x * x + 1).log2()).sum()),
    ("repeat", lambda lib, x: (x.repeat(2, 1, 3) * lib.arange(72.0).reshape(2, 3, 12)).sum()),
]


@pytest.mark.parametrize("name, loss_of", GRAD_CASES, ids=[name for name, _ in GRAD_CASES])
def test_same_gradient_as_pytorch(name, loss_of, backend):
    x_ours = ours.tensor(X, requires_grad=True)
    x_theirs = torch.tensor(X, requires_grad=True)
    loss_ours, loss_theirs = loss_of(ours, x_ours), loss_of(torch, x_theirs)
    np.testing.assert_allclose(loss_ours.item(), loss_theirs.item(), rtol=1e-5, atol=1e-6)
    loss_ours.backward()
    loss_theirs.backward()
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


MODULE_CASES = [
    ("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.1), "classes"),
    ("CrossEntropyLoss_none", lambda nn: nn.CrossEntropyLoss(reduction="none"), "classes"),
    ("NLLLoss", lambda nn: nn.Sequential(nn.LogSoftmax(dim=1)), "nll"),
    ("MSELoss", lambda nn: nn.MSELoss(), "values"),
    ("L1Loss", lambda nn: nn.L1Loss(reduction="sum"), "values"),
    ("BCELoss", lambda nn: nn.BCELoss(), "probabilities"),
    ("BCEWithLogitsLoss", lambda nn: nn.BCEWithLogitsLoss(), "binary"),
    ("Flatten", lambda nn: nn.Flatten(0), None),
    ("Softmax", lambda nn: nn.Softmax(dim=0), None),
    ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=1), None),
    ("Identity", lambda nn: nn.Identity(54), None),
    ("Tanh", lambda nn: nn.Tanh(), None), ("ReLU", lambda nn: nn.ReLU(), None), ("GELU", lambda nn: nn.GELU(), None),
    ("SiLU", lambda nn: nn.SiLU(), None), ("Sigmoid", lambda nn: nn.Sigmoid(), None),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), None),
]
TARGETS = {"classes": lambda lib: lib.tensor([1, 2, 0]), "values": lambda lib: lib.ones(3, 4),
           "probabilities": lambda lib: lib.tensor(X > 0).float(), "binary": lambda lib: lib.tensor(X > 0).float()}


@pytest.mark.parametrize("name, make, target", MODULE_CASES, ids=[case[0] for case in MODULE_CASES])
def test_modules_match_pytorch(name, make, target):
    results = []
    for lib in (ours, torch):
        x = lib.tensor(X, requires_grad=True)
        module = make(lib.nn)
        inputs = lib.sigmoid(x) if target == "probabilities" else x
        out = module(inputs) if target in (None, "nll") else module(inputs, TARGETS[target](lib))
        if target == "nll":
            out = lib.nn.NLLLoss()(out, lib.tensor([3, 0, 1]))
        (out * lib.arange(out.numel(), dtype=lib.float32).reshape(out.shape)).sum().backward()
        results.append((as_numpy(out), x.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_containers_and_repr_names():
    holder = ours.nn.Module()
    holder.params = ours.nn.ParameterList([ours.nn.Parameter(ours.ones(2)), ours.zeros(3)])
    holder.blocks = ours.nn.ModuleDict({"a": ours.nn.Linear(2, 2)})
    assert [name for name, _ in holder.named_parameters()] == ["params.0", "params.1", "blocks.a.weight",
                                                               "blocks.a.bias"]
    assert len(holder.params) == 2 and holder.params[1].shape == (3,)


def test_every_method_has_its_function_form_and_every_function_its_method_where_pytorch_has_both():
    methods = [name for name in dir(td.Tensor) if not name.startswith("_")]
    without_function = [name for name in methods if callable(getattr(torch, name, None)) and name not in vars(ours)]
    functions = [name for name, value in vars(ours).items() if not name.startswith("_") and callable(value)]
    without_method = [name for name in functions if hasattr(torch.Tensor, name) and not hasattr(td.Tensor, name)]
    assert without_function == [] and without_method == []


@pytest.mark.parametrize("name, arguments", [("StepLR", dict(step_size=3, gamma=0.5)),
                                             ("MultiStepLR", dict(milestones=[2, 5, 9], gamma=0.3)),
                                             ("ExponentialLR", dict(gamma=0.9)),
                                             ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
                                             ("LambdaLR", dict(lr_lambda=lambda it: 1 / (it + 1)))])
def test_lr_schedulers_match_pytorch(name, arguments):
    schedules = []
    for lib in (ours, torch):
        optimizer = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
        scheduler = getattr(lib.optim.lr_scheduler, name)(optimizer, **arguments)
        lrs = []
        for _ in range(12):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        schedules.append(lrs + scheduler.get_last_lr())
    np.testing.assert_allclose(schedules[0], schedules[1], rtol=1e-9)


def test_pytorch_arguments_that_change_nothing_here_are_accepted():
    x = ours.tensor([-1.0, 2.0], requires_grad=True)
    for layer in (ours.nn.ReLU(True), ours.nn.ReLU(inplace=True), ours.nn.LeakyReLU(0.1, True), ours.nn.SiLU(True),
                  ours.nn.Dropout(0.5, inplace=True).eval()):
        their_layer = {"ReLU": torch.nn.ReLU(), "LeakyReLU": torch.nn.LeakyReLU(0.1), "SiLU": torch.nn.SiLU(),
                       "Dropout": torch.nn.Dropout(0.5).eval()}[type(layer).__name__]
        np.testing.assert_allclose(layer(x).detach().numpy(), their_layer(torch.tensor([-1.0, 2.0])).numpy(),
                                   rtol=1e-6)
    assert ours.nn.functional.relu(x, inplace=True).tolist() == [0.0, 2.0]
    assert ours.autograd.Variable([1.0, 2.0], requires_grad=True).requires_grad


def test_trunc_normal_stays_inside_its_bounds():
    w = ours.empty(2000)
    ours.nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 0.5 and w.numpy().std() > 0.2
