"""The debugger-first tools: backward_steps / explain, anomaly mode, the graph drawings, and the
Numba kernels running as plain Python under NUMBA_DISABLE_JIT=1 (what lets pdb step into them).

Everything runs on the numpy backend (no compilation) except the NUMBA_DISABLE_JIT subprocess,
which compares the numba twins, run as Python, with the numpy reference.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn as nn
from models.gpt import GPT, GPTConfig

# tests that run the backward of a course-kit topic (scripts/make_assignment.py) carry its marker too
pytestmark = [pytest.mark.debug, pytest.mark.usefixtures("numpy_backend")]

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).name




def next_line() -> int:
    """The line number just after the caller's line: where the op under test is created."""
    return inspect.currentframe().f_back.f_lineno + 1


def graph_nodes(root) -> set[int]:
    """ids of every grad_fn reachable from root, found independently of the library's walkers."""
    seen, stack = set(), [root]
    while stack:
        t = stack.pop()
        if t.grad_fn is not None and id(t.grad_fn) not in seen:
            seen.add(id(t.grad_fn))
            stack.extend(x for x in t.grad_fn.inputs if x is not None)
    return seen


def tiny_gpt() -> GPT:
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16,
                       embd_pdrop=0.1, attn_pdrop=0.1, resid_pdrop=0.1)
    return GPT(config)


# ------------------------------------------------------------------------- backward_steps


def test_steps_follow_the_chain_rule_on_a_small_graph():
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a, b = td.tensor(a_np, requires_grad=True), td.tensor(b_np, requires_grad=True)
    loss = (a * b).sum()
    steps = list(td.autograd.backward_steps(loss, names={"a": a, "b": b}))

    assert [s.name for s in steps] == ["SumBackward", "MulBackward", "AccumulateGrad", "AccumulateGrad"]
    total, product = steps[0], steps[1]
    assert total.grad == 1.0
    np.testing.assert_array_equal(total.input_grads[0], np.ones((2, 3)))
    np.testing.assert_array_equal(product.grad, np.ones((2, 3)))
    # d(a*b)/da = b and d(a*b)/db = a
    np.testing.assert_array_equal(product.input_grads[0], b_np)
    np.testing.assert_array_equal(product.input_grads[1], a_np)
    assert product.input_shapes == [(2, 3), (2, 3)]
    np.testing.assert_allclose(product.input_grad_norms, [np.linalg.norm(b_np), np.linalg.norm(a_np)])
    assert {s.label for s in steps[2:]} == {"a", "b"} and all(s.is_leaf for s in steps[2:])
    np.testing.assert_array_equal(a.grad.numpy(), b_np)
    np.testing.assert_array_equal(b.grad.numpy(), a_np)


def test_exhausting_backward_steps_equals_backward_on_a_gpt():
    td.manual_seed(0)
    model = tiny_gpt()
    idx = td.randint(0, 11, (2, 8))
    targets = td.randint(0, 11, (2, 8))

    td.manual_seed(1)  # the same dropout masks in both passes
    _, loss = model(idx, targets)
    loss.backward()
    expected = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}

    model.zero_grad()
    td.manual_seed(1)
    _, loss = model(idx, targets)
    nodes = graph_nodes(loss)
    steps = list(td.autograd.backward_steps(loss, names=model))

    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), expected[name], err_msg=name)
    assert steps[0].name == "CrossEntropyBackward" and steps[0].grad == 1.0
    op_steps = [s for s in steps if not s.is_leaf]
    assert len(op_steps) == len(nodes)
    names = {s.name for s in op_steps}
    assert {"LayerNormFunctionBackward", "DropoutFunctionBackward", "LinearFunctionBackward",
            "EmbeddingFunctionBackward"} <= names
    # fused nodes, or nanoGPT's lines (GPTConfig.fused=False, a student copy's default)
    assert {"CausalQKVAttentionBackward", "LinearGELUBackward"} <= names or {"SoftmaxBackward", "GELUFunctionBackward"} <= names
    assert {s.label for s in steps if s.is_leaf} == {name for name, _ in model.named_parameters()}
    for step in op_steps:
        for position, grad in step.tensor_input_grads:
            if grad is not None:
                assert grad.shape == step.inputs[position].shape, step
                assert np.all(np.isfinite(grad)), step


def test_stopping_early_leaves_only_what_was_accumulated():
    w = td.tensor([1.0, 2.0], requires_grad=True)
    v = td.tensor([3.0, 4.0], requires_grad=True)
    loss = ((w * 2.0) + v).sum()
    walk = td.autograd.backward_steps(loss)
    for step in walk:
        if step.is_leaf:
            break
    assert sum(t.grad is not None for t in (w, v)) == 1


def test_repr_and_explain_show_names_shapes_and_norms(capsys):
    x = td.tensor(np.full((4, 3), 0.5), requires_grad=True)
    w = td.tensor(np.ones((3, 2)), requires_grad=True)
    loss = (x @ w).sum()
    steps = td.autograd.explain(loss, names={"x": x, "w": w})
    table = capsys.readouterr().out

    matmul = next(s for s in steps if s.name == "MatMulBackward")
    # dL/dx = 1 @ w^T: every entry 2, norm sqrt(12 * 4); dL/dw = x^T @ 1: every entry 2, norm sqrt(6 * 4)
    assert repr(matmul) == ("<step 1 MatMulBackward | grad (4, 2) norm 2.828 | "
                            "-> input 0 (4, 3) norm 6.928, input 1 (3, 2) norm 4.899>")
    assert "AccumulateGrad w" in table and "MatMulBackward" in table
    assert len(table.strip().splitlines()) == len(steps) + 4  # title, header, rule, the rows, the count
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 3), 2.0))


def test_steps_know_where_each_node_was_created():
    layer = nn.Linear(3, 2)
    with td.detect_anomaly():
        line = next_line()
        out = layer(td.randn(4, 3)).relu().sum()
    steps = list(td.autograd.backward_steps(out))
    for step in steps:
        if not step.is_leaf:
            assert step.created_at.endswith(f"{HERE}:{line}"), step
            assert f"{HERE}:{line}" in repr(step)


# ---------------------------------------------------------------------------- anomaly mode


def test_anomaly_mode_names_the_op_and_line_that_made_an_inf():
    x = td.tensor([0.0, 1.0, 4.0], requires_grad=True)
    with td.detect_anomaly():
        line = next_line()
        y = x.sqrt()
        with pytest.raises(RuntimeError) as error:
            (y * 3.0).sum().backward()
    message = str(error.value)
    assert "SqrtBackward" in message and "Inf" in message
    assert f"{HERE}:{line}" in message and "y = x.sqrt()" in message


def test_anomaly_mode_catches_a_nan_in_the_backward_of_an_op_inside_a_module():
    layer = nn.LayerNorm(4)
    with td.detect_anomaly():
        line = next_line()
        normed = layer(td.tensor(np.arange(8.0).reshape(2, 4)))
        # at 0, sqrt is finite and its derivative infinite: the 0 gradient arriving times inf is NaN
        with pytest.raises(RuntimeError, match=rf"SqrtBackward returned NaN(.|\n)*{HERE}:{line + 3}"):
            ((normed * 0.0).sqrt() * 0.0).sum().backward()
    assert layer.weight.grad is None


def test_anomaly_mode_catches_a_nan_in_the_forward_pass():
    x = td.tensor([-1.0, 2.0], requires_grad=True)
    with td.detect_anomaly():
        line = next_line()
        with pytest.raises(RuntimeError, match=rf"Log returned NaN in its forward output(.|\n)*{HERE}:{line + 1}"):
            (x * 2).log().sum()
        masked = (x * 2).masked_fill(td.tensor([True, False]), -np.inf)  # -inf is how masks are written
        assert np.isneginf(masked.numpy()[0])


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.c_fc(x).log()  # the log of a negative: NaN


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.ModuleList([Block(), Block()])

    def forward(self, x):
        return self.h[1](self.h[0](x).exp())


def test_anomaly_mode_names_the_module_path_of_the_node():
    net = Net()
    for block in net.h:
        block.c_fc.weight.data[...] = np.eye(3)
        block.c_fc.bias.data[...] = 0.0
    with td.detect_anomaly():
        out = net(td.tensor([[1.0, 2.0, 3.0]])).sum()
        steps = list(td.autograd.backward_steps(out))
        with pytest.raises(RuntimeError, match=r"Log returned NaN .*created in h\.1 \(Block\)"):
            net.h[1].c_fc.bias.data[...] = -100.0
            net(td.tensor([[1.0, 2.0, 3.0]]))
    paths = {step.module_path for step in steps if not step.is_leaf}
    assert {"h.0.c_fc (Linear)", "h.1.c_fc (Linear)", "h.0 (Block)", "h.1 (Block)"} <= paths, paths
    assert any(step.where.startswith("h.1.c_fc (Linear) ") for step in steps)


def test_explain_prints_each_row_before_a_backward_that_raises(capsys):
    class Broken(td.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("broken backward")

    x = td.tensor(np.ones(3), requires_grad=True)
    loss = (Broken.apply(x) * 2.0).exp().sum()
    with pytest.raises(ValueError, match="broken backward"):
        td.autograd.explain(loss)
    printed = capsys.readouterr().out
    assert all(name in printed for name in ("SumBackward", "ExpBackward", "MulBackward")), printed
    assert "BrokenBackward" not in printed


def test_without_anomaly_mode_the_inf_passes_and_nothing_is_recorded():
    x = td.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt()
    assert y.grad_fn.created_at is None
    y.sum().backward()
    assert np.isinf(x.grad.numpy()[0])


def test_anomaly_mode_points_to_the_forward_when_it_ran_outside():
    x = td.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()
    with td.detect_anomaly(), pytest.raises(RuntimeError, match="created outside td.detect_anomaly"):
        y.backward()


def test_anomaly_mode_restores_the_previous_mode_and_nests():
    assert not td.is_anomaly_enabled()
    with pytest.raises(ValueError):
        with td.detect_anomaly():
            with td.detect_anomaly():
                pass
            assert td.is_anomaly_enabled()
            raise ValueError("leaving by an exception")
    assert not td.is_anomaly_enabled()


# ----------------------------------------------------------------------------------- viz


def small_graph():
    layer = nn.Linear(3, 2)
    x = td.randn(4, 3)
    h = layer(x).tanh()
    return layer, (h * h).sum()


def test_to_dot_lists_every_node_and_edge():
    layer, loss = small_graph()
    loss.backward(retain_graph=True)
    source = td.viz.to_dot(loss, names=layer, show_values=True, show_grads=True)
    node_lines = [line for line in source.splitlines() if "[label=" in line]
    edge_lines = [line for line in source.splitlines() if "->" in line]
    # tensors: x, weight, bias, linear, tanh, mul, sum; edges: 3 into linear, 1, 2 (h used twice), 1
    assert len(node_lines) == 7 and len(edge_lines) == 7
    for label in ("LinearFunctionBackward (4, 2)", "TanhFunctionBackward (4, 2)", "MulBackward (4, 2)", "SumBackward ()",
                  "weight (2, 3)", "bias (2,)", "no grad (4, 3)"):
        assert any(label in line for line in node_lines), label
    weight_line = next(line for line in node_lines if "weight (2, 3)" in line)
    assert "value [[" in weight_line and "grad [[" in weight_line
    if td.viz.shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=source, text=True, check=True, capture_output=True)


def test_draw_without_graphviz_writes_dot_and_says_how_to_render(tmp_path, monkeypatch, capsys):
    _, loss = small_graph()
    monkeypatch.setattr(td.viz.shutil, "which", lambda name: None)
    written = td.viz.draw(loss, tmp_path / "graph.svg")
    assert written == tmp_path / "graph.dot" and written.read_text() == td.viz.to_dot(loss)
    assert f"dot -Tsvg {written}" in capsys.readouterr().out
    with pytest.raises(ValueError, match="suffix"):
        td.viz.draw(loss, tmp_path / "graph.txt")


@pytest.mark.skipif(not td.viz.shutil.which("dot"), reason="Graphviz's dot program is not installed")
def test_draw_renders_svg_with_graphviz(tmp_path):
    _, loss = small_graph()
    written = td.viz.draw(loss, tmp_path / "graph.svg")
    assert written == tmp_path / "graph.svg"
    assert "<svg" in written.read_text() and "SumBackward" in written.read_text()


def test_tree_prints_shared_inputs_once():
    layer, loss = small_graph()
    text = td.viz.tree(loss, names=layer)
    assert text.splitlines() == [
        "SumBackward ()",
        "└── MulBackward (4, 2)",
        "    ├── TanhFunctionBackward (4, 2)",
        "    │   └── LinearFunctionBackward (4, 2)",
        "    │       ├── no grad (4, 3)",
        "    │       ├── weight (2, 3)",
        "    │       └── bias (2,)",
        "    └── TanhFunctionBackward (4, 2)  (see above)",
    ]


def test_graph_tools_handle_a_10000_op_chain():
    x = td.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    assert td.viz.to_dot(y).count("[label=") == 10_001
    lines = td.viz.tree(y, max_depth=3).splitlines()
    assert len(lines) == 3 and "max_depth" in lines[-1]
    with pytest.raises(ValueError, match="max_depth"):
        td.viz.tree(y, max_depth=0)
    with pytest.raises(TypeError, match="expected a Tensor"):
        td.viz.to_dot(np.ones(3))


# -------------------------------------------------------------- numba kernels as plain Python

DISABLED_JIT_SCRIPT = textwrap.dedent("""
    import numba
    import numpy as np
    import tinygrad_drop as td
    from models.gpt import GPT, GPTConfig

    def run(backend):
        td.set_backend(backend)
        td.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=2, n_embd=8,
                              embd_pdrop=0.2, attn_pdrop=0.2, resid_pdrop=0.2))
        idx, targets = td.randint(0, 7, (2, 4)), td.randint(0, 7, (2, 4))
        _, loss = model(idx, targets)
        loss.backward()
        # one AdamW step on a parameter with well-scaled gradients (Adam divides by sqrt(v), which
        # would magnify rounding differences in the model's near-zero gradients)
        weight = td.nn.Parameter(td.randn(3, 5))
        weight.grad = td.randn(3, 5)
        td.optim.AdamW([weight], lr=1e-2).step()
        return [loss.numpy(), weight.numpy()] + [p.grad.numpy() for p in model.parameters()]

    assert numba.config.DISABLE_JIT, "the @njit kernels must run as plain Python here"
    numba_as_python, reference = run("numba"), run("numpy")
    for a, b in zip(numba_as_python, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("agree on", len(reference), "arrays")
""")


def test_numba_kernels_run_as_plain_python_under_numba_disable_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env.pop("TINYGRAD_DROP_BACKEND", None)
    result = subprocess.run([sys.executable, "-c", DISABLED_JIT_SCRIPT], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "agree on" in result.stdout
