"""Place a graph's nodes in rows, top to bottom, the way the forward pass ran.

A layered drawing (Sugiyama's method, simplified):
1. rank: a node sits one row below the lowest of its inputs; a source (parameter, data) sits just
   above its first consumer, so a weight is drawn beside the op that reads it, not at the top;
2. order within a row: a few sweeps down and up, each sorting a row by the mean position of its
   neighbours in the row before (the barycenter), which untangles most crossings;
3. coordinates: each row centred, nodes a fixed box apart, so no two boxes can overlap.
Edges are drawn straight from the bottom of an input to the top of its consumer.
"""
from __future__ import annotations

from dataclasses import dataclass

SWEEPS = 4


@dataclass
class Layout:
    """Where each node's box goes: `x[i], y[i]` is the top-left corner of node i's box."""

    x: list[float]
    y: list[float]
    rank: list[int]
    node_width: float
    node_height: float
    width: float
    height: float

    def box(self, node: int) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of a node's box."""
        return self.x[node], self.y[node], self.x[node] + self.node_width, self.y[node] + self.node_height

    def edge_ends(self, source: int, target: int) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2): from the middle of the source's bottom to the middle of the target's top."""
        half = self.node_width / 2
        return (self.x[source] + half, self.y[source] + self.node_height,
                self.x[target] + half, self.y[target])


def ranks(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Row of each node; nodes are numbered so that inputs come before the nodes made from them."""
    inputs: list[list[int]] = [[] for _ in range(count)]
    consumers: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        if source >= target:
            raise ValueError(f"layout: edge {source} -> {target} goes backwards; number the nodes "
                             "so that every input comes before the node made from it")
        inputs[target].append(source)
        consumers[source].append(target)
    rank = [0] * count
    for node in range(count):
        if inputs[node]:
            rank[node] = 1 + max(rank[i] for i in inputs[node])
    for node in range(count):  # sources move down, next to what reads them
        if not inputs[node] and consumers[node]:
            rank[node] = max(0, min(rank[c] for c in consumers[node]) - 1)
    return rank


def order_rows(rank: list[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    """The nodes of each row, left to right, after barycenter sweeps."""
    rows: list[list[int]] = [[] for _ in range(max(rank, default=-1) + 1)]
    for node, r in enumerate(rank):
        rows[r].append(node)
    above: dict[int, list[int]] = {node: [] for node in range(len(rank))}
    below: dict[int, list[int]] = {node: [] for node in range(len(rank))}
    for source, target in edges:
        above[target].append(source)
        below[source].append(target)
    position = {node: i for row in rows for i, node in enumerate(row)}

    def sort_row(row: list[int], neighbours: dict[int, list[int]]) -> None:
        def barycenter(node: int) -> float:
            near = neighbours[node]
            return sum(position[n] for n in near) / len(near) if near else position[node]
        row.sort(key=barycenter)
        position.update({node: i for i, node in enumerate(row)})

    for _ in range(SWEEPS):
        for row in rows[1:]:
            sort_row(row, above)
        for row in reversed(rows[:-1]):
            sort_row(row, below)
    return rows


def layered_layout(count: int, edges: list[tuple[int, int]], node_width: float = 170.0,
                   node_height: float = 64.0, gap_x: float = 24.0, gap_y: float = 44.0) -> Layout:
    """Boxes for `count` nodes joined by `edges` (source, target), inputs above their consumers."""
    rank = ranks(count, edges)
    rows = order_rows(rank, edges)
    widest = max((len(row) for row in rows), default=0)
    width = widest * (node_width + gap_x) + gap_x
    x, y = [0.0] * count, [0.0] * count
    for r, row in enumerate(rows):
        left = (width - len(row) * (node_width + gap_x) + gap_x) / 2
        for i, node in enumerate(row):
            x[node] = left + i * (node_width + gap_x)
            y[node] = gap_y / 2 + r * (node_height + gap_y)
    height = len(rows) * (node_height + gap_y)
    return Layout(x, y, rank, node_width, node_height, width, height)
