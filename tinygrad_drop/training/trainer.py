"""The training loop of scripts/train.py: nanoGPT's recipe for a character-level GPT, with
evaluation, checkpoints, exact resume and Ctrl-C saving.

    from models.gpt import GPT, GPTConfig
    from tinygrad_drop.training.trainer import run
    run({"data": "shakespeare", "max_iters": 2000}, Path("out-shakespeare"), lambda config: GPT(GPTConfig(**config)))

One training step, nanoGPT's recipe:

    x, y = a batch of text windows and, for each position, the character that follows
    loss = cross-entropy between model(x) and y          (how surprised the model is by y)
    loss.backward()                                      (d loss / d every weight)
    clip the gradient's norm to 1.0                      (one odd batch cannot throw the weights far)
    AdamW step, weight decay 0.1 on matrices only        (biases and LayerNorm gains keep their scale)
    lr   = linear warmup, then a cosine from lr down to lr/10  (optim.lr_scheduler.CosineWithWarmup)

Every eval_interval steps the model is measured with dropout off (model.eval(), then back to
model.train()): the loss on fixed train and validation batches, a line in OUT_DIR/metrics.jsonl,
a short sample, and a checkpoint. At the end: a sample and OUT_DIR/loss.png (with matplotlib).

Ctrl-C stops after the current step, saves a checkpoint and exits; resuming then continues with
exactly the losses the run would have had without the interruption (see checkpoint.py: batches
come from a generator saved in the checkpoint, dropout masks from td's saved counter).

The model is the caller's: `build_model` turns a configuration dict in nanoGPT's names (GPTConfig's
fields) into a model with GPT's interface (forward(idx, targets) -> (logits, loss), generate,
configure_optimizers, num_parameters, and its configuration dataclass as `.config`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_drop as td
from tinygrad_drop.data.digit_tasks import DigitTask
from tinygrad_drop.data.text import TextDataset, data_key, load_text
from tinygrad_drop.kernels.compile_notice import announce_compilation
from tinygrad_drop.optim.lr_scheduler import CosineWithWarmup
from tinygrad_drop.training.checkpoint import (CHECKPOINT_NAME, BuildModel, checkpoint_path, load_checkpoint,
                                               save_checkpoint)
from tinygrad_drop.training.run_lock import exclusive_run
from tinygrad_drop.training.defaults import (SEED, TASK_RECIPE, TEXT_RECIPE, default_out_dir, eval_iters_for,
                                             sample_tokens_for)
from tinygrad_drop.utils.cli import UsageError
from tinygrad_drop.utils.progress import ProgressBar, format_duration

BETAS = (0.9, 0.99)  # beta2 0.99, not 0.999: with few tokens per step the moments must forget sooner
WEIGHT_DECAY = 0.1
GRAD_CLIP = 1.0
MIN_LR_FRACTION = 0.1  # cosine decay ends at lr/10 (nanoGPT, after Chinchilla)
EVAL_SAMPLE_TOKENS = 100  # the short sample printed at each evaluation
# Separate random streams from the one seed: batches, and the fixed evaluation batches.
BATCH_STREAM, EVAL_STREAM = 1, 2
METRICS_NAME, PLOT_NAME = "metrics.jsonl", "loss.png"
RUN_FILES = (CHECKPOINT_NAME, METRICS_NAME, PLOT_NAME)  # what a run writes in its folder
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, the shell's code for "stopped by Ctrl-C"
FAILED_EXIT_CODE = 1


@dataclasses.dataclass
class Settings:
    """Everything that defines a run. Saved in checkpoints, so a resume can check it."""

    data: str | None
    task: str | None
    max_iters: int
    eval_interval: int
    eval_iters: int
    batch_size: int
    block_size: int | None
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float
    tie_weights: bool
    lr: float
    warmup_iters: int
    seed: int
    sample_tokens: int


# Changing any of these changes the losses, so a resumed run must keep them.
TRAJECTORY = ("data", "task", "max_iters", "batch_size", "block_size", "n_layer", "n_head", "n_embd",
              "dropout", "tie_weights", "lr", "warmup_iters", "seed")


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))


def resolve_settings(given: dict[str, Any], checkpoint: dict | None) -> Settings:
    """The run's settings: those the user gave (`given`, by Settings' field names), over the
    checkpoint's (when resuming) or the recipe's. When resuming, a setting that would change the
    trajectory must agree with the checkpoint."""
    unknown = set(given) - set(SETTING_NAMES)
    if unknown:
        raise TypeError(f"resolve_settings: unknown settings {sorted(unknown)}; expected some of {SETTING_NAMES}")
    given = dict(given)
    if given.get("data") is not None:
        given["data"] = data_key(given["data"])
    if checkpoint is not None:
        base = dict(checkpoint["settings"])
        if set(base) != set(SETTING_NAMES):
            raise UsageError(f"the checkpoint's settings ({', '.join(sorted(base))}) are not this script's (another "
                             "version wrote it): start a new run in another --out-dir")
        conflicts = [f"--{name.replace('_', '-')} {given[name]} (the checkpoint has {base[name]})"
                     for name in TRAJECTORY if name in given and given[name] != base[name]]
        if conflicts:
            raise UsageError(f"--resume continues the same run, but {'; '.join(conflicts)}: drop these flags, "
                             "or start a new run in another --out-dir")
    else:
        if "data" in given and "task" in given:
            raise UsageError("--data and --task are alternatives: train on a text file or on a task, not both")
        if "task" in given and "block_size" in given:
            raise UsageError(f"--block-size does not apply to --task (a {given['task']} example fixes the block "
                             "size): drop --block-size")
        base = {**(TASK_RECIPE if "task" in given else TEXT_RECIPE), "data": None, "task": None, "seed": SEED}
    settings = Settings(**{**base, **given})
    if checkpoint is None:
        # a short run warms up for a tenth of its steps, so that it still decays
        settings.warmup_iters = min(settings.warmup_iters, settings.max_iters // 10)
        # and measures and samples less (defaults.py says why), unless told otherwise
        if "eval_iters" not in given:
            settings.eval_iters = eval_iters_for(settings.max_iters, settings.eval_iters)
        if "sample_tokens" not in given:
            settings.sample_tokens = sample_tokens_for(settings.max_iters, settings.sample_tokens)
    if settings.n_embd % settings.n_head:
        nearest = max(settings.n_head, round(settings.n_embd / settings.n_head) * settings.n_head)
        raise UsageError(f"--n-embd {settings.n_embd} is not divisible by --n-head {settings.n_head} (each head "
                         f"gets n_embd / n_head dimensions): use e.g. --n-embd {nearest}, or a --n-head that divides "
                         f"{settings.n_embd}")
    return settings


# ---- the run ----------------------------------------------------------------------------------------

class StopRequest:
    """Ctrl-C sets a flag instead of killing the process mid-step: the loop finishes the step,
    saves, and exits. A second Ctrl-C quits at once, without saving."""

    def __init__(self) -> None:
        self.requested = False
        self.previous_handler = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this step to save a checkpoint (press it again to quit without saving)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # only the main thread gets signals
            self.previous_handler = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.previous_handler is not None:
            signal.signal(signal.SIGINT, self.previous_handler)


class Trainer:
    """One run: the data, the model, its optimizer and learning-rate schedule, built from the
    settings (and restored from the checkpoint when resuming), and the loop that trains, evaluates
    and saves."""

    def __init__(self, settings: Settings, out_dir: Path, checkpoint: dict | None, build_model: BuildModel):
        self.settings, self.out_dir = settings, out_dir
        self.checkpoint_file = checkpoint_path(out_dir)
        self.metrics_file = out_dir / METRICS_NAME
        if settings.task is not None:
            self.dataset = DigitTask(settings.task)
            settings.block_size = self.dataset.block_size
            self.data_fingerprint = {"source": f"task {settings.task}", "sha256": ""}
        else:
            corpus = load_text(settings.data)
            self.dataset = TextDataset(corpus, settings.block_size)
            self.data_fingerprint = {"source": corpus.source, "sha256": corpus.sha256}

        td.manual_seed(settings.seed)
        config = dict(vocab_size=self.dataset.tokenizer.vocab_size, block_size=settings.block_size,
                      n_layer=settings.n_layer, n_head=settings.n_head, n_embd=settings.n_embd,
                      embd_pdrop=settings.dropout, attn_pdrop=settings.dropout, resid_pdrop=settings.dropout,
                      tie_weights=settings.tie_weights)
        self.model = build_model(config)
        self.optimizer = self.model.configure_optimizers(WEIGHT_DECAY, settings.lr, BETAS)
        self.scheduler = CosineWithWarmup(self.optimizer, settings.warmup_iters, settings.max_iters,
                                          min_lr=settings.lr * MIN_LR_FRACTION)
        self.batch_rng = np.random.default_rng([settings.seed, BATCH_STREAM])
        self.iteration, self.history, self.elapsed_before = 0, [], 0.0
        if checkpoint is not None:
            self._restore(checkpoint)

    def _restore(self, checkpoint: dict) -> None:
        if checkpoint["data"] != self.data_fingerprint:
            raise UsageError(f"the data differ from those the checkpoint in {self.out_dir} was trained on "
                             f"({checkpoint['data']['source']}; a changed file, or another Python version's "
                             "built-in corpus): resume on the same data, or start a new run in another --out-dir")
        if checkpoint["vocab"] != self.dataset.tokenizer.vocab:
            raise UsageError(f"the checkpoint in {self.out_dir} has another vocabulary than its data: delete it "
                             "and train again")
        try:
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            td.set_rng_state(checkpoint["rng"]["td"])
            self.batch_rng.bit_generator.state = checkpoint["rng"]["batches"]
        except (TypeError, ValueError, KeyError, RuntimeError) as error:
            raise UsageError(f"checkpoint '{self.checkpoint_file}' does not fit this run ({error}): delete it "
                             "and train again") from None
        self.iteration = int(checkpoint["iter"])
        self.history = list(checkpoint["history"])
        self.elapsed_before = float(checkpoint["elapsed_s"])

    # ---- one step, one evaluation ----

    def train_step(self) -> float:
        x, y = self.dataset.batch("train", self.settings.batch_size, self.batch_rng)
        _, loss = self.model(td.tensor(x), td.tensor(y))
        self.optimizer.zero_grad()
        loss.backward()
        td.nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP)
        self.optimizer.step()
        self.scheduler.step()
        return loss.item()

    def estimate_loss(self, split: str) -> float:
        """Mean loss over eval_iters batches, the same batches at every evaluation, so that the
        curves compare the model with itself and not one random draw with another."""
        rng = np.random.default_rng([self.settings.seed, EVAL_STREAM, ("train", "val").index(split)])
        losses = []
        for _ in range(self.settings.eval_iters):
            x, y = self.dataset.batch(split, self.settings.batch_size, rng)
            losses.append(self.model(td.tensor(x), td.tensor(y))[1].item())
        return float(np.mean(losses))

    def evaluate(self, elapsed: float) -> None:
        """Measure with dropout off, record, print; then back to training mode."""
        self.model.eval()
        with td.no_grad():
            record = {"iter": self.iteration, "train_loss": self.estimate_loss("train"),
                      "val_loss": self.estimate_loss("val"), "lr": self.scheduler.get_last_lr()[0],
                      "elapsed_s": round(elapsed, 3), **self.dataset.metrics(self.model)}
            sample_tokens = min(EVAL_SAMPLE_TOKENS, self.settings.sample_tokens)
            sample = self.dataset.sample(self.model, sample_tokens) if sample_tokens else None
        self.model.train()
        self.history.append(record)
        with open(self.metrics_file, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        extra = f", accuracy {100 * record['accuracy']:.1f}%" if "accuracy" in record else ""
        print(f"iter {self.iteration}: train loss {record['train_loss']:.4f}, val loss {record['val_loss']:.4f}"
              f"{extra} (lr {record['lr']:.1e}, {format_duration(elapsed)})", flush=True)
        if sample:
            print(indent(sample), flush=True)

    def save(self, elapsed: float) -> None:
        save_checkpoint(self.checkpoint_file, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                        iteration=self.iteration,
                        rng={"td": td.get_rng_state(), "batches": self.batch_rng.bit_generator.state},
                        vocab=self.dataset.tokenizer.vocab, settings=dataclasses.asdict(self.settings),
                        data=self.data_fingerprint, history=self.history, elapsed_s=elapsed)

    # ---- the loop ----

    def describe(self) -> str:
        s = self.settings
        return (f"{self.dataset.describe()}\n"
                f"model: GPT, {s.n_layer} layers, {s.n_head} heads, width {s.n_embd}, block {s.block_size}, "
                f"{self.model.num_parameters() / 1e6:.2f}M parameters, dropout {s.dropout}\n"
                f"training: {s.max_iters} steps of {s.batch_size} x {s.block_size} tokens, AdamW lr {s.lr:g} "
                f"(warmup {s.warmup_iters}, cosine to {s.lr * MIN_LR_FRACTION:g}), kernels: {td.get_backend()}")

    def train(self) -> int:
        s = self.settings
        print(self.describe(), flush=True)
        if self.iteration:
            print(f"resuming from {self.checkpoint_file} at iter {self.iteration}", flush=True)
        # metrics.jsonl holds exactly the evaluations of this run so far (a resumed run drops any
        # written after its checkpoint)
        self.metrics_file.write_text("".join(json.dumps(record) + "\n" for record in self.history), encoding="utf-8")
        started = time.perf_counter()

        def elapsed() -> float:
            return self.elapsed_before + time.perf_counter() - started

        with StopRequest() as stop, ExitStack() as first_calls:
            # the baseline evaluation and the first step compile every kernel the run uses
            first_calls.enter_context(announce_compilation())
            bar = ProgressBar(s.max_iters, s.batch_size * s.block_size, evaluate_every=s.eval_interval)
            # the untrained baseline (loss near ln(vocab_size)), once: a run stopped right after it
            # resumes with it already in its history
            if self.iteration == 0 and not self.history:
                evaluation_started = time.perf_counter()
                self.evaluate(elapsed())
                bar.evaluated(time.perf_counter() - evaluation_started)
            while self.iteration < s.max_iters:
                if stop.requested:
                    bar.close()
                    self.save(elapsed())
                    print(f"stopped at iter {self.iteration}, checkpoint saved to {self.checkpoint_file}; continue "
                          f"with: python scripts/train.py --out-dir {self.out_dir} --resume", flush=True)
                    return INTERRUPTED_EXIT_CODE
                loss = self.train_step()
                first_calls.close()
                if not math.isfinite(loss):
                    bar.close()
                    print(f"error: the training loss became {loss} at iter {self.iteration} (the weights "
                          "diverged): try a smaller --lr", file=sys.stderr)
                    return FAILED_EXIT_CODE
                self.iteration += 1
                bar.update(self.iteration, loss)
                if self.iteration % s.eval_interval == 0 or self.iteration == s.max_iters:
                    evaluation_started = time.perf_counter()
                    bar.clear()
                    self.evaluate(elapsed())
                    self.save(elapsed())
                    bar.evaluated(time.perf_counter() - evaluation_started)
            bar.close()
        self.finish(elapsed())
        return 0

    def finish(self, elapsed: float) -> None:
        s = self.settings
        if s.sample_tokens:
            self.model.eval()
            print(f"sample after {self.iteration} steps:\n{indent(self.dataset.sample(self.model, s.sample_tokens))}")
        plotted = plot_losses(self.history, self.out_dir / PLOT_NAME)
        last = self.history[-1]
        plot_note = f", plot {self.out_dir / PLOT_NAME}" if plotted else " (install matplotlib for loss.png)"
        print(f"done: {s.max_iters} steps, {format_duration(elapsed)} in all; val loss {last['val_loss']:.4f}; "
              f"checkpoint {self.checkpoint_file}, metrics {self.metrics_file}{plot_note}", flush=True)


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def plot_losses(history: list[dict], path: Path) -> bool:
    """Train and val loss against iterations, saved to path; False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure  # the object API: no GUI backend, no global state
    except ImportError:
        return False
    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.subplots()
    iterations = [record["iter"] for record in history]
    for split in ("train", "val"):
        axes.plot(iterations, [record[f"{split}_loss"] for record in history], marker=".", label=split)
    axes.set_xlabel("iteration")
    axes.set_ylabel("cross-entropy loss (nats per character)")
    axes.set_title("training and validation loss (dropout off while measuring)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def describe_saved_run(out_dir: Path) -> tuple[str, bool]:
    """What the checkpoint in out_dir holds, in words, and whether that run finished: for the
    messages about replacing it."""
    try:
        saved = load_checkpoint(checkpoint_path(out_dir))
    except UsageError:
        return "a checkpoint that this version cannot read", False
    done, planned = int(saved["iter"]), saved["settings"].get("max_iters")
    if planned is None or done >= planned:
        return f"a finished run of {done} steps", True
    return f"a run stopped at iter {done} of {planned}", False


def remove_run(out_dir: Path) -> None:
    """Delete the files a run writes in out_dir (and nothing else that may be there)."""
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)


def run(given: dict[str, Any], out_dir: Path | None, build_model: BuildModel, resume: bool = False,
        overwrite: bool = False) -> int:
    """Train a new run in out_dir, or with resume continue the one saved there; the exit code.

    given: the settings the user chose, by Settings' field names (the rest come from the recipe,
    or from the checkpoint when resuming). out_dir None: the run's own folder (out, out-<task> or
    out-<data>, see defaults.py). A new run refuses a folder that holds a run, unless `overwrite`
    replaces it. Bad settings, data or checkpoints raise UsageError before the run writes anything
    (a folder made for it is removed again); so do an unwritable folder and a folder that another
    run is using (training/run_lock.py).
    """
    out_dir = Path(out_dir if out_dir is not None else default_out_dir(given.get("data"), given.get("task")))
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir '{out_dir}' is a file: choose a folder")
    if resume and overwrite:
        raise UsageError(f"--resume continues the run in '{out_dir}' and --overwrite replaces it: choose one")
    with exclusive_run(out_dir):  # a second trainer on this folder is refused from here on
        return train_in(out_dir, given, build_model, resume, overwrite)


def train_in(out_dir: Path, given: dict[str, Any], build_model: BuildModel, resume: bool, overwrite: bool) -> int:
    """run()'s work, once out_dir is this process's alone."""
    checkpoint = None
    replaced = None  # what --overwrite replaces, in words
    if resume:
        checkpoint = load_checkpoint(checkpoint_path(out_dir))
    elif checkpoint_path(out_dir).exists():
        replaced, finished = describe_saved_run(out_dir)
        if not overwrite:
            go_on = "sample it with scripts/sample.py" if finished else "continue it with --resume"
            raise UsageError(f"'{out_dir}' already holds {replaced}: {go_on}, replace it with --overwrite, or choose "
                             "another --out-dir")
    settings = resolve_settings(given, checkpoint)
    trainer = Trainer(settings, out_dir, checkpoint, build_model)  # loads and checks the data; writes nothing
    if checkpoint is not None and trainer.iteration >= settings.max_iters:
        raise UsageError(f"the run in '{out_dir}' already finished its {settings.max_iters} steps: sample it with "
                         "scripts/sample.py, replace it with --overwrite, or start a new run in another --out-dir")
    if replaced is not None:
        print(f"--overwrite: replacing {replaced} in '{out_dir}'", flush=True)
        remove_run(out_dir)
    return trainer.train()
