"""Step through backprop: the backward pass one node at a time, as records you can read.

    for step in td.autograd.backward_steps(loss):
        print(step)     # <step 0 CrossEntropyBackward | grad () norm 1 | -> input 0 (32, 65) norm 0.12 ...>

`backward_steps` drives the engine's own walk (engine.backward_walk), so running it to the end
*is* `loss.backward()`: the same order, the same arithmetic, the same gradients in the leaves'
`.grad`. Stop early (break out of the loop) and the leaves have only what was accumulated so far.

Each step is one use of the chain rule. A node computed y = f(x_1, ..., x_n); the step shows

    grad          dL/dy, the gradient arriving from the loss side
    input_grads   dL/dx_i = dL/dy * dy/dx_i for each input (None where no gradient flows)

Leaves (parameters, inputs made by the user) have no node: their step is "AccumulateGrad", where
the arriving gradient is added into `.grad`. `created_at` (the user's file:line that created the
node) is known for graphs built inside `td.detect_anomaly()`. `explain(loss)` prints the walk.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, TextIO

import numpy as np

from .anomaly import short_location
from .engine import backward_walk

if TYPE_CHECKING:  # only for annotations: tensor.py sits above autograd
    from ..tensor import Tensor

LEAF_STEP = "AccumulateGrad"


def tensor_names(source: Any) -> dict[int, str]:
    """Names for tensors, keyed by id: from a Module (its named_parameters), a mapping
    name -> tensor (e.g. dict(model.named_parameters())) or an iterable of (name, tensor) pairs."""
    if source is None:
        return {}
    if hasattr(source, "named_parameters"):
        pairs = source.named_parameters()
    elif isinstance(source, Mapping):
        pairs = source.items()
    elif isinstance(source, Iterable):
        pairs = source
    else:
        raise TypeError(f"names: expected a Module, a mapping name -> tensor or (name, tensor) pairs, "
                        f"got {type(source).__name__}")
    return {id(tensor): name for name, tensor in pairs}


def norm(array: np.ndarray) -> float:
    """The L2 norm, accumulated in float64 so float32 squares cannot overflow."""
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


def describe(array: np.ndarray | None) -> str:
    return "-" if array is None else f"{tuple(array.shape)} norm {norm(array):.4g}"


@dataclass(repr=False)
class BackwardStep:
    """What one node of the backward walk received and what it passed on."""

    index: int
    name: str                      # "MatMulBackward", or "AccumulateGrad" for a leaf
    tensor: Tensor                 # the tensor whose gradient this step handles
    grad: np.ndarray               # dL/d(tensor), arriving from the loss side
    inputs: tuple                  # the node's inputs: Tensors, None for non-tensor arguments
    input_grads: tuple             # dL/d(each input), None where none flows
    created_at: str | None = None  # 'file:line' of the user code that created the node
    label: str | None = None       # the leaf's parameter name, when names were given
    module_path: str | None = None  # 'transformer.h.0.mlp.c_fc (Linear)': the module that created the node

    @property
    def is_leaf(self) -> bool:
        """True for a leaf's step (AccumulateGrad): the gradient lands in its .grad."""
        return self.tensor.grad_fn is None

    @property
    def grad_norm(self) -> float:
        """The L2 norm of the gradient that arrived at this step."""
        return norm(self.grad)

    @property
    def tensor_input_grads(self) -> list[tuple[int, np.ndarray | None]]:
        """(position, gradient) for the inputs that are tensors; ints, shapes and flags passed
        to the op have no gradient and are left out."""
        return [(i, g) for i, (t, g) in enumerate(zip(self.inputs, self.input_grads)) if t is not None]

    @property
    def input_shapes(self) -> list[tuple | None]:
        """The shape of the gradient passed to each tensor input (None where none flows)."""
        return [None if g is None else tuple(g.shape) for _, g in self.tensor_input_grads]

    @property
    def input_grad_norms(self) -> list[float | None]:
        """The L2 norm of the gradient passed to each tensor input (None where none flows)."""
        return [None if g is None else norm(g) for _, g in self.tensor_input_grads]

    @property
    def where(self) -> str:
        """The module path and 'file:line' of the user code that made the node (under anomaly
        mode), else "-"."""
        if self.created_at is None:
            return "-"
        location = short_location(self.created_at)
        return f"{self.module_path} {location}" if self.module_path else location

    def __repr__(self) -> str:
        title = f"step {self.index} {self.name}"
        if self.label is not None:
            title += f" {self.label}"
        if self.created_at is not None:
            title += f" at {self.where}"
        parts = [title, f"grad {describe(self.grad)}"]
        if self.inputs:
            parts.append("-> " + ", ".join(f"input {i} {describe(g)}" for i, g in self.tensor_input_grads))
        return "<" + " | ".join(parts) + ">"


def backward_steps(root: Tensor, grad: Any = None, retain_graph: bool = False,
                   names: Any = None) -> Iterator[BackwardStep]:
    """Run root.backward(grad, retain_graph) one node at a time, yielding a BackwardStep per node.

    names: a Module or (name, tensor) pairs, to label the leaves' steps (e.g. "fc1.weight")."""
    labels = tensor_names(names)
    for index, (tensor, g, input_grads) in enumerate(backward_walk(root, grad, retain_graph)):
        node = tensor.grad_fn
        yield BackwardStep(
            index=index,
            name=LEAF_STEP if node is None else node.name,
            tensor=tensor,
            grad=g,
            inputs=() if node is None else tuple(node.inputs),
            input_grads=input_grads,
            created_at=None if node is None else node.created_at,
            label=labels.get(id(tensor)),
            module_path=None if node is None else node.module_path,
        )


HEADER = ("#", "node", "created at", "grad in", "grads out (one per input)")
# Columns of a fixed width (a longer cell pushes its row's next cells right): explain prints each
# row as the walk reaches it, before it knows the rows to come.
WIDTHS = (4, 34, 34, 22)


def format_row(cells: tuple) -> str:
    """One row of the walk's table: fixed-width columns, the last one as long as it needs."""
    return "  ".join([cell.ljust(width) for cell, width in zip(cells, WIDTHS)] + [cells[-1]]).rstrip()


def step_row(step: BackwardStep) -> str:
    """The table row of one step: index, node (and leaf name), where it was made, grads in and out."""
    return format_row((str(step.index), step.name if step.label is None else f"{step.name} {step.label}", step.where,
                       describe(step.grad),
                       "; ".join(describe(g) for _, g in step.tensor_input_grads) or "(into .grad)"))


def format_table(steps: list[BackwardStep]) -> str:
    """The walk as a table: a header, a rule, then one row per step."""
    header = format_row(HEADER)
    return "\n".join([header, "-" * len(header)] + [step_row(step) for step in steps])


def explain(root: Tensor, grad: Any = None, retain_graph: bool = False, names: Any = None,
            file: TextIO | None = None) -> list[BackwardStep]:
    """Run the backward pass (it *is* root.backward()) and print each step's row as the walk
    reaches it, so a backward that raises still shows every row before it. Returns the steps,
    for a closer look at any one of them. It walks the graph the forward built: a GPT built with
    GPTConfig(fused=False) (a student copy's default) shows one node per op of the lecture."""
    out = file or sys.stdout
    print(f"backward of a tensor of shape {tuple(root.shape)}:", file=out)
    print(format_table([]), file=out, flush=True)
    steps = []
    for step in backward_steps(root, grad, retain_graph, names):
        steps.append(step)
        print(step_row(step), file=out, flush=True)
    leaves = sum(step.is_leaf for step in steps)
    print(f"{len(steps) - leaves} nodes, {leaves} leaves (their .grad now holds the result)", file=out)
    return steps
