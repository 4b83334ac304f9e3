"""Characters in, numbers out: the text to learn from, its tokenizer and its training batches.

    corpus = load_text("shakespeare")                 # or a path, or None for Python's docs
    dataset = TextDataset(corpus, block_size=64)
    x, y = dataset.batch("train", 12, np.random.default_rng(0))   # (12, 64) int64 each

The corpora. With no --data the trainer reads a real English text that ships inside every
Python installation: the language reference topics of Python's own documentation (the
standard library module `pydoc_data.topics`, which powers `help("if")`), about 460,000
characters. No download, no file to find: the first command works anywhere Python does.
The name "shakespeare" is the tiny shakespeare corpus nanoGPT reports on (about 1.1 million
characters, public domain), which ships in this project's data/ folder; any other name is the
path of a UTF-8 text file.

The tokenizer. A character-level model reads one character at a time, so the vocabulary is
simply the sorted set of characters in the text, and a character's id is its position there:

    text "hello"  ->  vocab "ehlo"  ->  ids [1, 0, 2, 2, 3]

Batches (as in nanoGPT). The token ids form one long array. A batch picks `batch_size` random
offsets i; the input is data[i : i + block_size] and the target is the same window shifted by
one, data[i + 1 : i + block_size + 1], so every position learns to predict the next character.

The split. The first nine tenths of the text train, the last tenth validates. The split is contiguous,
not shuffled: validation text is text the model has never seen, not the same sentences cut at
other offsets, so the gap between the two losses measures memorization.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinygrad_drop as td
from tinygrad_drop.utils.cli import UsageError

TRAIN_FRACTION = 0.9
# The least text worth training on: its validation tenth then holds 100 characters, a handful
# of small windows. Less than that cannot say whether the model learned anything.
MIN_TEXT_CHARS = 1000
DEFAULT_CORPUS = "pydoc_data.topics"
# The project's data/ folder, beside the package in a checkout (and in an editable install).
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
# Corpora known by name: the file each name stands for, in DATA_DIR.
NAMED_CORPORA = {"shakespeare": "tinyshakespeare.txt"}
# Below 1 sharpens the distribution a little: fewer rare, garbled characters (nanoGPT uses 0.8).
SAMPLE_TEMPERATURE = 0.8
DATA_FIX = (f"pass --data with the path of a UTF-8 text file or a corpus name ({', '.join(NAMED_CORPORA)}), "
            "or leave --data out to train on the built-in corpus")


@dataclass(frozen=True)
class Text:
    """A loaded corpus: its characters, where they came from, and a fingerprint of them
    (checkpoints store the fingerprint, so resuming on different text is caught)."""

    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def default_corpus() -> Text:
    """The documentation topics bundled with Python, joined in a fixed (sorted) order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise UsageError(f"this Python installation lacks the built-in corpus ({DEFAULT_CORPUS}): {DATA_FIX}") from None
    return Text("\n\n".join(topics[name].strip() for name in sorted(topics)), DEFAULT_CORPUS)


def read_text_file(path: str) -> Text:
    """Read a UTF-8 text file, or raise UsageError saying what is wrong with it and the fix."""
    if not os.path.exists(path):
        raise UsageError(f"data file '{path}' does not exist: {DATA_FIX}")
    if os.path.isdir(path):
        raise UsageError(f"'{path}' is a directory, not a text file: {DATA_FIX}")
    with open(path, "rb") as file:
        raw = file.read()
    if not raw.strip():
        raise UsageError(f"data file '{path}' is empty: {DATA_FIX}")
    # A NUL byte never appears in text, and is the surest sign of a binary file (which can
    # still happen to decode as UTF-8, e.g. a file of zeros).
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UsageError(f"data file '{path}' is binary, not text (a zero byte at offset {nul}): {DATA_FIX}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"data file '{path}' is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                         f"{error.start} cannot be decoded): convert it to UTF-8 or {DATA_FIX}") from None
    if len(text) < MIN_TEXT_CHARS:
        raise UsageError(f"data file '{path}' is too short: {len(text)} characters, and training needs at least "
                         f"{MIN_TEXT_CHARS} (nine tenths to learn from, one to validate on): use a longer text file")
    return Text(text, os.path.abspath(path))


def is_corpus_name(data: str) -> bool:
    """Whether --data names a corpus rather than a file (a file of that name in the current
    folder wins: a path always means what it says)."""
    return data in NAMED_CORPORA and not os.path.exists(data)


def named_corpus(name: str) -> Text:
    """A corpus that ships with the project, read from its data/ folder."""
    path = DATA_DIR / NAMED_CORPORA[name]
    if not path.exists():
        raise UsageError(f"the corpus '{name}' is read from {path}, which is missing (it ships in the project's "
                         f"data/ folder, not in an installed wheel): run from a checkout of the project, or {DATA_FIX}")
    # named by where it lives in the project, so a resumed run in a moved checkout still matches
    return Text(read_text_file(str(path)).text, f"{name} (data/{NAMED_CORPORA[name]})")


def data_key(data: str) -> str:
    """How a run records its text: a corpus name as it is, a file as its absolute path (so that
    a run resumed from another folder reads the same file)."""
    return data if is_corpus_name(data) else str(Path(data).resolve())


def load_text(data: str | None) -> Text:
    """The built-in corpus (None), a named corpus ("shakespeare"), or a UTF-8 text file."""
    if data is None:
        return default_corpus()
    return named_corpus(data) if is_corpus_name(data) else read_text_file(data)


class CharTokenizer:
    """Characters <-> integer ids, the vocabulary being the characters of the training text."""

    def __init__(self, vocab: str):
        if len(set(vocab)) != len(vocab):
            raise ValueError("CharTokenizer: the vocabulary has repeated characters")
        self.vocab = vocab
        self.id_of = {char: index for index, char in enumerate(vocab)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def unknown_characters(self, text: str) -> str:
        """The characters of text that the vocabulary lacks (encode would fail on them)."""
        return "".join(sorted(set(text) - set(self.vocab)))

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.id_of[char] for char in text], dtype=np.int64)

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self.vocab[int(index)] for index in np.asarray(ids).ravel())


class TextDataset:
    """A tokenized text, split nine tenths for training and one for validation, serving random
    (input, target) windows."""

    def __init__(self, corpus: Text, block_size: int):
        self.corpus = corpus
        self.tokenizer = CharTokenizer.from_text(corpus.text)
        tokens = self.tokenizer.encode(corpus.text)
        cut = int(TRAIN_FRACTION * len(tokens))
        self.splits = {"train": tokens[:cut], "val": tokens[cut:]}
        self.block_size = block_size
        shortest = min(len(tokens) for tokens in self.splits.values())
        if shortest < block_size + 1:
            # each window needs block_size inputs plus the one character after them
            raise UsageError(f"--block-size {block_size} is larger than the data allows: the validation split of "
                             f"{corpus.source} has only {shortest} characters: use --block-size {shortest - 1} or "
                             "less, or a longer text")

    def describe(self) -> str:
        train, val = (len(self.splits[name]) for name in ("train", "val"))
        return (f"data: {self.corpus.source}, {train + val:,} characters, vocabulary of {self.tokenizer.vocab_size}; "
                f"{train:,} train / {val:,} val")

    def batch(self, split: str, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(x, y), both (batch_size, block_size) int64: random windows and the next characters."""
        tokens = self.splits[split]
        starts = rng.integers(0, len(tokens) - self.block_size, size=batch_size)
        window = starts[:, None] + np.arange(self.block_size)
        return tokens[window], tokens[window + 1]

    def metrics(self, model: td.nn.Module) -> dict[str, float]:
        """Nothing beyond the losses: text has no single right answer to score."""
        return {}

    def sample(self, model: td.nn.Module, max_tokens: int) -> str:
        """Text generated from a newline (the start of a paragraph) by a model with GPT's
        `generate`, in eval mode."""
        start = "\n" if "\n" in self.tokenizer.id_of else self.tokenizer.vocab[0]
        prompt = td.tensor(self.tokenizer.encode(start)[None, :])
        out = model.generate(prompt, max_tokens, temperature=SAMPLE_TEMPERATURE)
        return self.tokenizer.decode(out.numpy()[0, 1:])
