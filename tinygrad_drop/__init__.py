"""tinygrad_drop: a small reverse-mode autograd framework on numpy and Numba, with dropout at its
heart. `import tinygrad_drop as td` and use it like PyTorch:

    x = td.randn(4, 3, requires_grad=True)
    loss = (x @ x.T).relu().mean()
    loss.backward()          # x.grad now holds d loss / d x
"""
from .tensor import Tensor, bool_, cat, float32, float64, int32, int64, stack, where
from .creation import arange, eye, full, ones, ones_like, rand, randint, randn, tensor, zeros, zeros_like
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
from .tensor import bernoulli, multinomial
from .creation import empty, empty_like, from_numpy, full_like, linspace, rand_like, randn_like, randperm

__version__ = "0.1.0"
