"""Reverse-mode differentiation: walk the graph from the output back to the leaves.

1. Order: an iterative depth-first search lists every tensor reachable through `grad_fn.inputs`
   so that each tensor comes after everything computed from it (reverse topological order).
   Iterative, not recursive, so a 10,000-op chain needs no recursion limit.
2. Walk: the output's gradient is seeded (1.0 for a scalar); each tensor, once all its consumers
   have contributed (guaranteed by the order), has its complete gradient: hooks may replace it,
   leaves and `retain_grad` tensors store it, and its node's `backward` turns it into gradients
   for the node's inputs, which are summed per input (a tensor used twice gets both paths).
3. Release: each node's saved buffers and its edges to its inputs are dropped right after its
   backward (once the step-through tools have seen it), unless retain_graph.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .. import state
from .anomaly import check_gradients
from .function import as_array


def depth_first_order(root, inputs_of: Callable) -> list:
    """Every tensor reachable from root through `inputs_of`, each listed after its inputs."""
    # BEGIN SOLUTION engine: list every tensor reachable from root through inputs_of, each after all its inputs, without recursion
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        stack.extend((parent, False) for parent in inputs_of(tensor) if id(parent) not in visited)
    return order
    # END SOLUTION


def inputs_needing_grad(tensor) -> list:
    node = tensor.grad_fn
    return [] if node is None else [t for t in node.inputs if t is not None and t.requires_grad]


def topological_order(root) -> list:
    """Tensors reachable from root that need gradients, each listed after its inputs."""
    return depth_first_order(root, inputs_needing_grad)


def seed_gradient(root, grad) -> np.ndarray:
    """The gradient that starts the walk: 1 for a scalar output, else the caller's `grad`."""
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but the output has shape "
                f"{tuple(root.shape)}; pass backward(grad) with a gradient of that shape, or reduce "
                "the output first (e.g. .sum() or .mean())")
        return np.ones_like(root.data)
    grad = as_array(grad).astype(root.data.dtype, copy=False)
    if grad.shape != root.data.shape:
        raise ValueError(f"backward: gradient shape {grad.shape} does not match output shape {root.data.shape}")
    return grad


def backward_walk(root, grad=None, retain_graph: bool = False) -> Iterator[tuple]:
    """Run backward one node at a time; yields (tensor, its gradient, gradients for its inputs).

    `Tensor.backward` exhausts this generator; the step-through tools read what it yields."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    grads = {id(root): seed_gradient(root, grad)}
    for tensor in reversed(topological_order(root)):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        for hook in tensor._hooks.values():
            replaced = hook(tensor._from_array(g))
            if replaced is not None:
                g = as_array(replaced)
                if g.shape != tensor.data.shape:  # the node's backward (a kernel, maybe) trusts this shape
                    raise RuntimeError(f"a hook returned a gradient of shape {g.shape} for a tensor of shape "
                                       f"{tensor.data.shape}")
                if g.dtype != tensor.data.dtype:  # as PyTorch: a hook may change values, not their type
                    raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has changed the type of value "
                                       f"(was {tensor.data.dtype}, got {g.dtype})")
        if tensor.grad_fn is None or tensor._retains_grad:
            tensor._accumulate_grad(g)
        node = tensor.grad_fn
        if node is None:
            yield tensor, g, ()
            continue
        node.check_not_released()  # its edges are gone too: nothing could flow past it
        if node.saved_versions is not None and node.writes_before != state.process.inplace_writes:
            node.check_versions(tensor)  # in-place writes since forward would make backward wrong
        input_grads = node.function.backward(node, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(f"{node.name} returned {len(input_grads)} gradients for {len(node.inputs)} inputs")
        input_grads = tuple(None if g is None else as_array(g) for g in input_grads)
        if state.process.anomaly_mode:
            check_gradients(node, input_grads)
        for parent, parent_grad in zip(node.inputs, input_grads):
            if parent is None or parent_grad is None or not parent.requires_grad:
                continue
            if np.shape(parent_grad) != parent.data.shape:
                raise RuntimeError(f"{node.name} returned a gradient of shape {np.shape(parent_grad)} "
                                   f"for an input of shape {parent.data.shape}")
            if parent_grad.dtype != parent.data.dtype:  # as PyTorch, a gradient takes its input's dtype
                parent_grad = parent_grad.astype(parent.data.dtype)
            # BEGIN SOLUTION engine: add parent_grad to what grads already holds for this parent (a tensor used twice gets both paths)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
            # END SOLUTION
        try:
            yield tensor, g, input_grads
        finally:  # also when the step-through tools stop early
            if not retain_graph:
                node.release()
