"""Autograd: `Function` (one op, forward and backward side by side), the backward engine, and
grad mode (`no_grad`, `enable_grad`)."""
from .function import Context, Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["Context", "Function", "enable_grad", "is_grad_enabled", "no_grad"]
