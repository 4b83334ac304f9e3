"""In-place writes and PyTorch's version counter (issue 22, item 2; issue 18's __setitem__).

Every tensor counts its in-place writes (`x[i] = v`, copy_, zero_, fill_, add_, mul_, normal_,
uniform_, optimizer steps, initializers). A recorded op that saved a tensor for backward
remembers the version it saw; if the tensor was written since, backward raises PyTorch's
RuntimeError instead of computing the gradient from the new values. Without the check each
scenario below returns a silently wrong gradient: zeros for a zeroed input, the stepped weights'
gradient after an optimizer step. Each scenario runs on both backends and, where PyTorch is
installed, is checked to raise there too.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F

MODIFIED = "modified by an inplace operation"


def input_zeroed_after_matmul(lib):
    w = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = lib.tensor([[1.0, 1.0]])
    loss = (x @ w).sum()
    x.zero_()                      # a gradient from the zeroed x would be all zeros
    return loss, w


def input_written_by_setitem(lib):
    w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = lib.tensor([1.0, 1.0, 1.0])
    loss = (x * w).sum()
    x[1] = 5.0
    return loss, w


def output_scaled_under_no_grad(lib):
    x = lib.tensor([0.5, -0.5], requires_grad=True)
    y = x.tanh()                   # tanh's backward reads its output y
    with lib.no_grad():
        y.mul_(2.0)
    return y.sum(), x


def activation_copied_over(lib):
    w = lib.tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    h = (lib.tensor([[1.0, 2.0]]) @ w).exp()
    loss = (h * h).sum()
    with lib.no_grad():
        h.copy_(lib.tensor([[0.0, 0.0]]))
    return loss, w


def optimizer_step_before_second_backward(lib):
    w1 = lib.tensor([[1.0, -2.0], [0.5, 1.5]], requires_grad=True)
    w2 = lib.tensor([[0.3], [-0.7]], requires_grad=True)
    hidden = (lib.tensor([[1.0, 2.0]]) @ w1).tanh()
    loss = (hidden @ w2).sum()          # w2 is saved: hidden's gradient is grad @ w2.T
    loss.backward(retain_graph=True)
    lib.optim.SGD([w1, w2], lr=0.1).step()   # the second backward would use the stepped weights
    return loss, w2


def adamw_step_before_second_backward(lib):
    w = lib.tensor([[1.0, -2.0], [0.5, 1.5]], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    lib.optim.AdamW([w], lr=0.1).step()
    return loss, w


SCENARIOS = [input_zeroed_after_matmul, input_written_by_setitem, output_scaled_under_no_grad,
             activation_copied_over, optimizer_step_before_second_backward, adamw_step_before_second_backward]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_backward_after_an_inplace_write_raises_as_pytorch(scenario, backend):
    loss, _ = scenario(td)
    with pytest.raises(RuntimeError, match=MODIFIED) as error:
        loss.backward()
    message = str(error.value)
    assert "is at version" in message and "expected version" in message and "Backward" in message
    assert "detect_anomaly" in message


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_pytorch_raises_in_the_same_scenarios(scenario):
    torch = pytest.importorskip("torch")
    loss, _ = scenario(torch)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_the_message_names_the_op_the_shape_and_both_versions():
    x = td.tensor([[0.5, -0.5, 1.0]], requires_grad=True)
    y = x.tanh()
    with td.no_grad():
        y.mul_(2.0)
        y.add_(1.0)
    with pytest.raises(RuntimeError) as error:
        y.sum().backward()
    assert ("[float32 tensor of shape (1, 3)], which is output 0 of TanhFunctionBackward, is at version 2; "
            "expected version 0 instead") in str(error.value)


def test_under_detect_anomaly_the_message_names_the_line():
    with td.detect_anomaly():
        w = td.tensor([1.0, 2.0], requires_grad=True)
        x = td.tensor([3.0, 4.0])
        loss = (x * w).sum()  # the line the hint points at
    x.fill_(0.0)
    with pytest.raises(RuntimeError, match="the line the hint points at"):
        loss.backward()


def test_writes_into_what_no_op_saved_pass_as_in_pytorch(backend):
    w = td.tensor([1.0, 2.0], requires_grad=True)
    x = td.tensor([3.0, 4.0])
    loss = (x + w).sum()             # Add saves nothing: its gradient does not depend on x
    x.add_(1.0)
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_backward_before_the_write_is_unaffected(backend):
    w = td.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = td.tensor([[1.0, 1.0]])
    (x @ w).sum().backward()
    x.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), [[1.0, 1.0], [1.0, 1.0]])


def test_a_training_step_with_the_librarys_own_inplace_kernels_does_not_trip(backend):
    # fused bias add, dropout applied in place inside kernels, GELU over the product in place,
    # AdamW updating the weights in place: none of them is a user's in-place write
    from models.gpt import GPT, GPTConfig
    td.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, embd_pdrop=0.1,
                       attn_pdrop=0.1, resid_pdrop=0.1)
    model = GPT(config)
    optimizer = td.optim.AdamW(model.parameters(), lr=1e-2)
    idx = td.randint(0, 11, (2, 8))
    initialized = [p._version for p in model.parameters()]
    for _ in range(2):
        _, loss = model(idx, idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    # one count per optimizer step
    assert [p._version for p in model.parameters()] == [v + 2 for v in initialized]


def test_each_inplace_write_counts_once():
    x = td.zeros(4)
    x[0] = 1.0
    x.copy_(td.ones(4))
    x.zero_()
    x.fill_(2.0)
    x.add_(1.0)
    x.sub_(1.0, alpha=2)
    x.mul_(3.0)
    x.div_(3.0)
    x.normal_()
    x.uniform_()
    x.masked_fill_(np.array([True, False, False, False]), 0.0)
    x.clamp_(min=0.0)
    td.nn.init.normal_(x)
    assert x._version == 13


def test_writing_into_a_leaf_that_requires_grad_needs_no_grad():
    w = td.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.zero_()
    with td.no_grad():                 # nanoGPT-style weight surgery
        w[0] = 1.0
        w.copy_(w * 2)
        w.normal_(0.0, 0.02)
        w.uniform_(-0.1, 0.1)
        w.fill_(0.5)
    np.testing.assert_array_equal(w.numpy(), 0.5)
    assert w.requires_grad and w.is_leaf


def test_writing_into_or_from_the_recorded_graph_is_a_clear_error():
    x = td.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="in-place writes that autograd would have to record"):
        y[0] = 0.0
    buffer = td.zeros(3)
    with pytest.raises(RuntimeError, match="td.stack"):
        buffer[0] = y[0]


def test_augmented_assignment_is_in_place_outside_the_graph_and_a_new_node_inside():
    x = td.zeros(3)
    alias = x
    x += 1.0
    assert x is alias and x._version == 1
    w = td.ones(3, requires_grad=True)
    h = w * 2
    h += w                              # an intermediate: PyTorch records it; here a new node
    h.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 3.0)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1.0
    with td.no_grad():
        w -= 0.5                        # the manual SGD step of a lecture
    np.testing.assert_array_equal(w.numpy(), 0.5)


def test_setitem_follows_pytorch(backend):
    torch = pytest.importorskip("torch")
    cases = [(1, 7.0), (slice(1, 3), -1.0), ((slice(None), 0), 2.5), (np.array([1, 0]), 9.0),
             (np.array([[True, False, True], [False, True, False]]), 4.0), ((0, slice(None)), [1.0, 2.0, 3.0])]
    for index, value in cases:
        ours, theirs = td.tensor(np.arange(6.0).reshape(2, 3)), torch.arange(6.0).reshape(2, 3)
        ours[td.tensor(index) if isinstance(index, np.ndarray) else index] = value
        theirs[torch.from_numpy(index) if isinstance(index, np.ndarray) else index] = torch.tensor(value)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=str(index))
    ours = td.zeros(2, 3)
    ours[:, 1] = td.tensor([5.0, 6.0])
    np.testing.assert_array_equal(ours.numpy(), [[0, 5, 0], [0, 6, 0]])


def test_setitem_bad_input_is_one_clear_error():
    x = td.zeros(2, 3)
    with pytest.raises(ValueError, match=r"__setitem__: cannot write a value of shape \(4,\)"):
        x[0] = td.zeros(4)
    with pytest.raises(IndexError, match="__setitem__"):
        x[5] = 1.0
    with pytest.raises(TypeError, match="mul_: cannot write a value of shape \\(\\) and dtype float64 into a tensor"):
        td.zeros(3, dtype=td.int64).mul_(0.5)
    y = td.ones(3).expand(2, 3)        # a broadcast view: numpy cannot write into it
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0] = 2.0


def test_cross_entropy_target_rewritten_after_forward_cannot_reach_the_kernel(backend):
    logits = td.randn(4, 10, requires_grad=True)
    target = td.tensor([1, 2, 3, 4])
    loss = F.cross_entropy(logits, target)
    target[0] = 10 ** 8                # the forward checked the targets; backward reads its own copy
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()
