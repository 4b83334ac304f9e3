"""The course kit: a student copy with chosen parts of the library left to write, the checks its
tests use, and a grader.

- `assignment.py` writes the student copy (`scripts/make_assignment.py`): every region of the
  library between `# BEGIN SOLUTION topic` and `# END SOLUTION` is replaced by a TODO that raises,
  or by the `# STUDENT:` lines the region carries (a Numba twin becomes its numpy twin, so the
  student's code is what runs on either backend).
- `checks.py` checks one node's backward without the engine, so each topic's tests exercise that
  topic alone; a failure names the argument (`d/dweight`), expected vs got, and the worst element.
- `grader.py` runs each topic's tests in a fresh process with a time limit and writes a points
  table, Gradescope's results.json and a JUnit XML (`scripts/grade.py`).

`import tinygrad_drop.course` is separate from `import tinygrad_drop`: the library never loads it.
"""
from __future__ import annotations

# Every topic the kit knows, in the order a course meets them; each is a pytest marker and a file
# tests/course/test_<topic>.py.
TOPICS = ("engine", "broadcast", "reduce", "matmul", "softmax", "cross_entropy", "gelu", "embedding",
          "layernorm", "dropout", "attention", "adamw")
