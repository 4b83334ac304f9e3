"""Write the backprop explorer: one HTML page that walks a real backward pass node by node.

    python scripts/explore.py                     # a small MLP with dropout -> backprop.html
    python scripts/explore.py --model gpt         # a 1-layer GPT (nanoGPT's lines, dropout on)
    python scripts/explore.py --script mine.py    # your own: mine.py defines loss() and model

Open the page in any browser (it needs no network): step with the buttons, the slider or the
arrow keys; click a node for its rule, statistics and gradcheck. A --script file is run as a
Python program and must define `loss`, a function of no arguments returning the scalar loss (or
the loss tensor itself), and may define `model` (a Module) to name parameters and group nodes.
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from tinygrad_drop.utils.cli import OneLineArgumentParser, UsageError, positive_int, probability_below_one, report

MODELS = ("mlp", "gpt")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineArgumentParser(prog="explore.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default="mlp", help="the example to explore (default mlp)")
    parser.add_argument("--script", type=Path, help="a Python file defining loss() (and model) to explore instead")
    parser.add_argument("--out", type=Path, default=Path("backprop.html"),
                        help="the page to write (default backprop.html)")
    parser.add_argument("--layers", type=positive_int, default=1, help="GPT blocks (default 1)")
    parser.add_argument("--dropout", type=probability_below_one, default=0.2, help="dropout probability (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of weights, data and masks (default 0)")
    parser.add_argument("--eval", action="store_true", help="explore the model in eval(): dropout is the identity")
    parser.add_argument("--fused", action="store_true",
                        help="keep the fused nodes training uses (default: the lecture's nodes)")
    parser.add_argument("--max-nodes", type=positive_int, default=1000, help="refuse larger graphs (default 1000)")
    return parser.parse_args(argv)


def example(args: argparse.Namespace):
    """(loss function, model) of the built-in examples: a batch of 8 through the model."""
    import numpy as np

    import tinygrad_drop as td
    import tinygrad_drop.nn.functional as F

    td.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if args.model == "mlp":
        from models.mlp import MLP
        model = MLP(6, [12], 4, dropout=args.dropout)
        x, y = td.randn(8, 6), rng.integers(0, 4, 8)

        def make_loss():
            return F.cross_entropy(model(x), y)
    else:
        from models.gpt import GPT, GPTConfig
        config = GPTConfig(vocab_size=32, block_size=8, n_layer=args.layers, n_head=2, n_embd=16,
                           embd_pdrop=args.dropout, attn_pdrop=args.dropout, resid_pdrop=args.dropout)
        model = GPT(config)
        idx = rng.integers(0, config.vocab_size, (2, config.block_size))
        targets = np.roll(idx, -1, axis=1)  # each position predicts the next token

        def make_loss():
            return model(idx, targets)[1]
    return make_loss, model


def from_script(path: Path):
    """(loss, model) defined by the user's file."""
    if not path.is_file():
        raise UsageError(f"--script {path}: no such file: give the path of a Python file that defines loss()")
    namespace = runpy.run_path(str(path), run_name="__explore__")
    if "loss" not in namespace:
        raise UsageError(f"--script {path} defines no `loss`: define a function of no arguments returning the "
                         "scalar loss (or the loss tensor itself)")
    return namespace["loss"], namespace.get("model")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        make_loss, model = from_script(args.script) if args.script else example(args)
    except UsageError as error:
        return report(error)
    import tinygrad_drop as td

    if args.eval and model is not None:
        model.eval()
    title = f"backprop explorer: {args.script or args.model}" + (" (eval)" if args.eval else "")
    try:
        explorer = td.viz.explore(make_loss, args.out, names=model, fused=args.fused, max_nodes=args.max_nodes,
                                  title=title)
    except (ValueError, TypeError) as error:  # a graph too large, a loss not a scalar: the message says what to do
        return report(UsageError(str(error).replace("max_nodes=", "--max-nodes ")))
    print(f"wrote {args.out}: {len(explorer.data['nodes'])} nodes, {len(explorer.data['steps'])} backward steps; "
          "open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
