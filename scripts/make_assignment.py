"""Write a student copy of this project: the marked parts of the library are left to write.

    python scripts/make_assignment.py OUT_DIR                          # every topic
    python scripts/make_assignment.py OUT_DIR --topics dropout engine  # only some
    python scripts/make_assignment.py OUT_DIR --hidden-tests HIDDEN    # the hidden tests go to HIDDEN, not the copy

Each solution region (`# BEGIN SOLUTION topic: hint` ... `# END SOLUTION` in tinygrad_drop/ and
models/) becomes a TODO that raises NotImplementedError with the hint, or the region's `# STUDENT:`
lines (a Numba twin becomes its numpy twin). The copy runs the numpy backend by default, its
ASSIGNMENT.md gives the set-up commands and each topic's places, and `pytest -m <topic>` runs
one topic (tinygrad_drop/course/assignment.py). `python scripts/grade.py OUT_DIR` grades it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tinygrad_drop.course.assignment import ASSIGNMENT_FILE, make_assignment
from tinygrad_drop.utils.cli import OneLineArgumentParser, UsageError, report


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="make_assignment.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="where to write the student copy (a new folder)")
    parser.add_argument("--topics", nargs="+", help="topics to strip (default: every marked topic)")
    parser.add_argument("--hidden-tests", type=Path, help="where to write the hidden tests (kept out of the copy)")
    try:
        args = parser.parse_args(argv)
        stripped = make_assignment(args.out_dir, args.topics, args.hidden_tests)
    except (UsageError, ValueError) as error:
        return report(error if isinstance(error, UsageError) else UsageError(str(error)))
    for topic in dict.fromkeys(r.topic for r in stripped):
        places = [f"{r.path.as_posix()}:{r.student_line}" for r in stripped if r.topic == topic]
        print(f"{topic:>14}: {', '.join(places)}")
    print(f"wrote the student copy to {args.out_dir} ({len(stripped)} regions); see {ASSIGNMENT_FILE} there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
