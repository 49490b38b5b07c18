"""Reverse-mode automatic differentiation: grad mode, ``Function`` and the backward engine.

The graph is dynamic: every differentiable op run on tensors that require grad records a node
(an instance of the op's ``Function`` subclass) holding its parents and what it saved for
backward. ``Tensor.backward`` walks the graph iteratively in reverse topological order, so
the depth of the graph is limited by memory only, never by Python's recursion limit.
"""
from .function import (Function, backward, enable_grad, grad, is_grad_enabled, no_grad,
                       set_grad_enabled)

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled"]
