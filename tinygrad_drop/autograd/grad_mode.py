"""Whether new ops record a graph. Inside `no_grad()` results have no grad_fn, so nothing is saved
for backward: that is how evaluation and optimizer updates avoid building graphs. Grad mode is
per thread (state.this_thread), as in PyTorch."""
from __future__ import annotations

import functools

from .. import state


def is_grad_enabled() -> bool:
    """Whether operations are recorded for backward on this thread (False inside td.no_grad())."""
    return state.this_thread.grad_enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode and restores the previous one."""

    enabled: bool

    def __new__(cls, fn=None):
        # bare `@td.no_grad` (no parentheses) passes the function straight in: wrap it at once
        instance = super().__new__(cls)
        return instance if fn is None else instance(fn)

    def __enter__(self) -> None:
        self._previous = state.this_thread.grad_enabled
        state.this_thread.grad_enabled = self.enabled

    def __exit__(self, *exc_info) -> None:
        state.this_thread.grad_enabled = self._previous

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_SetGradMode):
    """`with td.no_grad():`, `@td.no_grad()` or `@td.no_grad`: ops inside record no graph."""

    enabled = False


class enable_grad(_SetGradMode):
    """Turns graph recording back on inside a no_grad region."""

    enabled = True
