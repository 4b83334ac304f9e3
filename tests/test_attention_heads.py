"""Attention head by head (kernels/attention_heads.py): the Numba twin equals the numpy reference
(the formulas, every head at once) to rounding, with the same dropout masks; its per-head kernels
(each head's products, BLAS called from compiled code, and middle in one thread task) give the bits
of its composition (numpy's matmul, block by block, around the same Numba middle), both ways; and
the calls those kernels cannot take go to that composition."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from tinygrad_drop.kernels import attention_heads as heads
from tinygrad_drop.kernels.thread_pool import products_share_threads
from tinygrad_drop.kernels.gemm import gemm_address

pytestmark = pytest.mark.kernels
ROOT = Path(__file__).resolve().parents[1]

needs_gemm = pytest.mark.skipif(gemm_address(np.float32) is None or not products_share_threads(),
                                reason="numpy's BLAS does not run on Numba's threads here: the kernels stand aside")


def qkv_heads(dtype, batch=3, n_head=4, T=64, E=32, seed=0):
    """q, k, v as CausalSelfAttention makes them: (B, heads, T, E) views of one (B, T, 3, heads, E) array."""
    qkv = np.random.default_rng(seed).standard_normal((batch, T, 3, n_head, E)).astype(dtype)
    return qkv.transpose(2, 0, 3, 1, 4)


def run_both_ways(q, k, v, causal, p, bias=None, kernel=heads.attention_heads_forward, backward=None):
    """forward then backward through one implementation (the Numba twin unless told):
    (out, probs, dropped, dq, dk, dv)."""
    forward = kernel.numba_impl if backward is None else kernel
    backward = heads.attention_heads_backward.numba_impl if backward is None else backward
    dtype = q.dtype
    has_bias = bias is not None
    bias = bias if has_bias else np.zeros((1, 1, 1), dtype)
    out = np.empty(q.shape[:-1] + (v.shape[-1],), dtype)
    probs, dropped = forward(q, k, v, bias, has_bias, causal, 0.17, p, np.uint64(5), out)
    grad = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    grads = [np.empty_like(a) for a in (q, k, v)]
    assert backward(grad, q, k, v, probs, dropped, 0.17, causal, *grads, False) is None
    return [out, probs, dropped.copy()] + grads


@pytest.mark.parametrize("p", [0.0, 0.3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_numba_twin_equals_the_numpy_reference(p, dtype, monkeypatch):
    tolerance = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    for name, (q, k, v, causal, bias) in cases(dtype).items():
        expected = run_both_ways(q, k, v, causal, p, bias, heads.attention_heads_forward_numpy,
                                 heads.attention_heads_backward_numpy)
        for way in ("per-head kernels or composition, as the call fits", "composition"):
            with monkeypatch.context() as patch:
                if way == "composition":
                    patch.setattr(heads, "_kernel_fits", lambda *args: None)
                got = run_both_ways(q, k, v, causal, p, bias)
            np.testing.assert_array_equal(got[2] == 0, expected[2] == 0, err_msg=f"{name}, {way}: the mask")
            for a, b, what in zip(got, expected, ["out", "P", "D", "dq", "dk", "dv"]):
                np.testing.assert_allclose(a, b, err_msg=f"{name}, {way}: {what}", **tolerance)


def refuse(*args):
    raise AssertionError("this call should not have gone to the numpy composition")


def cases(dtype):
    q, k, v = qkv_heads(dtype)
    rng = np.random.default_rng(3)
    short_q, long_k, long_v = (rng.standard_normal(shape).astype(dtype) for shape in [(6, 20, 8), (6, 36, 8), (6, 36, 5)])
    return {
        "causal, split in blocks": (q, k, v, True, None),
        "causal, whole (T in WHOLE_PRODUCTS_AT)": (*qkv_heads(dtype, batch=1, n_head=2, T=128, E=8), True, None),
        "3-D, T != S, no causal mask": (short_q, long_k, long_v, False, None),
        "a float mask (no gradient wanted)": (short_q, long_k, long_v, False, rng.standard_normal((6, 20, 36)).astype(dtype)),
    }


@needs_gemm
@pytest.mark.parametrize("p", [0.0, 0.3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_task_per_head_gives_the_bits_of_the_numpy_composition(p, dtype, monkeypatch):
    for name, (q, k, v, causal, bias) in cases(dtype).items():
        with monkeypatch.context() as forced:
            forced.setattr(heads, "_kernel_fits", lambda *args: None)  # the twin's composition
            expected = run_both_ways(q, k, v, causal, p, bias)
        with monkeypatch.context() as fused:
            fused.setattr(heads, "composed_forward", refuse)
            fused.setattr(heads, "composed_backward", refuse)
            got = run_both_ways(q, k, v, causal, p, bias)
            for a, b, what in zip(got, expected, ["out", "P", "D", "dq", "dk", "dv"]):
                np.testing.assert_array_equal(a, b, err_msg=f"{name}: {what}")


@needs_gemm
def test_one_numba_thread_gives_the_same_bits(monkeypatch):
    q, k, v = qkv_heads(np.float32)
    expected = run_both_ways(q, k, v, True, 0.2)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        got = run_both_ways(q, k, v, True, 0.2)
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def composition_cases():
    """Calls the kernels must leave to the numpy composition, as (reason, q, k, v, causal)."""
    q, k, v = qkv_heads(np.float32)
    big = qkv_heads(np.float32, batch=1, n_head=2, T=256, E=32)  # 128 x 128 x 32 blocks: OpenBLAS threads them
    five_d = [a.reshape(1, *a.shape) for a in qkv_heads(np.float32, batch=2, n_head=2, T=8, E=4)]
    return [
        ("products OpenBLAS would split over threads", *big, True),
        ("more than two leading axes", *five_d, True),
        ("q without contiguous rows", np.ascontiguousarray(q.swapaxes(-1, -2)).swapaxes(-1, -2), k, v, True),
        ("mixed dtypes", q, k.astype(np.float64), v, True),
    ]


@pytest.mark.parametrize("case", composition_cases(), ids=lambda case: case[0])
def test_calls_the_kernels_cannot_take_go_to_the_composition(case, monkeypatch):
    _, q, k, v, causal = case
    expected = run_both_ways(q, k, v, causal, 0.2)
    monkeypatch.setattr(heads, "_attention_heads_forward_kernel", refuse)
    monkeypatch.setattr(heads, "_attention_heads_backward_kernel", refuse)
    for a, b in zip(run_both_ways(q, k, v, causal, 0.2), expected):
        np.testing.assert_array_equal(a, b)


def test_a_float_masks_gradient_a_missing_blas_and_an_unshared_pool_go_to_the_composition(monkeypatch):
    q, k, v = qkv_heads(np.float32)
    monkeypatch.setattr(heads, "_attention_heads_backward_kernel", refuse)
    out = np.empty_like(q)
    probs, dropped = heads.attention_heads_forward_numba(q, k, v, np.zeros((1, 1, 1), np.float32), False, True, 0.17,
                                                         0.0, np.uint64(1), out)
    grads = [np.empty_like(a) for a in (q, k, v)]
    grad_z = heads.attention_heads_backward_numba(np.ones_like(out), q, k, v, probs, dropped, 0.17, True, *grads, True)
    assert grad_z.shape == (3, 4, 64, 64)
    monkeypatch.setattr(heads, "_attention_heads_forward_kernel", refuse)
    for name in ("gemm_address", "products_share_threads"):
        with monkeypatch.context() as missing:
            missing.setattr(heads, name, lambda *args: None)
            heads.attention_heads_forward_numba(q, k, v, np.zeros((1, 1, 1), np.float32), False, True, 0.17, 0.0,
                                                np.uint64(1), out)


def test_keys_and_values_broadcast_over_the_batch_go_to_the_composition(monkeypatch):
    q, k, v = qkv_heads(np.float32)
    no_bias = np.zeros((1, 1, 1), np.float32)
    expected = np.empty_like(q)
    heads.attention_heads_forward_numpy(q, k[:1], v[:1], no_bias, False, True, 0.17, 0.0, np.uint64(1), expected)
    monkeypatch.setattr(heads, "_attention_heads_forward_kernel", refuse)
    out = np.empty_like(q)
    heads.attention_heads_forward_numba(q, k[:1], v[:1], no_bias, False, True, 0.17, 0.0, np.uint64(1), out)
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=1e-6)


# Attention in a child forked after the parent ran it on threads: the child runs every head on its
# calling thread (the composition around the middle's serial branch, which never enters Numba's
# parallel runtime) and gives the parent's bits.
FORK_SCRIPT = """
import json, os
import numpy as np
from tinygrad_drop.kernels import attention, attention_heads


def run_attention():
    qkv = np.random.default_rng(0).standard_normal((3, 64, 3, 4, 32)).astype(np.float32)
    q, k, v = qkv.transpose(2, 0, 3, 1, 4)
    no_bias = np.zeros((1, 1, 1), np.float32)
    out = np.empty_like(q)
    probs, dropped = attention_heads.attention_heads_forward.numba_impl(q, k, v, no_bias, False, True, 0.17, 0.2,
                                                                       np.uint64(5), out)
    grads = [np.empty_like(q) for _ in range(3)]
    attention_heads.attention_heads_backward.numba_impl(out, q, k, v, probs, dropped, 0.17, True, *grads, False)
    scores = (q @ k.swapaxes(-1, -2)).reshape(-1, 64, 64)
    middle = attention.attention_probs_forward.numba_impl(scores, no_bias, False, True, 0.17, 0.2, np.uint64(5))
    return [out, probs, dropped, *grads, *middle, attention.threads_beside_products()]


in_parent = run_attention()
child = os.fork()
if child == 0:
    code = 1
    try:
        in_child = run_attention()
        same = [bool(np.array_equal(a, b)) for a, b in zip(in_parent[:-1], in_child[:-1])]
        print(json.dumps([same, in_parent[-1], in_child[-1]]), flush=True)
        code = 0
    finally:
        os._exit(code)
_, status = os.waitpid(child, 0)
assert os.waitstatus_to_exitcode(status) == 0, f"the child ended with {os.waitstatus_to_exitcode(status)}"
"""


def test_a_forked_child_runs_attention_on_its_calling_thread_with_the_same_bits():
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            timeout=240, env=dict(os.environ, OPENBLAS_NUM_THREADS="2", NUMBA_NUM_THREADS="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    same, threads_in_parent, threads_in_child = json.loads(result.stdout)
    assert all(same), same
    assert threads_in_child is False
