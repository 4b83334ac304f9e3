"""The graph that backward walks as Graphviz DOT source, as a picture, or as a text tree.

Every tensor computed by an op remembers the op's node (`grad_fn`, e.g. MatMulBackward), and the
node remembers its input tensors. Following those links from a result back to the leaves
(parameters and the data you fed in) gives the graph; backward visits it in exactly the reverse
order of the forward pass.

    print(td.viz.tree(loss, names=model))         # in the terminal
    td.viz.draw(loss, "graph.svg", names=model)   # a picture (needs Graphviz's `dot` program)
    td.viz.draw(loss, names=model)                # in a notebook: a Graph that shows itself as SVG

In the pictures arrows point the way the forward pass computed (input -> op), ops are ellipses,
parameters blue boxes (named after `named_parameters` when `names` is given) and tensors that need
no gradient (data, constants) grey dashed boxes.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..autograd.anomaly import short_location
from ..autograd.debug import tensor_names
from ..autograd.engine import depth_first_order
from ..tensor import Tensor
from .layout import layered_layout
from .record import run_recording
from .svg import layout_svg

FORMATS = ("dot", "svg", "png", "pdf")


def graph_of(root: Tensor) -> tuple[list[Tensor], list[tuple[Tensor, Tensor]]]:
    """Every tensor the root was computed from (inputs before the tensors made from them) and the
    edges (input, output). Iterative, so a 10,000-op chain needs no recursion."""
    order = depth_first_order(root, inputs_of)
    edges = [(parent, tensor) for tensor in order for parent in inputs_of(tensor)]
    return order, edges


def inputs_of(tensor: Tensor) -> list[Tensor]:
    node = tensor.grad_fn
    return [] if node is None else [t for t in node.inputs if t is not None]


def label_of(tensor: Tensor, names: dict[int, str]) -> str:
    """What a tensor is: its op, its parameter name, or 'leaf' / 'no grad'; then its shape."""
    if tensor.grad_fn is not None:
        what = tensor.grad_fn.name
    elif id(tensor) in names:
        what = names[id(tensor)]
    else:
        what = "leaf" if tensor.requires_grad else "no grad"
    return f"{what} {tuple(tensor.shape)}"


def summary(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), precision=3, threshold=6, edgeitems=2, separator=", ")


def dot_string(text: str) -> str:
    """A DOT string literal: quotes and backslashes escaped, newlines as DOT's \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(tensor: Tensor, names: Any = None, show_values: bool = False, show_grads: bool = False) -> str:
    """Graphviz DOT source of the graph behind `tensor`.

    names: a Module or (name, tensor) pairs to name the leaves; show_values / show_grads add a
    short print of each tensor's data / .grad (where it has one) to its label."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    labels = tensor_names(names)
    order, edges = graph_of(tensor)
    ids = {id(t): f"t{i}" for i, t in enumerate(order)}
    lines = ["digraph backward {", "  rankdir=TB;", '  node [fontname="monospace", fontsize=10];']
    for t in order:
        text = label_of(t, labels)
        if t.grad_fn is not None and t.grad_fn.created_at is not None:
            text += f"\n{short_location(t.grad_fn.created_at)}"
        if show_values:
            text += f"\nvalue {summary(t.data)}"
        if show_grads and t.grad is not None:
            text += f"\ngrad {summary(t.grad.data)}"
        if t.grad_fn is not None:
            style = "shape=ellipse"
        elif t.requires_grad:
            style = 'shape=box, style=filled, fillcolor="lightblue"'
        else:
            style = 'shape=box, style=dashed, color="grey40"'
        if t is tensor:
            style += ", penwidth=2"
        lines.append(f"  {ids[id(t)]} [label={dot_string(text)}, {style}];")
    for parent, child in edges:
        lines.append(f"  {ids[id(parent)]} -> {ids[id(child)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


class Graph:
    """A drawn graph: its DOT source (`dot`) and, in a notebook, its picture (`_repr_svg_`: rendered
    by Graphviz's `dot` when installed, else laid out by this package, layout.py)."""

    def __init__(self, tensor: Tensor, names: Any = None, show_values: bool = False, show_grads: bool = False):
        self.dot = to_dot(tensor, names, show_values, show_grads)
        labels = tensor_names(names)
        order, edges = graph_of(tensor)
        index = {id(t): i for i, t in enumerate(order)}
        self.labels = [label_of(t, labels).replace(" (", "\n(", 1) for t in order]
        self.kinds = ["op" if t.grad_fn is not None else "param" if t.requires_grad else "const" for t in order]
        self.edges = [(index[id(a)], index[id(b)]) for a, b in edges]

    def svg(self) -> str:
        """The picture as SVG text: Graphviz's rendering if `dot` is installed, else our own layout."""
        dot_program = shutil.which("dot")
        if dot_program is not None:
            return subprocess.run([dot_program, "-Tsvg"], input=self.dot, text=True, check=True,
                                  capture_output=True).stdout
        layout = layered_layout(len(self.labels), self.edges)
        return layout_svg(layout, self.labels, self.kinds, self.edges)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return f"<Graph: {len(self.labels)} nodes, {len(self.edges)} edges>"


def draw(tensor: Tensor | Callable[[], Tensor], path: str | Path | None = None, names: Any = None,
         show_values: bool = False, show_grads: bool = False, fused: bool = False) -> Path | Graph:
    """Draw the graph to `path`; its suffix (.svg, .png, .pdf or .dot) picks the format.

    tensor: the result whose graph to draw, or a function of no arguments computing it, which is
    called with the `fused` switches of `names`' modules set to `fused` (False: the lecture's
    nodes, each dropout and attention step its own). Without `path`, returns a Graph, which a
    notebook shows as SVG. Rendering a file needs Graphviz's `dot` program; without it the DOT
    source is written next to `path` (suffix .dot) and a message says how to render it. Returns
    the path written."""
    if callable(tensor) and not isinstance(tensor, Tensor):
        tensor, _ = run_recording(tensor, names, fused)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor or a function of no arguments returning one, got "
                        f"{type(tensor).__name__}")
    if path is None:
        return Graph(tensor, names, show_values, show_grads)
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"draw: the path's suffix must be one of {['.' + f for f in FORMATS]}, got {path.name!r}")
    source = to_dot(tensor, names, show_values, show_grads)
    dot_program = shutil.which("dot")
    if fmt == "dot" or dot_program is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source)
        if fmt != "dot":
            print(f"Graphviz's `dot` program was not found, so the graph was written as DOT source to "
                  f"{dot_path}.\nInstall Graphviz (apt install graphviz, brew install graphviz) and run:\n"
                  f"    dot -T{fmt} {dot_path} -o {path}")
        return dot_path
    subprocess.run([dot_program, f"-T{fmt}", "-o", str(path)], input=source, text=True, check=True)
    return path


def tree(tensor: Tensor, names: Any = None, max_depth: int | None = None) -> str:
    """The graph as an indented text tree, the result at the top and each node's inputs below it.

    A tensor reached a second time (a residual connection, a weight used twice) is printed once
    more with "(see above)" instead of its whole subtree again; max_depth cuts deeper branches."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tree: expected a Tensor, got {type(tensor).__name__}")
    if max_depth is not None and max_depth < 1:
        raise ValueError(f"tree: max_depth must be at least 1, got {max_depth}")
    labels = tensor_names(names)
    lines, shown = [], set()
    # (tensor, prefix of the connector, prefix for its children, depth): a stack, not recursion
    stack = [(tensor, "", "", 0)]
    while stack:
        t, connector, child_prefix, depth = stack.pop()
        line = connector + label_of(t, labels)
        inputs = inputs_of(t)
        if id(t) in shown and inputs:
            lines.append(line + "  (see above)")
            continue
        shown.add(id(t))
        if inputs and max_depth is not None and depth + 1 >= max_depth:
            lines.append(line + f"  ({len(inputs)} inputs not shown: max_depth)")
            continue
        lines.append(line)
        for position in reversed(range(len(inputs))):
            last = position == len(inputs) - 1
            stack.append((inputs[position], child_prefix + ("└── " if last else "├── "),
                          child_prefix + ("    " if last else "│   "), depth + 1))
    return "\n".join(lines)
