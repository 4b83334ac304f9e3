"""Write a student copy of this project: the backward passes of a few ops are left to write.

In the library, each solution region is marked by two comment lines (the hint is optional):

    def backward(ctx, grad):
        # BEGIN SOLUTION softmax: apply the Jacobian diag(y) - y y^T to each row of grad
        ...                                  (the solution)
        # END SOLUTION

and in the student copy it becomes

    def backward(ctx, grad):
        # TODO(softmax): apply the Jacobian diag(y) - y y^T to each row of grad
        raise NotImplementedError("softmax: apply the Jacobian ... Check your work with: pytest -m softmax")

The topic after BEGIN SOLUTION is also a pytest marker, so `pytest -m softmax` runs exactly the
tests of that topic; a wrong gradient fails with gradcheck's worst element, analytic vs numeric.

The student copy runs the numpy backend by default: the kernels' plain-numpy twins, the ones
students write, are what runs (TINYGRAD_DROP_BACKEND=numba still selects the Numba twins, which are
left in place as the fast version to read after solving; mark their bodies with the same comments
to strip them too).

    python scripts/make_assignment.py OUT_DIR                      # every topic
    python scripts/make_assignment.py OUT_DIR --topics dropout     # only some
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what a student needs: the library, the models, the tests, the docs, the scripts, the corpus, the packaging
COPIED = ("tinygrad_drop", "models", "tests", "docs", "scripts", "data", "pyproject.toml", "README.md")
NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".pytest_cache", ".hypothesis",
                                    "*.egg-info")
# solution regions live in the library and the models, never in tests or scripts
STRIPPED_DIRS = ("tinygrad_drop", "models")
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION (?P<topic>[a-z_]+)(?::\s*(?P<hint>.*\S))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
BACKEND_DEFAULT = re.compile(r'(os\.environ\.get\(\s*"TINYGRAD_DROP_BACKEND"\s*,\s*)"numba"')
ASSIGNMENT_FILE = "ASSIGNMENT.md"


@dataclass
class Region:
    path: Path      # relative to the project root
    begin: int      # 0-based line index of the BEGIN line
    end: int        # 0-based line index of the END line
    topic: str
    hint: str
    indent: str
    student_line: int = 0  # 1-based line of the TODO in the student copy, set by strip_regions


def find_regions(root: Path) -> list[Region]:
    """Every solution region under the library folders; malformed markers are a ValueError."""
    regions = []
    for folder in STRIPPED_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root)
            open_region = None
            for index, line in enumerate(path.read_text().splitlines()):
                begin, end = BEGIN.match(line), END.match(line)
                if begin and open_region is not None:
                    raise ValueError(f"{relative}:{index + 1}: BEGIN SOLUTION inside the region opened at "
                                     f"line {open_index + 1}")
                if begin:
                    open_region, open_index = begin, index
                elif end and open_region is None:
                    raise ValueError(f"{relative}:{index + 1}: END SOLUTION without a BEGIN SOLUTION")
                elif end:
                    topic = open_region.group("topic")
                    hint = open_region.group("hint") or f"implement this part of {topic}"
                    regions.append(Region(relative, open_index, index, topic, hint, open_region.group("indent")))
                    open_region = None
                elif "SOLUTION" in line and line.lstrip().startswith("#"):
                    raise ValueError(f"{relative}:{index + 1}: malformed marker {line.strip()!r}; expected "
                                     "'# BEGIN SOLUTION topic: hint' or '# END SOLUTION'")
            if open_region is not None:
                raise ValueError(f"{relative}:{open_index + 1}: BEGIN SOLUTION is never closed")
    return regions


def stub(region: Region) -> list[str]:
    """The two lines a solution region becomes in the student copy."""
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


def assignment_text(regions: list[Region]) -> str:
    topics = sorted({r.topic for r in regions})
    lines = ["# Assignment: write the backward passes", "",
             "This copy of tinygrad_drop is missing the code below. Each place raises NotImplementedError",
             "with a hint; the formulas are in the docstring at the top of each file.", "",
             "Work one topic at a time and run its tests until they pass:", ""]
    for topic in topics:
        lines.append(f"## {topic}: `pytest -m {topic}`")
        lines.append("")
        for region in regions:
            if region.topic == topic:
                lines.append(f"- `{region.path.as_posix()}` line {region.student_line}: {region.hint}")
        lines.append("")
    lines += ["A gradient test that fails prints gradcheck's worst element: the index, your (analytic)",
              "value and the numeric one from central differences.", "",
              "This copy runs the plain-numpy kernels (the numpy backend) by default, so the code you write",
              "is what runs, and `python -m pdb` steps into it. The tests of the whole model and the",
              "tutorials in docs/ use every topic: they pass once all the topics are done.", ""]
    return "\n".join(lines)


def make_assignment(out_dir: Path, topics: list[str] | None = None) -> list[Region]:
    """Copy the project to out_dir (which must not exist yet, or be empty) and strip the regions
    of the given topics (all topics when None). Returns the stripped regions."""
    out_dir = Path(out_dir).resolve()
    if out_dir == ROOT or ROOT in out_dir.parents:
        raise ValueError(f"the student copy must be outside the project, got {out_dir}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} exists and is not empty; choose a new folder")
    regions = find_regions(ROOT)
    known = sorted({r.topic for r in regions})
    chosen = known if topics is None else list(topics)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"unknown topics {unknown}; the library marks {known}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, out_dir / name, ignore=NOT_COPIED)
        elif source.exists():
            shutil.copy2(source, out_dir / name)
    stripped = [r for r in regions if r.topic in chosen]
    strip_regions(out_dir, stripped)
    default_to_numpy_backend(out_dir)
    (out_dir / ASSIGNMENT_FILE).write_text(assignment_text(stripped))
    return stripped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_assignment.py", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("out_dir", type=Path, help="where to write the student copy (a new folder)")
    parser.add_argument("--topics", nargs="+", help="topics to strip (default: every marked topic)")
    args = parser.parse_args(argv)
    try:
        stripped = make_assignment(args.out_dir, args.topics)
    except ValueError as error:
        print(f"make_assignment: {error}", file=sys.stderr)
        return 2
    for topic in sorted({r.topic for r in stripped}):
        places = [f"{r.path.as_posix()}:{r.student_line}" for r in stripped if r.topic == topic]
        print(f"{topic:>10}: {', '.join(places)}")
    print(f"wrote the student copy to {args.out_dir} ({len(stripped)} regions); see {ASSIGNMENT_FILE} there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
