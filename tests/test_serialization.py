"""td.save / td.load: exact round trips, atomic writes, clear errors on bad files."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest


import tinygrad_drop as td
from tinygrad_drop import nn, optim


def sample_checkpoint() -> dict:
    rng = np.random.default_rng(0)
    return {
        "model": {"wte.weight": rng.normal(size=(5, 3)).astype(np.float32),
                  "ln.bias": td.Tensor(np.arange(3, dtype=np.float64)),
                  "mask": np.tril(np.ones((2, 2), dtype=bool))},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": rng.normal(size=3)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.95), "params": [0, 1]}]},
        "iter": 5,
        "best_val_loss": 1.8812345678901234,
        "config": {"name": "shakespeare-char", "bias": False, "dropout": None, "tiny": 1e-300},
        "tokens": np.array([3, 1, 4], dtype=np.int64),
    }


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "ckpt.npz"
    original = sample_checkpoint()
    td.save(original, path)
    loaded = td.load(path)
    assert list(loaded) == list(original)
    model = loaded["model"]
    assert model["wte.weight"].dtype == np.float32 and model["mask"].dtype == bool
    np.testing.assert_array_equal(model["wte.weight"], original["model"]["wte.weight"])
    np.testing.assert_array_equal(model["ln.bias"], [0.0, 1.0, 2.0])
    assert isinstance(model["ln.bias"], np.ndarray)  # Tensors come back as their arrays
    state = loaded["optimizer"]["state"]
    assert list(state) == [0] and state[0]["step"] == 7 and type(state[0]["step"]) is int
    np.testing.assert_array_equal(state[0]["exp_avg"], original["optimizer"]["state"][0]["exp_avg"])
    assert loaded["optimizer"]["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.95), "params": [0, 1]}]
    assert loaded["iter"] == 5 and loaded["best_val_loss"] == original["best_val_loss"]
    assert loaded["config"] == original["config"]
    assert loaded["tokens"].dtype == np.int64


def test_arrays_are_readable_with_plain_numpy(tmp_path):
    path = tmp_path / "model.npz"
    td.save({"lm_head.weight": np.eye(2), "sub": {"x": np.ones(1)}}, path)
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["lm_head.weight"], np.eye(2))
        np.testing.assert_array_equal(archive["sub/x"], np.ones(1))


def test_names_that_clash_with_numpy_keywords(tmp_path):
    path = tmp_path / "odd.npz"
    td.save({"file": np.zeros(1), "allow_pickle": np.ones(1)}, path)
    loaded = td.load(path)
    assert loaded["file"][0] == 0 and loaded["allow_pickle"][0] == 1


def test_unsupported_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store a set"):
        td.save({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="Python objects"):
        td.save({"a": np.array([object()])}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="contain no '/'"):
        td.save({"a/b": np.zeros(1)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.whole_model
def test_module_and_optimizer_checkpoint_resume(tmp_path):
    td.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2))
    opt = optim.AdamW(model.parameters(), lr=0.01)
    x = td.randn(6, 3)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()

    train(model, opt, 3)
    td.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.npz")
    train(model, opt, 3)

    resumed = nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2))
    resumed_opt = optim.AdamW(resumed.parameters(), lr=0.01)
    checkpoint = td.load(tmp_path / "ckpt.npz")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_opt, 3)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


# ---- atomicity --------------------------------------------------------------------------------

def test_failure_during_save_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.zeros(1000)}, path)
    real_write_array = np.lib.format.write_array

    def write_half_then_fail(file, array, **kwargs):
        real_write_array(file, array.reshape(-1)[: max(1, array.size // 2)], **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        td.save({"w": np.ones(1000)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(td.load(path)["w"], np.zeros(1000))
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed


def test_crash_during_save_leaves_old_file_intact(tmp_path):
    """A process killed mid-write (os._exit: no cleanup, no exception handlers) cannot corrupt the target."""
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.zeros(100_000)}, path)
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        import tinygrad_drop as td

        def crash(file, array, **kwargs):
            file.write(b"partial bytes")
            file.flush()
            os._exit(3)

        np.lib.format.write_array = crash
        td.save({{"w": np.ones(100_000)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 3, result.stderr.decode()
    np.testing.assert_array_equal(td.load(path)["w"], np.zeros(100_000))


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"step": 1}, path)
    td.save({"step": 2}, str(path))
    assert td.load(path) == {"step": 2}
    assert os.listdir(tmp_path) == ["ckpt.npz"]


# ---- bad files --------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        td.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "plain_npz", "npy", "flipped_bytes"])
def test_corrupt_or_foreign_file(tmp_path, kind):
    path = tmp_path / "bad.npz"
    if kind in ("truncated", "flipped_bytes"):
        td.save({"w": np.arange(1000.0)}, path)
        data = bytearray(path.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        else:
            data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
        path.write_bytes(bytes(data))
    elif kind == "garbage":
        path.write_bytes(b"this is not a checkpoint at all" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "plain_npz":
        with open(path, "wb") as f:
            np.savez(f, w=np.zeros(2))
    else:
        with open(path, "wb") as f:
            np.save(f, np.zeros(2))
    with pytest.raises(ValueError, match="bad.npz") as error:
        td.load(path)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_corrupt_member_is_reported_not_raised_raw(tmp_path):
    path = tmp_path / "ckpt.npz"
    td.save({"w": np.arange(10.0)}, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("w2.npy", b"\x93NUMPY broken header")
    with pytest.raises(ValueError, match="not a valid tinygrad_drop checkpoint"):
        td.load(path)
