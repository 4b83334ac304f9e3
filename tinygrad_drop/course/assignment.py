"""Write a student copy of this project: chosen parts of the library are left to write.

In the library, each solution region is marked by two comment lines (the hint is optional):

    def backward(ctx, grad):
        # BEGIN SOLUTION softmax: what to compute, with shapes
        ...                                  (the solution)
        # END SOLUTION

and in the student copy it becomes

    def backward(ctx, grad):
        # TODO(softmax): what to compute, with shapes
        raise NotImplementedError("softmax: what to compute ... Check your work with: pytest -m softmax")

A region may instead say what the student copy has in its place, as `# STUDENT:` lines just
before its END line: a Numba twin's region carries `# STUDENT: softmax_backward_numba =
softmax_backward_numpy`, so in the copy both backends run the student's function and no second
answer ships. Derivations live as comments inside the regions, so the copy keeps the question
(the docstrings: what to compute, the shapes) and loses the formula.

The copy runs the numpy backend and the unfused GPT (GPTConfig.fused=False) by default, leaves
out the hidden tests (tests/course/hidden,
written aside with `hidden_tests`), and its tests/conftest.py refuses to run if `tinygrad_drop`
is imported from anywhere but the copy.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import TOPICS

ROOT = Path(__file__).resolve().parents[2]
# what a student needs: the library, the models, the tests, the docs, the scripts, the corpus, the packaging
COPIED = ("tinygrad_drop", "models", "tests", "docs", "scripts", "benchmarks", "data", "pyproject.toml", "README.md")
HIDDEN_TESTS = Path("tests") / "course" / "hidden"
NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache", ".hypothesis",
                                    "*.egg-info")
# solution regions live in the library and the models, never in tests or scripts (nor in this
# kit, whose docstrings show the markers)
STRIPPED_DIRS = ("tinygrad_drop", "models")
KIT = Path("tinygrad_drop") / "course"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION (?P<topic>[a-z_]+)(?::\s*(?P<hint>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
STUDENT = re.compile(r"^\s*# STUDENT:(?: (?P<line>.*))?$")
BACKEND_DEFAULT = re.compile(r'(os\.environ\.get\(\s*"TINYGRAD_DROP_BACKEND"\s*,\s*)"numba"')
FUSED_DEFAULT = re.compile(r"^(\s*fused: bool = )True\b", re.M)
ASSIGNMENT_FILE = "ASSIGNMENT.md"


@dataclass
class Region:
    """One solution region: where it is, its topic and hint, and what the student copy has instead."""

    path: Path      # relative to the project root
    begin: int      # 0-based line index of the BEGIN line
    end: int        # 0-based line index of the END line
    topic: str
    hint: str
    indent: str
    student: list[str] = field(default_factory=list)  # the `# STUDENT:` lines, uncommented
    solution: list[str] = field(default_factory=list)  # the lines between BEGIN and END, STUDENT lines left out
    student_line: int = 0  # 1-based line of the region's replacement in the student copy


def find_regions(root: Path) -> list[Region]:
    """Every solution region under the library folders; malformed markers are a ValueError."""
    regions = []
    for folder in STRIPPED_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root)
            if KIT in relative.parents:
                continue
            open_region, open_index = None, 0
            lines = path.read_text().splitlines()
            for index, line in enumerate(lines):
                begin, end = BEGIN.match(line), END.match(line)
                if begin and open_region is not None:
                    raise ValueError(f"{relative}:{index + 1}: BEGIN SOLUTION inside the region opened at "
                                     f"line {open_index + 1}")
                if begin:
                    open_region, open_index = begin, index
                elif end and open_region is None:
                    raise ValueError(f"{relative}:{index + 1}: END SOLUTION without a BEGIN SOLUTION")
                elif end:
                    regions.append(make_region(relative, lines, open_region, open_index, index))
                    open_region = None
                elif "SOLUTION" in line and line.lstrip().startswith("#"):
                    raise ValueError(f"{relative}:{index + 1}: malformed marker {line.strip()!r}; expected "
                                     "'# BEGIN SOLUTION topic: hint' or '# END SOLUTION'")
            if open_region is not None:
                raise ValueError(f"{relative}:{open_index + 1}: BEGIN SOLUTION is never closed")
    return regions


def make_region(relative: Path, lines: list[str], begin: re.Match, begin_index: int, end_index: int) -> Region:
    topic = begin.group("topic")
    if topic not in TOPICS:
        raise ValueError(f"{relative}:{begin_index + 1}: unknown topic {topic!r}; the kit's topics are {TOPICS}")
    body = lines[begin_index + 1:end_index]
    student = [STUDENT.match(line) for line in body]
    return Region(relative, begin_index, end_index, topic, begin.group("hint") or f"implement this part of {topic}",
                  begin.group("indent"),
                  student=[begin.group("indent") + (match.group("line") or "") for match in student if match],
                  solution=[line for line, match in zip(body, student) if not match])


def stub(region: Region) -> list[str]:
    """The lines a solution region becomes in the student copy."""
    if region.student:
        return region.student
    message = f"{region.topic}: {region.hint}. Check your work with: pytest -m {region.topic}"
    return [f"{region.indent}# TODO({region.topic}): {region.hint}",
            f"{region.indent}raise NotImplementedError({message!r})"]


def strip_regions(root: Path, regions: list[Region]) -> None:
    """Replace the regions in the files under root, bottom up so earlier line numbers stay valid."""
    by_file: dict[Path, list[Region]] = {}
    for region in regions:
        by_file.setdefault(region.path, []).append(region)
    for relative, file_regions in by_file.items():
        path = root / relative
        lines = path.read_text().splitlines()
        for region in sorted(file_regions, key=lambda r: r.begin, reverse=True):
            lines[region.begin:region.end + 1] = stub(region)
        path.write_text("\n".join(lines) + "\n")
        removed = 0  # lines the regions above this one lost
        for region in sorted(file_regions, key=lambda r: r.begin):
            region.student_line = region.begin + 1 - removed
            removed += (region.end - region.begin + 1) - len(stub(region))


def default_to_numpy_backend(root: Path) -> None:
    """Make the student copy run the numpy twins unless TINYGRAD_DROP_BACKEND says otherwise."""
    path = root / "tinygrad_drop" / "state.py"
    source, count = BACKEND_DEFAULT.subn(r'\1"numpy"', path.read_text())
    if count != 1:
        raise ValueError(f"{path}: expected one os.environ.get(\"TINYGRAD_DROP_BACKEND\", \"numba\") to "
                         f"switch to the numpy backend, found {count}")
    path.write_text(source)


def default_to_unfused_model(root: Path) -> None:
    """Make the copy's GPT run nanoGPT's lines, one node per op (GPTConfig.fused=False), so that
    explain() and the graph show the nodes the lecture draws and the student's code runs in them."""
    path = root / "models" / "gpt.py"
    source, count = FUSED_DEFAULT.subn(r"\1False", path.read_text())
    if count != 1:
        raise ValueError(f"{path}: expected one 'fused: bool = True' in GPTConfig to switch off, found {count}")
    path.write_text(source)


def assignment_text(regions: list[Region]) -> str:
    """ASSIGNMENT.md: the set-up commands, then each topic's places to write and its test command."""
    topics = [topic for topic in TOPICS if any(r.topic == topic for r in regions)]
    lines = ["# Assignment: write the parts of tinygrad_drop marked TODO", "",
             "## Set up (once, from this folder)", "",
             "```bash",
             "python -m venv .venv && . .venv/bin/activate      # a fresh environment for this copy",
             'pip install -e ".[test]"                           # this copy, editable: your edits are what runs',
             'python -c "import tinygrad_drop; print(tinygrad_drop.__file__)"   # must print a path in this folder',
             "```", "",
             "The tests refuse to run if `tinygrad_drop` is imported from anywhere else (an earlier install",
             "of the original, for example): they would grade the wrong code.", "",
             "## Work one topic at a time", "",
             "Each topic's tests check only that topic, in a few seconds: `pytest -m <topic>`. A wrong",
             "gradient fails with the argument it belongs to (`d/dweight`), the worst element, expected",
             "(central differences) vs got (your backward). `python scripts/grade.py .` scores every topic.", ""]
    for topic in topics:
        lines.append(f"### {topic}: `pytest -m {topic}`")
        lines.append("")
        for region in regions:
            if region.topic == topic and not region.student:
                lines.append(f"- `{region.path.as_posix()}` line {region.student_line}: {region.hint}")
        lines.append("")
    lines += ["This copy runs the plain-numpy kernels (the numpy backend) by default, and the Numba",
              "twins of these topics call your numpy code, so the code you write is what runs and",
              "`python -m pdb` steps into it. Its GPT runs one node per op (`GPTConfig.fused=False`), so",
              "`td.autograd.explain(loss)` walks the graph the lecture draws.", "",
              "Plain `pytest` runs every test but two kinds, which run only when asked: the whole-model",
              "tests (GPT, training, benchmarks, the tutorials; `pytest -m whole_model`), which use every",
              "topic and pass once all are done, and the tests of the Numba twins themselves",
              "(`pytest -m numba_twins`), which this copy replaced by your numpy code.", ""]
    return "\n".join(lines)


def make_assignment(out_dir: Path, topics: list[str] | None = None, hidden_tests: Path | None = None,
                    root: Path = ROOT) -> list[Region]:
    """Copy the project at `root` to out_dir (new or empty) and strip the regions of the given
    topics (all marked topics when None); write the hidden tests to `hidden_tests` if given.
    Returns the stripped regions."""
    out_dir = Path(out_dir).resolve()
    if out_dir == root or root in out_dir.parents:
        raise ValueError(f"the student copy must be outside the project, got {out_dir}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} exists and is not empty; choose a new folder")
    regions = find_regions(root)
    known = [topic for topic in TOPICS if any(r.topic == topic for r in regions)]
    chosen = known if topics is None else list(topics)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"unknown topics {unknown}; the library marks {known}")
    if hidden_tests is not None:
        hidden_tests = Path(hidden_tests).resolve()
        if hidden_tests == out_dir or out_dir in hidden_tests.parents:
            raise ValueError(f"the hidden tests must be kept outside the student copy, got {hidden_tests}")
    out_dir.mkdir(parents=True, exist_ok=True)
    hidden_source = root / HIDDEN_TESTS
    for name in COPIED:
        source = root / name
        if source.is_dir():
            def ignore(folder: str, names: list[str]) -> set[str]:
                left_out = set(NOT_COPIED(folder, names))
                return left_out | ({"hidden"} if Path(folder) == hidden_source.parent else set())
            shutil.copytree(source, out_dir / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, out_dir / name)
    if hidden_tests is not None and hidden_source.is_dir():
        shutil.copytree(hidden_source, hidden_tests, ignore=NOT_COPIED, dirs_exist_ok=True)
    stripped = [r for r in regions if r.topic in chosen]
    strip_regions(out_dir, stripped)
    default_to_numpy_backend(out_dir)
    default_to_unfused_model(out_dir)
    (out_dir / ASSIGNMENT_FILE).write_text(assignment_text(stripped))
    return stripped
