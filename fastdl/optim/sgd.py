"""Stochastic gradient descent with momentum and Nesterov momentum (``fastdl.optim.SGD``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t:

        g ← g + λ·p                                  (weight_decay λ ≠ 0)
        b ← g                  (t = 1)
        b ← μ·b + (1 − τ)·g    (t > 1)               (momentum μ ≠ 0, dampening τ)
        g ← g + μ·b  (nesterov)   or   g ← b
        p ← p − lr·g

    State per parameter: ``momentum_buffer`` (when momentum ≠ 0).

    Example::

        opt = fastdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    _algo = "sgd"
    _stepped = False

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=False, fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_lr(g)
        _checks.check_nonneg(g, "momentum", "momentum value")
        _checks.check_wd(g)
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _slots(self, g):
        return ("momentum_buffer" if g["momentum"] != 0 else None, None, None)

    def _kernel_args(self, g):
        return dict(lr=float(g["lr"]), momentum=float(g["momentum"]),
                    dampening=float(g["dampening"]), weight_decay=float(g["weight_decay"]),
                    nesterov=bool(g["nesterov"]), maximize=bool(g["maximize"]))
