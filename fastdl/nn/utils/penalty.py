"""L1 and L2 penalties of parameters, differentiable (built from Tensor ops)."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor

__all__ = ["l1_penalty", "l2_penalty"]


def _params(params, fn):
    if isinstance(params, Tensor):
        params = [params]
    params = list(params)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors, got {type(p).__name__}")
    return params


def l1_penalty(params):
    """``Σₚ Σᵢ |pᵢ|``: the L1 norm of all parameters together, as a differentiable 0-d
    Tensor (gradient sign(p); 0 at 0). Zero when ``params`` is empty.

    Example: ``loss = criterion(out, y) + 1e-4 * l1_penalty(model.parameters())``
    """
    total = None
    for p in _params(params, "l1_penalty"):
        s = p.abs().sum()
        total = s if total is None else total + s
    return total if total is not None else Tensor._make(np.array(0.0, np.float32))


def l2_penalty(params):
    """``Σₚ Σᵢ pᵢ²``: the squared L2 norm of all parameters together, as a differentiable
    0-d Tensor (gradient 2p; so SGD's ``weight_decay=λ`` equals adding
    ``λ/2 · l2_penalty``). Zero when ``params`` is empty.

    Example: ``loss = criterion(out, y) + 5e-5 * l2_penalty(model.parameters())``
    """
    total = None
    for p in _params(params, "l2_penalty"):
        s = (p * p).sum()
        total = s if total is None else total + s
    return total if total is not None else Tensor._make(np.array(0.0, np.float32))
