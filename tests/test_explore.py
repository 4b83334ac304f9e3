"""td.viz.explore without a browser: what the page will show is what the engine computed.

Each test builds the same graph twice from one seed: once for explore, once for the engine's own
`backward_steps`, and compares the two (order, gradients, masks, leaves' .grad)."""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.nn as nn
import tinygrad_drop.nn.functional as F
from models.gpt import GPT, GPTConfig
from models.mlp import MLP

pytestmark = pytest.mark.debug
ROOT = Path(__file__).resolve().parents[1]


def cells(picture: dict) -> np.ndarray:
    values = np.frombuffer(base64.b64decode(picture["cells"]), dtype=np.float32)
    return values.reshape(picture["rows"], picture["cols"])


def sampled(array: np.ndarray, picture: dict) -> np.ndarray:
    """The elements of `array` the picture shows (its matrix view's kept rows and columns)."""
    matrix = np.asarray(array).reshape(-1, array.shape[-1]) if array.ndim else np.asarray(array).reshape(1, 1)
    return matrix[np.ix_(picture["rowIndex"], picture["colIndex"])]


def mlp_and_loss(seed: int = 0):
    td.manual_seed(seed)
    model = MLP(6, [12], 4, dropout=0.5)
    x, y = td.randn(8, 6), np.arange(8) % 4
    return model, lambda: F.cross_entropy(model(x), y)


def small_gpt(seed: int = 0, fused: bool = False):
    td.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=16, block_size=4, n_layer=1, n_head=2, n_embd=8, embd_pdrop=0.2,
                          attn_pdrop=0.2, resid_pdrop=0.2, fused=fused))
    idx = np.random.default_rng(seed).integers(0, 16, (2, 4))
    return model, lambda: model(idx, idx)[1]


def test_the_steps_are_the_engines_in_order_with_its_gradients():
    model, make_loss = mlp_and_loss()
    explorer = td.viz.explore(make_loss, names=model)
    twin, twin_loss = mlp_and_loss()
    engine = list(td.autograd.backward_steps(twin_loss()))
    nodes, steps = explorer.data["nodes"], explorer.data["steps"]
    assert [s["name"] for s in steps] == [s.name for s in engine]
    for shown, step in zip(steps, engine):
        node = nodes[shown["node"]]
        assert tuple(node["shape"]) == step.tensor.shape
        np.testing.assert_allclose(cells(shown["grad"]), sampled(step.grad, shown["grad"]), rtol=1e-6, atol=1e-7)
        passed = [g for _, g in step.tensor_input_grads if g is not None]
        assert len(shown["outs"]) == len(passed)
        for out, g in zip(shown["outs"], passed):
            np.testing.assert_allclose(cells(out["grad"]), sampled(g, out["grad"]), rtol=1e-6, atol=1e-7)
    # explore ran the backward pass: the leaves hold what loss.backward() gives
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, err_msg=name)


def test_a_dropout_node_shows_its_forward_mask_and_passes_zero_where_it_dropped():
    model, make_loss = mlp_and_loss()
    explorer = td.viz.explore(make_loss, names=model)
    layer = model.net[2]
    (dropout,) = [n for n in explorer.data["nodes"] if "dropout" in n]
    mask = np.array([bit == "1" for bit in dropout["dropout"]["mask"]]).reshape(8, 12)
    assert np.array_equal(mask, layer.mask) and not mask.all() and mask.any()
    assert dropout["dropout"]["p"] == 0.5 and dropout["dropout"]["scale"] == 2.0
    assert dropout["module"] == "net.2"
    (step,) = [s for s in explorer.data["steps"] if s["node"] == dropout["id"]]
    passed = cells(step["outs"][0]["grad"])
    assert np.all(passed[~mask] == 0) and np.all(passed[mask] != 0)


def test_every_node_is_gradchecked_and_a_wrong_backward_fails():
    model, make_loss = mlp_and_loss()
    nodes = td.viz.explore(make_loss, names=model).data["nodes"]
    checks = [n["check"] for n in nodes if n["kind"] == "op"]
    assert checks and all(c["ok"] for c in checks), checks

    class WrongSquare(td.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2x

    x = td.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    nodes = td.viz.explore(lambda: WrongSquare.apply(x).sum()).data["nodes"]
    (wrong,) = [n for n in nodes if n["op"] == "WrongSquareBackward"]
    assert wrong["check"]["ok"] is False
    assert wrong["check"]["numeric"] == pytest.approx(2 * wrong["check"]["analytic"], rel=1e-4)


def test_a_built_loss_is_shown_as_it_is_and_says_how_to_get_the_lectures_nodes():
    model, make_loss = small_gpt(fused=True)
    data = td.viz.explore(make_loss(), names=model).data
    ops = {n["op"] for n in data["nodes"]}
    assert "CausalQKVAttentionBackward" in ops and "fused=False" in data["fusedNote"]
    assert all("check" not in n for n in data["nodes"])  # its op calls were not recorded
    # named after parameters, grouped by module from the parameter names
    assert any(n["name"] == "transformer.h.0.attn.c_attn.weight" for n in data["nodes"])
    assert any(n["op"] == "CausalQKVAttentionBackward" and n["module"] == "transformer.h.0.attn.c_attn"
               for n in data["nodes"])


def test_a_loss_function_is_run_with_the_lectures_nodes_and_the_switches_put_back():
    model, make_loss = small_gpt(fused=True)
    data = td.viz.explore(make_loss, names=model).data
    ops = {n["op"] for n in data["nodes"]}
    # the lecture's attention: q k^T, scale, causal mask, softmax, dropout, @ v, a node each
    assert {"MatMulBackward", "MaskedFillBackward", "SoftmaxBackward", "GELUFunctionBackward",
            "DropoutFunctionBackward"} <= ops
    assert not ops & {"CausalQKVAttentionBackward", "LinearGELUBackward", "LinearDropoutBackward",
                      "ScaledDotProductAttentionBackward"}
    assert data["fusedNote"] is None
    assert all(m.fused for m in model.modules() if hasattr(m, "fused"))
    modules = {n["op"]: n["module"] for n in data["nodes"] if n["kind"] == "op"}
    assert modules["SoftmaxBackward"] == "transformer.h.0.attn"
    assert modules["GELUFunctionBackward"] == "transformer.h.0.mlp.gelu"
    assert sum("dropout" in n for n in data["nodes"]) == 4  # embeddings, attention, both residual branches
    fused = td.viz.explore(make_loss, names=model, fused=True).data
    assert "LinearGELUBackward" in {n["op"] for n in fused["nodes"]}
    (attention,) = [n for n in fused["nodes"] if n["op"] == "CausalQKVAttentionBackward"]
    mask = np.array(list(attention["attention"]["mask"])).reshape(2 * 2 * 4, 4)
    weights = cells(attention["attention"]["weights"])
    assert (mask == "0").any() and (mask == "1").any()
    assert (mask[np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == "2").all()  # causal: no future keys
    assert (weights[mask != "1"] == 0).all() and (weights[mask == "1"] > 0).all()


def test_the_page_is_one_file_that_needs_no_network_and_stays_small():
    model, make_loss = small_gpt()
    explorer = td.viz.explore(make_loss, names=model)
    page = explorer.html
    assert "/*DATA*/" not in page and "/*SCRIPT*/" not in page and "/*STYLE*/" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "<script src" not in page
    assert len(page) < 1_000_000
    notebook = explorer._repr_html_()
    assert notebook.startswith("<iframe srcdoc=") and "&lt;script&gt;" not in notebook[:40]
    assert repr(explorer).startswith("<Explorer: ")


def test_bad_input_gets_one_clear_error(tmp_path):
    x = td.randn(3, 2)
    with pytest.raises(ValueError, match="does not require grad"):
        td.viz.explore(x.sum())
    w = td.randn(3, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"scalar, got shape \(3, 2\).*\.sum\(\)"):
        td.viz.explore(w * 2)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(ValueError, match="already freed by backward"):
        td.viz.explore(loss)
    with pytest.raises(TypeError, match="expected the loss"):
        td.viz.explore(np.ones(()))
    model, make_loss = small_gpt()
    with pytest.raises(TypeError, match=r"returned a tuple.*\[1\]"):
        td.viz.explore(lambda: model(np.zeros((1, 2), dtype=np.int64), np.zeros((1, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"more than max_nodes=10.*max_nodes=\d+"):
        td.viz.explore(make_loss, names=model, max_nodes=10)
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        td.viz.explore(make_loss, max_nodes=0)
    assert not (tmp_path / "page.html").exists()


def test_nan_and_inf_reach_the_page_as_a_failed_check_not_a_broken_page():
    x = td.tensor([-1.0, 2.0], requires_grad=True)
    data = td.viz.explore(lambda: x.log().sum()).data
    (log,) = [n for n in data["nodes"] if n["op"] == "LogBackward"]
    assert log["value"]["stats"]["nonfinite"] == 1 and log["check"]["ok"] is False


def test_a_large_graph_opens_collapsed_when_its_limit_is_raised():
    x = td.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(200):
        y = y * 1.0
    data = td.viz.explore(y.sum(), max_nodes=300).data
    assert data["startCollapsed"] and len(data["steps"]) == 202


def test_draw_without_a_path_gives_a_graph_that_draws_itself(monkeypatch):
    layer = nn.Linear(3, 2)
    loss = layer(td.randn(4, 3)).tanh().sum()
    graph = td.viz.draw(loss, names=layer)
    assert graph.dot == td.viz.to_dot(loss, names=layer)
    monkeypatch.setattr(td.viz.shutil, "which", lambda name: None)  # no Graphviz: our own layout
    svg = graph._repr_svg_()
    assert svg.startswith("<svg") and svg.count('<g class="node">') == 6 and svg.count('class="edge"') == 5
    assert "weight" in svg and "TanhFunctionBackward" in svg
    model, make_loss = small_gpt(fused=True)
    assert "LinearGELUBackward" not in td.viz.draw(make_loss, names=model).dot  # the lecture's nodes


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "explore.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_script_writes_the_page_for_a_users_loss_and_refuses_bad_input_in_one_line(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("import tinygrad_drop as td\nimport tinygrad_drop.nn as nn\n"
                    "model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))\n"
                    "x = td.randn(5, 3)\n"
                    "def loss():\n    return model(x).mean()\n")
    done = run_script("--script", str(mine), "--out", "mine.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote mine.html" in done.stdout and "DropoutFunctionBackward" in (tmp_path / "mine.html").read_text()
    (tmp_path / "empty.py").write_text("x = 1\n")
    refused = run_script("--script", "empty.py", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error: --script empty.py defines no `loss`")
    assert len(refused.stderr.splitlines()) == 1
    too_big = run_script("--model", "gpt", "--max-nodes", "5", cwd=tmp_path)
    assert too_big.returncode == 2 and "more than --max-nodes 5" in too_big.stderr
