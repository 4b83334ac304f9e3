"""What "the same bits" means, tested where it could break.

The guarantee, for the Numba backend on one machine: a kernel gives the same bits on any number of
threads (1, 2 or more), on threads or on the calling thread (the two twins of kernels/parallel.py),
and compiled fresh or loaded from Numba's on-disk cache. Across backends the guarantee is the
dropout masks (the counter-based generator of kernels/random_bits.py): the numpy reference and the
Numba twin draw the same mask bits; their other outputs agree to float tolerance (test_kernels.py).

The kernels compiled with fastmath flags are where those bits could drift: "reassoc" lets LLVM
split a row sum into SIMD lanes in an order that depends on how it vectorized that loop, and
"contract" lets it fuse a * b + c where it sees one. A kernel inlined into each twin and
vectorized differently there, or a compile that differs from the cached one, would show here.
Each run below hashes their outputs in a fresh interpreter: the first compiles everything into an
empty cache on one thread, the second loads it all from that cache on three.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop.kernels import dropout

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]

BITS_SCRIPT = """
import hashlib, json
import numpy as np
from tinygrad_drop.kernels import attention, dropout, gelu, layer_norm
from tinygrad_drop.kernels.parallel import ParallelOrSerial

modules = (attention, dropout, gelu, layer_norm)


def digest(*arrays):
    h = hashlib.sha256()
    for array in arrays:
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


digests = {}
for threads in (True, False):
    for module in modules:
        module.threads_beside_products = lambda: threads
    twin = "threads" if threads else "caller"
    x = (4 * np.random.default_rng(1).standard_normal(3 * 2048 + 7)).astype(np.float32)  # a short last chunk
    digests[f"gelu float32 {twin}"] = digest(*gelu.gelu.numba_impl(x, False, True))
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        for shape in ((150, 33), (130, 768)):  # a GPT's rows; tails the SIMD lanes do not fill
            x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
            weight, bias = rng.standard_normal((2, shape[1])).astype(dtype)
            grad = rng.standard_normal(shape).astype(dtype)
            y, mean, rstd = layer_norm.layer_norm_forward.numba_impl(x, weight, bias, 1e-5)
            backward = layer_norm.layer_norm_backward.numba_impl(grad, x, weight, mean, rstd)
            digests[f"layer_norm {dtype.__name__} {shape} {twin}"] = digest(y, mean, rstd, *backward)
            digests[f"dropout {dtype.__name__} {shape} {twin}"] = digest(
                dropout.dropout_apply.numba_impl(x, 0.1, np.uint64(3), 1 / 0.9),
                dropout.add_bias_dropout.numba_impl(x.copy(), weight, 0.1, np.uint64(3), 1 / 0.9))
        for shape in ((6, 9, 9), (4, 100, 100)):
            scores = rng.standard_normal(shape).astype(dtype)
            bias = rng.standard_normal(shape).astype(dtype)
            grad = rng.standard_normal(shape).astype(dtype)
            probs, dropped = attention.attention_probs_forward.numba_impl(scores, bias, True, True, 0.7, 0.25,
                                                                           np.uint64(3))
            dscores = attention.attention_probs_backward.numba_impl(probs, dropped, grad, 0.7)
            digests[f"attention {dtype.__name__} {shape} {twin}"] = digest(probs, dropped, dscores)
twins = [getattr(value, which) for module in modules for value in vars(module).values()
         if isinstance(value, ParallelOrSerial) for which in ("parallel", "serial")]
cache = [sum(sum(getattr(twin.stats, counts).values()) for twin in twins) for counts in ("cache_hits", "cache_misses")]
print(json.dumps([digests, cache]))
"""


def run_bits_script(cache_dir: Path, threads: int) -> tuple[dict, list]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", BITS_SCRIPT], cwd=REPOSITORY_ROOT, env=env, capture_output=True,
                            text=True, timeout=170)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_fastmath_kernels_give_the_same_bits_fresh_or_cached_on_any_thread_count(tmp_path):
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("nothing is compiled or cached with NUMBA_DISABLE_JIT=1")
    fresh, (fresh_hits, fresh_misses) = run_bits_script(tmp_path, threads=1)
    cached, (cached_hits, cached_misses) = run_bits_script(tmp_path, threads=3)
    assert fresh_hits == 0 and fresh_misses > 0, "the first run should compile into the empty cache"
    assert cached_hits > 0 and cached_misses == 0, "the second run should load everything from the cache"
    assert len(fresh) == 26, sorted(fresh)  # 13 cases, each on both twins
    assert {name for name in fresh if fresh[name] != cached[name]} == set()  # compiled vs loaded, 1 vs 3 threads
    for name, value in fresh.items():  # on threads vs on the calling thread
        if name.endswith(" threads"):
            assert value == fresh[name.replace(" threads", " caller")], name


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_masks_are_the_same_bits_on_both_backends(p):
    # the README's promise: the same mask on every backend (and thread count, above)
    key, n = np.uint64(2**33 + 5), 50_000
    masks = [implementation(n, p, key) for implementation in (dropout.dropout_mask.numpy_impl,
                                                                dropout.dropout_mask.numba_impl)]
    np.testing.assert_array_equal(*masks)
    x = td.ones(n)
    with td.backend("numpy"):
        td.manual_seed(3)
        on_numpy = td.nn.functional.dropout(x, p).numpy()
    with td.backend("numba"):
        td.manual_seed(3)
        on_numba = td.nn.functional.dropout(x, p).numpy()
    np.testing.assert_array_equal(on_numpy == 0, on_numba == 0)


def test_a_kernels_cache_stamp_covers_the_helpers_it_compiles_in():
    from tinygrad_drop.kernels.cache_stamps import KERNELS_DIR, kernel_stamp
    names = {name for name, _ in kernel_stamp(KERNELS_DIR / "attention_heads.py")}
    assert {"attention_heads.py", "attention.py", "exp_float32.py", "random_bits.py", "parallel.py",
            "gemm.py"} <= names, names
    assert {name for name, _ in kernel_stamp(KERNELS_DIR / "embedding.py")} == {"embedding.py"}


HELPER_SCRIPT = """
import json
import numpy as np
from tinygrad_drop.kernels import gelu
x = np.linspace(-3, 3, 5000, dtype=np.float32)
gelu.gelu.numba_impl(x, False, True)
twins = (gelu._gelu_exact_float32_kernel.serial, gelu._gelu_exact_float32_kernel.parallel)
print(json.dumps([sum(sum(getattr(twin.stats, counts).values()) for twin in twins)
                  for counts in ("cache_hits", "cache_misses")]))
"""


def test_editing_a_helper_recompiles_the_kernels_that_compile_it_in(tmp_path):
    # the flaky 1-ulp differences between a kernel's two twins on a warm cache: one twin loaded
    # machine code built with an older exp_float32.py, the other compiled with the new one
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("nothing is compiled or cached with NUMBA_DISABLE_JIT=1")
    import shutil
    shutil.copytree(REPOSITORY_ROOT / "tinygrad_drop", tmp_path / "tinygrad_drop",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path), TINYGRAD_DROP_WATCH_LOAD="0")
    env.pop("NUMBA_CACHE_DIR", None)

    def hits_and_misses():
        result = subprocess.run([sys.executable, "-c", HELPER_SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=170)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    assert hits_and_misses() == [0, 1]  # compiled into the empty cache
    assert hits_and_misses() == [1, 0]  # loaded
    helper = tmp_path / "tinygrad_drop" / "kernels" / "exp_float32.py"
    helper.write_text(helper.read_text() + "\n# an edit\n")
    assert hits_and_misses() == [0, 1]  # the helper changed: compiled again, not loaded stale
