"""Adam and AdamW (``fastdl.optim.Adam``, ``fastdl.optim.AdamW``)."""
from __future__ import annotations

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's update rule.

    For each parameter p with gradient g (−g when ``maximize``), at step t, betas (β₁, β₂):

        g ← g + λ·p                    (weight_decay λ, coupled)   or
        p ← p·(1 − lr·λ)               (decoupled_weight_decay=True, as AdamW)
        m ← m + (1 − β₁)(g − m)
        v ← β₂·v + (1 − β₂)·g²
        v̂ ← max(v̂, v)  and use v̂ for v    (amsgrad)
        p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq``.

    Example::

        opt = fastdl.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    _algo = "adam"
    _decoupled_default = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=None):
        if differentiable or capturable:
            raise NotImplementedError(f"{type(self).__name__}: differentiable/capturable are "
                                      "not supported")
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled_default
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=False, differentiable=False, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, g):
        _checks.check_adam_group(g)

    def _slots(self, g):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if g["amsgrad"] else None)

    def _kernel_args(self, g):
        return _checks.adam_kernel_args(g, amsgrad=bool(g["amsgrad"]),
                                        decoupled=bool(g["decoupled_weight_decay"]))


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's update rule:
    as :class:`Adam` but the decay is applied to the parameter, ``p ← p·(1 − lr·λ)``,
    before the Adam update, and ``weight_decay`` defaults to 1e-2.

    Example::

        opt = fastdl.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    _decoupled_default = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
