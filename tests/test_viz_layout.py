"""The explorer's graph layout on its own: boxes never overlap, every edge points down to its
consumer, and the SVG drawn from the layout has every node and every edge."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_drop.viz.layout import layered_layout, ranks
from tinygrad_drop.viz.svg import layout_svg

pytestmark = pytest.mark.debug


@st.composite
def dags(draw):
    """A random graph numbered so that inputs come first: each node reads up to 3 earlier ones."""
    count = draw(st.integers(1, 40))
    edges = []
    for target in range(1, count):
        sources = draw(st.lists(st.integers(0, target - 1), max_size=3))
        edges += [(source, target) for source in sources]
    return count, edges


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@settings(max_examples=30, deadline=None)
@given(dags())
def test_no_two_boxes_overlap_and_every_edge_points_down(graph):
    count, edges = graph
    layout = layered_layout(count, edges)
    boxes = [layout.box(node) for node in range(count)]
    for i in range(count):
        assert 0 <= boxes[i][0] and boxes[i][2] <= layout.width and boxes[i][3] <= layout.height
        for j in range(i + 1, count):
            assert not overlap(boxes[i], boxes[j]), (i, j, boxes[i], boxes[j])
    for source, target in edges:
        assert layout.rank[source] < layout.rank[target]
        x1, y1, x2, y2 = layout.edge_ends(source, target)
        assert y1 < y2  # from the bottom of the input to the top of its consumer, below it


def test_a_node_sits_one_row_below_its_lowest_input_and_a_weight_beside_its_op():
    # 0: data, 1: weight, 2 = f(0), 3 = g(2, 1): the weight is drawn one row above g, not at the top
    assert ranks(4, [(0, 2), (2, 3), (1, 3)]) == [0, 1, 1, 2]


def test_edges_must_go_from_inputs_to_the_nodes_made_from_them():
    with pytest.raises(ValueError, match="goes backwards"):
        layered_layout(3, [(2, 1)])


def test_the_barycenter_sweeps_untangle_a_crossing():
    # two chains 0->2->4 and 1->3->5, with row 1 listed crossed: the sweeps put each under its input
    layout = layered_layout(6, [(0, 3), (1, 2), (3, 4), (2, 5)])
    assert (layout.x[0] < layout.x[1]) == (layout.x[3] < layout.x[2]) == (layout.x[4] < layout.x[5])


@settings(max_examples=10, deadline=None)
@given(dags())
def test_the_svg_draws_every_node_and_every_edge(graph):
    count, edges = graph
    layout = layered_layout(count, edges)
    labels = [f"node {i}\n({i},)" for i in range(count)]
    kinds = [("op", "param", "const")[i % 3] for i in range(count)]
    svg = layout_svg(layout, labels, kinds, edges)
    assert svg.count('<g class="node">') == count
    lines = re.findall(r'<line class="edge" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"', svg)
    assert len(lines) == len(edges)
    for (source, target), drawn in zip(edges, lines):
        assert np.allclose([float(v) for v in drawn], layout.edge_ends(source, target), atol=0.1)
