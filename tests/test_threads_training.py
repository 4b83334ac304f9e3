"""Several Python threads, each training its own model at once (kernels/thread_pool.py,
kernels/parallel.py): the same numbers as each training alone, no deadlock, no crash in either of
Numba's threading layers, and while they train, every kernel and product runs on its caller's
thread (each training gets a core instead of two teams of threads fighting over all of them).

Dropout is off here: its masks come from the process's one counter (as PyTorch's default
generator), so trainings that draw masks at the same time take turns in an order of their own."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from models.gpt import GPT, GPTConfig
from tinygrad_drop.kernels import thread_pool
from tinygrad_drop.kernels.blas_threads import blas_thread_count

ROOT = Path(__file__).resolve().parent.parent
STEPS = 6


def build(seed: int) -> GPT:
    td.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=17, block_size=16, n_layer=1, n_head=2, n_embd=32, tie_weights=False))


def train(model: GPT, seed: int, losses: list) -> None:
    optimizer = model.configure_optimizers(0.1, 1e-2)
    batches = np.random.default_rng(seed)
    for _ in range(STEPS):
        idx = batches.integers(0, 17, (8, 16))
        _, loss = model(idx, np.roll(idx, -1, axis=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def train_alone_and_at_once(seeds=(1, 2, 3)) -> tuple[dict, dict, dict, dict]:
    alone = {seed: [] for seed in seeds}
    models_alone = {seed: build(seed) for seed in seeds}
    for seed in seeds:
        train(models_alone[seed], seed, alone[seed])
    at_once = {seed: [] for seed in seeds}
    models_at_once = {seed: build(seed) for seed in seeds}
    workers = [threading.Thread(target=train, args=(models_at_once[seed], seed, at_once[seed])) for seed in seeds]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a training thread hangs"
    return alone, at_once, models_alone, models_at_once


def test_threads_training_at_once_get_the_numbers_they_get_alone(backend):
    alone, at_once, models_alone, models_at_once = train_alone_and_at_once()
    assert at_once == alone and all(len(losses) == STEPS for losses in alone.values())
    for seed, model in models_alone.items():
        for (name, weight), other in zip(model.named_parameters(), models_at_once[seed].parameters()):
            np.testing.assert_array_equal(other.numpy(), weight.numpy(), err_msg=name)


def test_while_threads_train_each_runs_on_one_thread_and_the_pool_comes_back(monkeypatch):
    thread_pool.start_thread_pool()
    monkeypatch.setattr(td.state.process, "kernel_callers", {})
    monkeypatch.setattr(thread_pool, "LOAD_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(thread_pool, "CALLER_SECONDS", 0.2)
    thread_pool.on_one_thread_now()  # one caller only: the pool as it is when one thread trains
    blas_threads = blas_thread_count()
    seen_during = []

    def look_while_another_thread_calls():
        thread_pool.threads_available()  # this thread calls a kernel's gate...
        seen_during.append((thread_pool.threads_available(), blas_thread_count()))

    thread_pool.threads_available()  # ...while the main thread has called one just before
    worker = threading.Thread(target=look_while_another_thread_calls)
    worker.start()
    worker.join()
    assert seen_during == [(False, 1)]
    assert not thread_pool.threads_available()  # the other thread called within CALLER_SECONDS
    threading.Event().wait(0.3)
    assert thread_pool.threads_available() == (thread_pool.start_thread_pool() != "forked child")
    assert blas_thread_count() == blas_threads


@pytest.mark.parametrize("layer", ["omp", "workqueue"])
def test_no_threading_layer_stops_the_process_when_threads_train_at_once(layer):
    """Numba's workqueue layer aborts the process ("Concurrent access has been detected") when two
    threads enter it at once: the gate in kernels/parallel.py keeps them out of it together."""
    script = ("import sys; sys.path.insert(0, 'tests'); import test_threads_training as t\n"
              "alone, at_once, _, _ = t.train_alone_and_at_once()\n"
              "assert at_once == alone, (alone, at_once)\nprint('same')")
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer, TINYGRAD_DROP_SHARED_THREADS="0" if layer == "workqueue" else "1")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0 and result.stdout.strip() == "same", result.stderr[-2000:]
