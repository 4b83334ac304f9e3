"""A progress bar on stderr, with no dependency: the line a long training run owes its user.

    iter  500/2000 [######------------------] <share done> | loss 2.0312 | <tokens> tok/s | <time> left

On a terminal the line is redrawn in place (a carriage return moves the cursor back to the start
of the line), at most a few times a second. When stderr is a file or a pipe (a log, a test),
carriage returns would pile up, so it writes a plain line at every twentieth of the run instead.

Tokens per second is measured over the last few steps (how fast it goes now). Time left uses
the average step over the run so far, evaluations included (how long it will really take), but
not the first step, which also pays for one-time work such as compiling the Numba kernels.

    bar = ProgressBar(total=max_iters, tokens_per_step=batch_size * block_size)
    for step in range(max_iters):
        ...; bar.update(step + 1, loss.item())
    bar.close()
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import TextIO

BAR_WIDTH = 24
REDRAWS_PER_SECOND = 4
LINES_WHEN_LOGGING = 20
RECENT_STEPS = 20  # the window for tokens per second


def format_duration(seconds: float) -> str:
    """A duration as people write it: seconds under a minute, then minutes and two-digit
    seconds, then hours and minutes."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_rate(per_second: float) -> str:
    """A rate with a k for thousands: 950, 10.2k."""
    return f"{per_second / 1000:.1f}k" if per_second >= 1000 else f"{per_second:.0f}"


class ProgressBar:
    """Steps done out of `total`, the last loss, tokens per second and the time left."""

    def __init__(self, total: int, tokens_per_step: int, stream: TextIO | None = None):
        self.total, self.tokens_per_step = total, tokens_per_step
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.every = max(1, total // LINES_WHEN_LOGGING)
        self.last_step_at = self.last_draw_at = time.perf_counter()
        self.recent_steps: deque[float] = deque(maxlen=RECENT_STEPS)
        self.after_first_step: tuple[int, float] | None = None  # (steps done, time) when step one ended
        self.line = ""
        self.shown = False  # whether the bar is on the screen now (interactive mode)

    def update(self, done: int, loss: float) -> None:
        """Record that `done` steps are complete, the last with this training loss."""
        now = time.perf_counter()
        step_seconds, self.last_step_at = now - self.last_step_at, now
        if self.after_first_step is None:
            self.after_first_step = (done, now)
            seconds_per_step = recent_seconds_per_step = step_seconds
        else:
            self.recent_steps.append(step_seconds)
            first_done, first_time = self.after_first_step
            seconds_per_step = (now - first_time) / (done - first_done)
            recent_seconds_per_step = sum(self.recent_steps) / len(self.recent_steps)
        left = seconds_per_step * (self.total - done)
        tokens_per_second = self.tokens_per_step / max(recent_seconds_per_step, 1e-9)
        filled = BAR_WIDTH * done // self.total
        self.line = (f"iter {done:>{len(str(self.total))}}/{self.total} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
                     f"{100 * done // self.total:3d}% | loss {loss:.4f} | "
                     f"{format_rate(tokens_per_second)} tok/s | "
                     f"{format_duration(left)} left")
        if self.interactive:
            if now - self.last_draw_at >= 1 / REDRAWS_PER_SECOND or done == self.total:
                self.stream.write("\r" + self.line)
                self.stream.flush()
                self.last_draw_at, self.shown = now, True
        elif done % self.every == 0 or done == self.total:
            self.stream.write(self.line + "\n")
            self.stream.flush()

    def skip_time(self, seconds: float) -> None:
        """Leave time spent elsewhere (an evaluation) out of the next step's speed (but not out
        of the time left: evaluations will come again)."""
        self.last_step_at += seconds

    def clear(self) -> None:
        """Wipe the bar so that other output starts on a clean line (it reappears on update)."""
        if self.shown:
            self.stream.write("\r" + " " * len(self.line) + "\r")
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a new one."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
