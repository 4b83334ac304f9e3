"""One seed for every random draw: parameter init, randn/rand, data batches and dropout masks.

`manual_seed(seed)` resets both sources:
- a numpy Generator for ordinary draws (init, `td.randn`, batch sampling in scripts);
- a (seed, counter) pair for dropout. Each dropout call takes the next counter and turns
  (seed, counter) into a key; the mask is then a pure function of (key, element index)
  (see kernels/random_bits.py), so it is the same on every backend and can be redrawn in backward.
"""
from __future__ import annotations

import numpy as np

from .kernels.random_bits import make_key


class _RandomState:
    seed: int = 0
    dropout_counter: int = 0
    numpy_generator: np.random.Generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Make every later random draw reproducible."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _RandomState.seed = int(seed)
    _RandomState.dropout_counter = 0
    _RandomState.numpy_generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The numpy Generator behind init and creation functions."""
    return _RandomState.numpy_generator


def next_dropout_key() -> np.uint64:
    """A fresh key for one dropout draw (each forward gets a new mask)."""
    _RandomState.dropout_counter += 1
    return make_key(_RandomState.seed, _RandomState.dropout_counter)


def get_rng_state() -> dict:
    """Everything needed to continue the random stream exactly (for checkpoints)."""
    return {"seed": _RandomState.seed, "dropout_counter": _RandomState.dropout_counter,
            "numpy_generator": _RandomState.numpy_generator.bit_generator.state}


def set_rng_state(state: dict) -> None:
    _RandomState.seed = int(state["seed"])
    _RandomState.dropout_counter = int(state["dropout_counter"])
    _RandomState.numpy_generator = np.random.default_rng()
    _RandomState.numpy_generator.bit_generator.state = state["numpy_generator"]
