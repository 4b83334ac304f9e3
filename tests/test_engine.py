"""The autograd engine: how gradients flow, accumulate, get hooked, switched off and released,
plus the Tensor basics the engine relies on (dtypes, repr, grad_fn names, seeding).

Expected gradients are worked out by hand in the comments (d/dx of a small expression), never
taken from our own backward.
"""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest


import tinygrad_drop as td
from tinygrad_drop.nn import functional as F

pytestmark = pytest.mark.engine


def test_gradients_accumulate_across_backward_calls():
    x = td.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()          # d/dx sum x^2 = 2x
    (3 * x).sum().backward()          # d/dx sum 3x = 3, added on top
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.data + 3)
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_tensor_used_twice_gets_both_paths():
    x = td.tensor([0.5, 2.0], requires_grad=True)
    y = x.exp()
    z = (y * x + y.tanh()).sum()      # dz/dx = e^x x + e^x + (1 - tanh(e^x)^2) e^x
    z.backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad.numpy(), e * x.data + e + (1 - np.tanh(e) ** 2) * e, rtol=1e-6)


def test_same_tensor_as_both_operands():
    x = td.tensor(3.0, requires_grad=True)
    (x * x).backward()                # d(x^2)/dx = 2x
    assert x.grad.item() == 6.0


def test_ten_thousand_op_chain_needs_no_recursion():
    x = td.tensor(1.0, requires_grad=True, dtype=td.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0          # two ops per step: 20,000 nodes deep
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** 10_000, rtol=1e-9)


def test_no_grad_context_manager_and_decorator():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    with td.no_grad():
        y = x * 2
        assert not td.is_grad_enabled()
    assert td.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @td.no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad and z.grad_fn is None
    assert td.is_grad_enabled()

    @td.no_grad  # bare, as recent PyTorch allows
    def triple(t):
        return t * 3

    assert not triple(x).requires_grad
    assert td.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with td.no_grad():
            1 / 0
    assert td.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    with td.no_grad():
        with td.enable_grad():
            y = (x * x).sum()
        z = x * 3
    assert y.requires_grad and y.grad_fn.name == "SumBackward"
    assert not z.requires_grad
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.data)


def test_detach_shares_data_and_cuts_the_graph():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])
    (y * d).sum().backward()          # d is a constant: d/dx = 2 d
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_retain_grad_keeps_an_intermediate_gradient():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    kept = x * 5
    y.retain_grad()
    (y * y + kept).sum().backward()   # dL/dy = 2y
    np.testing.assert_array_equal(y.grad.numpy(), 2 * y.data)
    assert kept.grad is None          # not retained: non-leaves drop their gradients
    assert not y.is_leaf and x.is_leaf


def test_hook_replaces_the_gradient_until_removed():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def double_it(grad):
        seen.append(grad.numpy().copy())
        return grad * 2

    handle = x.register_hook(double_it)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_an_intermediate_changes_what_flows_upstream():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda grad: td.ones_like(grad))   # replace dL/dy by 1
    y.register_hook(lambda grad: None)                  # a hook returning None changes nothing
    (y * y).sum().backward()                            # would be 2y, is 1; then dy/dx = 3
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


class Cube(td.autograd.Function):
    """x^3, written as a user would write it: numpy arrays in and out."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


class ScaleBy(td.autograd.Function):
    """x * factor with a non-tensor argument, returning Tensors from both directions."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return td.tensor(x * factor)

    @staticmethod
    def backward(ctx, grad):
        return td.tensor(grad * ctx.factor), None


def test_custom_function_forward_backward():
    x = td.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "CubeBackward"
    assert y.grad_fn.needs_input_grad == (True,)
    np.testing.assert_array_equal(y.numpy(), x.data ** 3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3 * x.data ** 2)
    assert td.gradcheck(Cube.apply, [td.tensor(np.random.default_rng(0).standard_normal(4), requires_grad=True)])


def test_custom_function_returning_tensors_with_a_constant_argument():
    x = td.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = ScaleBy.apply(x, 2.5)
    assert isinstance(y, td.Tensor) and y.grad_fn.name == "ScaleByBackward"
    assert y.grad_fn.needs_input_grad == (True, False)
    (y * y).sum().backward()          # d/dx (2.5 x)^2 = 2 * 2.5^2 x
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2.5 ** 2 * x.data)
    assert td.gradcheck(lambda t: ScaleBy.apply(t, -1.5), [x])


def test_saved_buffers_are_released_after_backward():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="SumBackward.*second time.*retain_graph=True"):
        loss.backward()
    hidden = x * x  # a graph that shares a freed node with a new one
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="MulBackward.*second time"):
        (hidden * 2).sum().backward()


def test_a_stored_loss_keeps_no_activation_alive(backend):
    """losses.append(loss) is common: after backward the loss must not pin the graph's activations
    (nor the batch), only its own node, as in PyTorch."""
    model = td.nn.Sequential(td.nn.Linear(64, 256), td.nn.ReLU(), td.nn.Dropout(0.1), td.nn.Linear(256, 10))
    losses, activations = [], []
    for _ in range(3):
        batch = td.randn(128, 64)
        hidden = model[1](model[0](batch))
        activations += [weakref.ref(batch), weakref.ref(hidden)]
        loss = (model[3](model[2](hidden)) ** 2).mean()
        del batch, hidden
        loss.backward()
        losses.append(loss)
    gc.collect()
    assert [ref() for ref in activations] == [None] * len(activations)
    assert losses[0].grad_fn.inputs == () and losses[0].item() > 0


def test_a_step_through_that_stops_early_still_frees_what_it_walked():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * 3).sum()
    steps = td.autograd.backward_steps(loss)
    first = next(steps)
    assert first.tensor is loss and first.inputs[0] is not None  # seen by the tools before it is freed
    steps.close()
    gc.collect()
    assert loss.grad_fn.released and loss.grad_fn.inputs == ()


def test_retain_graph_allows_a_second_backward():
    x = td.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (2 * x.data))


def test_manual_seed_reproduces_rand_and_randn():
    td.manual_seed(1234)
    first = td.randn(3, 4).numpy().copy(), td.rand(5).numpy().copy()
    td.manual_seed(1234)
    second = td.randn(3, 4).numpy(), td.rand(5).numpy()
    td.manual_seed(4321)
    other = td.randn(3, 4).numpy()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other)
    uniform = first[1]
    assert uniform.dtype == np.float32 and np.all((uniform >= 0) & (uniform < 1))


def test_manual_seed_rejects_non_integers():
    with pytest.raises(TypeError, match="int"):
        td.manual_seed(1.5)


@pytest.mark.parametrize("make, name", [
    (lambda a, b: a + b, "AddBackward"),
    (lambda a, b: a - b, "SubBackward"),
    (lambda a, b: a * b, "MulBackward"),
    (lambda a, b: a / b, "DivBackward"),
    (lambda a, b: a @ b, "MatMulBackward"),
    (lambda a, b: a.exp(), "ExpBackward"),
    (lambda a, b: a.sum(), "SumBackward"),
    (lambda a, b: a.reshape(2, 2), "ReshapeBackward"),
    (lambda a, b: a[0], "GetItemBackward"),
    (lambda a, b: a.softmax(-1), "SoftmaxBackward"),
])
def test_grad_fn_names(make, name):
    a = td.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = td.tensor([[0.5, 1.0], [2.0, 1.0]])
    out = make(a, b)
    assert out.grad_fn.name == name
    assert a.grad_fn is None


def test_repr_shows_values_shape_dtype_and_grad_fn():
    x = td.tensor([1.5, -2.0], requires_grad=True)
    leaf = repr(x)
    assert "1.5" in leaf and "-2." in leaf
    assert "shape=(2,)" in leaf and "dtype=float32" in leaf and "requires_grad=True" in leaf
    made = repr(x * 2)
    assert "3." in made and "-4." in made and "grad_fn=<MulBackward>" in made
    plain = repr(td.tensor(np.arange(3)))
    assert "dtype=int64" in plain and "grad" not in plain


def test_default_dtypes():
    assert td.tensor(1.5).dtype == np.float32
    assert td.tensor([1.0, 2.0]).dtype == np.float32
    assert td.tensor([[1, 2], [3, 4]]).dtype == np.int64
    assert td.tensor([True, False]).dtype == np.bool_
    assert td.tensor(np.zeros(3)).dtype == np.float64
    assert td.tensor(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert td.tensor([1, 2], dtype=td.float64).dtype == np.float64
    for made in (td.zeros(2), td.ones(2), td.full((2,), 0.5), td.rand(2), td.randn(2), td.eye(2), td.arange(0.0, 2.0)):
        assert made.dtype == np.float32
    assert td.arange(3).dtype == np.int64


def test_tensor_copies_its_input():
    source = np.ones(3)
    x = td.tensor(source)
    source[0] = 5.0
    assert x.data[0] == 1.0


@pytest.mark.whole_model
def test_float64_end_to_end():
    rng = np.random.default_rng(0)
    x = td.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    w = td.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    hidden = F.layer_norm(F.linear(x, w), 3).gelu().softmax(-1)
    loss = F.cross_entropy(hidden.log(), td.tensor([0, 2]))
    assert hidden.dtype == np.float64 and loss.dtype == np.float64
    loss.backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float64


def test_float32_float64_promotion():
    a = td.tensor([1.0, 2.0], requires_grad=True)                    # float32
    b = td.tensor(np.array([0.5, 4.0]), requires_grad=True)          # float64
    out = a * b
    assert out.dtype == np.result_type(np.float32, np.float64) == np.float64
    assert (a * 2.5).dtype == np.float32                             # a Python number does not promote
    out.sum().backward()
    # each gradient comes back in its own tensor's dtype
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_tensor_basics():
    x = td.tensor([[1.0, 2.0, 3.0]])
    assert x.shape == (1, 3) and x.ndim == 2 and x.T.shape == (3, 1)
    assert x.tolist() == [[1.0, 2.0, 3.0]]
    assert x.sum().item() == 6.0
    np.testing.assert_array_equal(np.asarray(x), x.numpy())


def test_a_hook_that_changes_the_gradients_dtype_is_refused_as_in_pytorch(backend):
    x = td.randn(4, 5, requires_grad=True)
    hidden = x.softmax(-1)
    hidden.register_hook(lambda g: td.tensor(g.numpy().astype(np.float64)))
    with pytest.raises(RuntimeError, match="has changed the type of value \\(was float32, got float64\\)"):
        (hidden * 2).sum().backward()


def test_a_functions_gradient_takes_its_inputs_dtype_as_in_pytorch(backend):
    class Float64Gradient(td.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, grad):
            return (grad * 3).astype(np.float64)

    x = td.randn(4, 5, requires_grad=True)
    Float64Gradient.apply(x.softmax(-1)).sum().backward()  # softmax's backward gets a float32 gradient
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 0.0, atol=1e-6)  # rows of a softmax sum to a constant
