"""engine: the backward walk (topological order, gradients summed per tensor, hooks), on Functions
defined here, so no other topic's backward runs. Expected gradients come from central
differences of the same graph's forward."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

import tinygrad_drop as td
from tinygrad_drop.autograd import Function
from tinygrad_drop.course.checks import assert_close


class Scale(Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


class Product(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a


class Sine(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np.cos(x)


def run(program, x: np.ndarray, ops: dict):
    """Run a program (a list of (op, input positions)) on x; ops maps names to functions of
    values; returns every value, x first."""
    values = [x]
    for name, inputs in program:
        values.append(ops[name](*[values[i] for i in inputs]))
    return values


TENSOR_OPS = {"scale": lambda x: Scale.apply(x, 1.5), "product": Product.apply, "sine": Sine.apply}
NUMPY_OPS = {"scale": lambda x: x * 1.5, "product": lambda a, b: a * b, "sine": np.sin}


def central_differences(program, x: np.ndarray, cotangent: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    expected = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step.flat[i] = eps
        plus = (run(program, x + step, NUMPY_OPS)[-1] * cotangent).sum()
        minus = (run(program, x - step, NUMPY_OPS)[-1] * cotangent).sum()
        expected.flat[i] = (plus - minus) / (2 * eps)
    return expected


def check_program(program, x_array: np.ndarray) -> None:
    x = td.tensor(x_array, requires_grad=True)
    out = run(program, x, TENSOR_OPS)[-1]
    cotangent = np.random.default_rng(0).standard_normal(x_array.shape)
    out.backward(cotangent)
    assert x.grad is not None, "d/dx: x.grad is None after backward; the walk never reached the leaf"
    assert_close("d/dx", central_differences(program, x_array, cotangent), x.grad.numpy())


def test_a_chain():
    check_program([("scale", [0]), ("sine", [1]), ("scale", [2])], np.linspace(-1, 1, 6))


def test_a_tensor_used_twice_gets_both_paths():
    check_program([("product", [0, 0])], np.linspace(-1, 1, 5))  # x * x: 2x
    check_program([("sine", [0]), ("product", [1, 0])], np.linspace(-1, 1, 5))  # sin(x) * x


def test_a_node_waits_for_all_its_consumers():
    # b is read by c and by d (through c, a longer path): b's node may run only after both
    program = [("sine", [0]), ("scale", [1]), ("sine", [2]), ("product", [1, 3]), ("product", [4, 1])]
    check_program(program, np.linspace(-1, 1, 4))


@st.composite
def programs(draw):
    """A random graph: each op reads earlier values; the last value is the output."""
    program = []
    for position in range(1, draw(st.integers(1, 8)) + 1):
        name = draw(st.sampled_from(sorted(NUMPY_OPS)))
        arity = 2 if name == "product" else 1
        program.append((name, [draw(st.integers(0, position - 1)) for _ in range(arity)]))
    return program


@settings(max_examples=25, deadline=None)
@given(programs(), st.integers(1, 5))
def test_random_graphs(program, size):
    check_program(program, np.random.default_rng(size).uniform(-1, 1, size))


def test_a_long_chain_needs_no_recursion():
    x = td.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = Scale.apply(y, 1.0)
    y.backward(np.ones(3))
    assert_close("d/dx", np.ones(3), x.grad.numpy())


def test_leaves_accumulate_across_backward_calls():
    x = td.tensor(np.array([0.5, -1.0]), requires_grad=True)
    Scale.apply(x, 2.0).backward(np.ones(2))
    Scale.apply(x, 3.0).backward(np.ones(2))
    assert_close("d/dx after two backward calls", np.full(2, 5.0), x.grad.numpy())


def test_hooks_see_and_replace_the_gradient():
    x = td.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    middle = Scale.apply(x, 2.0)
    seen = []
    middle.register_hook(lambda grad: seen.append(grad.numpy().copy()))
    middle.register_hook(lambda grad: grad * 10.0)
    Scale.apply(middle, 3.0).backward(np.ones(3))
    assert len(seen) == 1, f"the hook on the middle tensor ran {len(seen)} times, expected once"
    assert_close("the gradient the hook saw", np.full(3, 3.0), seen[0])
    assert_close("d/dx with the replacing hook", np.full(3, 60.0), x.grad.numpy())
