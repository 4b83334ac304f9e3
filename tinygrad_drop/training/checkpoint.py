"""Checkpoints that lose nothing, so an interrupted run continues exactly as if it never stopped.

A run's state is more than its weights. What each piece is for:

    model       the weights (a state dict with nanoGPT's names)
    optimizer   AdamW's running moments m and v and its step count, per parameter; without them
                the resumed run would restart Adam from zero moments: a different trajectory
    scheduler   the learning-rate schedule's state: how many steps along it the run is
    iter        optimizer steps done
    elapsed_s   training time so far, so that a resumed run reports the whole run's time
    rng         td's random state (dropout's counter, the sampling generator) and the batch
                generator's: the resumed run draws the same batches and the same dropout masks
    vocab       the characters the token ids stand for: ids mean nothing without them
    config      the model's configuration (a GPTConfig as a dict), to rebuild the same model
    settings    the run's settings, so a resume with different flags is caught, not mixed
    data        where the text came from and its SHA-256, so resuming on other text is caught
    history     every evaluation so far, to rewrite metrics.jsonl and plot the whole run

`td.save` writes a temporary file, fsyncs it and renames it over the old one, so a crash or a
second Ctrl-C in the middle of saving leaves the previous checkpoint intact, never half a file.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import tinygrad_drop as td
from tinygrad_drop.data.text import CharTokenizer
from tinygrad_drop.utils.cli import UsageError

CHECKPOINT_NAME = "ckpt.npz"
KIND = "tinygrad_drop scripts/train.py checkpoint"
VERSION = 3
KEYS = ("kind", "version", "model", "optimizer", "scheduler", "iter", "elapsed_s", "rng", "vocab", "config",
        "settings", "data", "history")
# Builds a model from its configuration dict (the dataclass fields of model.config), e.g.
# `lambda config: GPT(GPTConfig(**config))`: the library trains and restores a model it does not define.
BuildModel = Callable[[dict[str, Any]], td.nn.Module]


def checkpoint_path(out_dir: str | Path) -> Path:
    """Where a run in out_dir keeps its checkpoint."""
    return Path(out_dir) / CHECKPOINT_NAME


def save_checkpoint(path: Path, *, model: td.nn.Module, optimizer: td.optim.Optimizer,
                    scheduler: td.optim.lr_scheduler.LRScheduler, iteration: int, elapsed_s: float, rng: dict,
                    vocab: str, settings: dict, data: dict, history: list[dict]) -> None:
    """Write every piece of the run (the module docstring says why each one); model.config must be
    a dataclass."""
    td.save({"kind": KIND, "version": VERSION, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "iter": iteration, "elapsed_s": elapsed_s, "rng": rng,
             "vocab": vocab, "config": dataclasses.asdict(model.config), "settings": settings, "data": data,
             "history": history}, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and sanity-check a checkpoint; any problem is a UsageError naming the file."""
    try:
        checkpoint = td.load(path)
    except FileNotFoundError:
        raise UsageError(f"no checkpoint at '{path}': train first (python scripts/train.py --out-dir "
                         f"{path.parent}), or point --out-dir at the folder that holds {CHECKPOINT_NAME}") from None
    except ValueError as error:
        raise UsageError(f"checkpoint '{path}' is corrupt or not a checkpoint ({error}): delete it and train "
                         "again") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != KIND:
        raise UsageError(f"'{path}' was not written by scripts/train.py: point --out-dir at a training run's folder")
    if checkpoint.get("version") != VERSION:
        raise UsageError(f"checkpoint '{path}' has version {checkpoint.get('version')!r}, this script reads "
                         f"version {VERSION}: train again with this version")
    missing = [key for key in KEYS if key not in checkpoint]
    if missing:
        raise UsageError(f"checkpoint '{path}' lacks {', '.join(missing)}: it is damaged; delete it and train again")
    return checkpoint


def restore_model(checkpoint: dict[str, Any], path: Path,
                  build_model: BuildModel) -> tuple[td.nn.Module, CharTokenizer]:
    """The trained model and its tokenizer, or a UsageError if the pieces do not fit together."""
    try:
        tokenizer = CharTokenizer(checkpoint["vocab"])
        if tokenizer.vocab_size != checkpoint["config"]["vocab_size"]:
            raise ValueError(f"the vocabulary has {tokenizer.vocab_size} characters but the model expects "
                             f"{checkpoint['config']['vocab_size']}")
        model = build_model(dict(checkpoint["config"]))
        model.load_state_dict(checkpoint["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        raise UsageError(f"checkpoint '{path}' does not fit together ({error}): delete it and train again") from None
    return model, tokenizer
