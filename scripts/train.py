"""Train a character-level GPT: the whole loop of deep learning, from the command line.

    python scripts/train.py                        # the built-in corpus, nanoGPT's CPU recipe, in out/
    python scripts/train.py --data shakespeare --max-iters 2000      # in out-shakespeare/
    python scripts/train.py --task reverse         # a synthetic task, solved in under a minute, in out-reverse/
    python scripts/train.py --resume               # continue an interrupted run, exactly
    python scripts/train.py --max-iters 5          # a smoke test: a short run measures and samples less

Each step: a batch of text windows, the cross-entropy of the next character, backward, the
gradient clipped to norm 1, an AdamW step, the learning rate along a warmup and a cosine
(the loop is tinygrad_drop/training/trainer.py; the model, models/gpt.py). Every --eval-interval
steps: the losses with dropout off, a line in OUT_DIR/metrics.jsonl, a sample and a checkpoint.

Ctrl-C stops after the current step, saves a checkpoint and exits; --resume then continues with
exactly the losses the run would have had without the interruption.
"""
from __future__ import annotations

import argparse
import sys

# Only what parsing needs: --help and a mistyped flag answer before the model and the compiled
# kernels load (main imports those once the command line is known to be good).
from tinygrad_drop.data.digit_tasks import TASKS
from tinygrad_drop.training.defaults import (MIN_EVAL_ITERS, MIN_SAMPLE_TOKENS, SEED, STEPS_PER_EVAL_BATCH,
                                             TASK_RECIPE, TEXT_RECIPE)
from tinygrad_drop.utils.cli import (OneLineArgumentParser, UsageError, non_negative_int, positive_float,
                                     positive_int, probability_below_one, report)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineArgumentParser(prog="train.py", description="\n\n".join(__doc__.split("\n\n")[:2]),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    def default(name: str) -> str:
        text_value, task_value = TEXT_RECIPE[name], TASK_RECIPE[name]
        if task_value is None:
            return f"(default {text_value}; a task sets its own)"
        if task_value == text_value:
            return f"(default {text_value})"
        return f"(default {text_value}, {task_value} with --task)"

    # Defaults are None here and filled in from the recipe (or the checkpoint, with --resume), so
    # that we can tell a flag the user typed from a default.
    add = parser.add_argument
    add("--data", metavar="PATH_OR_NAME",
        help="UTF-8 text file to train on, or 'shakespeare' (data/tinyshakespeare.txt, nanoGPT's corpus) "
             "(default: Python's built-in documentation text)")
    add("--task", choices=TASKS, help="train on a synthetic digit task instead of text")
    add("--out-dir", help="where checkpoints, metrics.jsonl and loss.png go (default: out for the built-in "
                          "corpus, out-<task> with --task, out-<name> with --data, e.g. out-shakespeare)")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--resume", action="store_true", help="continue the run saved in the out dir")
    runs.add_argument("--overwrite", action="store_true",
                      help="replace the run saved in the out dir (finished or not) with a new one")
    add("--max-iters", type=positive_int, help=f"training steps {default('max_iters')}")
    add("--eval-interval", type=positive_int, help=f"steps between evaluations {default('eval_interval')}")
    add("--eval-iters", type=positive_int,
        help=f"batches per loss estimate {default('eval_iters')}; a short run uses fewer, one per "
             f"{STEPS_PER_EVAL_BATCH} steps (at least {MIN_EVAL_ITERS})")
    add("--batch-size", type=positive_int, help=f"sequences per step {default('batch_size')}")
    add("--block-size", type=positive_int, help=f"context length in characters {default('block_size')}")
    add("--n-layer", type=positive_int, help=f"transformer blocks {default('n_layer')}")
    add("--n-head", type=positive_int, help=f"attention heads per block {default('n_head')}")
    add("--n-embd", type=positive_int, help=f"model width {default('n_embd')}")
    add("--dropout", type=probability_below_one,
        help=f"rate of all three dropouts: embedding, attention, residual {default('dropout')}")
    add("--tie-weights", action=argparse.BooleanOptionalAction,
        help=f"score output characters with the input embedding table, as nanoGPT {default('tie_weights')}")
    add("--lr", type=positive_float, help=f"peak learning rate {default('lr')}")
    add("--seed", type=non_negative_int, help=f"random seed for init, batches and dropout (default {SEED})")
    add("--sample-tokens", type=non_negative_int,
        help=f"length of the final sample, 0 for none {default('sample_tokens')}; a short run samples at "
             f"most one character per step (at least {MIN_SAMPLE_TOKENS})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageError as error:
        return report(error)
    from models.gpt import build_gpt
    from tinygrad_drop.training.trainer import INTERRUPTED_EXIT_CODE, SETTING_NAMES, run

    try:
        given = {name: getattr(args, name) for name in SETTING_NAMES if getattr(args, name, None) is not None}
        return run(given, args.out_dir, build_gpt, resume=args.resume, overwrite=args.overwrite)
    except UsageError as error:
        return report(error)
    except KeyboardInterrupt:
        print("\nquit without saving", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
