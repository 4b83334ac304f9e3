"""Grade a student copy: each topic's tests in a fresh process, a points table, results.json
(Gradescope's format) and junit.xml.

    python scripts/grade.py STUDENT_COPY                              # every topic, default points
    python scripts/grade.py STUDENT_COPY --hidden-tests HIDDEN_DIR    # and the tests kept out of the copy
    python scripts/grade.py STUDENT_COPY --points points.toml --out grades/ --timeout 60 --jobs 2

Points per topic come from a TOML or JSON file (tinygrad_drop/course/points.toml is the
default); a topic's points are shared equally among its tests. A topic that runs past --timeout
seconds scores 0 and the others go on (tinygrad_drop/course/grader.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

from tinygrad_drop.course import TOPICS
from tinygrad_drop.course.grader import grade, load_points, table, write_reports
from tinygrad_drop.utils.cli import OneLineArgumentParser, UsageError, positive_float, positive_int, report


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="grade.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("copy", type=Path, help="the student copy to grade (a folder make_assignment.py wrote)")
    parser.add_argument("--points", type=Path, help="points per topic, TOML or JSON (default: the kit's points.toml)")
    parser.add_argument("--hidden-tests", type=Path, help="hidden tests written aside by make_assignment.py")
    parser.add_argument("--topics", nargs="+", choices=TOPICS, help="grade only these topics")
    parser.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per topic (default 120)")
    parser.add_argument("--jobs", type=positive_int, default=1, help="topics graded at once (default 1)")
    parser.add_argument("--out", type=Path, help="where results.json and junit.xml go (default: the copy)")
    try:
        args = parser.parse_args(argv)
        results = grade(args.copy, load_points(args.points), args.topics, args.timeout, args.hidden_tests, args.jobs)
    except (UsageError, ValueError, OSError) as error:
        return report(error if isinstance(error, UsageError) else UsageError(str(error)))
    print(table(results))
    gradescope, junit = write_reports(results, args.out or args.copy)
    print(f"wrote {gradescope} and {junit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
