"""Say so while Numba compiles: the first run of a program compiles every kernel it uses, which takes
a while and would otherwise look like a hang; later runs load them from Numba's cache on disk.

    with announce_compilation():
        first_training_step()

prints one line when the first compilation starts, keeps a count on a terminal, and says how many
functions it compiled and how long it took. Loading from the cache is not compiling: a run with a
warm cache prints nothing.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

from numba.core import event


class CompileCounter(event.Listener):
    """Counts Numba's compilations (each dispatcher compiling one signature) as they end."""

    def __init__(self, stream: TextIO):
        self.stream, self.compiled, self.started_at = stream, 0, None
        self.on_terminal = stream.isatty()

    def on_start(self, ev: event.Event) -> None:
        if self.started_at is None:
            self.started_at = time.perf_counter()
            print("compiling the kernels this run uses (the first run only: then they load from Numba's cache "
                  "on disk)...", file=self.stream, flush=True)

    def on_end(self, ev: event.Event) -> None:
        self.compiled += 1
        if self.on_terminal:
            print(f"\r  {self.compiled} compiled, {time.perf_counter() - self.started_at:.0f}s", end="",
                  file=self.stream, flush=True)


@contextmanager
def announce_compilation(stream: TextIO | None = None) -> Iterator[CompileCounter]:
    """Report Numba's compilations inside the block on `stream` (standard error by default)."""
    counter = CompileCounter(stream or sys.stderr)
    with event.install_listener("numba:compile", counter):
        yield counter
    if counter.started_at is not None:
        took = time.perf_counter() - counter.started_at
        ending = "\r" if counter.on_terminal else ""
        print(f"{ending}compiled {counter.compiled} functions in {took:.0f}s; later runs load them from the cache",
              file=counter.stream, flush=True)
