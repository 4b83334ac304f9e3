"""What a training run does with the settings nobody gave: the recipes, the seed, the folder it
writes to, and the lighter evaluation of a short run.

Plain values and arithmetic on the standard library alone, so that a command line can show
them in its --help and check its flags before the library and its compiled kernels load.
"""
from __future__ import annotations

from pathlib import PurePath

# nanoGPT's CPU recipe for characters (its README, "I only have a macbook"), except that it trains
# 1000 steps by default, to keep a newcomer's first run short (max_iters 2000 for the whole recipe).
# Two more departures. The output layer is not tied to the embedding table (nanoGPT ties them): on
# characters the untied head learns better (tiny shakespeare, 2000 steps, PyTorch, 200 eval
# batches: val 1.871 vs 1.904). And losses are estimated on 100 batches, not the recipe's 20: 20
# batches of 768 characters pin the loss down to only about +-0.02 (one shakespeare run: 1.917 on
# its first 20 val batches, 1.894 on 200), 100 to about +-0.01.
TEXT_RECIPE = dict(batch_size=12, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, lr=1e-3,
                   warmup_iters=100, max_iters=1000, eval_interval=250, eval_iters=100, sample_tokens=300,
                   tie_weights=False)
# A small model for the digit tasks: the block size is the task's (2 x digits).
TASK_RECIPE = dict(batch_size=64, block_size=None, n_layer=2, n_head=4, n_embd=64, dropout=0.0, lr=3e-3,
                   warmup_iters=20, max_iters=300, eval_interval=100, eval_iters=10, sample_tokens=24,
                   tie_weights=False)
SEED = 1337

# A short run (a smoke test, a first try) measures and samples less: at most one evaluation batch
# per STEPS_PER_EVAL_BATCH training steps and one sampled character per step, never more than the
# recipe's. Evaluating on the recipe's 100 batches would take longer than a few steps of
# training, and its precision means nothing for a model that has barely started to learn. The
# recipes' own runs are long enough to keep their numbers.
STEPS_PER_EVAL_BATCH = 10
MIN_EVAL_ITERS = 5
MIN_SAMPLE_TOKENS = 20

# The folder of a run: one per corpus or task, so that runs on different data never meet.
DEFAULT_OUT_DIR = "out"  # the built-in corpus


def eval_iters_for(max_iters: int, recipe_eval_iters: int) -> int:
    """Batches per loss estimate for a run of max_iters steps that did not choose its own."""
    return min(recipe_eval_iters, max(MIN_EVAL_ITERS, max_iters // STEPS_PER_EVAL_BATCH))


def sample_tokens_for(max_iters: int, recipe_sample_tokens: int) -> int:
    """Length of the samples of a run of max_iters steps that did not choose its own."""
    return min(recipe_sample_tokens, max(MIN_SAMPLE_TOKENS, max_iters))


def default_out_dir(data: str | None, task: str | None) -> str:
    """out for the built-in corpus, out-<task> for a task, out-<name> for --data (a corpus name,
    or a file's name without its extension: --data notes/book.txt writes to out-book)."""
    if task is not None:
        return f"{DEFAULT_OUT_DIR}-{task}"
    if data is not None:
        return f"{DEFAULT_OUT_DIR}-{PurePath(data).stem or 'data'}"
    return DEFAULT_OUT_DIR
