"""Generate text from a trained checkpoint.

    python scripts/sample.py --out-dir out --prompt "The " --tokens 300
    python scripts/sample.py --out-dir out-reverse --prompt "417093>" --tokens 6 --temperature 0

Generation is a loop of next-character predictions: the model scores every character of its
vocabulary, softmax turns the scores into probabilities, one character is drawn and appended,
and the longer text goes back in (cropped to the last block_size characters). The temperature
divides the scores first: below 1 the likely characters get likelier (safer, duller text), above 1
the distribution flattens (more surprise, more mistakes); 0 always takes the most likely one.
"""
from __future__ import annotations

import argparse
import sys

# Only what parsing needs: --help and a mistyped flag answer before the model and the compiled
# kernels load (main imports those once the command line is known to be good).
from tinygrad_drop.utils.cli import (OneLineArgumentParser, UsageError, non_negative_float, non_negative_int,
                                     positive_int, report)

SEED = 1337


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(prog="sample.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default="out",
                        help="the training run's folder, holding ckpt.npz: out (the default) for the built-in corpus, "
                             "out-<task> or out-<name> for train.py's --task or --data, or its --out-dir")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    parser.add_argument("--tokens", type=non_negative_int, default=300, help="characters to generate (default 300)")
    parser.add_argument("--temperature", type=non_negative_float, default=0.8,
                        help="below 1 safer, above 1 wilder, 0 greedy (default 0.8)")
    parser.add_argument("--top-k", type=positive_int, help="draw only among the k likeliest characters (default: all)")
    parser.add_argument("--seed", type=non_negative_int, default=SEED, help=f"random seed (default {SEED})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        if not args.prompt:
            raise UsageError("--prompt is empty: give at least one character to continue")
    except UsageError as error:
        return report(error)
    import tinygrad_drop as td
    from models.gpt import build_gpt
    from tinygrad_drop.training.checkpoint import checkpoint_path, load_checkpoint, restore_model

    try:
        path = checkpoint_path(args.out_dir)
        model, tokenizer = restore_model(load_checkpoint(path), path, build_gpt)
        unknown = tokenizer.unknown_characters(args.prompt)
        if unknown:
            raise UsageError(f"the prompt has characters the model never saw in training: {unknown!r}: leave them "
                             f"out (its vocabulary: {tokenizer.vocab!r})")
    except UsageError as error:
        return report(error)
    td.manual_seed(args.seed)
    model.eval()  # dropout off
    prompt = td.tensor(tokenizer.encode(args.prompt)[None, :])
    out = model.generate(prompt, args.tokens, temperature=args.temperature, top_k=args.top_k)
    print(tokenizer.decode(out.numpy()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
