"""numpy's matrix products on Numba's threads (kernels/blas_threads.py, kernels/thread_pool.py):
the same results as on OpenBLAS's own threads, every job run once, no hang with fewer Numba
threads than jobs, a way to turn it off, nothing started at import, and forked children that
work. Each case that needs a fresh process (the pool is set up once per process) runs one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numba
import numpy as np
import pytest

from tinygrad_drop.kernels import blas_threads, thread_pool

pytestmark = pytest.mark.kernels
ROOT = Path(__file__).resolve().parent.parent

needs_sharing = pytest.mark.skipif(
    not thread_pool.products_share_threads(),
    reason="numpy's BLAS runs on its own threads here (no OpenBLAS callback or no OpenMP layer)",
)

# Products big enough for OpenBLAS to split them over threads, and small ones it runs alone.
PRODUCTS_SCRIPT = """
import hashlib, sys
import numpy as np
import numba
from tinygrad_drop.kernels import thread_pool
shared = thread_pool.products_share_threads()
digest = hashlib.sha256()
rng = np.random.default_rng(0)
for m, k, n in [(768, 128, 512), (512, 512, 512), (64, 64, 32), (1000, 300, 700)]:
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        digest.update((a @ b).tobytes())
        digest.update((a.T.copy().T @ b).tobytes())
digest.update((rng.standard_normal((48, 64, 32)).astype(np.float32) @ rng.standard_normal((48, 32, 64)).astype(np.float32)).tobytes())
print(shared, numba.config.THREADING_LAYER, digest.hexdigest())
"""


def run_python(script: str, timeout: float = 120, **env_overrides) -> list[str]:
    env = dict(os.environ, **env_overrides)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


@needs_sharing
def test_products_on_numba_threads_give_the_same_bits_as_on_openblas_threads():
    shared, shared_layer, shared_digest = run_python(PRODUCTS_SCRIPT, OPENBLAS_NUM_THREADS="2",
                                                     NUMBA_NUM_THREADS="2")
    apart, apart_layer, apart_digest = run_python(PRODUCTS_SCRIPT, OPENBLAS_NUM_THREADS="2", NUMBA_NUM_THREADS="2",
                                                  TINYGRAD_DROP_SHARED_THREADS="0")
    assert (shared, shared_layer) == ("True", "omp")
    assert (apart, apart_layer) == ("False", "workqueue")
    assert shared_digest == apart_digest


@needs_sharing
def test_products_on_numba_threads_match_float64():
    rng = np.random.default_rng(1)
    for m, k, n in [(768, 128, 512), (300, 1000, 200)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        np.testing.assert_allclose(a @ b, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(k))


@needs_sharing
def test_products_from_several_python_threads_at_once_give_the_same_bits():
    # Products called at the same time from several threads (numpy lets go of the GIL) take turns
    # on Numba's threads; without that, their jobs shared scratch buffers: wrong results, half the time.
    rng = np.random.default_rng(3)
    matrices = [rng.standard_normal((n, n)).astype(np.float32) for n in (384, 512, 640)]
    vector = rng.standard_normal(640).astype(np.float32)
    products = [lambda a=a: a @ a for a in matrices] + [lambda a=matrices[2]: a.T @ a, lambda: matrices[2] @ vector]
    expected = [product() for product in products]
    wrong = []

    def run(offset):
        for i in range(30):
            which = (offset + i) % len(products)
            if not np.array_equal(products[which](), expected[which]):
                wrong.append(which)

    threads = [threading.Thread(target=run, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@needs_sharing
def test_run_blas_jobs_runs_every_job_once_each_on_its_own_slot():
    # A stand-in for OpenBLAS's dojob: writes the slot it was given into its job (one int64 each).
    @numba.cfunc(numba.types.void(numba.types.int32, numba.types.voidptr, numba.types.int32))
    def record_slot(slot, job, data):
        numba.carray(job, 1, dtype=np.int64)[0] = slot * 1000 + data

    n_jobs = numba.config.NUMBA_NUM_THREADS
    jobs = np.full(n_jobs, -1, dtype=np.int64)
    top = blas_threads.TOP_SLOT
    blas_threads.run_blas_jobs(record_slot.address, n_jobs, jobs.itemsize, jobs.ctypes.data, 7)
    slots = sorted(int(j) // 1000 for j in jobs)
    assert (jobs % 1000 == 7).all()
    assert slots == list(range(top - n_jobs + 1, top + 1))  # one Numba thread per job, none shared


@needs_sharing
def test_fewer_numba_threads_than_blas_jobs_does_not_hang():
    # OpenBLAS's jobs wait for one another: run one after another on a single thread they would
    # wait forever (they did, before run_blas_jobs raised the thread count to the number of jobs).
    script = """
import numba, numpy as np
from tinygrad_drop.kernels import thread_pool
numba.set_num_threads(1)
thread_pool.start_thread_pool()
a = np.random.default_rng(2).standard_normal((1024, 1024)).astype(np.float32)
error = np.abs(a @ a - a.astype(np.float64) @ a).max()
print(numba.get_num_threads(), error < 1e-2)
"""
    assert run_python(script, timeout=60, OPENBLAS_NUM_THREADS="2", NUMBA_NUM_THREADS="2") == ["1", "True"]


def test_a_threading_layer_the_user_chose_is_kept():
    script = """
import numba, numpy as np
from tinygrad_drop.kernels import thread_pool
numba.njit(parallel=True)(lambda a: a.sum())(np.ones(4))  # starts Numba's threads
print(numba.threading_layer(), thread_pool.products_share_threads())
"""
    assert run_python(script, NUMBA_THREADING_LAYER="workqueue") == ["workqueue", "False"]


def test_import_starts_no_thread_and_leaves_numpys_blas_alone():
    script = """
import threading
import numba, numpy as np
from numba.np.ufunc import parallel
python_threads = threading.active_count()
import tinygrad_drop as td
from tinygrad_drop.kernels import blas_threads
openblas = blas_threads.find_openblas()
print(threading.active_count() == python_threads, parallel._is_initialized, numba.config.THREADING_LAYER,
      td.state.process.thread_pool, td.state.process.blas_callback is None)
"""
    assert run_python(script) == ["True", "False", "default", "not", "started", "True"]


def test_the_numpy_backend_never_starts_the_pool():
    script = """
import numpy as np
from numba.np.ufunc import parallel
import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
x = td.randn(96, 64, requires_grad=True)
loss = F.cross_entropy(F.layer_norm(F.dropout(F.gelu(x @ x.T), 0.1), (96,)), np.arange(96) % 7)
loss.backward()
print(parallel._is_initialized, td.state.process.thread_pool == "not started", np.isfinite(x.grad.numpy()).all())
"""
    assert run_python(script, TINYGRAD_DROP_BACKEND="numpy") == ["False", "True", "True"]


def test_a_thread_count_the_user_set_is_kept():
    script = """
import numba
import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
numba.set_num_threads(1)
x = td.randn(512, 256, requires_grad=True)
F.gelu(x @ x.T).sum().backward()
print(numba.get_num_threads())
"""
    assert run_python(script, NUMBA_NUM_THREADS="2") == ["1"]


# A fork-based multiprocessing pool, the way data loaders and graders use one: its workers
# multiply matrices big enough for BLAS to thread them and run kernels forward and backward.
FORK_SCRIPT = """
import json, multiprocessing
import numpy as np
import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from models.gpt import GPT, GPTConfig


def work(seed):
    a = np.random.default_rng(seed).standard_normal((512, 512)).astype(np.float32)
    product = float((a @ a).sum())
    td.manual_seed(seed)
    x = td.randn(512, 256, requires_grad=True)
    F.dropout(F.gelu(x @ x.T), 0.1).sum().backward()
    return product, float(x.grad.numpy().sum()), td.state.process.thread_pool


def run_pool():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map_async(work, range(4)).get(timeout=60)
    expected = [work(seed)[:2] for seed in range(4)]  # in this process, after the children are done
    return [r[:2] for r in results] == expected, sorted({r[2] for r in results})


same_after_import, pools_after_import = run_pool()
td.manual_seed(0)
model = GPT(GPTConfig(n_layer=1, n_embd=64, n_head=2, block_size=32, embd_pdrop=0.1, attn_pdrop=0.1, resid_pdrop=0.1))
optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3)
idx = np.random.default_rng(0).integers(0, 65, (4, 32))
_, loss = model(idx, idx)
loss.backward()
optimizer.step()
pool_in_parent = td.state.process.thread_pool
same_after_step, pools_after_step = run_pool()
print(json.dumps([same_after_import, pools_after_import, same_after_step, pools_after_step, pool_in_parent]))
"""


def test_a_forked_pool_works_after_import_and_after_a_training_step():
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            timeout=240, env=dict(os.environ, OPENBLAS_NUM_THREADS="2", NUMBA_NUM_THREADS="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # no "fork() called from a process already using GNU OpenMP"
    same_after_import, pools_after_import, same_after_step, pools_after_step, pool_in_parent = \
        json.loads(result.stdout)
    # Forked after import only, the children start a pool of their own; forked after a step, they
    # run on one thread each. Either way every result equals the parent's own.
    assert same_after_import and same_after_step
    assert pools_after_step == ["forked child"]
    assert pool_in_parent in ("shared", "separate")
