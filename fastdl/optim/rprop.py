"""Rprop (``fastdl.optim.Rprop``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun), PyTorch's update rule: only the sign
    of the gradient is used, with a per-element step size that grows while the sign holds.

    For each element with gradient g (−g when ``maximize``) and previous gradient g₋:

        f ← η₊ if g·g₋ > 0,  η₋ if g·g₋ < 0,  1 if g·g₋ = 0
        s ← clamp(s·f, step_min, step_max)          (s starts at lr)
        g ← 0 where f = η₋                           (no move after a sign change)
        p ← p − sign(g)·s,   g₋ ← g

    State per parameter: ``step``, ``prev`` (g₋), ``step_size`` (s). Full-batch training is
    what Rprop is made for; with mini-batches the signs are noisy.

    Example::

        opt = fastdl.optim.Rprop(model.parameters(), lr=0.01, etas=(0.5, 1.2))
    """

    _algo = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if differentiable or capturable:
            raise NotImplementedError("Rprop: differentiable/capturable are not supported")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        foreach=foreach, maximize=maximize, differentiable=False,
                        capturable=False)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_lr(g)
        em, ep = g["etas"]
        if not 0.0 < em < 1.0 < ep:
            raise ValueError(f"Invalid eta values: {em}, {ep}")
        lo, hi = g["step_sizes"]
        if not 0.0 <= lo <= hi:
            raise ValueError(f"Invalid step_sizes: ({lo}, {hi}); need 0 <= min <= max")

    def _slots(self, g):
        return ("prev", "step_size", None)

    def _init_value(self, g, name):
        return float(g["lr"]) if name == "step_size" else 0.0

    def _kernel_args(self, g):
        em, ep = g["etas"]
        lo, hi = g["step_sizes"]
        return dict(eta_minus=float(em), eta_plus=float(ep), step_min=float(lo),
                    step_max=float(hi), maximize=bool(g["maximize"]))
