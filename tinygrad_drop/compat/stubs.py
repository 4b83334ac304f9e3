"""The parts of PyTorch's namespace that only matter on a GPU or across machines: `torch.cuda`,
`torch.backends`, `torch.amp` (and `torch.cuda.amp`), `torch.distributed`, `torch.nn.parallel`.

Lecture scripts import them, and call them behind `if torch.cuda.is_available():` or `if ddp:`.
Here they answer as PyTorch answers on a machine with no GPU and one process: no CUDA, flags that
can be set and change nothing, autocast and GradScaler disabled. Anything that would need a GPU or
a second process, called for real, raises one clear error saying what to do instead.
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Callable

from ..device import check_device


def namespace(name: str, doc: str, **members: Any) -> types.ModuleType:
    """A module object named `name` (what `import torch.cuda` finds) holding `members`."""
    module = types.ModuleType(name, doc)
    module.__dict__.update(members)
    return module


def unavailable(what: str, instead: str) -> Callable:
    """A function that raises RuntimeError saying `what` is not available and to do `instead`."""
    def raise_unavailable(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{what} is not available in tinygrad_drop (CPU only, one process); {instead}")
    raise_unavailable.__name__ = what.rpartition(".")[2].rstrip("()")
    raise_unavailable.__doc__ = f"Raises: {what} is not available here; {instead}."
    return raise_unavailable


def notice(message: str) -> None:
    """One line on stderr, where PyTorch would warn."""
    print(f"tinygrad_drop: {message}", file=sys.stderr)


# ---- mixed precision: always off on the CPU here -----------------------------------------------

class autocast(contextlib.ContextDecorator):
    """torch.amp.autocast: with enabled=False it does nothing, as PyTorch's; real mixed precision
    (enabled=True) raises, since every op here computes in its inputs' dtype."""

    def __init__(self, device_type: str = "cpu", dtype: Any = None, enabled: bool = True, cache_enabled: Any = None):
        check_device(device_type, "autocast")
        if enabled:
            raise RuntimeError("autocast: mixed precision is not supported by tinygrad_drop (every op computes in "
                               "its inputs' dtype); pass enabled=False, or use contextlib.nullcontext() on the CPU "
                               "as nanoGPT does")

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        return None


class GradScaler:
    """torch.amp.GradScaler / torch.cuda.amp.GradScaler, always disabled as PyTorch disables it
    without CUDA: scale(loss) is loss, step(optimizer) is optimizer.step()."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if enabled:
            notice("GradScaler is enabled, but there is no CUDA here: it is disabled (as PyTorch does without CUDA)")

    def scale(self, outputs: Any) -> Any:
        """The loss, unscaled (scaling is off)."""
        return outputs

    def unscale_(self, optimizer: Any) -> None:
        """Nothing to unscale."""

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """optimizer.step()."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        """Nothing to update."""

    def is_enabled(self) -> bool:
        """False: there is no CUDA to scale for."""
        return False

    def get_scale(self) -> float:
        """1.0, as PyTorch's disabled scaler reports."""
        return 1.0

    def state_dict(self) -> dict:
        """Empty, as a disabled scaler's."""
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        """Nothing to load."""


amp = namespace("torch.amp", "Mixed precision, disabled on the CPU here.", autocast=autocast, GradScaler=GradScaler)
cuda_amp = namespace("torch.cuda.amp", "Mixed precision, disabled on the CPU here.", autocast=autocast,
                     GradScaler=GradScaler)


# ---- the GPU: absent -------------------------------------------------------------------------------

def _false(*args: Any, **kwargs: Any) -> bool:
    """False: there is no GPU here."""
    return False


def _nothing(*args: Any, **kwargs: Any) -> None:
    """Nothing to do without a GPU."""


def _zero() -> int:
    """0 GPUs."""
    return 0


cuda = namespace(
    "torch.cuda", "No CUDA here: is_available() is False, device_count() is 0, seeding does nothing.",
    is_available=_false, is_bf16_supported=_false, is_initialized=_false, device_count=_zero,
    manual_seed=_nothing, manual_seed_all=_nothing, synchronize=_nothing, empty_cache=_nothing,
    reset_peak_memory_stats=_nothing, max_memory_allocated=_zero, memory_allocated=_zero,
    current_device=unavailable("torch.cuda.current_device()", "run on the CPU: device = 'cpu'"),
    get_device_name=unavailable("torch.cuda.get_device_name()", "run on the CPU: device = 'cpu'"),
    set_device=unavailable("torch.cuda.set_device()", "run on the CPU: device = 'cpu'"),
    amp=cuda_amp)

mps = namespace("torch.mps", "No Apple GPU here.", is_available=_false, manual_seed=_nothing)


class _Flags(types.SimpleNamespace):
    """Settings PyTorch reads only on a GPU: any may be set; none changes anything here."""


backends = namespace(
    "torch.backends", "GPU settings: they can be set and change nothing on the CPU.",
    cuda=_Flags(matmul=_Flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True),
                is_built=_false, flash_sdp_enabled=_false),
    cudnn=_Flags(allow_tf32=True, benchmark=False, deterministic=False, enabled=True, is_available=_false),
    mps=_Flags(is_available=_false, is_built=_false),
    mkldnn=_Flags(is_available=_false))


# ---- several processes: absent ---------------------------------------------------------------

distributed = namespace(
    "torch.distributed", "One process only: nothing here starts a process group.",
    is_available=_false, is_initialized=_false,
    init_process_group=unavailable("torch.distributed.init_process_group()",
                                   "run one process (unset RANK/WORLD_SIZE; plain `python -m tinygrad_drop.run "
                                   "script.py`, not torchrun)"),
    destroy_process_group=unavailable("torch.distributed.destroy_process_group()", "run one process"),
    all_reduce=unavailable("torch.distributed.all_reduce()", "run one process"),
    barrier=unavailable("torch.distributed.barrier()", "run one process"),
    get_rank=lambda *args: 0, get_world_size=lambda *args: 1)


class DistributedDataParallel:
    """Importable; building one raises, as there is only one process (use the model itself)."""

    def __init__(self, module: Any, *args: Any, **kwargs: Any):
        unavailable("torch.nn.parallel.DistributedDataParallel", "use the model itself in one process")()


parallel = namespace("torch.nn.parallel", "One process only.", DistributedDataParallel=DistributedDataParallel,
                     DataParallel=DistributedDataParallel)
