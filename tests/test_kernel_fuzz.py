"""Every kernel entry point, on both backends, called with hostile arguments: the outcome is a clear
Python exception that names the kernel, or a correct result; never a signal, never a write outside
the arrays (kernels/checks.py).

From one valid call per kernel, each case changes one argument: an axis one shorter or longer, an
axis more or fewer, another dtype, a non-contiguous view of the same values (which must give the
same result), indices out of range or negative, a probability outside [0, 1]. Every array is placed
between two guard regions of a sentinel value, checked after the call. The cases run in a child
process, which prints each case before running it: a child killed by a signal names the case that
killed it, and a new child carries on after it.

A second test builds the kernels with Numba's bounds checks (NUMBA_BOUNDSCHECK=1, the debugging
switch of docs/debugging.md) and shows that they turn an unchecked out-of-bounds index, a kernel
called past its check, into an IndexError.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinygrad_drop as td
from tinygrad_drop.kernels import (adamw, attention, attention_heads, bias, cross_entropy, dropout, embedding, gelu,
                                   layer_norm, softmax)

ROOT = Path(__file__).resolve().parent.parent
GUARD = 16  # sentinel elements on each side of every array
SENTINEL = {"f": 12345.0, "i": 987654321}
KEY = np.uint64(7)


def valid_calls() -> dict:
    """One valid call per kernel entry point: name -> (kernel, arguments)."""
    rng = np.random.default_rng(0)
    r = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    positive = lambda *shape: np.abs(r(*shape)) + 0.5  # noqa: E731
    probs = softmax.softmax_forward.numpy_impl(r(4 * 3, 5)).reshape(4, 3, 5)
    return {
        "adamw_update": (adamw.adamw_update, [r(4, 3), r(4, 3), r(4, 3), positive(4, 3), 1,
                                              adamw.AdamHyperparameters(1e-3, 0.9, 0.999, 1e-8, 0.1, True)]),
        "attention_probs_forward": (attention.attention_probs_forward, [r(4, 3, 5), r(4, 3, 5), True, True, 0.5, 0.25, KEY]),
        "attention_probs_backward": (attention.attention_probs_backward, [probs, probs.copy(), r(4, 3, 5), 0.5]),
        "attention_heads_forward": (attention_heads.attention_heads_forward,
                                    [r(2, 2, 3, 4), r(2, 2, 5, 4), r(2, 2, 5, 6), r(4, 3, 5), True, False, 0.5, 0.25,
                                     KEY, r(2, 2, 3, 6)]),
        "attention_heads_backward": (attention_heads.attention_heads_backward,
                                     [r(2, 2, 3, 6), r(2, 2, 3, 4), r(2, 2, 5, 4), r(2, 2, 5, 6), probs, probs.copy(),
                                      0.5, False, r(2, 2, 3, 4), r(2, 2, 5, 4), r(2, 2, 5, 6), True]),
        "add_bias": (bias.add_bias, [r(4, 3), r(3)]),
        "bias_grad": (bias.bias_grad, [r(4, 3)]),
        "cross_entropy_forward": (cross_entropy.cross_entropy_forward, [r(4, 5), np.array([0, 4, -100, 2]), -100]),
        "cross_entropy_backward": (cross_entropy.cross_entropy_backward,
                                   [r(4, 5), np.array([0, 4, -100, 2]), r(4), np.abs(r(4)).astype(np.float64), -100, 0.3]),
        "dropout_mask": (dropout.dropout_mask, [10, 0.25, KEY]),
        "dropout_apply": (dropout.dropout_apply, [r(4, 3), 0.25, KEY, 2.0]),
        "add_bias_dropout": (dropout.add_bias_dropout, [r(4, 3), r(3), 0.25, KEY, 2.0]),
        "embedding_backward": (embedding.embedding_backward, [np.array([0, 9, 3, 3, 1, 0]), r(6, 3), 10]),
        "gelu": (gelu.gelu, [r(4, 3), False, True]),
        "layer_norm_forward": (layer_norm.layer_norm_forward, [r(4, 3), r(3), r(3), 1e-5]),
        "layer_norm_backward": (layer_norm.layer_norm_backward, [r(4, 3), r(4, 3), r(3), r(4), positive(4)]),
        "softmax_forward": (softmax.softmax_forward, [r(4, 3)]),
        "softmax_backward": (softmax.softmax_backward, [r(4, 3), r(4, 3)]),
        "log_softmax_forward": (softmax.log_softmax_forward, [r(4, 3)]),
        "log_softmax_backward": (softmax.log_softmax_backward, [r(4, 3), r(4, 3)]),
    }


def mutations(value) -> list[tuple[str, object]]:
    """(what changed, the changed argument) for one argument of a valid call."""
    if isinstance(value, np.ndarray) and value.ndim:
        shorter, longer = list(value.shape), list(value.shape)
        shorter[-1] -= 1
        longer[-1] += 1
        changed = [("shorter last axis", value[..., :-1]), ("longer last axis", np.resize(value, longer)),
                   ("extra axis", value[None]), ("fewer axes", value.reshape(-1) if value.ndim > 1 else value[0]),
                   ("non-contiguous", np.repeat(value, 2, axis=-1)[..., ::2])]
        if value.dtype.kind == "f":
            changed += [("int32", value.astype(np.int32)), ("float16", value.astype(np.float16))]
        else:
            count = 10
            changed += [(f"index {bad}", np.where(np.arange(value.size) == 1, bad, value)) for bad in
                        (count, 17, -1, -2**40, 10**8, 2**62)]
            changed += [("float indices", value.astype(np.float32))]
        return changed
    if isinstance(value, float) and value == 0.25:  # the probabilities
        return [(f"p {bad}", bad) for bad in (1.5, -0.1, float("nan"))]
    if isinstance(value, int) and not isinstance(value, bool) and value == 10:  # dropout_mask's n
        return [("n -1", -1)]
    return []


def cases() -> list[tuple[str, str, int, str]]:
    """(backend, kernel, argument position, mutation name): every case, in a fixed order."""
    return [(backend, name, position, what)
            for backend in ("numpy", "numba")
            for name, (_, args) in valid_calls().items()
            for position, value in enumerate(args)
            for what, _ in mutations(value)]


def guarded(value):
    """A copy of an array in the middle of a buffer of sentinels (the guards); other values as they are."""
    if not isinstance(value, np.ndarray) or not value.flags.c_contiguous or value.dtype.kind not in "fi":
        return value, None
    buffer = np.full(value.size + 2 * GUARD, SENTINEL[value.dtype.kind], value.dtype)
    buffer[GUARD:GUARD + value.size] = value.reshape(-1)
    return buffer[GUARD:GUARD + value.size].reshape(value.shape), buffer


def guards_intact(buffer) -> bool:
    sentinel = SENTINEL[buffer.dtype.kind]
    return bool(np.all(buffer[:GUARD] == sentinel) and np.all(buffer[-GUARD:] == sentinel))


def fingerprint(result, args) -> list[np.ndarray]:
    """What a call produced: its returned arrays, or, for a kernel that returns nothing, its array
    arguments after the call (it wrote its results into them)."""
    flat = [x for x in (result if isinstance(result, tuple) else [result]) if x is not None]
    return [np.asarray(x, dtype=np.float64) for x in (flat or args) if isinstance(x, (np.ndarray, float))]


def run_case(backend: str, name: str, position: int, what: str) -> dict:
    kernel, args = valid_calls()[name]
    args[position] = dict(mutations(args[position]))[what]
    buffers = []
    for index, value in enumerate(args):
        args[index], buffer = guarded(value)
        if buffer is not None:
            buffers.append(buffer)
    outcome = {}
    with td.backend(backend):
        try:
            result = kernel(*args)
            outcome["outcome"] = "ok"
            if what == "non-contiguous":
                expected_kernel, expected_args = valid_calls()[name]
                expected = fingerprint(expected_kernel(*expected_args), expected_args)
                got = fingerprint(result, args)
                outcome["same"] = len(got) == len(expected) and all(
                    np.array_equal(a, b, equal_nan=True) for a, b in zip(got, expected))
        except Exception as error:  # the point of the test: which exception, and what it says
            outcome.update(outcome="raised", type=type(error).__name__, message=str(error)[:300])
    outcome["guards_intact"] = all(guards_intact(buffer) for buffer in buffers)
    return outcome


def child(start: int) -> None:
    """Run the cases from `start` on, printing each one's index before it runs and its outcome after."""
    for index, case in enumerate(cases()[start:], start):
        print(json.dumps({"start": index}), flush=True)
        print(json.dumps({"index": index, **run_case(*case)}), flush=True)


def run_every_case() -> tuple[dict, dict]:
    """Outcomes by case index, and the cases whose child died (index -> return code)."""
    outcomes, crashes, start, total = {}, {}, 0, len(cases())
    while start < total:
        result = subprocess.run([sys.executable, "-c", f"import test_kernel_fuzz as t; t.child({start})"],
                                cwd=ROOT / "tests", capture_output=True, text=True, timeout=300,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
        last_started = start
        for line in result.stdout.splitlines():
            if not line.startswith('{"'):  # a kernel's own print, e.g. from a native library
                continue
            record = json.loads(line)
            if "start" in record:
                last_started = record["start"]
            else:
                outcomes[record.pop("index")] = record
        if result.returncode == 0:
            break
        crashes[last_started] = (result.returncode, result.stderr[-500:])
        start = last_started + 1
    return outcomes, crashes


def test_every_kernel_refuses_hostile_arguments_with_a_clear_error_and_writes_nothing_outside():
    all_cases = cases()
    outcomes, crashes = run_every_case()
    assert not crashes, {all_cases[i]: crash for i, crash in crashes.items()}
    assert len(outcomes) == len(all_cases)
    problems = []
    for index, case in enumerate(all_cases):
        outcome, (backend, name, position, what) = outcomes[index], case
        if not outcome["guards_intact"]:
            problems.append((case, "wrote outside its arrays"))
        refused_clearly = outcome["outcome"] == "raised" and "contiguous" in outcome["message"]
        if what == "non-contiguous" and not (outcome["outcome"] == "ok" and outcome.get("same") or refused_clearly):
            problems.append((case, "a non-contiguous view must give the contiguous result", outcome))
        if outcome["outcome"] == "raised" and not (
                outcome["type"] in ("ValueError", "TypeError", "IndexError") and outcome["message"].startswith(f"{name}: ")):
            problems.append((case, "an exception that does not name the kernel", outcome))
        if what.startswith(("index", "p ", "n ", "int32", "float16", "float indices")) and outcome["outcome"] == "ok":
            problems.append((case, "accepted", outcome))
    assert not problems, "\n".join(map(str, problems))
    refused = sum(outcome["outcome"] == "raised" for outcome in outcomes.values())
    assert refused > len(all_cases) // 2  # most changes break a kernel's contract


def test_numbas_bounds_checks_turn_an_out_of_bounds_index_into_an_index_error(tmp_path):
    """Past its check (numba_impl called directly), a kernel with a bias shorter than its rows, or
    a class index past the row, reads out of bounds: built with NUMBA_BOUNDSCHECK=1 (in a cache
    of its own, since Numba's cache does not tell bounds-checked code apart), it raises instead,
    and the pool runs every kernel on the calling thread, where the error reaches Python."""
    script = """
import numpy as np
from tinygrad_drop.kernels import bias, cross_entropy, layer_norm, thread_pool
rows, short = np.ones((200, 3), np.float32), np.ones(2, np.float32)
calls = [lambda: layer_norm.layer_norm_forward.numba_impl(rows, short, short, 1e-5),
         lambda: bias.add_bias.numba_impl(rows.copy(), short),
         lambda: cross_entropy.cross_entropy_forward.numba_impl(rows, np.full(200, 7), -100)]
for call in calls:
    try:
        call()
        print("no error")
    except IndexError as error:
        print("IndexError")
print(thread_pool.start_thread_pool())
"""
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["IndexError"] * 3 + ["bounds", "checked"]
