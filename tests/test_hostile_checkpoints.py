"""Checkpoint files crafted to exhaust the reader (issue 22): a header nested 50,000 deep, an entry
that declares 10**14 float64s. Each gets one ValueError naming the path, and `train.py --resume`
on it exits 2 with one line, never a traceback, a RecursionError or a MemoryError."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td

ROOT = Path(__file__).resolve().parent.parent
FORMAT = {"format": "tinygrad_drop checkpoint", "version": 1}


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def deeply_nested(path: Path) -> None:
    depth = 50_000
    tree = '{"list": [' * depth + "1" + "]}" * depth
    header = json.dumps(FORMAT)[:-1] + ', "tree": ' + tree + "}"
    np.savez(path, __tinygrad_drop__=np.array(header))


def declares_terabytes(path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**14,)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__tinygrad_drop__.npy", npy_bytes(np.array(json.dumps({**FORMAT, "tree": {"array": "w"}}))))
        archive.writestr("w.npy", header.getvalue() + bytes(64))


CRAFTED = {"nested 50,000 deep": deeply_nested, "10**14 float64s declared": declares_terabytes}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_load_refuses_with_one_value_error(name, tmp_path):
    path = tmp_path / "ckpt.npz"
    CRAFTED[name](path)
    with pytest.raises(ValueError, match=f"cannot load '{path}'"):
        td.load(path)


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_resume_on_a_crafted_checkpoint_exits_2_with_one_line(name, tmp_path):
    CRAFTED[name](tmp_path / "ckpt.npz")
    result = subprocess.run([sys.executable, "scripts/train.py", "--out-dir", str(tmp_path), "--resume"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
