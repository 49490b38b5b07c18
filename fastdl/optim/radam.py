"""RAdam (``fastdl.optim.RAdam``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam, rectified Adam (Liu et al.), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t:

        g ← g + λ·p  (coupled)   or   p ← p·(1 − lr·λ)  (decoupled_weight_decay)
        m ← m + (1 − β₁)(g − m),    v ← β₂·v + (1 − β₂)·g²
        ρ∞ = 2/(1 − β₂) − 1,   ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
        if ρₜ > 5:  r = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
                    p ← p − m/(1 − β₁ᵗ) · lr · √(1 − β₂ᵗ)/(√v + ε) · r
        else:       p ← p − m/(1 − β₁ᵗ) · lr

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Example::

        opt = fastdl.optim.RAdam(model.parameters(), lr=1e-3)
    """

    _algo = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        if differentiable or capturable:
            raise NotImplementedError("RAdam: differentiable/capturable are not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=False, differentiable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_adam_group(g)

    def _slots(self, g):
        return ("exp_avg", "exp_avg_sq", None)

    def _kernel_args(self, g):
        return _checks.adam_kernel_args(g, decoupled=bool(g["decoupled_weight_decay"]))
