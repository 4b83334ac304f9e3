"""See the graph that backward walks: as text, as a picture, and as a page you step through.

    print(td.viz.tree(loss, names=model))               # in the terminal
    td.viz.draw(loss, "graph.svg", names=model)         # a picture (Graphviz's `dot`)
    td.viz.draw(loss, names=model)                      # in a notebook: shows itself as SVG
    td.viz.explore(loss, "backprop.html", names=model)  # the backward pass, node by node, in a browser

Given a function that computes the loss instead of the loss itself, draw and explore build the
graph with the lecture's nodes (every module's `fused` switch off: each dropout, GELU and
attention its own node), the default; `fused=True` keeps the fused nodes training runs.

`dot.py` holds the Graphviz and text views, `layout.py` places a graph's nodes in rows, `svg.py`
draws that layout, `record.py` builds a graph from a function, `pictures.py` turns tensors into
small pictures, `node_check.py` gradchecks one node, `explore.py` gathers what the page shows and
`page/` is the page itself (HTML, CSS and a commented script).
"""
import shutil  # noqa: F401  td.viz.shutil, as before viz became a package (tests hide Graphviz through it)
import subprocess  # noqa: F401  td.viz.subprocess, likewise

from .dot import FORMATS, Graph, dot_string, draw, graph_of, inputs_of, label_of, summary, to_dot, tree
from .explore import Explorer, explore

__all__ = ["FORMATS", "Explorer", "Graph", "dot_string", "draw", "explore", "graph_of", "inputs_of", "label_of",
           "summary", "to_dot", "tree"]
