"""The course kit (tinygrad_drop/course/): the student copy tests itself and only itself, keeps no
answer, and the grader scores it.

Three copies are built once for the module and graded with one pytest process each over
tests/course (the topics' fast tier):
- every topic stripped: every topic's tests fail;
- half the topics stripped, the others the reference solution; in each stripped topic one place
  holds a "cheat" (a call to what is left in the library that computes the same thing, the
  Numba twin first) and the topic's other places the reference solution: the solved topics pass
  beside the stripped ones, and every cheat scores 0;
- the other half the same way round.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinygrad_drop.course import TOPICS
from tinygrad_drop.course.assignment import (ASSIGNMENT_FILE, HIDDEN_TESTS, ROOT, find_regions,
                                             make_assignment, stub)
from tinygrad_drop.course.grader import grade, load_points, read_junit, table

IN_STUDENT_COPY = (ROOT / ASSIGNMENT_FILE).exists()
pytestmark = pytest.mark.skipif(IN_STUDENT_COPY, reason="a student copy has no solutions to strip")
REGIONS = find_regions(ROOT)

# topic -> (file, cheat) pairs, each replacing the topic's next TODO in that file (in the order
# find_regions lists them): every cheat
# calls a twin or a neighbour that, in the original, computes the same thing. Topics without one
# (engine, broadcast, reduce, matmul) leave nothing in the library to call.
CHEATS = {
    "softmax": [("tinygrad_drop/kernels/softmax.py", "return softmax_backward_numba(y, grad)"),
                ("tinygrad_drop/kernels/softmax.py", "return log_softmax_backward_numba(y, grad)")],
    "cross_entropy": [("tinygrad_drop/kernels/cross_entropy.py",
                       "return cross_entropy_backward_numba(logits, target, lse, ignore_index, scale)")],
    "gelu": [("tinygrad_drop/kernels/gelu.py", "dy_dx = gelu_numba(x, approximate, True)[1]")],
    "embedding": [("tinygrad_drop/kernels/embedding.py",
                   "return embedding_backward_numba(indices, grad, num_embeddings)")],
    "layernorm": [("tinygrad_drop/kernels/layer_norm.py",
                   "return layer_norm_backward_numba(grad, x, weight, mean, rstd)")],
    "dropout": [("tinygrad_drop/kernels/dropout.py", "return dropout_apply_numba(x, p, key, scale)")],
    "attention": [("tinygrad_drop/kernels/attention.py",
                   "return attention_probs_backward_numba(probs, dropped, grad_dropped, scale)"),
                  ("tinygrad_drop/kernels/attention_heads.py",
                   "return attention_heads_backward_numba(grad, q, k, v, probs, dropped, scale, causal, grad_q, "
                   "grad_k, grad_v, mask_grad)")],
    "adamw": [("tinygrad_drop/kernels/adamw.py",
               "return adamw_update_numba(param, grad, exp_avg, exp_avg_sq, step, hyperparameters)")],
}
EVEN, ODD = list(TOPICS[0::2]), list(TOPICS[1::2])


def copy_environment(copy: Path) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    environment.pop("TINYGRAD_DROP_BACKEND", None)
    return environment


def cheat_and_solve(copy: Path, topics: list[str]) -> None:
    """In each of these (stripped) topics that has cheats: the cheats in its TODOs of the cheats'
    files, the reference solution in every other TODO."""
    for topic in topics:
        if topic not in CHEATS:
            continue  # nothing in the library to call: the topic stays stripped
        cheats = list(CHEATS[topic])
        for region in [r for r in REGIONS if r.topic == topic and not r.student]:
            path = copy / region.path
            text = path.read_text()
            todo = "\n".join(stub(region)) + "\n"
            assert text.count(todo) == 1, (region.path, region.hint)
            if cheats and region.path.as_posix() == cheats[0][0]:
                answer = f"{region.indent}{cheats.pop(0)[1]}\n"
            else:
                answer = "\n".join(region.solution) + "\n"
            path.write_text(text.replace(todo, answer))
        assert not cheats, (topic, cheats)


def start_topic_tests(copy: Path, report: Path) -> subprocess.Popen:
    """One pytest process over the copy's tests/course, writing a JUnit report."""
    return subprocess.Popen([sys.executable, "-m", "pytest", "tests/course", "-p", "no:cacheprovider", "-q",
                             "--tb=line", "-o", "addopts=", f"--junitxml={report}", "-o", "junit_family=xunit1"],
                            cwd=copy, env=copy_environment(copy), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def results_by_topic(report: Path) -> dict[str, list]:
    """topic -> its test results, from a JUnit report of tests/course."""
    by_topic: dict[str, list] = {}
    for test in read_junit(report):
        by_topic.setdefault(test.name.split("::")[0].split(".")[-1].removeprefix("test_"), []).append(test)
    return by_topic


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("course")
    made = {"all": base / "all", "even_solved": base / "even", "odd_solved": base / "odd"}
    make_assignment(made["all"], hidden_tests=base / "hidden")
    made["fresh_caches"] = list(made["all"].rglob("__pycache__"))  # before any test runs there
    make_assignment(made["even_solved"], ODD)
    cheat_and_solve(made["even_solved"], ODD)
    make_assignment(made["odd_solved"], EVEN)
    cheat_and_solve(made["odd_solved"], EVEN)
    made["hidden"] = base / "hidden"
    return made


@pytest.fixture(scope="module")
def graded(copies) -> dict[str, dict[str, list]]:
    """Each copy's topic tests, the three processes at once."""
    names = ("all", "even_solved", "odd_solved")
    processes = {name: start_topic_tests(copies[name], copies[name].parent / f"{name}.xml") for name in names}
    for process in processes.values():
        process.wait(timeout=300)
    return {name: results_by_topic(copies[name].parent / f"{name}.xml") for name in names}


def test_every_topic_is_marked_in_the_library_and_has_its_tests():
    assert {r.topic for r in REGIONS} == set(TOPICS)
    for topic in TOPICS:
        assert (ROOT / "tests" / "course" / f"test_{topic}.py").exists(), topic


def test_the_stripped_copy_fails_every_topic(graded):
    results = graded["all"]
    assert set(results) == set(TOPICS), sorted(results)
    for topic, tests in results.items():
        passed = [test.name for test in tests if test.outcome == "passed"]
        assert not passed, (topic, passed)
        assert any(f"NotImplementedError: {topic}: " in test.message for test in tests), (topic, tests[0].message)


@pytest.mark.parametrize("solved, cheated", [("even_solved", ODD), ("odd_solved", EVEN)])
def test_a_solved_topic_passes_alone_and_a_cheat_scores_nothing(graded, solved, cheated):
    results = graded[solved]
    for topic in TOPICS:
        outcomes = {test.outcome for test in results[topic]}
        if topic in cheated:
            assert "passed" not in outcomes, (topic, [t.name for t in results[topic] if t.outcome == "passed"])
        else:
            assert outcomes <= {"passed", "skipped"} and "passed" in outcomes, \
                (topic, [(t.name, t.message[:300]) for t in results[topic] if t.outcome == "failed"])


def test_no_line_of_a_solution_is_left_in_the_copy(copies):
    """Every line that only solution regions hold in the project is gone from the copy."""
    def lines_of(root: Path) -> Counter:
        return Counter(line.strip() for folder in ("tinygrad_drop", "models", "tests", "docs", "scripts")
                       for path in (root / folder).rglob("*") if path.suffix in (".py", ".md")
                       for line in path.read_text().splitlines())
    in_regions = Counter(line.strip() for region in REGIONS for line in region.solution)
    everywhere = lines_of(ROOT)
    only_in_solutions = {line for line, count in in_regions.items()
                         if len(line) >= 12 and not line.startswith("@") and everywhere[line] == count}
    assert len(only_in_solutions) > 100
    left = set(lines_of(copies["all"])) & only_in_solutions
    assert not left, sorted(left)[:10]


def test_the_copy_imports_itself_and_its_guard_fails_loudly_otherwise(copies):
    copy = copies["all"]
    where = ("import tinygrad_drop as td; from models.gpt import GPTConfig; "
             "print(td.__file__, td.get_backend(), GPTConfig().fused)")
    probe = subprocess.run([sys.executable, "-c", where], cwd=copy, env=copy_environment(copy),
                           capture_output=True, text=True)
    path, backend, fused = probe.stdout.split()
    assert Path(path).is_relative_to(copy) and backend == "numpy" and fused == "False", probe.stdout + probe.stderr
    # the original first on the path: the copy's tests refuse to run
    original_first = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import pytest; "
                      "sys.exit(pytest.main(['tests/course/test_gelu.py', '-p', 'no:cacheprovider', '-q']))")
    run = subprocess.run([sys.executable, "-c", original_first], cwd=copy, env=copy_environment(copy),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "not from this checkout" in run.stdout + run.stderr, run.stdout + run.stderr


def test_the_copy_has_its_instructions_and_no_hidden_tests(copies):
    copy = copies["all"]
    text = (copy / ASSIGNMENT_FILE).read_text()
    assert 'pip install -e ".[test]"' in text and "python scripts/grade.py ." in text
    for topic in TOPICS:
        assert f"pytest -m {topic}" in text, topic
    assert not (copy / HIDDEN_TESTS).exists() and (copies["hidden"] / "test_dropout.py").exists()
    assert not copies["fresh_caches"] and not (copy / ".git").exists()
    source = "".join(p.read_text() for folder in ("tinygrad_drop", "models") for p in (copy / folder).rglob("*.py")
                     if "course" not in p.parts)
    assert "BEGIN SOLUTION" not in source and "# STUDENT:" not in source


def test_a_student_copy_runs_whole_model_and_numba_twin_tests_only_when_asked(copies):
    copy = copies["all"]
    command = [sys.executable, "-m", "pytest", "tests/test_gpt.py", "tests/test_attention_heads.py", "--collect-only",
               "-q", "-o", "addopts=", "-p", "no:cacheprovider"]
    plain = subprocess.run(command, cwd=copy, env=copy_environment(copy), capture_output=True, text=True)
    asked = subprocess.run(command + ["-m", "whole_model or numba_twins"], cwd=copy, env=copy_environment(copy),
                           capture_output=True, text=True)
    assert re.search(r"no tests collected \(\d+ deselected\)", plain.stdout), plain.stdout[-500:]
    assert re.search(r"^\d+ tests collected", asked.stdout, re.M), asked.stdout[-500:]


def test_the_grader_scores_each_topic_and_writes_gradescope_and_junit_reports(copies, tmp_path):
    copy = copies["even_solved"]  # engine solved, broadcast stripped, cross_entropy cheated
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_engine.py").write_text("def test_hidden_and_failing():\n    assert False, 'hidden'\n")
    (tmp_path / "points.json").write_text(json.dumps({"engine": 4, "broadcast": 3, "cross_entropy": 2}))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "grade.py"), str(copy), "--points",
                          str(tmp_path / "points.json"), "--hidden-tests", str(hidden), "--jobs", "2",
                          "--out", str(tmp_path)], env=copy_environment(ROOT), capture_output=True, text=True,
                         timeout=200)
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    assert re.search(r"7/8 +3\.5 / 4\b", rows["engine"]), run.stdout  # the hidden test counts
    assert re.search(r"\b0\.0 / 3\b", rows["broadcast"]) and re.search(r"\b0\.0 / 2\b", rows["cross_entropy"])
    assert re.search(r"\b3\.5 / 9\b", rows["total"]), run.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == 3.5 and [t["name"] for t in results["tests"]] == ["engine", "broadcast", "cross_entropy"]
    assert all({"name", "score", "max_score", "output"} <= set(t) for t in results["tests"])
    suites = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert [suite.get("name") for suite in suites] == ["engine", "broadcast", "cross_entropy"]
    assert suites[0].get("tests") == "8" and suites[0].get("failures") == "1"


def test_a_topic_that_never_ends_costs_that_topic_only(tmp_path):
    copy = tmp_path / "copy"
    (copy / "tests" / "course").mkdir(parents=True)
    # it sleeps rather than spins, so that the test leaves the cores to the rest of the suite
    (copy / "tests" / "course" / "test_engine.py").write_text("import time\n\ndef test_never_ends():\n"
                                                            "    while True:\n        time.sleep(1)\n")
    (copy / "tests" / "course" / "test_reduce.py").write_text("def test_passes():\n    assert True\n")
    results = grade(copy, {"engine": 5, "reduce": 5}, timeout=8, jobs=2)
    assert [(r.topic, r.points) for r in results] == [("engine", 0.0), ("reduce", 5.0)]
    assert results[0].problem == "stopped after 8 s (an infinite loop?)" and "stopped after 8 s" in table(results)


def test_points_files_are_checked(tmp_path):
    assert sum(load_points().values()) == 100 and set(load_points()) == set(TOPICS)
    (tmp_path / "p.toml").write_text("dropout = 5\nbackprop = 1\n")
    with pytest.raises(ValueError, match="unknown topics"):
        load_points(tmp_path / "p.toml")
    (tmp_path / "p.json").write_text('{"dropout": -1}')
    with pytest.raises(ValueError, match="a number >= 0"):
        load_points(tmp_path / "p.json")


def test_make_assignment_checks_its_input(tmp_path):
    make_assignment(tmp_path / "copy", ["dropout"])
    with pytest.raises(ValueError, match="not empty"):
        make_assignment(tmp_path / "copy")
    with pytest.raises(ValueError, match="unknown topics"):
        make_assignment(tmp_path / "other", ["backprop"])
    with pytest.raises(ValueError, match="outside the project"):
        make_assignment(ROOT / "student")


def test_find_regions_rejects_malformed_markers(tmp_path):
    library = tmp_path / "tinygrad_drop"
    library.mkdir()
    (library / "op.py").write_text("def f():\n    # BEGIN SOLUTION dropout: hint\n    return 1\n")
    with pytest.raises(ValueError, match="never closed"):
        find_regions(tmp_path)
    (library / "op.py").write_text("def f():\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(ValueError, match="without a BEGIN"):
        find_regions(tmp_path)
    (library / "op.py").write_text("def f():\n    # BEGIN SOLUTION backprop\n    return 1\n    # END SOLUTION\n")
    with pytest.raises(ValueError, match="unknown topic"):
        find_regions(tmp_path)
    (library / "op.py").write_text("def f():\n    # BEGIN SOLUTION dropout: hint\n    return 1\n"
                                   "    # STUDENT: return 2\n    # END SOLUTION\n")
    (region,) = find_regions(tmp_path)
    assert (region.topic, region.hint, region.begin, region.end) == ("dropout", "hint", 1, 4)
    assert region.solution == ["    return 1"] and stub(region) == ["    return 2"]


def test_a_wrong_backward_fails_naming_the_argument_the_worst_element_expected_and_got():
    from tinygrad_drop.autograd import Function
    from tinygrad_drop.course.checks import WrongGradient, check_backward

    class ScaledSum(Function):
        @staticmethod
        def forward(ctx, x, weight):
            ctx.save_for_backward(x, weight)
            return x * weight

        @staticmethod
        def backward(ctx, grad):
            x, weight = ctx.saved_tensors
            return grad * weight, grad.sum(axis=0)  # d/dweight forgot the x

    x, weight = np.array([[1.0, -3.0], [0.5, 2.0]]), np.array([2.0, 1.0])
    with pytest.raises(WrongGradient) as error:
        check_backward(ScaledSum, x=x, weight=weight)
    message = str(error.value)
    assert message.startswith("ScaledSum: d/dweight is wrong at index"), message
    assert "expected" in message and "central differences" in message and "got" in message and "worst" in message
