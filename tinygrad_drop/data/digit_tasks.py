"""Synthetic tasks: reverse or sort a short string of digits. The fastest end-to-end check.

Each example is one line of characters, the digits, a separator and the answer:

    reverse   417093>390714
    sort      417093>013479

The model is trained exactly as on text, to predict every next character, except that only the
answer characters count in the loss: the prompt digits are random, nothing can predict them, and
their loss would only add noise. Their targets are set to -1, which GPT's cross-entropy ignores.

Why these tasks: a 2-layer transformer solves them in seconds, but only if everything works.
To reverse, answer position j must attend to input position L-1-j (position embeddings and
attention); to sort, it must count and compare (attention over the whole prompt). A sign error
in any gradient leaves the accuracy near chance (one digit in ten right) instead of near all.

Train and validation never share an example: a digit string belongs to validation when a hash
of it ends in 0 (one string in ten), so the model is scored on strings it never trained on.

Accuracy is measured the hard way: greedy decoding from the prompt alone, so each answer digit
is produced from the model's own previous outputs, exactly as at inference.
"""
from __future__ import annotations

import numpy as np

import tinygrad_drop as td
from tinygrad_drop.data.text import CharTokenizer

TASKS = ("reverse", "sort")
SEPARATOR = ">"
DIGITS_PER_EXAMPLE = 6
# The same validation strings are scored (and shown) in every run, so accuracies compare.
ACCURACY_EXAMPLES = 500
SCORED_STRINGS_SEED, SHOWN_STRINGS_SEED = 1, 2
MAX_SHOWN_EXAMPLES = 4
# Fibonacci hashing (Knuth): multiply by 2^64 / golden ratio, keep high bits: well mixed, cheap.
HASH_MULTIPLIER = np.uint64(11400714819323198485)


def answer_of(task: str, digits: np.ndarray) -> np.ndarray:
    """The answer rows for prompt rows of digits (n, L)."""
    return digits[:, ::-1] if task == "reverse" else np.sort(digits, axis=1)


class DigitTask:
    """A dataset of digit strings and their answers, with the interface of text.TextDataset."""

    def __init__(self, task: str, length: int = DIGITS_PER_EXAMPLE):
        if task not in TASKS:
            raise ValueError(f"DigitTask: unknown task {task!r}, expected one of {TASKS}")
        self.task, self.length = task, length
        self.tokenizer = CharTokenizer("0123456789" + SEPARATOR)
        # an example has 2L+1 characters; its inputs are all but the last
        self.block_size = 2 * length

    def describe(self) -> str:
        example = self._render(np.arange(self.length)[None, ::-1] % 10)[0]
        return f"task: {self.task} {self.length} digits, e.g. {example}; validation strings are never trained on"

    def is_validation(self, digits: np.ndarray) -> np.ndarray:
        """Which rows of digits (n, L) are validation strings: those whose hash ends in 0."""
        number = digits.astype(np.uint64) @ (np.uint64(10) ** np.arange(self.length - 1, -1, -1, dtype=np.uint64))
        return ((number * HASH_MULTIPLIER) >> np.uint64(32)) % np.uint64(10) == 0

    def _draw(self, split: str, count: int, rng: np.random.Generator) -> np.ndarray:
        """count digit strings (count, L) of the given split, by rejection."""
        rows: list[np.ndarray] = []
        while sum(len(r) for r in rows) < count:
            candidates = rng.integers(0, 10, size=(2 * count, self.length))
            rows.append(candidates[self.is_validation(candidates) == (split == "val")])
        return np.concatenate(rows)[:count]

    def _examples(self, digits: np.ndarray) -> np.ndarray:
        separator = np.full((len(digits), 1), self.tokenizer.id_of[SEPARATOR])
        return np.concatenate([digits, separator, answer_of(self.task, digits)], axis=1)

    def _render(self, digits: np.ndarray) -> list[str]:
        return [self.tokenizer.decode(row) for row in self._examples(digits)]

    def batch(self, split: str, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        examples = self._examples(self._draw(split, batch_size, rng))
        x, y = examples[:, :-1], examples[:, 1:].copy()
        y[:, :self.length] = -1  # targets inside the prompt (digits, and the separator) do not count
        return x, y

    def _solve(self, model: td.nn.Module, digits: np.ndarray) -> np.ndarray:
        """The model's greedy answers (n, L) to the prompts digits + separator."""
        prompts = self._examples(digits)[:, :self.length + 1]
        out = model.generate(td.tensor(prompts), self.length, temperature=0.0)
        return out.numpy()[:, self.length + 1:]

    def metrics(self, model: td.nn.Module) -> dict[str, float]:
        """Token and whole-answer accuracy on fixed validation strings (model in eval mode)."""
        digits = self._draw("val", ACCURACY_EXAMPLES, np.random.default_rng(SCORED_STRINGS_SEED))
        correct = self._solve(model, digits) == answer_of(self.task, digits)
        return {"accuracy": float(correct.mean()), "exact_match": float(correct.all(axis=1).mean())}

    def sample(self, model: td.nn.Module, max_tokens: int) -> str:
        """Validation prompts with the model's answers, marked right or wrong: as many as
        max_tokens answer digits allow, at most MAX_SHOWN_EXAMPLES."""
        count = max(1, min(MAX_SHOWN_EXAMPLES, max_tokens // self.length))
        digits = self._draw("val", count, np.random.default_rng(SHOWN_STRINGS_SEED))
        answers = self._solve(model, digits)
        lines = []
        for prompt, guess, truth in zip(digits, answers, answer_of(self.task, digits)):
            mark = "right" if np.array_equal(guess, truth) else f"wrong, expected {self.tokenizer.decode(truth)}"
            lines.append(f"{self.tokenizer.decode(prompt)}{SEPARATOR}{self.tokenizer.decode(guess)}   ({mark})")
        return "\n".join(lines)
