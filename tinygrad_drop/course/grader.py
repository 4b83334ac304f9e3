"""Grade a student copy: each topic's tests in a fresh process, with a time limit.

For each topic, `python -m pytest tests/course/test_<topic>.py` (and the hidden tests of that
topic, if given) runs in the copy, as its own process with the copy first on the path, so an
infinite loop or a crash costs that topic only. A topic's points are shared equally among its
tests. The results go to a table (`table`), to results.json in Gradescope's autograder format
(`gradescope_results`) and to one JUnit XML with every test (`junit_xml`).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import TOPICS

DEFAULT_POINTS = Path(__file__).with_name("points.toml")
TOPIC_TESTS = Path("tests") / "course"
HIDDEN_PLACE = TOPIC_TESTS / "hidden"


@dataclass
class TestResult:
    """One test case from a topic's JUnit report."""

    name: str
    outcome: str  # "passed", "failed", "skipped"
    message: str = ""


@dataclass
class TopicResult:
    """One topic: its points, its tests and what its process said."""

    topic: str
    max_points: float
    tests: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""  # a time-out, or a process that ended without a report
    output: str = ""

    @property
    def counted(self) -> list[TestResult]:
        return [test for test in self.tests if test.outcome != "skipped"]

    @property
    def passed(self) -> int:
        return sum(test.outcome == "passed" for test in self.counted)

    @property
    def points(self) -> float:
        if self.problem or not self.counted:
            return 0.0
        return self.max_points * self.passed / len(self.counted)


def load_points(path: Path | None = None) -> dict[str, float]:
    """Points per topic from a TOML (`topic = points`) or JSON (`{"topic": points}`) file."""
    path = Path(path or DEFAULT_POINTS)
    text = path.read_text()
    try:
        points = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: not a points file ({error})") from None
    unknown = sorted(set(points) - set(TOPICS))
    if unknown:
        raise ValueError(f"{path}: unknown topics {unknown}; the kit's topics are {list(TOPICS)}")
    for topic, value in points.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{path}: the points of {topic} must be a number >= 0, got {value!r}")
    return {topic: float(value) for topic, value in points.items()}


def read_junit(report: Path) -> list[TestResult]:
    """The test cases of a JUnit XML report pytest wrote."""
    results = []
    for case in ElementTree.parse(report).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                outcome, message = "skipped", child.get("message") or ""
        name = f"{case.get('classname', '')}::{case.get('name')}".lstrip(":")
        results.append(TestResult(name, outcome, message.strip()))
    return results


def copy_environment(copy: Path) -> dict[str, str]:
    """The environment of a topic's process: the copy first on the path, its own default backend."""
    environment = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    environment.pop("TINYGRAD_DROP_BACKEND", None)
    return environment


def grade_topic(copy: Path, topic: str, max_points: float, timeout: float, hidden: list[Path]) -> TopicResult:
    """Run one topic's tests (its file and its hidden files) in a fresh process."""
    result = TopicResult(topic, max_points)
    files = [str(TOPIC_TESTS / f"test_{topic}.py")] + [str(path.relative_to(copy)) for path in hidden]
    with tempfile.TemporaryDirectory(prefix=f"grade-{topic}-") as scratch:
        report = Path(scratch) / "report.xml"
        command = [sys.executable, "-m", "pytest", *files, "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                   f"--junitxml={report}", "-o", "junit_family=xunit1"]
        start = time.monotonic()
        try:
            process = subprocess.run(command, cwd=copy, env=copy_environment(copy), capture_output=True, text=True,
                                     timeout=timeout)
            result.output = process.stdout[-4000:] + process.stderr[-2000:]
        except subprocess.TimeoutExpired as expired:
            result.problem = f"stopped after {timeout:g} s (an infinite loop?)"
            result.output = (expired.stdout or b"").decode(errors="replace")[-4000:] if isinstance(
                expired.stdout, bytes) else (expired.stdout or "")[-4000:]
        result.seconds = time.monotonic() - start
        if not result.problem:
            if report.exists():
                result.tests = read_junit(report)
            if not result.tests:
                result.problem = f"no test ran (pytest exited with {process.returncode})"
    return result


def hidden_tests_by_topic(hidden_dir: Path) -> dict[str, list[Path]]:
    """topic -> its hidden test files (test_<topic>.py) in hidden_dir, as absolute paths."""
    hidden_dir = Path(hidden_dir).resolve()
    if not hidden_dir.is_dir():
        raise ValueError(f"the hidden tests folder {hidden_dir} does not exist")
    found: dict[str, list[Path]] = {}
    for path in sorted(hidden_dir.glob("test_*.py")):
        topic = path.stem.removeprefix("test_")
        if topic in TOPICS:
            found.setdefault(topic, []).append(path)
    return found


def grade(copy: Path, points: dict[str, float] | None = None, topics: list[str] | None = None,
          timeout: float = 120.0, hidden_dir: Path | None = None, jobs: int = 1) -> list[TopicResult]:
    """Grade every topic with points (or the chosen `topics`) of the copy at `copy`. Hidden tests
    are put in the copy's tests/course/hidden (where its conftest marks them) for the run only."""
    copy = Path(copy).resolve()
    if not (copy / TOPIC_TESTS).is_dir():
        raise ValueError(f"{copy} has no {TOPIC_TESTS}: is it a student copy (make_assignment.py) or this project?")
    points = load_points() if points is None else points
    chosen = [topic for topic in TOPICS if topic in points] if topics is None else list(topics)
    unknown = sorted(set(chosen) - set(TOPICS))
    if unknown:
        raise ValueError(f"unknown topics {unknown}; the kit's topics are {list(TOPICS)}")
    hidden = {} if hidden_dir is None else hidden_tests_by_topic(hidden_dir)
    place = copy / HIDDEN_PLACE
    placed: list[Path] = []
    if hidden and Path(hidden_dir).resolve() != place:
        place.mkdir(parents=True, exist_ok=True)
        for topic, files in hidden.items():
            for source in files:
                target = place / f"test_{topic}_hidden_{len(placed)}.py"
                shutil.copy2(source, target)
                placed.append(target)
        hidden = {}
        for target in placed:
            hidden.setdefault(target.stem.split("_hidden_")[0].removeprefix("test_"), []).append(target)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(lambda topic: grade_topic(copy, topic, points.get(topic, 0.0), timeout,
                                                           hidden.get(topic, [])), chosen))
    finally:
        for target in placed:
            target.unlink(missing_ok=True)


def table(results: list[TopicResult]) -> str:
    """The points table: one row per topic, then the total."""
    rows = [f"{'topic':<14}{'tests passed':>14}{'points':>14}   note"]
    for result in results:
        passed = f"{result.passed}/{len(result.counted)}"
        note = result.problem or first_failure(result)
        rows.append(f"{result.topic:<14}{passed:>14}{result.points:>8.1f} / {result.max_points:<4g}   {note}".rstrip())
    total, most = sum(r.points for r in results), sum(r.max_points for r in results)
    rows.append(f"{'total':<14}{'':>14}{total:>8.1f} / {most:<4g}")
    return "\n".join(rows)


def first_failure(result: TopicResult) -> str:
    """The first line of the first failure's message, cut to fit a table row."""
    for test in result.tests:
        if test.outcome == "failed":
            line = next((line for line in test.message.splitlines() if line.strip()), "failed")
            return line[:100]
    return ""


def gradescope_results(results: list[TopicResult]) -> dict:
    """Gradescope's autograder results.json: one entry per topic."""
    tests = []
    for result in results:
        failures = [f"{test.name}: {test.message.splitlines()[0] if test.message else 'failed'}"
                    for test in result.tests if test.outcome == "failed"]
        output = "\n".join(filter(None, [result.problem, f"{result.passed} of {len(result.counted)} tests passed",
                                         *failures[:20]]))
        tests.append({"name": result.topic, "score": round(result.points, 4), "max_score": result.max_points,
                      "status": "passed" if result.points == result.max_points and result.counted else "failed",
                      "output": output, "visibility": "visible"})
    return {"score": round(sum(r.points for r in results), 4), "tests": tests, "stdout_visibility": "visible"}


def junit_xml(results: list[TopicResult]) -> str:
    """One JUnit XML document: a test suite per topic, a test case per test."""
    suites = ElementTree.Element("testsuites")
    for result in results:
        suite = ElementTree.SubElement(suites, "testsuite", name=result.topic, tests=str(len(result.tests)),
                                       failures=str(sum(t.outcome == "failed" for t in result.tests)),
                                       skipped=str(sum(t.outcome == "skipped" for t in result.tests)),
                                       time=f"{result.seconds:.3f}")
        if result.problem:
            case = ElementTree.SubElement(suite, "testcase", classname=result.topic, name="topic process")
            ElementTree.SubElement(case, "error", message=result.problem).text = result.output
        for test in result.tests:
            case = ElementTree.SubElement(suite, "testcase", classname=result.topic, name=test.name)
            if test.outcome in ("failed", "skipped"):
                ElementTree.SubElement(case, "failure" if test.outcome == "failed" else "skipped",
                                       message=test.message.splitlines()[0] if test.message else "").text = test.message
    return ElementTree.tostring(suites, encoding="unicode")


def write_reports(results: list[TopicResult], out_dir: Path) -> tuple[Path, Path]:
    """results.json (Gradescope) and junit.xml in out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gradescope, junit = out_dir / "results.json", out_dir / "junit.xml"
    gradescope.write_text(json.dumps(gradescope_results(results), indent=2) + "\n")
    junit.write_text(junit_xml(results) + "\n")
    return gradescope, junit
