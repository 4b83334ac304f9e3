"""tinygrad_drop: a small reverse-mode autograd framework on numpy and Numba, with dropout at its
heart. `import tinygrad_drop as td` and use it like PyTorch:

    x = td.randn(4, 3, requires_grad=True)
    loss = (x @ x.T).relu().mean()
    loss.backward()          # x.grad now holds d loss / d x
"""
from .tensor import (Tensor, arange, bool_, cat, eye, float32, float64, full, int32, int64, ones,
                     ones_like, rand, randint, randn, stack, tensor, where, zeros, zeros_like)
from . import autograd, nn, optim
from .autograd.anomaly import detect_anomaly, is_anomaly_enabled
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from .kernels import backend, get_backend, set_backend
from .serialization import load, save
from .random import get_rng_state, manual_seed, set_rng_state
from . import viz
from .device import device
from .random import Generator
from .tensor import (bernoulli, empty, empty_like, from_numpy, full_like, linspace, multinomial, rand_like, randn_like,
                     randperm)

__version__ = "0.1.0"
