"""0-d and empty tensors through every op (issue 22): the values, shapes and gradients PyTorch
gives, on both backends; first the cases that used to fail, then the whole op table of
tests/test_ops_torch.py with its inputs emptied or made 0-d."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from test_ops_torch import CASES as OP_TABLE

CASES = {
    "gelu of a 0-d tensor": ((), lambda x, lib: lib.gelu(x)),
    "softmax of a 0-d tensor": ((), lambda x, lib: x.softmax(0)),
    "log_softmax of a 0-d tensor": ((), lambda x, lib: x.log_softmax(-1)),
    "sum over dim 0 of a 0-d tensor": ((), lambda x, lib: x.sum(dim=0)),
    "mean over dim -1 of a 0-d tensor, keepdim": ((), lambda x, lib: x.mean(dim=-1, keepdim=True)),
    "max over dim 0 of a 0-d tensor": ((), lambda x, lib: x.max(dim=0)[0]),
    "softmax over an empty last dim": ((3, 0), lambda x, lib: x.softmax(-1)),
    "log_softmax over an empty last dim": ((3, 0), lambda x, lib: x.log_softmax(-1)),
    "softmax of no rows": ((0, 4), lambda x, lib: x.softmax(-1)),
    "layer_norm over an empty dim": ((3, 0), lambda x, lib: lib.layer_norm(x, (0,))),
    "layer_norm of no rows": ((0, 5), lambda x, lib: lib.layer_norm(x, (5,))),
}


def test_embedding_of_no_indices(backend):
    torch = pytest.importorskip("torch")
    table = np.random.default_rng(1).standard_normal((5, 3))
    ours_w, theirs_w = td.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True)
    ours = F.embedding(np.zeros((2, 0), np.int64), ours_w)
    theirs = torch.nn.functional.embedding(torch.zeros((2, 0), dtype=torch.int64), theirs_w)
    assert ours.shape == tuple(theirs.shape) == (2, 0, 3)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(ours_w.grad.numpy(), theirs_w.grad.numpy())


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_pytorch(case, backend):
    torch = pytest.importorskip("torch")
    shape, fn = CASES[case]
    data = np.random.default_rng(0).standard_normal(shape)
    ours_x, theirs_x = td.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    ours, theirs = fn(ours_x, F), fn(theirs_x, torch.nn.functional)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    ours.sum().backward()
    theirs.sum().backward()
    assert ours_x.grad.shape == tuple(theirs_x.grad.shape)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_dropout_of_a_0d_tensor_keeps_its_shape_and_masks_its_gradient(backend):
    td.manual_seed(3)
    x = td.tensor(2.0, dtype=np.float64, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.backward()
    assert y.shape == () and x.grad.shape == ()
    assert (y.item(), x.grad.item()) in ((4.0, 2.0), (0.0, 0.0))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_with_no_queries(backend, causal):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(shape) for shape in ((2, 0, 4), (2, 3, 4), (2, 3, 5))]
    ours = [td.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_out = F.scaled_dot_product_attention(*ours, is_causal=causal)
    theirs_out = torch.nn.functional.scaled_dot_product_attention(*theirs, is_causal=causal)
    assert ours_out.shape == tuple(theirs_out.shape) == (2, 0, 5)
    ours_out.sum().backward()
    theirs_out.sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine.grad.numpy(), reference.grad.numpy())


def empty_and_zero_dim_variants(shapes: list) -> dict:
    """The op table's inputs with the first (batch) axis of the inputs of highest rank emptied
    (lower-rank ones, such as a mask, broadcast against them), and, for one-input cases, as a 0-d
    tensor: PyTorch decides which of them an op takes."""
    rank = max(len(shape) for shape in shapes)
    variants = {"empty": [(0,) + tuple(shape[1:]) if len(shape) == rank else shape for shape in shapes]}
    if len(shapes) == 1:
        variants["0-d"] = [()]
    return variants


TABLE = [pytest.param(fn, variant, shapes, id=f"{name}-{variant}")
         for name, fn, table_shapes in OP_TABLE
         for variant, shapes in empty_and_zero_dim_variants(table_shapes).items()]


def forward_and_grads(lib, F, fn, arrays: list[np.ndarray]):
    """Outputs, and the gradients of their sum (zeros where none flows: PyTorch leaves the .grad
    of an empty input that nothing reaches at None)."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, F, *inputs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    sum(out.sum() for out in outs).backward()
    grads = [np.zeros(a.shape) if t.grad is None else t.grad.detach().numpy() for a, t in zip(arrays, inputs)]
    return [o.detach().numpy() for o in outs], grads


# PyTorch warns that an empty var has no degrees of freedom, and ours that its mean is of nothing
@pytest.mark.filterwarnings("ignore:var.*degrees of freedom", "ignore:Mean of empty slice",
                            "ignore:invalid value encountered", "ignore:Tensor.T is deprecated")
@pytest.mark.parametrize("fn, variant, shapes", TABLE)
def test_every_op_of_the_table_takes_what_pytorch_takes(fn, variant, shapes, backend):
    """Each op of tests/test_ops_torch.py on empty and 0-d inputs: where PyTorch computes a result,
    ours has its shapes, values and gradients; where PyTorch refuses, so must we (any clear error)."""
    torch = pytest.importorskip("torch")
    arrays = [np.random.default_rng(0).uniform(0.5, 2.0, shape) for shape in shapes]
    try:
        theirs = forward_and_grads(torch, torch.nn.functional, fn, arrays)
    except (RuntimeError, IndexError, ValueError, TypeError) as refused:
        with pytest.raises((RuntimeError, IndexError, ValueError, TypeError)):
            forward_and_grads(td, F, fn, arrays)
        return
    ours = forward_and_grads(td, F, fn, arrays)
    for our_arrays, their_arrays in zip(ours, theirs):
        assert [a.shape for a in our_arrays] == [b.shape for b in their_arrays]
        for actual, expected in zip(our_arrays, their_arrays):
            np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)
