"""Shared fixtures.

`backend` runs a test once per kernel backend ("numpy" reference, "numba" fast) and restores the
previous backend afterwards, so no test leaks its choice into the next. `rng` gives each test its
own seeded generator, so inputs are reproducible whatever order the tests run in.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_drop as td


@pytest.fixture(params=["numpy", "numba"])
def backend(request) -> str:
    previous = td.get_backend()
    td.set_backend(request.param)
    yield request.param
    td.set_backend(previous)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
