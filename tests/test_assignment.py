"""The course kit: one gradient test per topic, and the student copy that strips those topics.

The topic tests are what `pytest -m <topic>` runs first in a student copy (scripts/make_assignment.py):
small float64 gradchecks on the numpy backend, whose failure message names gradcheck's worst
element, analytic vs numeric. The last test generates a student copy and runs this file in it: the
topic tests must fail there and everything else must pass, while here, on the original, all pass.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from conftest import TOPICS

import tinygrad_drop as td
import tinygrad_drop.nn.functional as F
from tinygrad_drop.autograd import Function
from tinygrad_drop.kernels.dropout import dropout_mask
from tinygrad_drop.ops.attention import ScaledDotProductAttention
from tinygrad_drop.ops.dropout import DropoutFunction

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_assignment.py"
IN_STUDENT_COPY = (ROOT / "ASSIGNMENT.md").exists()
only_in_the_original = pytest.mark.skipif(IN_STUDENT_COPY, reason="a student copy has no solutions to strip")
pytestmark = pytest.mark.usefixtures("numpy_backend")
KEY = np.uint64(12345)  # a fixed dropout key: the same mask on every call, so gradcheck can probe




def float64(*shape, requires_grad=True, seed=0):
    rng = np.random.default_rng(seed)
    return td.tensor(rng.standard_normal(shape), requires_grad=requires_grad)


# ------------------------------------------------------------------------------ the topics


@pytest.mark.layernorm
def test_layernorm_backward():
    x, weight, bias = float64(3, 2, 5), float64(5, seed=1), float64(5, seed=2)
    assert td.gradcheck(lambda x, w, b: F.layer_norm(x, 5, w, b), [x, weight, bias])
    assert td.gradcheck(lambda x: F.layer_norm(x, (2, 5)), [x])


@pytest.mark.dropout
def test_dropout_backward():
    x = float64(4, 6)
    assert td.gradcheck(lambda x: DropoutFunction.apply(x, 0.5, KEY, 2.0), [x])
    # the gradient is the forward's mask times the scale: exactly 0 where an element was dropped
    kept = dropout_mask(x.numel(), 0.5, KEY).reshape(x.shape)
    y = DropoutFunction.apply(x, 0.5, KEY, 2.0)
    np.testing.assert_array_equal(y.numpy(), np.where(kept, x.numpy() * 2.0, 0.0))
    x.grad = None  # gradcheck left its own gradient here
    y.backward(np.ones(x.shape))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 2.0, 0.0))


@pytest.mark.attention
def test_attention_backward():
    q, k, v = float64(2, 3, 4, seed=0), float64(2, 3, 4, seed=1), float64(2, 3, 2, seed=2)
    assert td.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])
    with_dropout = lambda q, k, v: ScaledDotProductAttention.apply(q, k, v, None, False, None, 0.3, KEY)
    assert td.gradcheck(with_dropout, [q, k, v])


@pytest.mark.softmax
def test_softmax_backward():
    x = float64(3, 4)
    assert td.gradcheck(lambda x: x.softmax(dim=-1), [x])
    assert td.gradcheck(lambda x: x.softmax(dim=0), [x])
    assert td.gradcheck(lambda x: x.log_softmax(dim=-1), [x])


@pytest.mark.matmul
def test_matmul_and_linear_backward():
    a, b = float64(2, 3, 4, seed=0), float64(4, 5, seed=1)
    assert td.gradcheck(lambda a, b: a @ b, [a, b])  # the batch axis of a is broadcast over b
    vector = float64(4, seed=2)
    assert td.gradcheck(lambda b, v: v @ b, [b, vector])
    x, weight, bias = float64(2, 3, 4, seed=3), float64(5, 4, seed=4), float64(5, seed=5)
    assert td.gradcheck(F.linear, [x, weight, bias])


# ---------------------------------------------------------------- outside the stripped topics


def test_ops_outside_the_topics_keep_working():
    x = float64(3, 4)
    assert td.gradcheck(lambda x: (x.tanh() * x.exp()).sum(dim=1), [x])


def test_a_wrong_backward_fails_with_the_worst_element():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2 x

    x = td.tensor(np.array([[1.0, -3.0], [0.5, 2.0]]), requires_grad=True)
    with pytest.raises(td.GradcheckError) as error:
        td.gradcheck(WrongSquare.apply, [x])
    message = str(error.value)
    assert "index (0, 1)" in message and "analytic" in message and "numeric" in message


# ---------------------------------------------------------------------- the student copy


def load_script():
    spec = importlib.util.spec_from_file_location("make_assignment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_assignment"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def expected_outcome(test_name: str) -> tuple[str, str | None]:
    """What a test of this file does in a student copy, and its topic, read from its marks."""
    marks = getattr(globals()[test_name], "pytestmark", [])
    topics = [mark.name for mark in marks if mark.name in TOPICS]
    if topics:
        return "failure", topics[0]
    return ("skipped" if any(mark.name == "skipif" for mark in marks) else "passed"), None


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """test name -> (outcome, message) from a junit xml report."""
    results = {}
    for case in ElementTree.parse(report).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, (child.get("message") or "") + (child.text or "")
        results[case.get("name")] = (outcome, message)
    return results


def copy_env(copy: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(copy))
    env.pop("TINYGRAD_DROP_BACKEND", None)
    return env


@only_in_the_original
def test_student_copy_fails_in_the_stripped_topics_only(tmp_path):
    copy = tmp_path / "student"
    result = subprocess.run([sys.executable, str(SCRIPT), str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    library = [p for folder in ("tinygrad_drop", "models") for p in (copy / folder).rglob("*.py")]
    stripped_source = "".join(p.read_text() for p in library)
    assert "BEGIN SOLUTION" not in stripped_source and "END SOLUTION" not in stripped_source
    for topic in TOPICS:
        assert re.search(rf"raise NotImplementedError\(['\"]{topic}: ", stripped_source), topic
        assert f"pytest -m {topic}" in (copy / "ASSIGNMENT.md").read_text()
    assert not list(copy.rglob("__pycache__")) and not (copy / ".git").exists()

    # a student's first, wrong try at softmax: the gradient without its "- sum_k g_k y_k" term
    kernel = copy / "tinygrad_drop" / "kernels" / "softmax.py"
    first_stub = re.compile(r"raise NotImplementedError\(['\"]softmax: .*$", re.M)
    kernel.write_text(first_stub.sub("return y * grad", kernel.read_text(), count=1))

    where = "import tinygrad_drop as td; print(td.__file__, td.get_backend())"
    probe = subprocess.run([sys.executable, "-c", where], cwd=copy, env=copy_env(copy),
                           capture_output=True, text=True)
    path, backend = probe.stdout.split()
    assert Path(path).is_relative_to(copy) and backend == "numpy", probe.stdout + probe.stderr

    report = tmp_path / "report.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "tests/test_assignment.py", "-p", "no:cacheprovider",
                          f"--junitxml={report}", "-q"], cwd=copy, env=copy_env(copy), capture_output=True,
                         text=True, timeout=240)
    results = outcomes(report)
    assert set(results) == {name for name in globals() if name.startswith("test_")}, run.stdout[-2000:]
    for name, (outcome, message) in results.items():
        expected, topic = expected_outcome(name)
        assert outcome == expected, (name, outcome, message[-1500:])
        if topic is not None:
            wanted = ("analytic", "numeric") if topic == "softmax" else (f"NotImplementedError: {topic}:",)
            assert all(text in message for text in wanted), (name, message[-1500:])


@only_in_the_original
def test_make_assignment_strips_only_the_chosen_topics_and_checks_its_input(tmp_path):
    script = load_script()
    stripped = script.make_assignment(tmp_path / "copy", ["dropout"])
    assert stripped and {r.topic for r in stripped} == {"dropout"}
    for region in script.find_regions(ROOT):
        student = (tmp_path / "copy" / region.path).read_text()
        assert (f"# BEGIN SOLUTION {region.topic}" in student) == (region.topic != "dropout"), region
    for region in stripped:
        line = (tmp_path / "copy" / region.path).read_text().splitlines()[region.student_line - 1]
        assert line.strip() == f"# TODO(dropout): {region.hint}"

    with pytest.raises(ValueError, match="not empty"):
        script.make_assignment(tmp_path / "copy")
    with pytest.raises(ValueError, match="unknown topics"):
        script.make_assignment(tmp_path / "other", ["backprop"])
    with pytest.raises(ValueError, match="outside the project"):
        script.make_assignment(ROOT / "student")


def test_find_regions_rejects_malformed_markers(tmp_path):
    script = load_script()
    library = tmp_path / "tinygrad_drop"
    library.mkdir()
    (library / "op.py").write_text("def f():\n    # BEGIN SOLUTION demo: hint\n    return 1\n")
    with pytest.raises(ValueError, match="never closed"):
        script.find_regions(tmp_path)
    (library / "op.py").write_text("def f():\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(ValueError, match="without a BEGIN"):
        script.find_regions(tmp_path)
    (library / "op.py").write_text("def f():\n    # BEGIN SOLUTION demo: hint\n    return 1\n    # END SOLUTION\n")
    (region,) = script.find_regions(tmp_path)
    assert (region.topic, region.hint, region.begin, region.end) == ("demo", "hint", 1, 3)
