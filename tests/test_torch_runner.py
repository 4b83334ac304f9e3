"""`python -m tinygrad_drop.run`: the import hook, the stand-ins for GPU-only and multi-process
names, clear errors for what this framework cannot do, --pdb, and torch.utils.data against
PyTorch's own."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad_drop as td
from tinygrad_drop import compat
from tinygrad_drop.compat import stubs
from tinygrad_drop.compat import torch as ours
from tinygrad_drop.utils import data

ROOT = Path(__file__).resolve().parent.parent


def run_script(tmp_path: Path, source: str, *options: str, stdin: str = "") -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tinygrad_drop.run", *options, str(script), "arg1"],
                          capture_output=True, text=True, env=environment, input=stdin, timeout=120, cwd=tmp_path)


def test_the_runner_resolves_torch_for_that_process_only(tmp_path):
    result = run_script(tmp_path, """
        import sys
        import torch, torch.nn as nn
        import torch.nn.functional as F
        from torch.nn import functional
        from torch.utils.data import DataLoader, TensorDataset
        from torch.nn.parallel import DistributedDataParallel as DDP
        from torch.distributed import init_process_group, destroy_process_group
        import torch.optim.lr_scheduler
        import tinygrad_drop
        assert torch.Tensor is tinygrad_drop.Tensor and F is functional is tinygrad_drop.nn.functional
        assert nn.Linear is tinygrad_drop.nn.Linear and __name__ == "__main__"
        print("argv", sys.argv[1:], "cuda", torch.cuda.is_available())
        """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith("tinygrad_drop.run: `import torch` in ")
    assert "argv ['arg1'] cuda False" in result.stdout
    assert "torch" not in sys.modules or sys.modules["torch"] is not ours  # this process is untouched


def test_a_torch_module_without_a_stand_in_is_one_clear_import_error(tmp_path):
    result = run_script(tmp_path, "import torch.distributions\n")
    assert result.returncode == 1
    assert "No module named 'torch.distributions' in tinygrad_drop's stand-in for PyTorch" in result.stderr
    assert "docs/from_pytorch.md" in result.stderr


def test_pdb_stops_in_the_first_backward(tmp_path):
    result = run_script(tmp_path, """
        import torch
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        (x * 3).sum().backward()
        print("grad", x.grad.tolist())
        """, "--pdb", stdin="p node, g\nc\n")
    assert result.returncode == 0, result.stderr
    assert "stopped at the first node of the first backward()" in result.stderr
    assert result.stdout.count("(Pdb)") == 2  # one stop (two prompts: a command, then continue)
    assert "engine.py" in result.stdout and "node.function.backward(node, g)" in result.stdout
    assert "(<SumBackward>, array(1., dtype=float32))" in result.stdout and "grad [6.0, 6.0]" in result.stdout


def test_a_missing_script_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tinygrad_drop.run", str(tmp_path / "nope.py")],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and "no such script" in result.stderr


def test_installed_leaves_sys_modules_as_they_were():
    before = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "torch"}
    with compat.installed():
        import torch as stand_in
        import torch.nn.functional as F
        assert stand_in is ours and sys.modules["torch.nn"] is td.nn and F is td.nn.functional
    after = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "torch"}
    assert after == before
    assert all(not isinstance(f, compat.MissingTorchModule) for f in sys.meta_path)


# ---- devices, dtypes and arguments this framework cannot honour --------------------------------

@pytest.mark.parametrize("call", [
    lambda: ours.zeros(2, device="cuda"), lambda: ours.tensor([1.0], device="cuda:0"),
    lambda: ours.randn(2, device="mps"), lambda: ours.arange(3, device=ours.device("cpu")).to("cuda"),
    lambda: ours.ones(1).cuda(), lambda: ours.nn.Linear(2, 2).to("cuda"), lambda: ours.device("cuda"),
    lambda: ours.load(__file__, map_location="cuda"), lambda: ours.zeros_like(ours.ones(1), device="cuda"),
    lambda: ours.randint(0, 3, (2,), device="cuda"), lambda: ours.amp.autocast(device_type="cuda"),
])
def test_asking_for_a_gpu_names_the_device_and_the_cpu(call):
    with pytest.raises(RuntimeError, match="is not available: tinygrad_drop runs on the CPU only"):
        call()


def test_dtypes_numpy_lacks_are_a_clear_error():
    with pytest.raises(TypeError, match="dtype bfloat16 is not supported .* use float32"):
        ours.zeros(2, dtype=ours.bfloat16)
    with pytest.raises(TypeError, match="to: dtype bfloat16"):
        ours.ones(2).to(ours.bfloat16)
    with pytest.raises(TypeError, match="is not a dtype"):
        ours.ones(2, dtype="complex-ish")


def test_unsupported_arguments_raise_and_say_what_instead():
    with pytest.raises(NotImplementedError, match="weight= is not supported"):
        ours.nn.CrossEntropyLoss(weight=ours.ones(3))
    with pytest.raises(NotImplementedError, match="float32 only"):
        ours.set_default_dtype(ours.float64)
    with pytest.raises(AttributeError, match="torch.fft is not provided by tinygrad_drop"):
        ours.fft
    with pytest.raises(RuntimeError, match="autocast: mixed precision is not supported"):
        ours.amp.autocast(device_type="cpu", dtype=ours.bfloat16)


def test_gpu_and_multiprocess_names_do_what_pytorch_does_without_them(capsys):
    ours.backends.cuda.matmul.allow_tf32 = True
    ours.backends.cudnn.allow_tf32 = True
    assert not ours.cuda.is_available() and not ours.backends.mps.is_available() and ours.cuda.device_count() == 0
    ours.cuda.manual_seed(1)
    with ours.amp.autocast(device_type="cpu", enabled=False):
        pass
    scaler = ours.cuda.amp.GradScaler(enabled=False)
    w = ours.ones(2, requires_grad=True)
    optimizer = ours.optim.SGD([w], lr=0.5)
    scaler.scale((w * w).sum()).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    scaler.update()
    np.testing.assert_array_equal(w.numpy(), 0.0)
    model = ours.nn.Linear(2, 2)
    assert ours.compile(model) is model
    assert "torch.compile is the identity here" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="init_process_group\\(\\) is not available .* run one process"):
        ours.distributed.init_process_group(backend="nccl")
    with pytest.raises(RuntimeError, match="DistributedDataParallel is not available"):
        stubs.DistributedDataParallel(model, device_ids=[0])


def test_grad_modes_and_save_load_with_pytorchs_signatures(tmp_path):
    @ours.no_grad()
    def under_no_grad():
        return (ours.ones(1, requires_grad=True) * 2).requires_grad
    assert not under_no_grad()
    with ours.inference_mode():
        assert not (ours.ones(1, requires_grad=True) * 2).requires_grad
    with ours.set_grad_enabled(False):
        assert not ours.is_grad_enabled()
    assert ours.is_grad_enabled()
    model = ours.nn.Linear(3, 2)
    path = tmp_path / "ckpt.pt"
    ours.save({"model": model.state_dict(), "iter": 7, "best": ours.tensor(1.5)}, path)
    loaded = ours.load(path, map_location="cpu", weights_only=True)
    assert isinstance(loaded["model"]["weight"], ours.Tensor) and loaded["iter"] == 7
    assert loaded["best"].item() == 1.5
    fresh = ours.nn.Linear(3, 2)
    result = fresh.load_state_dict({**loaded["model"], "extra": ours.ones(1)}, strict=False)
    assert result.unexpected_keys == ["extra"] and result.missing_keys == []
    np.testing.assert_array_equal(fresh.weight.numpy(), model.weight.numpy())


def test_from_numpy_shares_memory():
    array = np.zeros(3, dtype=np.float32)
    tensor = ours.from_numpy(array)
    array[1] = 5
    assert tensor[1].item() == 5


def test_randint_randperm_multinomial_bernoulli_signatures():
    g = ours.Generator().manual_seed(3)
    a = ours.randint(10, (4,), generator=g)
    b = ours.randint(5, 10, (2, 3))
    assert a.dtype == ours.long and a.shape == (4,) and ((a.numpy() >= 0) & (a.numpy() < 10)).all()
    assert b.shape == (2, 3) and ((b.numpy() >= 5) & (b.numpy() < 10)).all()
    assert sorted(ours.randperm(6, generator=g).tolist()) == list(range(6))
    assert (ours.randint(10, (4,), generator=ours.Generator().manual_seed(3)).numpy() == a.numpy()).all()
    probs = ours.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    assert ours.multinomial(probs, num_samples=1)[0, 0].item() == 1
    samples = ours.multinomial(probs + ours.tensor([0.0, 0.0, 2.0]), num_samples=2)
    assert samples.shape == (2, 2) and sorted(samples[1].tolist()) == [0, 2] and sorted(samples[0].tolist()) == [1, 2]
    many = ours.multinomial(ours.tensor([1.0, 3.0]), 4000, replacement=True, generator=g)
    assert abs(many.numpy().mean() - 0.75) < 0.05
    with pytest.raises(RuntimeError, match="cannot sample 4 > 3 samples without replacement"):
        ours.multinomial(probs, 4)
    with pytest.raises(RuntimeError, match="fewer than 2 non-zero weights"):
        ours.multinomial(ours.tensor([0.0, 1.0, 0.0]), 2)
    coins = ours.bernoulli(ours.full((1000,), 0.3))
    assert coins.dtype == ours.float32 and abs(coins.numpy().mean() - 0.3) < 0.06


# ---- torch.utils.data against PyTorch's ------------------------------------------------------------

def test_dataloader_batches_collate_and_drop_last_as_pytorch():
    torch = pytest.importorskip("torch")
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)

    class Pairs:  # a map-style dataset of (dict, number) samples
        def __getitem__(self, i):
            return {"x": X[i], "label": int(y[i])}, float(i) / 2

        def __len__(self):
            return 10

    for lib, dataset_module in ((torch, torch.utils.data), (ours, data)):
        batches = list(dataset_module.DataLoader(dataset_module.TensorDataset(lib.from_numpy(X), lib.from_numpy(y)),
                                                 batch_size=4))
        assert [tuple(b[0].shape) for b in batches] == [(4, 2), (4, 2), (2, 2)]
        assert len(dataset_module.DataLoader(range(10), batch_size=4, drop_last=True)) == 2
    theirs = list(torch.utils.data.DataLoader(Pairs(), batch_size=3, drop_last=True))
    mine = list(data.DataLoader(Pairs(), batch_size=3, drop_last=True))
    assert len(theirs) == len(mine) == 3
    for (their_dict, their_number), (my_dict, my_number) in zip(theirs, mine):
        np.testing.assert_array_equal(my_dict["x"].numpy(), their_dict["x"].numpy())
        assert my_dict["label"].dtype == np.int64 and their_dict["label"].dtype == torch.int64
        assert my_number.dtype == np.float64 and their_number.dtype == torch.float64
        np.testing.assert_array_equal(my_number.numpy(), their_number.numpy())


def test_shuffle_with_a_generator_is_a_permutation_and_reproducible():
    loader = lambda seed: data.DataLoader(list(range(10)), batch_size=3, shuffle=True,
                                          generator=ours.Generator().manual_seed(seed))
    first = [b.tolist() for b in loader(0)]
    assert sorted(sum(first, [])) == list(range(10)) and first != [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [b.tolist() for b in loader(0)] == first
    assert [b.tolist() for b in loader(1)] != first


def test_samplers_and_random_split():
    assert list(data.SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert sorted(data.RandomSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(list(data.RandomSampler(range(3), replacement=True, num_samples=7))) == 7
    parts = data.random_split(range(10), [7, 3], generator=ours.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [7, 3] and sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    assert [len(p) for p in data.random_split(range(10), [0.5, 0.3, 0.2])] == [5, 3, 2]
    with pytest.raises(ValueError, match="do not add up"):
        data.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(range(4), sampler=data.SequentialSampler(range(4)), shuffle=True)


def test_the_console_script_points_at_the_runner():
    import importlib
    import tomllib
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["tinygrad-drop-run"].partition(":")
    assert getattr(importlib.import_module(module), function) is __import__("tinygrad_drop.run").run.main
