"""Bad input gets a clear error that names the op and what was wrong, never a numpy traceback
from deep inside: ValueError for shapes, TypeError for types and dtypes, RuntimeError for misuse
of backward, GradcheckError for a wrong gradient."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop.nn import functional as F

pytestmark = pytest.mark.engine


def randn(*shape, requires_grad: bool = True) -> td.Tensor:
    return td.randn(*shape, requires_grad=requires_grad)


def shapes_in(*shapes) -> str:
    """A regex that finds every shape, in order, anywhere in the message."""
    return ".*".join(re.escape(str(s)) for s in shapes)


@pytest.mark.parametrize("call, op, shapes", [
    (lambda: randn(2, 3) + randn(4), "add", [(2, 3), (4,)]),
    (lambda: randn(2, 3) - randn(3, 2), "sub", [(2, 3), (3, 2)]),
    (lambda: randn(2, 3) * randn(4), "mul", [(2, 3), (4,)]),
    (lambda: randn(2, 3) / randn(2, 2), "div", [(2, 3), (2, 2)]),
    (lambda: randn(2, 3) @ randn(4, 2), "matmul", [(2, 3), (4, 2)]),
    (lambda: randn(5) @ randn(4), "matmul", [(5,), (4,)]),
    (lambda: td.cat([randn(2, 3), randn(3, 4)]), "cat", [(2, 3), (3, 4)]),
    (lambda: td.stack([randn(2), randn(3)]), "stack", [(2,), (3,)]),
    (lambda: randn(2, 3).reshape(4, 2), "reshape", [(4, 2), (2, 3)]),
    (lambda: F.linear(randn(2, 3), randn(4, 5)), "linear", [(2, 3), (4, 5)]),
    (lambda: F.linear(randn(2, 3), randn(4, 3), randn(5)), "linear", [(5,), (4, 3)]),
    (lambda: F.layer_norm(randn(2, 3), 4), "layer_norm", [(2, 3), (4,)]),
    (lambda: F.layer_norm(randn(2, 3), 3, randn(4)), "layer_norm", [(4,), (3,)]),
    (lambda: F.cross_entropy(randn(2, 3), td.tensor([0, 1, 2])), "cross_entropy", [(3,), (2, 3)]),
    (lambda: td.where(td.tensor([True, False]), randn(3), 0.0), "where", [(2,), (3,)]),
    (lambda: randn(2, 3).masked_fill(td.tensor([True, False]), 0.0), "masked_fill", [(2, 3), (2,)]),
    (lambda: randn(2, 3).expand(4, 3), "expand", [(2, 3), (4, 3)]),
])
def test_shape_mismatch_names_op_and_shapes(call, op, shapes):
    with pytest.raises(ValueError, match=f"^{op}: .*{shapes_in(*shapes)}"):
        call()


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating point.*int64"):
        td.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        td.zeros(2, dtype=td.int64, requires_grad=True)
    x = td.tensor([1, 2])
    with pytest.raises(TypeError, match="floating point"):
        x.requires_grad = True


def test_backward_on_non_scalar_names_the_shape():
    y = randn(2, 3).exp()
    with pytest.raises(RuntimeError, match=re.escape("(2, 3)")):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape():
    y = randn(2, 3).exp()
    with pytest.raises(ValueError, match=shapes_in((3, 2), (2, 3))):
        y.backward(np.ones((3, 2)))


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        td.tensor([1.0]).sum().backward()


@pytest.mark.parametrize("data, got", [
    ("abc", "str"),
    ({}, "dict"),
    (None, "NoneType"),
    (["a", "b"], "<U1"),
    (np.array(["a"]), "<U1"),
    (np.array([object()]), "object"),
])
def test_tensor_from_unsupported_data(data, got):
    with pytest.raises(TypeError, match=f"tensor\\(\\): expected .*number.*{re.escape(got)}"):
        td.tensor(data)


def test_tensor_from_ragged_lists():
    with pytest.raises(ValueError, match="tensor\\(\\): nested lists must be rectangular"):
        td.tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("call, op, got", [
    (lambda x: x + "x", "add", "str"),
    (lambda x: "x" - x, "sub", "str"),
    (lambda x: x * [1, 2], "mul", "list"),
    (lambda x: x / None, "div", "NoneType"),
    (lambda x: x @ "x", "matmul", "str"),
])
def test_arithmetic_with_unsupported_operands(call, op, got):
    with pytest.raises(TypeError, match=f"^{op}: expected a Tensor, a number or a numpy array, got {got}"):
        call(randn(2))


@pytest.mark.parametrize("call, op", [
    (lambda: td.tensor([[1, 2, 3]]).softmax(-1), "softmax"),
    (lambda: td.tensor([[1, 2, 3]]).log_softmax(-1), "log_softmax"),
    (lambda: td.tensor([1, 2]).gelu(), "gelu"),
    (lambda: F.layer_norm(td.tensor([[1, 2, 3]]), 3), "layer_norm"),
    (lambda: F.cross_entropy(td.tensor([[1, 2]]), td.tensor([0])), "cross_entropy"),
    (lambda: F.cross_entropy(randn(2, 3), td.tensor([0.0, 1.0])), "cross_entropy"),
    (lambda: randn(2).masked_fill(td.tensor([1, 0]), 0.0), "masked_fill"),
    (lambda: td.where(td.tensor([1, 0]), randn(2), 0.0), "where"),
    (lambda: td.tensor([1, 2]).mean(), "mean"),
])
def test_wrong_dtype_names_the_op(call, op):
    with pytest.raises(TypeError, match=f"^{op}: "):
        call()


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.sum(dim=3), IndexError, "sum: dim 3 is out of range"),
    (lambda x: x.sum(dim=(0, 0)), ValueError, "sum: dim .* twice"),
    (lambda x: x.permute(0, 5), IndexError, "permute: dim 5 is out of range"),
    (lambda x: x.softmax(dim=2), IndexError, "softmax: dim 2 is out of range"),
    (lambda x: x.reshape(2.5, 2), TypeError, "shape must be ints"),
    (lambda x: x.chunk(0), ValueError, "chunk: chunks must be a positive int"),
    (lambda x: x.split([1, 2]), ValueError, "split: sections"),
    (lambda x: x[5], IndexError, "index 5 is invalid for a tensor of shape \\(2, 3\\)"),
    (lambda x: x.gelu("fast"), ValueError, "gelu: approximate must be"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(randn(2, 3))


class WrongDerivative(td.autograd.Function):
    """sin(x) with a deliberately wrong backward: cos(x) + 0.5 only at element 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        wrong = np.cos(x)
        wrong[2] += 0.5
        return grad * wrong


def test_gradcheck_names_the_worst_element():
    x = td.tensor(np.linspace(-1.0, 1.0, 5), requires_grad=True)
    with pytest.raises(td.GradcheckError, match=r"input 0 .*index \(2,\): analytic (\S+) vs numeric (\S+)") as caught:
        td.gradcheck(WrongDerivative.apply, [x])
    analytic, numeric = (float(v) for v in re.search(r"analytic (\S+) vs numeric (\S+)", str(caught.value)).groups())
    # the cotangent c multiplies both; their difference is exactly c * 0.5 at element 2
    assert abs(numeric - analytic) > 1e-3
    assert abs(numeric / np.cos(x.data[2]) - analytic / (np.cos(x.data[2]) + 0.5)) < 1e-6


def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(TypeError, match="float64"):
        td.gradcheck(lambda t: t * 2, [randn(3)])
    with pytest.raises(ValueError, match="no input requires grad"):
        td.gradcheck(lambda t: t * 2, [td.tensor(np.ones(3))])


def test_gradcheck_does_not_pass_nan():
    x = td.tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with pytest.raises(td.GradcheckError):
        td.gradcheck(lambda t: t.sqrt(), [x])   # sqrt(-1) is nan: analytic and numeric both nan
