"""`td.viz.explore`: the backward pass of a real graph as one page to step through in a browser.

    td.viz.explore(loss, "backprop.html", names=model)              # a loss you computed
    td.viz.explore(lambda: model(x, y)[1], "backprop.html", names=model)  # the lecture's nodes

Everything the page shows is computed here, before the page exists: the graph and each tensor's
value (read before backward, which frees a node's buffers), each dropout node's mask (redrawn from
its key), each node's gradcheck (when the loss comes as a function, which records how each op was
called), then the backward pass itself, one `td.autograd.backward_steps` step at a time. The page
(`page/`: HTML, CSS and JS inlined into one file, no network) only draws it.

Calling explore runs the backward pass: the leaves' .grad hold the result afterwards, as after
loss.backward().
"""
from __future__ import annotations

import html
import inspect
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..autograd.debug import LEAF_STEP, backward_steps, tensor_names
from ..nn.functional import dropout_mask_of
from ..tensor import Tensor
from .dot import graph_of
from .layout import layered_layout
from .node_check import check_node
from .pictures import Grid
from .record import OpCall, run_recording

MAX_NODES = 1000           # more and a browser draws the graph slowly: the user raises it knowingly
COLLAPSE_FROM = 120        # graphs with more nodes open with their module groups collapsed
PAGE = Path(__file__).with_name("page")
DROPOUT_OPS = ("DropoutFunction", "LinearDropout")
ATTENTION_OPS = ("ScaledDotProductAttention", "CausalQKVAttention")


class Explorer:
    """The page for one backward pass: `html` (one self-contained file), `data` (what it shows),
    `save(path)`; in a notebook it displays itself (`_repr_html_`)."""

    def __init__(self, data: dict):
        self.data = data
        self.html = render_page(data)

    def save(self, path: str | Path) -> Path:
        """Write the page to `path` (a .html file) and return the path."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's script and styles apart from the notebook's
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width:100%;height:720px;border:1px solid #ccc"></iframe>')

    def __repr__(self) -> str:
        return f"<Explorer: {len(self.data['nodes'])} nodes, {len(self.data['steps'])} backward steps>"


def explore(loss: Tensor | Callable[[], Tensor], path: str | Path | None = None, names: Any = None, *,
            fused: bool = False, retain_graph: bool = False, max_nodes: int = MAX_NODES,
            gradcheck: bool = True, title: str | None = None) -> Explorer:
    """Build the page that walks `loss`'s backward pass node by node; write it to `path` if given.

    loss: the scalar loss, or a function of no arguments returning it. A function is called here
        with the `fused` switches of `names`' modules set to `fused` (False: the lecture's nodes)
        and lets every node be gradchecked; a tensor is shown as it was built.
    names: a Module (or name -> tensor pairs) naming the parameters and grouping nodes by module.
    max_nodes: refuse larger graphs (a clear error) rather than hang a browser; raise it knowingly.
    retain_graph: passed to the backward pass, which explore runs (leaves' .grad hold the result).
    gradcheck: check each node alone (needs `loss` as a function); title: the page's heading.
    Returns the Explorer."""
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"explore: max_nodes must be a positive int, got {max_nodes!r}")
    root, calls = loss_and_calls(loss, names, fused)
    check_root(root)
    order, edges = graph_of(root)
    if len(order) > max_nodes:
        raise ValueError(
            f"explore: the graph has {len(order)} nodes, more than max_nodes={max_nodes}, which a browser "
            f"would draw slowly. Pass max_nodes={len(order)} to draw it anyway (the page opens with its "
            "module groups collapsed), or explore a smaller model (fewer layers, a smaller batch does not "
            "change the node count) or one part of it (the loss of one block's output).")
    data = describe_graph(order, edges, names, calls, gradcheck)
    data["steps"] = walk(root, order, data, retain_graph)
    data["title"] = title or f"backward of a loss of shape {tuple(root.shape)}"
    data["fusedNote"] = fused_note(order, calls)
    explorer = Explorer(data)
    if path is not None:
        explorer.save(path)
    return explorer


def loss_and_calls(loss: Any, names: Any, fused: bool) -> tuple[Any, dict[int, OpCall]]:
    """The loss tensor, and how each op was called when `loss` is a function that computes it."""
    if isinstance(loss, Tensor) or not callable(loss):
        return loss, {}
    result, calls = run_recording(loss, names, fused)
    if not isinstance(result, Tensor):
        raise TypeError(f"explore: the function returned a {type(result).__name__}, not the loss; make it "
                        "return the loss tensor alone, e.g. lambda: model(x, y)[1] for a model returning "
                        "(logits, loss)")
    return result, calls


def check_root(root: Any) -> None:
    """A clear error for each loss explore cannot walk."""
    if not isinstance(root, Tensor):
        raise TypeError(f"explore: expected the loss (a Tensor) or a function of no arguments returning it, "
                        f"got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError("explore: the loss does not require grad, so there is no backward pass to walk; "
                         "compute it from parameters (or tensors made with requires_grad=True), outside "
                         "td.no_grad()")
    if root.data.size != 1:
        raise ValueError(f"explore: the loss must be a scalar, got shape {tuple(root.shape)}; reduce it first "
                         "(.sum() or .mean()), as loss.backward() needs")
    if root.grad_fn is not None and root.grad_fn.released:
        raise ValueError("explore: this graph was already freed by backward(); compute the loss again (or pass "
                         "a function that computes it), or call backward(retain_graph=True) before exploring")


def describe_graph(order: list[Tensor], edges: list[tuple[Tensor, Tensor]], names: Any,
                   calls: dict[int, OpCall], gradcheck: bool) -> dict:
    """Nodes (values, masks, rules, checks), edges and layout, all read before backward."""
    labels = tensor_names(names)
    index = {id(t): i for i, t in enumerate(order)}
    nodes, rules = [], {}
    for i, t in enumerate(order):
        node = t.grad_fn
        call = calls.get(id(node)) if node is not None else None
        grid = Grid.for_shape(t.shape)
        entry = {"id": i, "shape": list(t.shape), "dtype": str(t.data.dtype), "value": grid.picture(t.data),
                 "module": call.module if call else None}
        if node is None:
            entry.update(kind="param" if t.requires_grad else "const",
                         op=labels.get(id(t), "input" if t.requires_grad else "no grad"))
            entry["name"] = labels.get(id(t))
        else:
            name = node.function.__name__
            entry.update(kind="op", op=node.name, function=name, name=None)
            rules.setdefault(name, rule_of(node.function))
            if name in DROPOUT_OPS and getattr(node, "key", None) is not None:
                entry["dropout"] = {"p": float(node.p), "scale": float(node.scale),
                                    "mask": grid.bits(dropout_mask_of(node.key, t.shape, node.p))}
            if name in ATTENTION_OPS:
                entry["attention"] = attention_weights(node)
            if gradcheck and call is not None:
                entry["check"] = check_node(call, seed=i)
        nodes.append(entry)
    infer_modules(nodes, edges, index)
    edge_list = [{"from": index[id(a)], "to": index[id(b)]} for a, b in edges]
    layout = layered_layout(len(order), [(e["from"], e["to"]) for e in edge_list])
    return {"nodes": nodes, "edges": edge_list, "rules": rules, "startCollapsed": len(order) > COLLAPSE_FROM,
            "layout": {"x": layout.x, "y": layout.y, "nodeWidth": layout.node_width,
                       "nodeHeight": layout.node_height, "width": layout.width, "height": layout.height}}


def attention_weights(node) -> dict | None:
    """The attention weights after dropout, D (batch x head x query rows, key columns), and which
    were dropped: '1' kept, '0' dropped (P > 0 but D = 0), '2' never attended (the causal mask).
    Read from the node's saved (P, D) before backward frees them; None without dropout."""
    probs, dropped = node.saved_tensors[-2:]
    if dropped is probs:  # no dropout: D is P itself
        return None
    grid = Grid.for_shape(probs.shape)
    kept = grid.cells(dropped) != 0
    attended = grid.cells(probs) > 0
    bits = np.where(~attended, "2", np.where(kept, "1", "0"))
    return {"weights": grid.picture(dropped), "mask": "".join(bits.ravel())}


def infer_modules(nodes: list[dict], edges: list[tuple[Tensor, Tensor]], index: dict[int, int]) -> None:
    """A module for nodes that have none recorded: a parameter's is its name less the last part;
    an op's is that of a parameter it reads, else the common prefix of its inputs' modules."""
    for entry in nodes:
        if entry["module"] is None and entry["kind"] == "param" and entry["name"]:
            entry["module"] = entry["name"].rpartition(".")[0] or None
    inputs: dict[int, list[int]] = {}
    for a, b in edges:
        inputs.setdefault(index[id(b)], []).append(index[id(a)])
    for entry in nodes:  # in order: inputs first
        if entry["module"] is not None or entry["kind"] != "op":
            continue
        sources = [nodes[i] for i in inputs.get(entry["id"], [])]
        params = [s["module"] for s in sources if s["kind"] == "param" and s["module"]]
        known = params or [s["module"] for s in sources if s["kind"] == "op" and s["module"]]
        if known:
            common = known[0].split(".")
            for other in known[1:]:
                parts = other.split(".")
                while common and parts[:len(common)] != common:
                    common.pop()
            entry["module"] = ".".join(common) or None


def rule_of(function: type) -> dict:
    """The op's own words: its docstring (or its file's), and its forward and backward source."""
    doc = inspect.getdoc(function) if function.__doc__ else None
    if doc is None:
        module = inspect.getmodule(function)
        doc = ((inspect.getdoc(module) or "") if module is not None else "").split("\n\n")[0]

    def source(method: str) -> str:
        try:
            return inspect.cleandoc(inspect.getsource(getattr(function, method)))
        except (OSError, TypeError):
            return "(source not available)"
    return {"doc": doc, "forward": source("forward"), "backward": source("backward"),
            "file": inspect.getsourcefile(function) and Path(inspect.getsourcefile(function)).name}


def walk(root: Tensor, order: list[Tensor], data: dict, retain_graph: bool) -> list[dict]:
    """Run backward one step at a time; each step's incoming gradient and what it passed on."""
    index = {id(t): i for i, t in enumerate(order)}
    # which edge carries the gradient of each tensor input of each node, read before backward
    # (a node may drop its inputs once its backward has run)
    slots: dict[int, list[tuple[int, int]]] = {}
    edge_number = 0
    for i, t in enumerate(order):
        node = t.grad_fn
        if node is None:
            continue
        slots[i] = []
        for position, parent in enumerate(node.inputs):
            if parent is not None:
                slots[i].append((position, edge_number))
                edge_number += 1
    if edge_number != len(data["edges"]):
        raise RuntimeError("explore: the graph's edges changed while it was read")  # graph_of's order
    grids = {i: Grid.for_shape(t.shape) for i, t in enumerate(order)}
    steps = []
    for step in backward_steps(root, retain_graph=retain_graph):
        i = index[id(step.tensor)]
        outs = []
        for position, edge in slots.get(i, []):
            g = step.input_grads[position] if position < len(step.input_grads) else None
            if g is None:
                continue
            target = data["edges"][edge]["from"]
            outs.append({"edge": edge, "grad": grids[target].picture(np.asarray(g))})
        steps.append({"node": i, "name": step.name, "leaf": step.name == LEAF_STEP,
                      "grad": grids[i].picture(np.asarray(step.grad)), "outs": outs})
    return steps


def fused_note(order: list[Tensor], calls: dict) -> str | None:
    """A line for the page when the graph holds fused nodes, saying how to see the lecture's."""
    fused = sorted({t.grad_fn.name for t in order if t.grad_fn is not None
                    and t.grad_fn.function.__name__ in ("LinearGELU", "LinearDropout", "CausalQKVAttention")})
    if not fused:
        return None
    how = ("explore(fused=False)" if calls else
           "a function returning the loss (explore(lambda: model(x, y)[1], names=model)), or a model built "
           "with fused=False (GPTConfig(fused=False))")
    return f"This graph has fused nodes ({', '.join(fused)}); to see the lecture's nodes pass {how}."


def render_page(data: dict) -> str:
    """The page: the template with its CSS, its script and the data inlined."""
    template = (PAGE / "page.html").read_text(encoding="utf-8")
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (template.replace("/*STYLE*/", (PAGE / "page.css").read_text(encoding="utf-8"))
            .replace("/*SCRIPT*/", (PAGE / "page.js").read_text(encoding="utf-8"))
            .replace("/*DATA*/", payload))
