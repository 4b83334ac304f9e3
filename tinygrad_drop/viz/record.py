"""Build the graph to show: run the user's loss function with the lecture's nodes, and remember
how each op was called.

A graph given as a loss tensor is shown as it was built. A graph given as a function that returns
the loss is built here, with two things a built graph has lost:
- the unfused nodes: every module of `names` with a `fused` switch (models/gpt.py's attention and
  MLP, nn.TransformerBlock's) runs with it off while the function runs, so attention, GELU and
  each dropout show as their own nodes, as the lecture draws them (the numbers are the same);
- each op's call: the Function, its arguments (shapes, flags, dropout keys: what a node does not
  keep) and the module that was running, read with Python's profiler hook for the duration of the
  call only (nothing changes in the library's own code path), so each node can be gradchecked
  alone and grouped under its module (`transformer.h.0.attn`).
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..autograd.function import Function
from ..nn.module import Module
from ..tensor import Tensor

APPLY_CODE = Function.apply.__func__.__code__
MODULE_CALL_CODE = Module.__call__.__code__


@dataclass
class OpCall:
    """One call of `function.apply(*args, **kwargs)`, made while `module` was running."""

    function: type
    args: tuple
    kwargs: dict
    module: str | None


@contextmanager
def unfused(names: Any, fused: bool) -> Iterator[None]:
    """While inside, every module of `names` (a Module) with a boolean `fused` switch has it set to
    `fused`; the switches are put back afterwards."""
    modules = list(names.modules()) if isinstance(names, Module) else []
    switched = [(m, m.fused) for m in modules if isinstance(getattr(m, "fused", None), bool)]
    for module, _ in switched:
        module.fused = fused
    try:
        yield
    finally:
        for module, old in switched:
            module.fused = old


def module_names(names: Any) -> dict[int, str]:
    """id(module) -> its dotted name in `names` (a Module), "" for the root."""
    return {id(m): name for name, m in names.named_modules()} if isinstance(names, Module) else {}


def run_recording(make_loss: Callable[[], Any], names: Any = None,
                  fused: bool = False) -> tuple[Any, dict[int, OpCall]]:
    """Call make_loss() with the fused switches of `names` set to `fused`; returns what it returned
    and, for each node it created, keyed by id(node), how its op was called."""
    modules = module_names(names)
    calls: dict[int, OpCall] = {}
    running: list[str | None] = []

    def watch(frame, event, arg):
        code = frame.f_code
        if code is MODULE_CALL_CODE:
            if event == "call":
                running.append(modules.get(id(frame.f_locals.get("self"))))
            elif event == "return" and running:
                running.pop()
        elif code is APPLY_CODE and event == "return" and isinstance(arg, Tensor) and arg.grad_fn is not None:
            where = next((name for name in reversed(running) if name), None)  # "" is the root module
            local = frame.f_locals
            calls[id(arg.grad_fn)] = OpCall(local["cls"], local["args"], dict(local["kwargs"]), where)

    previous = sys.getprofile()
    with unfused(names, fused):
        sys.setprofile(watch)
        try:
            result = make_loss()
        finally:
            sys.setprofile(previous)
    return result, calls
