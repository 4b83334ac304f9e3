"""A progress bar on stderr, with no dependency: the line a long training run owes its user.

    iter  500/2000 [######------------------] <share done> | loss 2.0312 | <tokens> tok/s | <time> left

On a terminal the line is redrawn in place (a carriage return moves the cursor back to the start
of the line), at most a few times a second. When stderr is a file or a pipe (a log, a test),
carriage returns would pile up, so it writes a plain line at every twentieth of the run instead.

Tokens per second is measured over the last few steps (how fast it goes now). Time left is
how long it will really take: the average step over the run so far (not the first step, which
also pays for one-time work such as compiling the Numba kernels) times the steps left, plus
the evaluations still to come (after every `evaluate_every` steps and after the last one),
each as long as the latest.

    bar = ProgressBar(total=max_iters, tokens_per_step=batch_size * block_size, evaluate_every=250)
    for step in range(max_iters):
        ...; bar.update(step + 1, loss.item())
        if (step + 1) % 250 == 0 or step + 1 == max_iters:
            started = time.perf_counter(); evaluate(); bar.evaluated(time.perf_counter() - started)
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

    def __init__(self, total: int, tokens_per_step: int, evaluate_every: int | None = None,
                 stream: TextIO | None = None):
        self.total, self.tokens_per_step, self.evaluate_every = total, tokens_per_step, evaluate_every
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.every = max(1, total // LINES_WHEN_LOGGING)
        self.last_step_at = self.last_draw_at = time.perf_counter()
        self.recent_steps: deque[float] = deque(maxlen=RECENT_STEPS)
        self.after_first_step: tuple[int, float] | None = None  # (steps done, time) when step one ended
        self.evaluating_since_first_step = 0.0  # seconds, left out of the average step
        self.last_evaluation = 0.0  # seconds the latest evaluation took
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
            seconds_per_step = (now - first_time - self.evaluating_since_first_step) / (done - first_done)
            recent_seconds_per_step = sum(self.recent_steps) / len(self.recent_steps)
        left = seconds_per_step * (self.total - done) + self.last_evaluation * self.evaluations_from(done)
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

    def evaluations_from(self, done: int) -> int:
        """How many evaluations are still to come once `done` steps are complete (the one right
        after step `done` included)."""
        if self.evaluate_every is None:
            return 0
        every = self.evaluate_every
        return self.total // every - (done - 1) // every + (1 if self.total % every else 0)

    def evaluated(self, seconds: float) -> None:
        """Record an evaluation that took `seconds`: left out of the speed of the steps, counted
        in the time left for each evaluation to come."""
        self.last_step_at += seconds
        self.last_evaluation = seconds
        if self.after_first_step is not None:
            self.evaluating_since_first_step += seconds

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
