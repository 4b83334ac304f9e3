"""Run a PyTorch script unchanged on tinygrad_drop:

    python -m tinygrad_drop.run train_gpt.py --steps 100      (or the console script: tinygrad-drop-run)
    python -m tinygrad_drop.run --pdb train_gpt.py            stop in pdb at the first backward()

For that process only, `import torch` and its submodules load tinygrad_drop (compat/__init__.py);
the script runs as `__main__` with its own arguments, as `python train_gpt.py` would run it.
"""
from __future__ import annotations

import argparse
import os
import pdb
import runpy
import sys
from typing import Sequence

from tinygrad_drop import Tensor, compat


def stop_in_first_backward() -> None:
    """Make the first Tensor.backward() of the run open pdb, one step before the engine starts."""
    backward = Tensor.backward

    def backward_in_pdb(self, grad=None, retain_graph: bool = False) -> None:
        Tensor.backward = backward  # only the first backward stops
        print("tinygrad_drop.run --pdb: stopped at the first backward(); 's' steps into the engine "
              "(autograd/engine.py), 'c' continues", file=sys.stderr)
        pdb.Pdb().set_trace()
        return backward(self, grad, retain_graph)  # 's' here steps into the backward pass

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
