"""A graph drawn as SVG with this package's own layout (layout.py): what a notebook shows for
`td.viz.draw(loss)` when Graphviz is not installed. Same conventions as the DOT picture: ops are
rounded, parameters blue boxes, tensors that need no gradient grey dashed boxes."""
from __future__ import annotations

from html import escape

from .layout import Layout


def layout_svg(layout: Layout, labels: list[str], kinds: list[str], edges: list[tuple[int, int]]) -> str:
    """SVG of nodes (label lines inside boxes placed by `layout`) and one arrow per edge.

    kinds: "op", "param" or "const" per node, which picks the box's style."""
    style = {"op": 'rx="14" fill="#fff" stroke="#555"',
             "param": 'rx="2" fill="#e3f0ff" stroke="#4a7fc1"',
             "const": 'rx="2" fill="#fff" stroke="#999" stroke-dasharray="4 3"'}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{layout.width:.0f}" height="{layout.height:.0f}" '
             f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" font-family="monospace" font-size="10">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
             'orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>']
    for source, target in edges:
        x1, y1, x2, y2 = layout.edge_ends(source, target)
        parts.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     'stroke="#777" marker-end="url(#arrow)"/>')
    for node, (label, kind) in enumerate(zip(labels, kinds)):
        left, top, right, bottom = layout.box(node)
        parts.append(f'<g class="node"><rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
                     f'height="{bottom - top:.1f}" {style[kind]}/>')
        for line_number, line in enumerate(label.split("\n")[:3]):
            parts.append(f'<text x="{(left + right) / 2:.1f}" y="{top + 18 + 14 * line_number:.1f}" '
                         f'text-anchor="middle">{escape(line)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
