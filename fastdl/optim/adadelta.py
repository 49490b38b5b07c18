"""Adadelta (``fastdl.optim.Adadelta``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``):

        g ← g + λ·p                                  (weight_decay λ)
        v ← ρ·v + (1 − ρ)·g²
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρ·u + (1 − ρ)·Δ²
        p ← p − lr·Δ

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    Example::

        opt = fastdl.optim.Adadelta(model.parameters(), lr=1.0, rho=0.9)
    """

    _algo = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if differentiable or capturable:
            raise NotImplementedError("Adadelta: differentiable/capturable are not supported")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        capturable=False, maximize=maximize, differentiable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_lr(g)
        if not 0.0 <= g["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {g['rho']}")
        _checks.check_eps(g)
        _checks.check_wd(g)

    def _slots(self, g):
        return ("square_avg", "acc_delta", None)

    def _kernel_args(self, g):
        return dict(lr=float(g["lr"]), beta2=float(g["rho"]), eps=float(g["eps"]),
                    weight_decay=float(g["weight_decay"]), maximize=bool(g["maximize"]))
