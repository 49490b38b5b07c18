"""Reverse-mode automatic differentiation: grad mode, ``Function`` and the backward engine.

The graph is dynamic: every differentiable op run on tensors that require grad records a node
(an instance of the op's ``Function`` subclass) holding its parents and what it saved for
backward. ``Tensor.backward`` walks the graph iteratively in reverse topological order, so
the depth of the graph is limited by memory only, never by Python's recursion limit.

Grad mode and inference mode are per thread (``no_grad``, ``enable_grad``,
``set_grad_enabled``, ``inference_mode``); anomaly detection is process-wide, as in PyTorch.
"""
from . import tensor_hooks as _tensor_hooks  # noqa: F401  (registers the Tensor methods)
from .function import (Function, backward, detect_anomaly, enable_grad, grad, inference_mode,
                       is_anomaly_check_nan_enabled, is_anomaly_enabled, is_grad_enabled,
                       is_inference_mode_enabled, no_grad, once_differentiable, queue_callback,
                       set_detect_anomaly, set_grad_enabled)
from . import functional  # noqa: E402  (fastdl.autograd.functional: jacobian, hessian, ...)
from .gradcheck import gradcheck, gradgradcheck


class _ExecutionEngine:
    """PyTorch's private engine handle, for code written against
    ``torch.autograd.Variable._execution_engine.queue_callback``."""

    @staticmethod
    def queue_callback(callback):
        """Same as ``fastdl.autograd.queue_callback``."""
        return queue_callback(callback)


class Variable:
    """PyTorch's legacy name: ``Variable(t)`` returns ``t`` (with ``requires_grad`` set when
    asked). Kept for ``Variable._execution_engine.queue_callback``.

    Example: ``fastdl.autograd.Variable._execution_engine.queue_callback(fn)``
    """

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data, requires_grad=False):
        from ..tensor import Tensor
        t = data if isinstance(data, Tensor) else Tensor(data)
        if requires_grad:
            t.requires_grad_(True)
        return t


__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "inference_mode", "is_inference_mode_enabled",
           "set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "once_differentiable", "queue_callback", "Variable",
           "gradcheck", "gradgradcheck", "functional"]
