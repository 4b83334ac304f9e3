"""Bad input that the user can fix, reported the Unix way.

Every script here turns a `UsageError` into one line on stderr, "error: <what is wrong>: <how to
fix it>", and exit code 2, the code argparse uses for a bad command line. A traceback would
point into our code, when the thing to change is the user's command or file.
"""
from __future__ import annotations

import argparse
import sys

USAGE_EXIT_CODE = 2


class UsageError(Exception):
    """A problem with the command line, a data file or a checkpoint; its message says the fix."""


def report(error: UsageError) -> int:
    """Print the error as one line and return the exit code for it."""
    message = " ".join(str(error).split())  # one line, even if a message was built from several
    print(f"error: {message}", file=sys.stderr)
    return USAGE_EXIT_CODE


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line raises UsageError (one line, exit 2) instead of printing
    the whole usage text and exiting; --help still prints everything."""

    def error(self, message: str):
        raise UsageError(f"{message}: see python scripts/{self.prog} --help")
