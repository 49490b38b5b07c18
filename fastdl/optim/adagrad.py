"""Adagrad (``fastdl.optim.Adagrad``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t:

        g ← g + λ·p                          (weight_decay λ)
        η ← lr / (1 + (t − 1)·lr_decay)
        s ← s + g²                           (s starts at initial_accumulator_value)
        p ← p − η · g / (√s + ε)

    State per parameter: ``step``, ``sum`` (created when the optimizer is built).

    Example::

        opt = fastdl.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    _algo = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        if differentiable:
            raise NotImplementedError("Adagrad: differentiable=True is not supported")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        foreach=foreach, maximize=maximize, differentiable=False,
                        fused=fused)
        super().__init__(params, defaults)
        for g in self.param_groups:  # torch creates the state up front
            for p in g["params"]:
                self._state_of(p, g, self._slots(g))

    def _check_group(self, g):
        _checks.check_lr(g)
        if not g["lr_decay"] >= 0.0:
            raise ValueError(f"Invalid lr_decay value: {g['lr_decay']}")
        _checks.check_wd(g)
        if not g["initial_accumulator_value"] >= 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{g['initial_accumulator_value']}")
        _checks.check_eps(g)

    def _slots(self, g):
        return ("sum", None, None)

    def _init_value(self, g, name):
        return float(g["initial_accumulator_value"])

    def _kernel_args(self, g):
        return dict(lr=float(g["lr"]), lr_decay=float(g["lr_decay"]), eps=float(g["eps"]),
                    weight_decay=float(g["weight_decay"]), maximize=bool(g["maximize"]))
