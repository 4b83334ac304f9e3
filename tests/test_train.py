"""End-to-end tests of the training scripts: they train, stop, resume and refuse bad input.

Runs are tiny (one layer, width 32, a few dozen steps) and mostly in-process, calling each
script's main() with a command line, so that Numba's kernels compile once for the whole file.
A few run as real processes, where the process itself is the point (Ctrl-C, exit codes).
"""
from __future__ import annotations

import importlib.util
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import EVERY_TOPIC

import tinygrad_drop as td

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

import checkpoint  # noqa: E402
import digit_tasks  # noqa: E402
import dropout_demo  # noqa: E402
import dropout_study  # noqa: E402
import sample  # noqa: E402
import train  # noqa: E402

# a whole model runs every topic's backward, so a student copy missing any topic fails here too
pytestmark = [pytest.mark.train, *EVERY_TOPIC]

TINY_MODEL = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32", "--batch-size", "8"]
TINY_RUN = TINY_MODEL + ["--max-iters", "30", "--eval-interval", "15", "--eval-iters", "4", "--sample-tokens", "20"]
TRACKED = ("iter", "train_loss", "val_loss", "lr")


def read_metrics(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def tracked(records: list[dict]) -> list[tuple]:
    return [tuple(record[key] for key in TRACKED) for record in records]


def run_script(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=SCRIPTS.parent)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One short training run on the built-in corpus, shared by the tests that inspect its output."""
    out_dir = tmp_path_factory.mktemp("short_run")
    code = train.main(TINY_RUN + ["--out-dir", str(out_dir)])
    return code, out_dir


# ---- training works -------------------------------------------------------------------------------

def test_synthetic_task_reaches_high_accuracy(tmp_path, capsys):
    """The end-to-end test: a 2-layer model must learn to reverse digit strings it never saw."""
    started = time.perf_counter()
    code = train.main(["--task", "reverse", "--max-iters", "60", "--eval-interval", "60", "--eval-iters", "2",
                       "--sample-tokens", "0", "--out-dir", str(tmp_path)])
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
    code = train.main(TINY_MODEL + ["--max-iters", "6", "--eval-interval", "3", "--eval-iters", "2",
                                    "--sample-tokens", "12", "--out-dir", str(tmp_path)])
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
    model, tokenizer = checkpoint.restore_model(saved, path)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), saved["model"][name])
    assert saved["iter"] == 30 and tokenizer.vocab == saved["vocab"]
    # the trainer's default: an output layer of its own, restored as such
    assert saved["config"]["tie_weights"] is False and model.lm_head.weight is not model.transformer.wte.weight
    # Recompute the last val loss from the restored model on the same fixed evaluation batches.
    settings = train.Settings(**saved["settings"])
    dataset = train.TextDataset(train.load_text(settings.data), settings.block_size)
    rng = np.random.default_rng([settings.seed, train.EVAL_STREAM, 1])
    model.eval()
    with td.no_grad():
        losses = [model(td.tensor(x), td.tensor(y))[1].item()
                  for x, y in (dataset.batch("val", settings.batch_size, rng) for _ in range(settings.eval_iters))]
    assert np.mean(losses) == pytest.approx(saved["history"][-1]["val_loss"], rel=1e-6)


def test_sample_script_continues_the_prompt(short_run, capsys):
    _, out_dir = short_run
    assert sample.main(["--out-dir", str(out_dir), "--prompt", "def ", "--tokens", "15"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("def ") and len(text.rstrip("\n")) >= 4 + 15 - 1  # generated text may end in newlines


def test_a_nan_loss_stops_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train.Trainer, "train_step", lambda self: float("nan"))
    code = train.main(TINY_MODEL + ["--max-iters", "5", "--eval-iters", "1", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == train.FAILED_EXIT_CODE
    assert "error: the training loss became nan at iter 0" in err


# ---- interrupt and resume -------------------------------------------------------------------------

def test_interrupt_and_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch, capsys):
    """Ctrl-C at step 11 (a real SIGINT, delivered between two steps), then --resume: every step's
    loss, every evaluation and the final weights equal those of a run that was never stopped.
    Dropout is on, so the dropout masks must continue exactly too."""
    args = TINY_MODEL + ["--max-iters", "16", "--eval-interval", "8", "--eval-iters", "1", "--sample-tokens", "3",
                         "--dropout", "0.2"]
    step_losses = []
    original_step = train.Trainer.train_step

    def recording_step(self):
        loss = original_step(self)
        step_losses.append(loss)
        if interrupt_at is not None and self.iteration == interrupt_at - 1:
            signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(train.Trainer, "train_step", recording_step)

    interrupt_at = None
    assert train.main(args + ["--out-dir", str(tmp_path / "whole")]) == 0
    whole_losses, step_losses = step_losses, []

    interrupt_at = 11
    assert train.main(args + ["--out-dir", str(tmp_path / "split")]) == train.INTERRUPTED_EXIT_CODE
    assert checkpoint.load_checkpoint(tmp_path / "split" / "ckpt.npz")["iter"] == 11
    interrupt_at = None
    assert train.main(["--out-dir", str(tmp_path / "split"), "--resume"]) == 0

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
    assert split["rng"] == whole["rng"]


def test_ctrl_c_in_a_real_process_saves_and_exits_cleanly(tmp_path):
    process = subprocess.Popen([sys.executable, str(SCRIPTS / "train.py"), *TINY_MODEL, "--max-iters", "100000",
                                "--eval-iters", "1", "--out-dir", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=SCRIPTS.parent)
    try:
        for line in process.stdout:
            if line.startswith("iter 0:"):  # training has begun
                break
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == train.INTERRUPTED_EXIT_CODE, err
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
    "bad number": (lambda d: ["--batch-size", "0"], "expected a positive integer"),
    "heads do not divide width": (lambda d: ["--n-embd", "100", "--n-head", "3"], "not divisible by --n-head 3"),
    "data and task": (lambda d: ["--task", "sort", "--data", write(d / "ok.txt", b"x" * 2000)], "alternatives"),
    "resume without checkpoint": (lambda d: ["--resume"], "no checkpoint"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_with_exit_code_2(case, tmp_path, capsys):
    make_args, expected = BAD_INPUTS[case]
    code = train.main(make_args(tmp_path) + ["--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err
    assert not (tmp_path / "out" / "ckpt.npz").exists()


def test_exit_code_and_message_of_the_real_process(tmp_path):
    result = run_script(["scripts/train.py", "--data", str(tmp_path / "missing.txt"), "--out-dir", str(tmp_path)])
    assert result.returncode == 2
    assert result.stderr.startswith("error: data file") and "Traceback" not in result.stderr


def test_corrupt_and_mismatched_checkpoints_are_refused(short_run, tmp_path, capsys):
    _, out_dir = short_run
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "ckpt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    assert train.main(["--out-dir", str(corrupt), "--resume"]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert sample.main(["--out-dir", str(corrupt)]) == 2
    assert "corrupt" in capsys.readouterr().err

    assert train.main(["--out-dir", str(out_dir), "--resume", "--n-layer", "2"]) == 2
    assert "--n-layer 2 (the checkpoint has 1)" in capsys.readouterr().err
    assert train.main(["--out-dir", str(out_dir), "--resume", "--tie-weights"]) == 2
    assert "--tie-weights True (the checkpoint has False)" in capsys.readouterr().err
    assert train.main(TINY_RUN + ["--out-dir", str(out_dir)]) == 2  # would overwrite a run
    assert "already holds" in capsys.readouterr().err

    # weights that do not fit the configuration the checkpoint claims
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    saved = checkpoint.load_checkpoint(out_dir / "ckpt.npz")
    saved["model"]["lm_head.weight"] = saved["model"]["lm_head.weight"][:, :8]
    td.save(saved, damaged / "ckpt.npz")
    assert sample.main(["--out-dir", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not fit" in err and err.count("\n") == 1


def test_prompt_outside_the_vocabulary_is_refused(short_run, capsys):
    _, out_dir = short_run
    assert sample.main(["--out-dir", str(out_dir), "--prompt", "日本"]) == 2
    assert "never saw" in capsys.readouterr().err


# ---- the dropout scripts --------------------------------------------------------------------------

def test_dropout_exercise_matches_the_theory():
    """p = 0.5 on a neuron whose output is 2.0: half the draws give 4.0, half 0, mean 2.0;
    unscaled the training mean is 1.0; classic dropout scales by 1-p at inference instead."""
    n = 40_000
    result = dropout_demo.exercise(value=2.0, p=0.5, draws=n)
    assert set(np.unique(result.inverted_train)) == {0.0, 4.0}
    # mean of n values that are 0 or 4 with probability 1/2: standard error 2 / sqrt(n); allow 5 of them
    tolerance = 5 * 2.0 / math.sqrt(n)
    assert result.inverted_train.mean() == pytest.approx(2.0, abs=tolerance)
    assert result.inverted_eval == 2.0
    assert result.unscaled_train.mean() == pytest.approx(1.0, abs=tolerance / 2)
    assert result.classic_eval == pytest.approx(1.0)


def test_dropout_demo_runs(capsys):
    assert dropout_demo.main([]) == 0
    out = capsys.readouterr().out
    assert "●" in out and "○" in out and "4.0" in out


def test_dropout_study_runs_with_tiny_settings(tmp_path, capsys):
    code = dropout_study.main(["--rates", "0.0", "0.5", "--max-iters", "6", "--eval-interval", "3", "--eval-iters", "2",
                               "--chars", "4000",
                               *TINY_MODEL[:6], "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "0.0" in out and "0.5" in out and "gap" in out
    for rate in ("0.0", "0.5"):
        assert [r["iter"] for r in read_metrics(tmp_path / f"dropout-{rate}")] == [0, 3, 6]
