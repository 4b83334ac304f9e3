"""The PyTorch teaching scripts in tests/pytorch_scripts/ run unchanged through
`python -m tinygrad_drop.run`, and land within 0.05 of PyTorch's final loss on the same script.

Each script is plain PyTorch (`import torch`, nothing of this project) and prints its final loss
on its last line. Both runs are subprocesses: the runner's import hook lives for one process,
and PyTorch's own run must not see it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "pytorch_scripts"
ROOT = Path(__file__).resolve().parent.parent
FINAL_LOSS = re.compile(r"^final \w+ loss (\d+\.\d+)$", re.MULTILINE)
# (script, the loss it reaches when it learns anything: the initial loss is about ln(vocab))
CASES = [("lecture_gpt.py", 1.0), ("makemore_mlp.py", 2.0), ("textbook_dropout.py", 0.5), ("nanogpt_style.py", 1.0)]


def run(*command: str) -> str:
    # one thread for PyTorch: on a busy 2-core machine its thread pool slows a small model down
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=SCRIPTS,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def final_loss(output: str) -> float:
    """The number on the script's "final ... loss X" line."""
    losses = FINAL_LOSS.findall(output)
    assert losses, output[-2000:]
    return float(losses[-1])


@pytest.mark.slow
@pytest.mark.parametrize("script, learned", CASES)
def test_script_runs_unchanged_and_matches_pytorch(script, learned):
    ours_output = run("-m", "tinygrad_drop.run", script)
    assert f"tinygrad_drop.run: `import torch` in {script} runs on tinygrad_drop" in ours_output
    ours = final_loss(ours_output)
    assert ours < learned, f"{script} did not learn: final loss {ours}"
    pytest.importorskip("torch")
    theirs = final_loss(run(script))
    assert abs(ours - theirs) < 0.05, f"{script}: ours {ours:.4f}, PyTorch {theirs:.4f}"
