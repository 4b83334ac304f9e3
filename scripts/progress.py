"""A progress bar on stderr, with no dependency: the line a long training run owes its user.

    iter  500/2000 [######------------------]  25% | loss 2.0312 | 10.2k tok/s | 3m05s left

On a terminal the line is redrawn in place (a carriage return moves the cursor back to the start
of the line), at most a few times a second. When stderr is a file or a pipe (a log, a test),
carriage returns would pile up, so it writes a plain line every 5% instead.

Tokens per second uses a moving average of recent steps (how fast it goes now); time left uses
the average over the whole run so far, evaluations included (how long it will really take).
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REDRAWS_PER_SECOND = 4
LINES_WHEN_LOGGING = 20
SMOOTHING = 0.9  # weight of the past in the moving average of the step time


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_rate(per_second: float) -> str:
    return f"{per_second / 1000:.1f}k" if per_second >= 1000 else f"{per_second:.0f}"


class ProgressBar:
    def __init__(self, total: int, start: int, tokens_per_step: int, stream: TextIO | None = None):
        self.total, self.start, self.tokens_per_step = total, start, tokens_per_step
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.every = max(1, total // LINES_WHEN_LOGGING)
        self.started = self.last_step_at = self.last_draw_at = time.perf_counter()
        self.step_seconds: float | None = None
        self.line = ""

    def update(self, done: int, loss: float) -> None:
        """Record that `done` steps are complete, the last with this training loss."""
        now = time.perf_counter()
        step = now - self.last_step_at
        self.last_step_at = now
        self.step_seconds = step if self.step_seconds is None else SMOOTHING * self.step_seconds + (1 - SMOOTHING) * step
        left = (now - self.started) / (done - self.start) * (self.total - done)
        filled = BAR_WIDTH * done // self.total
        self.line = (f"iter {done:>{len(str(self.total))}}/{self.total} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
                     f"{100 * done // self.total:3d}% | loss {loss:.4f} | "
                     f"{format_rate(self.tokens_per_step / max(self.step_seconds, 1e-9))} tok/s | "
                     f"{format_duration(left)} left")
        if self.interactive:
            if now - self.last_draw_at >= 1 / REDRAWS_PER_SECOND or done == self.total:
                self.stream.write("\r" + self.line)
                self.stream.flush()
                self.last_draw_at = now
        elif done % self.every == 0 or done == self.total:
            self.stream.write(self.line + "\n")
            self.stream.flush()

    def skip_time(self, seconds: float) -> None:
        """Leave out time spent elsewhere (an evaluation) from the speed of the next step."""
        self.last_step_at += seconds

    def clear(self) -> None:
        """Wipe the bar so that other output starts on a clean line (it reappears on update)."""
        if self.interactive and self.line:
            self.stream.write("\r" + " " * len(self.line) + "\r")
            self.stream.flush()

    def close(self) -> None:
        if self.interactive and self.line:
            self.stream.write("\n")
            self.stream.flush()
