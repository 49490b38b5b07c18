"""Adamax (``fastdl.optim.Adamax``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm (Kingma & Ba), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t:

        g ← g + λ·p                                  (weight_decay λ)
        m ← m + (1 − β₁)(g − m)
        u ← max(β₂·u, |g| + ε)
        p ← p − lr/(1 − β₁ᵗ) · m/u

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).

    Example::

        opt = fastdl.optim.Adamax(model.parameters(), lr=2e-3)
    """

    _algo = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        if differentiable or capturable:
            raise NotImplementedError("Adamax: differentiable/capturable are not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=False,
                        capturable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_adam_group(g)

    def _slots(self, g):
        return ("exp_avg", "exp_inf", None)

    def _kernel_args(self, g):
        return _checks.adam_kernel_args(g)
