"""Run PyTorch code unchanged: `import torch` answered by tinygrad_drop, for one process.

`install()` (what `python -m tinygrad_drop.run` calls before running a script) puts each module
of TORCH_MODULES into sys.modules under PyTorch's name, so `import torch`, `import torch.nn as
nn`, `from torch.nn import functional as F` or `from torch.utils.data import DataLoader` find
tinygrad_drop's modules, and adds a finder that turns any other `torch.*` import into one clear
ImportError. Nothing happens at import of this package; real PyTorch, if installed, is simply not
imported in that process, and other processes are untouched.

The names themselves live in compat/torch.py (the `torch` namespace) and compat/stubs.py (CUDA,
distributed and mixed precision, which answer as PyTorch does without a GPU).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import sys
from typing import Iterator, Sequence

# PyTorch's module name -> the module that stands in for it
TORCH_MODULES = {
    "torch": "tinygrad_drop.compat.torch",
    "torch.nn": "tinygrad_drop.nn",
    "torch.nn.functional": "tinygrad_drop.nn.functional",
    "torch.nn.init": "tinygrad_drop.nn.init",
    "torch.nn.utils": "tinygrad_drop.nn.utils",
    "torch.nn.parallel": "tinygrad_drop.compat.stubs:parallel",
    "torch.optim": "tinygrad_drop.optim",
    "torch.optim.lr_scheduler": "tinygrad_drop.optim.lr_scheduler",
    "torch.utils": "tinygrad_drop.utils",
    "torch.utils.data": "tinygrad_drop.utils.data",
    "torch.autograd": "tinygrad_drop.compat.torch:autograd",
    "torch.cuda": "tinygrad_drop.compat.stubs:cuda",
    "torch.cuda.amp": "tinygrad_drop.compat.stubs:cuda_amp",
    "torch.amp": "tinygrad_drop.compat.stubs:amp",
    "torch.backends": "tinygrad_drop.compat.stubs:backends",
    "torch.distributed": "tinygrad_drop.compat.stubs:distributed",
    "torch.mps": "tinygrad_drop.compat.stubs:mps",
}


def _stand_in(target: str):
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


class MissingTorchModule(importlib.abc.MetaPathFinder):
    """Any `torch.*` module that TORCH_MODULES lacks: one ImportError naming it. While installed
    it also keeps the modules of a real PyTorch imported before, for uninstall() to put back."""

    def __init__(self, replaced: dict):
        self.replaced = replaced

    def find_spec(self, fullname: str, path: Sequence[str] | None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(
                f"No module named '{fullname}' in tinygrad_drop's stand-in for PyTorch (tinygrad_drop.run maps "
                f"{len(TORCH_MODULES)} torch modules; docs/from_pytorch.md lists what is supported)", name=fullname)
        return None


def _torch_modules() -> dict:
    return {name: module for name, module in sys.modules.items() if name == "torch" or name.startswith("torch.")}


def install() -> None:
    """Make `import torch` (and the modules in TORCH_MODULES) load tinygrad_drop in this process."""
    if any(isinstance(finder, MissingTorchModule) for finder in sys.meta_path):
        return
    replaced = _torch_modules()  # a real PyTorch imported earlier would otherwise win
    for name in replaced:
        del sys.modules[name]
    for name, target in TORCH_MODULES.items():
        sys.modules[name] = _stand_in(target)
    sys.meta_path.insert(0, MissingTorchModule(replaced))


def uninstall() -> None:
    """Undo install(): `import torch` finds real PyTorch (if any) again, as it was."""
    finders = [finder for finder in sys.meta_path if isinstance(finder, MissingTorchModule)]
    for name in _torch_modules():
        del sys.modules[name]
    for finder in finders:
        sys.meta_path.remove(finder)
        sys.modules.update(finder.replaced)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """`with compat.installed():` PyTorch code inside imports tinygrad_drop as torch; afterwards
    `import torch` is what it was before."""
    install()
    try:
        yield
    finally:
        uninstall()
