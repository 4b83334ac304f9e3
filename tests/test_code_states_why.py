"""Comments and docstrings in tinygrad_drop/ state the why, never the stopwatch.

Timings, percentages and speed claims drift as soon as the code or the machine changes; they live
in docs/performance.md, dated, with the command that made them. This test reads every comment
(tokenize's COMMENT tokens) and every docstring (a string that stands alone as a statement) of
the package and lists each line that carries a figure: a number with a time unit (s, ms, us, ns,
minutes), a percentage, or the words faster, slower, speedup.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinygrad_drop"

# A number that starts a token of its own: not the 32 of "float32s", not the 5 of "1e-5".
NUMBER = r"(?<![\w.])(?<![eE]-)\d+(?:[.,]\d+)*"
TIME_UNIT = r"(?:s|secs?|seconds?|ms|us|µs|ns|min|minutes?|(?:milli|micro|nano)seconds?)\b"
FIGURE = re.compile(
    NUMBER + r"\s*" + TIME_UNIT          # 41.4 s, 87 of 100 us, ~10 ms
    + r"|\b\d+m\d+s\b"                  # 2m19s
    + r"|" + NUMBER + r"\s?(?:%|percent\b)(?!\s*\d)"  # 0.7%, 23-37%; not the modulo of 64 % 8
    + r"|\b(?:faster|slower|speed-?ups?)\b",            # 2x faster, a speedup
    re.IGNORECASE,
)


def documentation_lines(source: str) -> list[tuple[int, str]]:
    """(line number, text) of every comment and of every line of every docstring in `source`."""
    lines = [(token.start[0], token.string)
             for token in tokenize.generate_tokens(io.StringIO(source).readline)
             if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            # the literal's own text, line by line, so line numbers match the file
            text = ast.get_source_segment(source, node.value) or ""
            lines += [(node.lineno + i, line) for i, line in enumerate(text.splitlines())]
    return sorted(lines)


def figures_in(source: str) -> list[tuple[int, str]]:
    return [(number, text.strip()) for number, text in documentation_lines(source) if FIGURE.search(text)]


@pytest.mark.parametrize("text", [
    "# a step 0.7% faster (87 of 100 us per call)",
    "# ~10 ms of Python on 120 op nodes",
    '"""this project\'s AMD CPU: 2.1 -> 1.5 ns per element"""',
    "# cold cache 41.4 s, warm 1.4s",
    "# forward 0.16 -> 0.10 ms, backward 0.3ms",
    "# per-head split saved 23-37%",
    "# a step 6.6% (4.8% at dropout 0)",
    "# measured a 3 percent gain",
    "# threads are 10-15% slower inside a step",
    "# two passes, a 2x speedup",
    "# runs 5-9x slower under contention",
    "# took 2m19s",
    "# about 40 microseconds to wake",
])
def test_the_pattern_catches_figures(text):
    assert figures_in(text + "\n"), text


@pytest.mark.parametrize("text", [
    "# eps=1e-5 keeps the square root away from 0",
    "# samples in (0, 1), p in [0, 1)",
    "# widen 4x, GELU, project back",
    "# float32s and int64s, 2 ** 32 counters",
    "# rows in blocks of 64, 32 KB per chunk",
    "# 64 % 8 == 0, so every head is whole",
    "# the params, items and columns let us see the sums",
    '"""(B, T, C) -> (B, n_head, T, C // n_head); the scores are (B, nh, T, T)."""',
    "# 100 batches pin the loss to +-0.02",
])
def test_the_pattern_leaves_maths_alone(text):
    assert not figures_in(text + "\n"), text


def test_documentation_lines_number_comments_and_docstrings_as_the_file_does():
    source = 'x = "not a docstring: 5 ms"\n\ndef f():\n    """one\n    two 3 ms"""\n    return 1  # 4 ms\n'
    assert figures_in(source) == [(5, 'two 3 ms"""'), (6, "# 4 ms")]


def test_no_comment_or_docstring_in_the_package_carries_a_timing_or_percentage():
    found = [f"{path.relative_to(PACKAGE.parent)}:{number}: {text}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for number, text in figures_in(path.read_text(encoding="utf-8"))]
    assert not found, ("timings, percentages and speed claims belong in docs/performance.md; "
                       "say the why instead:\n" + "\n".join(found))
