"""RMSprop (``fastdl.optim.RMSprop``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``):

        g ← g + λ·p                                  (weight_decay λ)
        v ← α·v + (1 − α)·g²
        ḡ ← ḡ + (1 − α)(g − ḡ),  a ← √(v − ḡ²)      (centered)   else a ← √v
        a ← a + ε
        b ← μ·b + g/a,  p ← p − lr·b                 (momentum μ > 0)
        p ← p − lr·g/a                               (otherwise)

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b),
    ``grad_avg`` (ḡ).

    Example::

        opt = fastdl.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99)
    """

    _algo = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if differentiable or capturable:
            raise NotImplementedError("RMSprop: differentiable/capturable are not supported")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, capturable=False,
                        foreach=foreach, maximize=maximize, differentiable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_lr(g)
        _checks.check_eps(g)
        if not g["momentum"] >= 0.0:
            raise ValueError(f"Invalid momentum value: {g['momentum']}")
        _checks.check_wd(g)
        if not g["alpha"] >= 0.0:
            raise ValueError(f"Invalid alpha value: {g['alpha']}")

    def _slots(self, g):
        return ("square_avg", "momentum_buffer" if g["momentum"] > 0 else None,
                "grad_avg" if g["centered"] else None)

    def _kernel_args(self, g):
        return dict(lr=float(g["lr"]), beta2=float(g["alpha"]), eps=float(g["eps"]),
                    weight_decay=float(g["weight_decay"]), momentum=float(g["momentum"]),
                    centered=bool(g["centered"]), maximize=bool(g["maximize"]))
