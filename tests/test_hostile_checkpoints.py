"""Checkpoint files crafted to exhaust the reader (issue 22): a header nested 50,000 deep, an entry
that declares 10**14 float64s, a compressed entry (a zip bomb's way in), an entry whose zip directory
claims more bytes than the file has, a header over its size bound. Each gets one ValueError naming
the path, and `train.py --resume` on it exits 2 with one line, never a traceback, a RecursionError
or a MemoryError."""
from __future__ import annotations

import io
import json
import os
import struct
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


def compressed_entry(path: Path) -> None:
    """A deflated entry: a zip bomb's way of unpacking gigabytes from kilobytes (small here)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__tinygrad_drop__.npy", npy_bytes(np.array(json.dumps({**FORMAT, "tree": {"array": "w"}}))))
        archive.writestr("w.npy", npy_bytes(np.zeros(2**17)), compress_type=zipfile.ZIP_DEFLATED)


def claims_more_than_the_file_holds(path: Path) -> None:
    """An entry whose zip directory claims 2 GiB, with a .npy header that declares as much."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**28 - 16,)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__tinygrad_drop__.npy", npy_bytes(np.array(json.dumps({**FORMAT, "tree": {"array": "w"}}))))
        archive.writestr("w.npy", header.getvalue() + bytes(64))
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the last central directory record: w.npy's
    struct.pack_into("<II", data, entry + 20, 2**31, 2**31)  # its compressed and uncompressed sizes
    path.write_bytes(bytes(data))


CRAFTED = {"nested 50,000 deep": deeply_nested, "10**14 float64s declared": declares_terabytes,
           "a compressed entry": compressed_entry, "an entry larger than the file": claims_more_than_the_file_holds}


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


def test_a_header_larger_than_the_bound_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    td.save({"w": td.zeros(3), "note": "x" * 2000}, path)
    monkeypatch.setattr(td.serialization, "MAX_HEADER_BYTES", 1000)
    with pytest.raises(ValueError, match="header entry has .* more than the 1000 a header may have"):
        td.load(path)
