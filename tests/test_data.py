"""The data modules: corpora load and tokenize losslessly, batches are next-character windows of
the right shape, reproducible from a seed; and the progress bar the trainer shows."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
import tinygrad_drop.data
import tinygrad_drop.utils.progress
from tinygrad_drop.data.text import (DEFAULT_CORPUS, CharTokenizer, TextDataset, data_key, is_corpus_name,
                                     load_text)
from tinygrad_drop.utils.cli import UsageError
from tinygrad_drop.utils.progress import ProgressBar, format_duration, format_rate

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT / "data" / "tinyshakespeare.txt"


def test_tokenizer_round_trips_and_orders_its_vocabulary():
    tokenizer = CharTokenizer.from_text("hello")
    assert tokenizer.vocab == "ehlo" and tokenizer.vocab_size == 4
    ids = tokenizer.encode("hello")
    np.testing.assert_array_equal(ids, [1, 0, 2, 2, 3])
    assert ids.dtype == np.int64 and tokenizer.decode(ids) == "hello"
    assert tokenizer.unknown_characters("hex!") == "!x"
    with pytest.raises(ValueError, match="repeated"):
        CharTokenizer("abca")


def test_the_built_in_corpus_round_trips_through_the_tokenizer():
    corpus = load_text(None)
    assert corpus.source == DEFAULT_CORPUS and len(corpus.text) > 100_000
    tokenizer = CharTokenizer.from_text(corpus.text)
    assert tokenizer.decode(tokenizer.encode(corpus.text)) == corpus.text


def test_shakespeare_ships_with_the_project_and_loads_by_name_or_path(tmp_path, monkeypatch):
    by_path = load_text(str(SHAKESPEARE))
    monkeypatch.chdir(tmp_path)  # a name works from any folder
    by_name = load_text("shakespeare")
    assert by_name.text == by_path.text and by_name.sha256 == by_path.sha256
    assert by_name.source == "shakespeare (data/tinyshakespeare.txt)"
    assert by_name.sha256 == hashlib.sha256(SHAKESPEARE.read_bytes()).hexdigest()
    assert by_name.text.startswith("First Citizen:") and len(by_name.text) == 1_115_394
    assert CharTokenizer.from_text(by_name.text).vocab_size == 65  # nanoGPT's vocabulary
    assert is_corpus_name("shakespeare") and data_key("shakespeare") == "shakespeare"
    # a file of that name in the current folder means the file
    Path("shakespeare").write_text("x" * 2000)
    assert not is_corpus_name("shakespeare") and data_key("shakespeare") == str(Path("shakespeare").resolve())
    assert load_text("shakespeare").text == "x" * 2000


def test_bad_files_are_usage_errors_naming_the_fix(tmp_path):
    with pytest.raises(UsageError, match="does not exist.*shakespeare"):
        load_text(str(tmp_path / "nope.txt"))
    (tmp_path / "short.txt").write_text("to be or not to be")
    with pytest.raises(UsageError, match="too short"):
        load_text(str(tmp_path / "short.txt"))


def test_batches_are_next_character_windows_reproducible_from_a_seed():
    text = "".join(chr(ord("a") + i % 26) for i in range(5000))
    dataset = TextDataset(tinygrad_drop.data.Text(text, "alphabet"), block_size=16)
    assert len(dataset.splits["train"]) == 4500 and len(dataset.splits["val"]) == 500
    x, y = dataset.batch("train", 12, np.random.default_rng(0))
    assert x.shape == y.shape == (12, 16) and x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # the target is the input shifted by one
    np.testing.assert_array_equal(y[:, -1], (x[:, -1] + 1) % 26)  # the alphabet's next letter
    again, _ = dataset.batch("train", 12, np.random.default_rng(0))
    np.testing.assert_array_equal(x, again)
    val, _ = dataset.batch("val", 64, np.random.default_rng(1))
    assert val.max() < 26 and dataset.describe().startswith("data: alphabet, 5,000 characters")
    with pytest.raises(UsageError, match="--block-size 500 is larger"):
        TextDataset(tinygrad_drop.data.Text(text, "alphabet"), block_size=500)


def test_td_manual_seed_makes_a_sample_reproducible():
    """TextDataset.sample draws through td's generator: the same seed, the same text."""
    from models.gpt import GPT, GPTConfig

    dataset = TextDataset(load_text(str(SHAKESPEARE)), block_size=8)
    samples = []
    for _ in range(2):
        td.manual_seed(3)
        model = GPT(GPTConfig(vocab_size=dataset.tokenizer.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
        model.eval()
        samples.append(dataset.sample(model, 20))
    assert samples[0] == samples[1] and len(samples[0]) == 20


def test_digit_tasks_are_exported():
    task = tinygrad_drop.data.DigitTask("sort")
    x, y = task.batch("train", 4, np.random.default_rng(0))
    assert x.shape == y.shape == (4, task.block_size) and tinygrad_drop.data.TASKS == ("reverse", "sort")


def test_the_progress_bar_writes_a_line_per_twentieth_when_logging():
    stream = io.StringIO()
    bar = ProgressBar(total=40, tokens_per_step=768, stream=stream)
    for done in range(1, 41):
        bar.update(done, loss=2.5)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 20 and "\r" not in stream.getvalue()
    assert lines[0].startswith("iter  2/40 [#") and "  5% | loss 2.5000 |" in lines[0]
    assert lines[-1].startswith("iter 40/40 [########################] 100%") and lines[-1].endswith(" left")
    assert (format_duration(42), format_duration(185), format_duration(7800)) == ("42s", "3m05s", "2h10m")
    assert (format_rate(950), format_rate(10_240)) == ("950", "10.2k")


def test_the_time_left_counts_the_evaluations_still_to_come(monkeypatch):
    """Steps of 1 s and evaluations of 3 s, one after every 5 steps and one after the last: after
    step 2 of 12, 10 steps and 3 evaluations (after steps 5, 10 and 12) are left: 19 s."""
    clock = [0.0]
    monkeypatch.setattr(tinygrad_drop.utils.progress.time, "perf_counter", lambda: clock[0])
    stream = io.StringIO()
    bar = ProgressBar(total=12, tokens_per_step=10, evaluate_every=5, stream=stream)
    assert [bar.evaluations_from(done) for done in (1, 5, 6, 10, 11, 12)] == [3, 3, 2, 2, 1, 1]
    clock[0] += 3.0
    bar.evaluated(3.0)  # the baseline, before the first step
    for done in (1, 2):
        clock[0] += 1.0
        bar.update(done, loss=1.0)
    assert stream.getvalue().splitlines()[-1].endswith("| 10 tok/s | 19s left")
    for done in (3, 4, 5):
        clock[0] += 1.0
        bar.update(done, loss=1.0)
    clock[0] += 2.0
    bar.evaluated(2.0)  # a shorter evaluation: the estimate follows the latest
    clock[0] += 1.0
    bar.update(6, loss=1.0)  # 6 steps and 2 evaluations (after 10 and 12) left
    assert stream.getvalue().splitlines()[-1].endswith("| 10 tok/s | 10s left")
    assert ProgressBar(total=12, tokens_per_step=10, stream=stream).evaluations_from(3) == 0
