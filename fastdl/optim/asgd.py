"""ASGD (``fastdl.optim.ASGD``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t:

        g   ← g + λ_wd·p                                   (weight_decay)
        η_t = lr / (1 + lambd·lr·(t − 1))^alpha,  μ_t = 1 / max(1, t − 1 − t0)
        p   ← p·(1 − lambd·η_t) − η_t·g
        ax  ← p if μ_t = 1 else ax + (p − ax)·μ_t          (the running average)

    η_t and μ_t are rounded to float32, as torch keeps them. State per parameter: ``step``,
    ``ax`` (torch also stores ``eta`` and ``mu``; here they follow from ``step``).

    Example::

        opt = fastdl.optim.ASGD(model.parameters(), lr=0.01, t0=1000)
    """

    _algo = "asgd"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        if differentiable or capturable:
            raise NotImplementedError("ASGD: differentiable/capturable are not supported")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=False,
                        capturable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_lr(g)
        _checks.check_wd(g)

    def _slots(self, g):
        return ("ax", None, None)

    def _kernel_args(self, g):
        return dict(lr=float(g["lr"]), lambd=float(g["lambd"]), asgd_alpha=float(g["alpha"]),
                    t0=float(g["t0"]), weight_decay=float(g["weight_decay"]),
                    maximize=bool(g["maximize"]))
