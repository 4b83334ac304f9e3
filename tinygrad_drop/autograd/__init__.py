"""Autograd: `Function` (one op, forward and backward side by side), the backward engine, grad
mode (`no_grad`, `enable_grad`), and the tools to watch it work: `backward_steps`, `explain`,
`detect_anomaly`."""
from .anomaly import detect_anomaly, is_anomaly_enabled
from .debug import BackwardStep, backward_steps, explain
from .function import Context, Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["BackwardStep", "Context", "Function", "backward_steps", "detect_anomaly", "enable_grad",
           "explain", "is_anomaly_enabled", "is_grad_enabled", "no_grad"]
