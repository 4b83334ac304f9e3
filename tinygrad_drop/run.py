"""Run a PyTorch script unchanged on tinygrad_drop:

    python -m tinygrad_drop.run train_gpt.py --steps 100      (or the console script: tinygrad-drop-run)
    python -m tinygrad_drop.run --pdb train_gpt.py            stop in pdb at the first node of the first backward()

For that process only, `import torch` and its submodules load tinygrad_drop (compat/__init__.py);
the script runs as `__main__` with its own arguments, as `python train_gpt.py` would run it.
"""
from __future__ import annotations

import argparse
import inspect
import os
import pdb
import runpy
import sys
from typing import Sequence

from tinygrad_drop import Tensor, compat
from tinygrad_drop.autograd import engine


def stop_in_first_backward() -> None:
    """Make the first Tensor.backward() of the run stop in pdb at its first node: in the engine's
    walk (autograd/engine.py), on the line that calls the node's backward."""
    backward = Tensor.backward

    def backward_in_pdb(self, grad=None, retain_graph: bool = False) -> None:
        Tensor.backward = backward  # only the first backward stops
        debugger = pdb.Pdb()
        source, first = inspect.getsourcelines(engine.backward_walk)
        line = first + next(i for i, text in enumerate(source) if "node.function.backward(node, g)" in text)
        debugger.set_break(engine.__file__, line, temporary=True)
        debugger.cmdqueue.append("continue")  # from the call itself on to that line
        print("tinygrad_drop.run --pdb: stopped at the first node of the first backward(): `node` is the op, "
              "`g` the gradient arriving at its output; 's' steps into the op's backward, 'n' then 'c' goes on",
              file=sys.stderr)
        return debugger.runcall(backward, self, grad, retain_graph)

    Tensor.backward = backward_in_pdb


def main(argv: Sequence[str] | None = None) -> None:
    """Parse [--pdb] SCRIPT [ARGS...] and run SCRIPT with `torch` resolved to tinygrad_drop."""
    parser = argparse.ArgumentParser(prog="python -m tinygrad_drop.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdb", action="store_true", help="stop in pdb at the first backward()")
    parser.add_argument("script", help="the PyTorch script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    options = parser.parse_args(argv)
    if not os.path.isfile(options.script):
        parser.exit(2, f"{parser.prog}: error: no such script: {options.script}\n")
    compat.install()
    if options.pdb:
        stop_in_first_backward()
    print(f"tinygrad_drop.run: `import torch` in {options.script} runs on tinygrad_drop (CPU, numpy and Numba)",
          file=sys.stderr)
    sys.argv = [options.script] + options.args
    sys.path.insert(0, os.path.dirname(os.path.abspath(options.script)))
    runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main()
