"""NAdam (``fastdl.optim.NAdam``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer, _scalar

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam, Adam with Nesterov momentum (Dozat), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t, ψ the
    ``momentum_decay``:

        g ← g + λ·p  (coupled)   or   p ← p·(1 − lr·λ)  (decoupled_weight_decay)
        μₜ = β₁(1 − ½·0.96^(t·ψ)),   μₜ₊₁ = β₁(1 − ½·0.96^((t+1)·ψ)),   Π ← Π·μₜ
        m ← m + (1 − β₁)(g − m),    v ← β₂·v + (1 − β₂)·g²
        d ← √(v / (1 − β₂ᵗ)) + ε
        p ← p − lr(1 − μₜ)/(1 − Π) · g/d − lr·μₜ₊₁/(1 − Π·μₜ₊₁) · m/d

    State per parameter: ``step``, ``mu_product`` (Π, a 0-d float64 array), ``exp_avg``,
    ``exp_avg_sq``.

    Example::

        opt = fastdl.optim.NAdam(model.parameters(), lr=2e-3)
    """

    _algo = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        if differentiable or capturable:
            raise NotImplementedError("NAdam: differentiable/capturable are not supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=False, differentiable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_adam_group(g)
        if not g["momentum_decay"] >= 0.0:
            raise ValueError(f"Invalid momentum_decay value: {g['momentum_decay']}")

    def _slots(self, g):
        return ("exp_avg", "exp_avg_sq", None)

    def _init_extra(self, g, st):
        st["mu_product"] = _scalar(1.0)

    def _kernel_args(self, g):
        return _checks.adam_kernel_args(g, momentum_decay=float(g["momentum_decay"]),
                                        decoupled=bool(g["decoupled_weight_decay"]))
