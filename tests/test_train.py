"""End-to-end tests of training: it trains, stops, resumes and refuses bad input.

Runs are tiny (one layer, width 32, a few dozen steps) and mostly in-process, calling the
library's loop (tinygrad_drop.training.trainer.run) as scripts/train.py does, so that Numba's
kernels compile once for the whole file. The scripts run as real processes, where the command
line or the process itself is the point (flags, one-line errors, exit codes, Ctrl-C).
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


import tinygrad_drop as td
import tinygrad_drop.nn as nn
from models.gpt import GPT, GPTConfig
from tinygrad_drop.data import digit_tasks
from tinygrad_drop.data.text import TextDataset, load_text
from tinygrad_drop.training import checkpoint, defaults, trainer
from tinygrad_drop.utils.cli import UsageError

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"

# a whole model runs every topic's backward, so a student copy missing any topic fails here too
pytestmark = [pytest.mark.train, pytest.mark.whole_model]

TINY_MODEL = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8)
TINY_RUN = dict(TINY_MODEL, max_iters=30, eval_interval=15, eval_iters=4, sample_tokens=20)
TRACKED = ("iter", "train_loss", "val_loss", "lr")


def build_gpt(config: dict) -> GPT:
    return GPT(GPTConfig(**config))


def train(out_dir: Path | None, resume: bool = False, overwrite: bool = False, **given) -> int:
    """A run of the training loop, as scripts/train.py starts it."""
    return trainer.run(given, out_dir, build_gpt, resume=resume, overwrite=overwrite)


def flags(settings: dict) -> list[str]:
    """The command line that asks scripts/train.py for these settings."""
    return [arg for name, value in settings.items() for arg in (f"--{name.replace('_', '-')}", str(value))]


def read_metrics(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def tracked(records: list[dict]) -> list[tuple]:
    return [tuple(record[key] for key in TRACKED) for record in records]


def script_env() -> dict:
    """The environment of a script run from this checkout (not an installed copy of the package)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def run_script(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=script_env())


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One short training run on the built-in corpus, shared by the tests that inspect its output."""
    out_dir = tmp_path_factory.mktemp("short_run")
    code = train(out_dir, **TINY_RUN)
    return code, out_dir


# ---- training works -------------------------------------------------------------------------------

def test_synthetic_task_reaches_high_accuracy(tmp_path, capsys):
    """The end-to-end test: a 2-layer model must learn to reverse digit strings it never saw."""
    started = time.perf_counter()
    code = train(tmp_path, task="reverse", max_iters=60, eval_interval=60, eval_iters=2, sample_tokens=0)
    seconds = time.perf_counter() - started
    assert code == 0
    records = read_metrics(tmp_path)
    assert records[0]["accuracy"] < 0.3, "the untrained model must not already solve the task"
    assert records[-1]["accuracy"] > 0.95, f"reverse task accuracy only {records[-1]['accuracy']:.3f} ({seconds:.0f}s)"
    # the loss starts near ln(11), 11 equally likely characters, and must fall far below it
    assert records[0]["val_loss"] == pytest.approx(math.log(11), abs=0.15)
    assert records[-1]["val_loss"] < 0.5


@pytest.mark.parametrize("task", digit_tasks.TASKS)
def test_task_examples_are_right_and_validation_is_held_out(task):
    dataset = digit_tasks.DigitTask(task)
    rng = np.random.default_rng(0)
    x, y = dataset.batch("train", 2000, rng)
    length = dataset.length
    digits, answers = x[:, :length], y[:, length:]
    expected = digits[:, ::-1] if task == "reverse" else np.sort(digits, axis=1)
    np.testing.assert_array_equal(answers, expected)
    assert (y[:, :length] == -1).all(), "prompt positions must not count in the loss"
    val_x, _ = dataset.batch("val", 2000, rng)
    train_strings = {row.tobytes() for row in digits}
    assert not train_strings & {row.tobytes() for row in val_x[:, :length]}
    # about one string in ten is held out: 20000 uniform strings, binomial sd about 42
    candidates = rng.integers(0, 10, size=(20_000, length))
    assert abs(dataset.is_validation(candidates).sum() - 2000) < 5 * 42


def test_short_run_lowers_val_loss_and_writes_everything(short_run, capsys):
    code, out_dir = short_run
    assert code == 0
    records = read_metrics(out_dir)
    assert [r["iter"] for r in records] == [0, 15, 30]
    for record in records:
        assert set(TRACKED) | {"elapsed_s"} <= set(record)
        assert all(math.isfinite(record[key]) for key in TRACKED)
    vocab_size = len(checkpoint.load_checkpoint(out_dir / "ckpt.npz")["vocab"])
    # Weights start near zero, so the untrained model predicts every character about equally:
    # its loss is the entropy of the uniform distribution, ln(vocab_size).
    assert abs(records[0]["val_loss"] - math.log(vocab_size)) < 0.15
    assert records[-1]["val_loss"] < records[0]["val_loss"] - 0.3
    assert (out_dir / "ckpt.npz").exists()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out_dir / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_progress_and_samples_are_shown(tmp_path, capsys):
    code = train(tmp_path, **TINY_MODEL, max_iters=6, eval_interval=3, eval_iters=2, sample_tokens=12)
    out, err = capsys.readouterr()
    assert code == 0
    progress = [line for line in err.splitlines() if line.startswith("iter ")]
    assert progress and all("loss" in line and "tok/s" in line and "left" in line for line in progress)
    assert "iter 3: train loss" in out and "sample after 6 steps:" in out


def test_checkpoint_round_trips(short_run):
    """The checkpoint alone rebuilds a model that scores exactly what the run measured."""
    _, out_dir = short_run
    path = out_dir / "ckpt.npz"
    saved = checkpoint.load_checkpoint(path)
    model, tokenizer = checkpoint.restore_model(saved, path, build_gpt)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), saved["model"][name])
    assert saved["iter"] == 30 and tokenizer.vocab == saved["vocab"]
    # the trainer's default: an output layer of its own, restored as such
    assert saved["config"]["tie_weights"] is False and model.lm_head.weight is not model.transformer.wte.weight
    # Recompute the last val loss from the restored model on the same fixed evaluation batches.
    settings = trainer.Settings(**saved["settings"])
    dataset = TextDataset(load_text(settings.data), settings.block_size)
    rng = np.random.default_rng([settings.seed, trainer.EVAL_STREAM, 1])
    model.eval()
    with td.no_grad():
        losses = [model(td.tensor(x), td.tensor(y))[1].item()
                  for x, y in (dataset.batch("val", settings.batch_size, rng) for _ in range(settings.eval_iters))]
    assert np.mean(losses) == pytest.approx(saved["history"][-1]["val_loss"], rel=1e-6)


def test_the_learning_rate_follows_the_librarys_schedule(short_run):
    """Warmup for a tenth of a short run, then a cosine down to lr/10, as optim.lr_scheduler computes it."""
    _, out_dir = short_run
    saved = checkpoint.load_checkpoint(out_dir / "ckpt.npz")
    settings = trainer.Settings(**saved["settings"])
    assert settings.warmup_iters == 3
    for record in read_metrics(out_dir):
        assert record["lr"] == td.optim.lr_scheduler.cosine_with_warmup(
            record["iter"], settings.warmup_iters, settings.max_iters, settings.lr, settings.lr / 10)
    assert saved["scheduler"]["last_epoch"] == saved["iter"] == 30


def test_sample_script_continues_the_prompt(short_run):
    _, out_dir = short_run
    result = run_script(["scripts/sample.py", "--out-dir", str(out_dir), "--prompt", "def ", "--tokens", "15"])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("def ") and len(text.rstrip("\n")) >= 4 + 15 - 1  # generated text may end in newlines


def test_a_nan_loss_stops_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(trainer.Trainer, "train_step", lambda self: float("nan"))
    code = train(tmp_path, **TINY_MODEL, max_iters=5, eval_iters=1)
    err = capsys.readouterr().err
    assert code == trainer.FAILED_EXIT_CODE
    assert "error: the training loss became nan at iter 0" in err


# ---- interrupt and resume -------------------------------------------------------------------------

def test_interrupt_and_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    """Ctrl-C at step 11 (a real SIGINT, delivered between two steps), then --resume: every step's
    loss, every evaluation and the final weights equal those of a run that was never stopped.
    Dropout is on, so the dropout masks must continue exactly too."""
    settings = dict(TINY_MODEL, max_iters=16, eval_interval=8, eval_iters=1, sample_tokens=3, dropout=0.2)
    step_losses = []
    original_step = trainer.Trainer.train_step

    def recording_step(self):
        loss = original_step(self)
        step_losses.append(loss)
        if interrupt_at is not None and self.iteration == interrupt_at - 1:
            signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(trainer.Trainer, "train_step", recording_step)

    interrupt_at = None
    assert train(tmp_path / "whole", **settings) == 0
    whole_losses, step_losses = step_losses, []

    interrupt_at = 11
    assert train(tmp_path / "split", **settings) == trainer.INTERRUPTED_EXIT_CODE
    assert checkpoint.load_checkpoint(tmp_path / "split" / "ckpt.npz")["iter"] == 11
    interrupt_at = None
    assert train(tmp_path / "split", resume=True) == 0

    assert len(whole_losses) == 16
    assert step_losses == whole_losses
    assert tracked(read_metrics(tmp_path / "split")) == tracked(read_metrics(tmp_path / "whole"))
    whole = checkpoint.load_checkpoint(tmp_path / "whole" / "ckpt.npz")
    split = checkpoint.load_checkpoint(tmp_path / "split" / "ckpt.npz")
    for name, value in whole["model"].items():
        np.testing.assert_array_equal(split["model"][name], value)
    for index, state in whole["optimizer"]["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(split["optimizer"]["state"][index][key], value)
    assert split["rng"] == whole["rng"] and split["scheduler"] == whole["scheduler"]


def test_ctrl_c_during_the_first_evaluation_then_resume_writes_each_row_once(tmp_path, monkeypatch):
    """Ctrl-C while the untrained baseline is measured: the run saves at iter 0 with that
    evaluation in its history, and --resume does not measure it again."""
    settings = dict(TINY_MODEL, max_iters=4, eval_interval=2, eval_iters=1, sample_tokens=0)
    original_evaluate = trainer.Trainer.evaluate
    interrupt = [True]

    def evaluate_then_interrupt(self, elapsed):
        original_evaluate(self, elapsed)
        if interrupt[0]:
            interrupt[0] = False
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(trainer.Trainer, "evaluate", evaluate_then_interrupt)
    assert train(tmp_path / "split", **settings) == trainer.INTERRUPTED_EXIT_CODE
    assert checkpoint.load_checkpoint(tmp_path / "split" / "ckpt.npz")["iter"] == 0
    assert [r["iter"] for r in read_metrics(tmp_path / "split")] == [0]
    assert train(tmp_path / "split", resume=True) == 0
    assert train(tmp_path / "whole", **settings) == 0
    assert [r["iter"] for r in read_metrics(tmp_path / "split")] == [0, 2, 4]
    assert tracked(read_metrics(tmp_path / "split")) == tracked(read_metrics(tmp_path / "whole"))


def test_ctrl_c_in_a_real_process_saves_and_exits_cleanly(tmp_path):
    process = subprocess.Popen([sys.executable, str(SCRIPTS / "train.py"), *flags(TINY_MODEL), "--max-iters", "100000",
                                "--eval-iters", "1", "--out-dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=script_env())
    try:
        for line in process.stdout:
            if line.startswith("iter 0:"):  # training has begun
                break
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == trainer.INTERRUPTED_EXIT_CODE, err
    assert "Traceback" not in err
    assert "--resume" in out
    saved = checkpoint.load_checkpoint(tmp_path / "ckpt.npz")
    assert 0 < saved["iter"] < 100000


# ---- bad input ------------------------------------------------------------------------------------

def write(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda d: ["--data", str(d / "nope.txt")], "does not exist"),
    "empty file": (lambda d: ["--data", write(d / "empty.txt", b"")], "is empty"),
    "binary file": (lambda d: ["--data", write(d / "blob.bin", bytes(range(256)) * 8)], "binary"),
    "not UTF-8": (lambda d: ["--data", write(d / "latin1.txt", "café ".encode("latin-1") * 300)], "not UTF-8"),
    "too short": (lambda d: ["--data", write(d / "short.txt", b"to be or not to be\n")], "too short"),
    "block size over data": (lambda d: ["--data", write(d / "ok.txt", b"abcdefghij" * 200), "--block-size", "500"],
                             "--block-size 500 is larger than the data"),
    "unknown flag": (lambda d: ["--learning-rate", "1e-3"], "unrecognized arguments: --learning-rate"),
    "abbreviated flag": (lambda d: ["--max-iter", "5"], "unrecognized arguments: --max-iter"),
    "resume and overwrite": (lambda d: ["--resume", "--overwrite"], "not allowed with argument --resume"),
    "bad number": (lambda d: ["--batch-size", "0"], "expected a positive integer"),
    "heads do not divide width": (lambda d: ["--n-embd", "100", "--n-head", "3"], "not divisible by --n-head 3"),
    "data and task": (lambda d: ["--task", "sort", "--data", write(d / "ok.txt", b"x" * 2000)], "alternatives"),
    "resume without checkpoint": (lambda d: ["--resume"], "no checkpoint"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_with_exit_code_2(case, tmp_path):
    make_args, expected = BAD_INPUTS[case]
    result = run_script(["scripts/train.py", *make_args(tmp_path), "--out-dir", str(tmp_path / "out")])
    err = result.stderr
    assert result.returncode == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists(), "a failed check must leave no folder behind"


QUICK_RUN = dict(TINY_MODEL, max_iters=2, eval_iters=1, sample_tokens=0)


def test_each_corpus_and_task_has_its_own_default_out_dir(tmp_path, monkeypatch, capsys):
    """The README's runs, in any order, never meet: each writes to the folder of its data or task."""
    assert defaults.default_out_dir(None, None) == "out"
    assert defaults.default_out_dir("shakespeare", None) == "out-shakespeare"
    assert defaults.default_out_dir("notes/book.txt", None) == "out-book"
    assert defaults.default_out_dir(None, "reverse") == "out-reverse"
    monkeypatch.chdir(tmp_path)
    book = write(tmp_path / "book.txt", b"It was a dark and stormy night. " * 100)
    task_run = {name: value for name, value in QUICK_RUN.items() if name != "block_size"}  # a task sets its own
    assert train(None, task="sort", **task_run) == 0
    assert train(None, data=book, **QUICK_RUN) == 0
    assert train(None, **QUICK_RUN) == 0
    for folder in ("out-sort", "out-book", "out"):
        assert [r["iter"] for r in read_metrics(tmp_path / folder)] == [0, 2]


def test_a_finished_run_is_replaced_only_with_overwrite(tmp_path, capsys):
    assert train(tmp_path, **QUICK_RUN) == 0
    with pytest.raises(UsageError, match="already holds a finished run of 2 steps: sample it.*--overwrite"):
        train(tmp_path, **QUICK_RUN)
    with pytest.raises(UsageError, match="already finished its 2 steps.*--overwrite"):
        train(tmp_path, resume=True)
    with pytest.raises(UsageError, match="--resume continues .* --overwrite replaces it"):
        train(tmp_path, resume=True, overwrite=True)
    capsys.readouterr()
    assert train(tmp_path, overwrite=True, **dict(QUICK_RUN, max_iters=4)) == 0
    assert "--overwrite: replacing a finished run of 2 steps in" in capsys.readouterr().out
    assert [r["iter"] for r in read_metrics(tmp_path)] == [0, 4]  # the old run's rows are gone
    assert checkpoint.load_checkpoint(tmp_path / "ckpt.npz")["iter"] == 4


def test_overwrite_replaces_a_foreign_checkpoint_and_keeps_other_files(tmp_path, capsys):
    (tmp_path / "ckpt.npz").write_bytes(b"not a checkpoint")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="a checkpoint that this version cannot read: continue it"):
        train(tmp_path, **QUICK_RUN)
    assert train(tmp_path, overwrite=True, **QUICK_RUN) == 0
    assert "replacing a checkpoint that this version cannot read" in capsys.readouterr().out
    assert checkpoint.load_checkpoint(tmp_path / "ckpt.npz")["iter"] == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path, capsys):
    """Two runs in one folder would overwrite each other's checkpoint and interleave their metrics:
    while one holds the folder (here this test, through the same lock), a second one gets one line."""
    from tinygrad_drop.training.run_lock import exclusive_run
    with exclusive_run(tmp_path):
        with pytest.raises(UsageError, match=f"another training run \\(process {os.getpid()}\\) is using"):
            train(tmp_path, **QUICK_RUN)
        holder = subprocess.run([sys.executable, str(SCRIPTS / "train.py"), "--out-dir", str(tmp_path), "--max-iters",
                                 "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert holder.returncode == 2 and holder.stderr.count("\n") == 1, holder.stderr
        assert "another training run" in holder.stderr and "choose another --out-dir" in holder.stderr
    assert train(tmp_path, **QUICK_RUN) == 0  # released when its holder is done
    assert [r["iter"] for r in read_metrics(tmp_path)] == [0, 2]


@pytest.mark.parametrize("make_out_dir", [lambda d: write(d / "file.txt", b"x") + "/run",
                                          lambda d: "/proc/version/run"], ids=["under a file", "under /proc"])
def test_an_unwritable_out_dir_is_one_line_with_exit_code_2(make_out_dir, tmp_path):
    result = run_script(["scripts/train.py", "--out-dir", make_out_dir(tmp_path), "--max-iters", "2"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: cannot write to --out-dir") and "Traceback" not in result.stderr


def test_a_failed_check_leaves_a_replaced_run_in_place(tmp_path):
    """--overwrite with bad data: the error comes first, the old run stays."""
    assert train(tmp_path, **QUICK_RUN) == 0
    with pytest.raises(UsageError, match="does not exist"):
        train(tmp_path, overwrite=True, data=str(tmp_path / "nope.txt"), **QUICK_RUN)
    assert checkpoint.load_checkpoint(tmp_path / "ckpt.npz")["iter"] == 2


def test_short_runs_evaluate_and_sample_less_and_the_recipes_keep_their_numbers():
    def resolved(**given):
        settings = trainer.resolve_settings(given, None)
        return settings.eval_iters, settings.sample_tokens, settings.eval_interval

    assert resolved() == (100, 300, 250)  # the default run: val 1.6673 in the README
    assert resolved(data="shakespeare", max_iters=2000) == (100, 300, 250)  # nanoGPT's recipe
    assert resolved(task="reverse") == (10, 24, 100)
    assert resolved(max_iters=5) == (defaults.MIN_EVAL_ITERS, defaults.MIN_SAMPLE_TOKENS, 250)
    assert resolved(max_iters=300) == (30, 300, 250)  # one batch per 10 steps, one character per step
    assert resolved(max_iters=5, eval_iters=50, sample_tokens=7) == (50, 7, 250)  # a choice is kept


# Runs a script with some modules made unimportable: proof that it never needed them.
BLOCKING_RUNNER = """
import runpy, sys
blocked, script = sys.argv[1].split(","), sys.argv[2]
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{name} was imported, and this test forbids it")
sys.meta_path.insert(0, Blocker())
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""
HEAVY = "models,tinygrad_drop.training.trainer,tinygrad_drop.training.checkpoint"


def run_blocking(blocked: str, script: str, *args: str) -> subprocess.CompletedProcess:
    return run_script(["-c", BLOCKING_RUNNER, blocked, f"scripts/{script}", *args])


@pytest.mark.parametrize("script", ["train.py", "sample.py", "dropout_study.py"])
def test_help_and_flag_errors_answer_before_the_model_and_the_trainer_load(script):
    """The scripts parse their command line first: --help and a mistyped flag never wait for the
    model, the training loop or the checkpoint code (nor, through them, the compiled kernels)."""
    result = run_blocking(HEAVY, script, "--help")
    assert result.returncode == 0, result.stderr
    assert "--out-dir" in result.stdout
    result = run_blocking(HEAVY, script, "--out-di", "x")  # an abbreviation is a mistake, not a guess
    assert result.returncode == 2 and result.stderr.startswith("error: unrecognized arguments: --out-di"), result.stderr


def test_readme_runs_write_to_different_folders():
    """Every training command in README.md has a folder of its own, so they run in any order."""
    folders = {}
    for command in readme_commands():
        if "scripts/train.py" not in command or "--help" in command or "--resume" in command:
            continue
        command = "python scripts/train.py" + command.split("scripts/train.py", 1)[1]  # the same run, once
        flag = dict(re.findall(r"--(data|task|out-dir)[ =](\S+)", command))
        folder = flag.get("out-dir") or defaults.default_out_dir(flag.get("data"), flag.get("task"))
        assert folders.setdefault(folder, command) == command, f"{command!r} and {folders[folder]!r} both use {folder}"
    assert len(folders) >= 3 and "out-dropout-study" not in folders


def test_the_library_raises_usage_errors_for_bad_data_and_settings(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        train(tmp_path / "out", data=str(tmp_path / "nope.txt"))
    with pytest.raises(UsageError, match="alternatives"):
        train(tmp_path / "out", task="sort", data=write(tmp_path / "ok.txt", b"x" * 2000))
    with pytest.raises(UsageError, match="no checkpoint"):
        train(tmp_path / "out", resume=True)
    assert not (tmp_path / "out").exists()


def test_corrupt_and_mismatched_checkpoints_are_refused(short_run, tmp_path):
    _, out_dir = short_run
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "ckpt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(UsageError, match="corrupt"):
        train(corrupt, resume=True)
    result = run_script(["scripts/sample.py", "--out-dir", str(corrupt)])
    assert result.returncode == 2 and "corrupt" in result.stderr

    with pytest.raises(UsageError, match=re.escape("--n-layer 2 (the checkpoint has 1)")):
        train(out_dir, resume=True, n_layer=2)
    result = run_script(["scripts/train.py", "--out-dir", str(out_dir), "--resume", "--tie-weights"])
    assert result.returncode == 2 and "--tie-weights True (the checkpoint has False)" in result.stderr
    with pytest.raises(UsageError, match="already holds a finished run of 30 steps"):  # would overwrite a run
        train(out_dir, **TINY_RUN)

    # weights that do not fit the configuration the checkpoint claims
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    saved = checkpoint.load_checkpoint(out_dir / "ckpt.npz")
    saved["model"]["lm_head.weight"] = saved["model"]["lm_head.weight"][:, :8]
    td.save(saved, damaged / "ckpt.npz")
    result = run_script(["scripts/sample.py", "--out-dir", str(damaged)])
    err = result.stderr
    assert result.returncode == 2
    assert err.startswith("error: ") and "does not fit" in err and err.count("\n") == 1


def test_prompt_outside_the_vocabulary_is_refused(short_run):
    _, out_dir = short_run
    result = run_script(["scripts/sample.py", "--out-dir", str(out_dir), "--prompt", "日本"])
    assert result.returncode == 2 and "never saw" in result.stderr


# ---- the dropout scripts --------------------------------------------------------------------------

def test_dropout_exercise_matches_the_theory():
    """The exercise scripts/dropout_demo.py prints: p = 0.5 on a neuron whose output is 2.0: half
    the draws give 4.0, half 0, mean 2.0; unscaled the training mean is 1.0; classic dropout scales
    by 1-p at inference instead."""
    n = 40_000
    td.manual_seed(0)
    x = td.full((n,), 2.0)
    inverted, classic = nn.Dropout(0.5), nn.Dropout(0.5, inverted=False)
    inverted_train, unscaled_train = inverted(x).numpy(), classic(x).numpy()
    assert set(np.unique(inverted_train)) == {0.0, 4.0}
    # mean of n values that are 0 or 4 with probability 1/2: standard error 2 / sqrt(n); allow 5 of them
    tolerance = 5 * 2.0 / math.sqrt(n)
    assert inverted_train.mean() == pytest.approx(2.0, abs=tolerance)
    assert unscaled_train.mean() == pytest.approx(1.0, abs=tolerance / 2)
    inverted.eval()
    classic.eval()
    assert inverted(td.full((1,), 2.0)).item() == 2.0
    assert classic(td.full((1,), 2.0)).item() == pytest.approx(1.0)


def test_dropout_demo_runs():
    result = run_script(["scripts/dropout_demo.py", "--draws", "40000"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "●" in out and "○" in out and "4.0" in out
    # the exercise's mean, measured over the draws, within five standard errors of the expected 2.0
    mean = float(re.search(r"mean (\d+\.\d+)", out).group(1))
    assert mean == pytest.approx(2.0, abs=5 * 2.0 / math.sqrt(40_000))


def test_dropout_study_runs_with_tiny_settings_and_is_replaced_only_with_overwrite(tmp_path):
    tiny = ["--max-iters", "6", "--eval-interval", "3", "--eval-iters", "2", "--chars", "4000", "--n-layer", "1",
            "--n-head", "2", "--n-embd", "32", "--out-dir", str(tmp_path)]
    result = run_script(["scripts/dropout_study.py", "--rates", "0.0", "0.5", *tiny])
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "0.0" in out and "0.5" in out and "gap" in out
    for rate in ("0.0", "0.5"):
        assert [r["iter"] for r in read_metrics(tmp_path / f"dropout-{rate}")] == [0, 3, 6]
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [row["dropout"] for row in rows] == [0.0, 0.5]

    again = run_script(["scripts/dropout_study.py", "--rates", "0.5", *tiny])
    assert again.returncode == 2 and "already holds a study: replace it with --overwrite" in again.stderr
    replaced = run_script(["scripts/dropout_study.py", "--rates", "0.5", "--overwrite", *tiny])
    assert replaced.returncode == 0, replaced.stderr
    assert [row["dropout"] for row in json.loads((tmp_path / "results.json").read_text())] == [0.5]
    assert not (tmp_path / "dropout-0.0").exists()  # the earlier study's other run is gone with it


# ---- README ---------------------------------------------------------------------------------------

def readme_commands() -> list[str]:
    """The shell commands README.md shows (code spans and bash blocks), up to its speed section."""
    text = (ROOT / "README.md").read_text().split("## How fast it is")[0]
    spans = re.findall(r"`([^`\n]+)`", text)
    lines = [line for language, block in re.findall(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M)
             if language == "bash" for line in block.splitlines()]
    return [command for command in spans + lines if re.match(r"(\w+=\S+ )*(python|pip|pytest)\b", command)]


def test_readme_commands_need_nothing_beside_the_checkout():
    """Every script and file README's commands name is in the repository, and every flag they use
    is one the script accepts."""
    assert "../shared" not in (ROOT / "README.md").read_text().split("## How fast it is")[0]
    commands = readme_commands()
    assert any("--data shakespeare" in command for command in commands)
    accepted = {}  # script -> its --help text
    for command in commands:
        assert "../" not in command, command
        for script in re.findall(r"scripts/\w+\.py", command):
            assert (ROOT / script).exists(), command
            if script not in accepted:
                accepted[script] = run_script([script, "--help"]).stdout
            for flag in re.findall(r"(?<=\s)--[\w-]+", command.split(script, 1)[1]):
                assert flag in accepted[script], (command, flag)
    assert (ROOT / "data" / "tinyshakespeare.txt").exists()
