"""One seed for every random draw: parameter init, randn/rand, data batches and dropout masks.

`manual_seed(seed)` resets both sources (their state lives in state.process):
- a numpy Generator for ordinary draws (init, `td.randn`, batch sampling);
- a (seed, counter) pair for dropout. Each dropout call takes the next counter and turns
  (seed, counter) into a key; the mask is then a pure function of (key, element index)
  (see kernels/random_bits.py), so it is the same on every backend and can be redrawn in backward.
"""
from __future__ import annotations

import numpy as np

from . import state
from .kernels.random_bits import make_key


def manual_seed(seed: int) -> None:
    """Make every later random draw reproducible."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    state.process.seed = int(seed)
    state.process.dropout_counter = 0
    state.process.numpy_generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The numpy Generator behind init and creation functions."""
    return state.process.numpy_generator


def next_dropout_key() -> np.uint64:
    """A fresh key for one dropout draw (each forward gets a new mask)."""
    state.process.dropout_counter += 1
    return make_key(state.process.seed, state.process.dropout_counter)


def get_rng_state() -> dict:
    """Everything needed to continue the random stream exactly (for checkpoints)."""
    return {"seed": state.process.seed, "dropout_counter": state.process.dropout_counter,
            "numpy_generator": state.process.numpy_generator.bit_generator.state}


def set_rng_state(rng_state: dict) -> None:
    """Continue the random stream from a get_rng_state() (a checkpoint's): the same draws follow."""
    state.process.seed = int(rng_state["seed"])
    state.process.dropout_counter = int(rng_state["dropout_counter"])
    state.process.numpy_generator = np.random.default_rng()
    state.process.numpy_generator.bit_generator.state = rng_state["numpy_generator"]


class Generator:
    """A random stream of its own, as torch.Generator: `g = td.Generator().manual_seed(42)`, then
    `generator=g` in randint, randn, randperm, multinomial or a DataLoader draws from it and
    leaves the global stream (td.manual_seed's) alone.

    Args:
        device: accepted for PyTorch's signature; only the CPU exists.
    """

    def __init__(self, device: str = "cpu"):
        self._seed = 67280421310721  # PyTorch's default seed of a new Generator
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart this stream from `seed`; returns the generator, as PyTorch's does."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed expects an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        """The seed this stream last started from."""
        return self._seed


def draws(generator_or_none: Generator | None) -> np.random.Generator:
    """The numpy Generator a draw takes its numbers from: `generator=`'s, or the global one."""
    if generator_or_none is None:
        return state.process.numpy_generator
    if not isinstance(generator_or_none, Generator):
        raise TypeError(f"generator must be a td.Generator, got {type(generator_or_none).__name__}")
    return generator_or_none.numpy_generator
