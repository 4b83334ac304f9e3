"""Command-line programs the Unix way: bad input the user can fix, and parsers for numeric flags.

Every script in scripts/ turns a `UsageError` into one line on stderr, "error: <what is wrong>:
<how to fix it>", and exit code 2, the code argparse uses for a bad command line. A traceback
would point into our code, when the thing to change is the user's command or file. The data
loaders and the trainer raise it too, since what they reject is a file or a flag the user chose.
"""
from __future__ import annotations

import argparse
import math
import sys

USAGE_EXIT_CODE = 2


class UsageError(Exception):
    """A problem with the command line, a data file or a checkpoint; its message says the fix."""


def _number(text: str, kind: type, expected: str, valid) -> int | float:
    """Parse a flag's value; argparse turns the ArgumentTypeError into a one-line usage error."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not valid(value):  # float comparisons are False for NaN, so NaN fails too
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, "a positive integer", lambda v: v > 0)


def non_negative_int(text: str) -> int:
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def probability_below_one(text: str) -> float:
    return _number(text, float, "a probability in [0, 1)", lambda v: 0.0 <= v < 1.0)


def positive_float(text: str) -> float:
    return _number(text, float, "a positive number", lambda v: 0.0 < v < math.inf)


def non_negative_float(text: str) -> float:
    return _number(text, float, "a number >= 0", lambda v: 0.0 <= v < math.inf)


def report(error: UsageError) -> int:
    """Print the error as one line and return the exit code for it."""
    message = " ".join(str(error).split())  # one line, even if a message was built from several
    print(f"error: {message}", file=sys.stderr)
    return USAGE_EXIT_CODE


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line raises UsageError (one line, exit 2) instead of printing
    the whole usage text and exiting; --help still prints everything. A flag must be spelled out
    (allow_abbrev=False): a typo such as --max-iter is an error, not a guess."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UsageError(f"{message}: see python scripts/{self.prog} --help")
