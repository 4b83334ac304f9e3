"""The tutorials in docs/ run as written.

Each page's ```python blocks run in order in one namespace, as a reader pasting them into one
session would, with line numbers matching the page (so anomaly mode and tracebacks point at the
right line of the .md file). A ```pdb block is the command list of a pdb session on the page's
first python block, saved as a script: it is fed to `python -m pdb` and must hit its breakpoints
without a pdb error. ```text and ```bash blocks are output and shell commands: shown, not run.

A page whose code imports torch says so above its first section, and without PyTorch its test
skips, counted in the line conftest.py adds to pytest's summary.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_drop as td
from conftest import INSTALL_TORCH

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TUTORIALS = {
    "backprop_by_hand.md": "Backprop by hand, then by the engine",
    "dropout_in_pdb.md": "Stepping through dropout's backward in pdb",
    "writing_a_function.md": "Writing your own Function",
    "from_nanogpt.md": "From nanoGPT in PyTorch to tinygrad_drop",
    "debugging.md": "Debugging backprop",
    "explorer.md": "Watching backprop in the browser",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
IMPORTS_TORCH = re.compile(r"^(import|from) torch\b", re.M)


def blocks(page: Path, language: str) -> list[tuple[int, str]]:
    """(first line number, code) of each fenced block of that language."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) == language]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Pages may write files and switch the backend: keep both from leaking into other tests."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    with td.backend(td.get_backend()):  # a page may switch backends: the next test gets this one back
        yield tmp_path


def test_every_tutorial_is_there_with_its_title():
    for name, title in TUTORIALS.items():
        page = DOCS / name
        assert page.exists(), f"docs/{name} is missing"
        assert page.read_text().splitlines()[0] == f"# {title}"


@pytest.mark.parametrize("page", [
    pytest.param(page, id=page.name, marks=pytest.mark.whole_model) for page in PAGES])
def test_python_blocks_run_as_written(page, isolated):
    code_blocks = blocks(page, "python")
    assert code_blocks, f"{page.name} has no python code"
    if any(IMPORTS_TORCH.search(code) for _, code in code_blocks):
        pytest.importorskip("torch")
    namespace = {"__name__": f"docs.{page.stem}"}
    for first_line, code in code_blocks:
        # padding with blank lines makes line numbers in tracebacks those of the .md file
        exec(compile("\n" * (first_line - 1) + code, str(page.relative_to(ROOT)), "exec"), namespace)
    assert not td.is_anomaly_enabled()


def test_pages_that_need_pytorch_say_so_at_the_top():
    needs_torch = [page for page in PAGES if any(IMPORTS_TORCH.search(code) for _, code in blocks(page, "python"))]
    assert DOCS / "from_nanogpt.md" in needs_torch
    for page in needs_torch:
        top = page.read_text().split("\n## ", 1)[0]  # the title and the lines before the first section
        assert "Needs PyTorch" in top and INSTALL_TORCH in top, f"docs/{page.name} does not say it needs PyTorch"


@pytest.mark.whole_model  # it runs the tutorials' tests
def test_without_pytorch_the_summary_counts_the_skips_and_names_the_install(tmp_path):
    # a torch package that cannot be imported stands for a machine without PyTorch
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_docs.py", "tests/test_optim.py",
         "-k", "from_nanogpt or matches_torch", "-m", "whole_model or not whole_model"],  # a student copy asks too
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    skipped = re.search(r"^(\d+) tests skipped because PyTorch is not installed, docs/from_nanogpt.md among them: "
                        + re.escape(INSTALL_TORCH) + " runs them$", result.stdout, re.M)
    assert skipped, result.stdout[-3000:]
    assert int(skipped.group(1)) >= 2 and re.search(rf"\b{skipped.group(1)} skipped\b", result.stdout)


@pytest.mark.whole_model
def test_the_pdb_session_stops_in_dropouts_backward_and_kernel(isolated):
    page = DOCS / "dropout_in_pdb.md"
    (_, script), = blocks(page, "python")[:1]
    (_, commands), = blocks(page, "pdb")
    (isolated / "dropout_step.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TINYGRAD_DROP_BACKEND", None)
    result = subprocess.run([sys.executable, "-m", "pdb", "dropout_step.py"], input=commands, cwd=isolated,
                            env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout
    assert "***" not in output, output  # pdb reports every failed command with ***
    assert re.search(r"ops[/\\]dropout\.py\(\d+\)backward\(\)", output), output
    assert re.search(r"kernels[/\\]dropout\.py\(\d+\)dropout_apply_numpy\(\)", output), output
    assert "(0.5, 2.0)" in output and "The program finished" in output, output
    # the mask pdb redraws from the kernel's arguments is the layer's, printed at the end
    redrawn = re.search(r"\(Pdb\) array\((\[\[.*?\]\])\)", output, re.S)
    assert redrawn and " ".join(redrawn.group(1).split()) in " ".join(output.split()), output
