"""``fastdl.nn.functional``: alpha dropout (self-normalising networks) and 3-D channel
dropout.

Alpha dropout keeps SELU activations at zero mean and unit variance: dropped elements are
set to SELU's negative saturation ``−α' = −1.7581`` and the result is scaled and shifted
by ``a = ((1 − p)(1 + p·α'²))^(−1/2)``, ``b = a·α'·p``::

    out = a · (x·m + α'·(m − 1)) + a·α'·p,   m ~ Bernoulli(1 − p)

(the feature variant draws one m per (sample, channel)). Masks come from fastdl's seeded
generator; the backward is the product with ``a·m`` (a composition of Tensor ops).
"""
from __future__ import annotations

import numpy as np

from ...autograd import function as _fn
from ...random import default_generator
from ...tensor import Tensor, as_tensor
from ._args import _float
from .dropout import dropout2d

__all__ = ["alpha_dropout", "feature_alpha_dropout", "dropout3d"]

_ALPHA = 1.7580993408473766


def _check_p(p, name):
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def _alpha(input, p, training, inplace, feature, name):
    p = _check_p(p, name)
    t = _float(input, name)
    if feature and t.ndim < 2:
        raise RuntimeError(f"{name}: feature dropout requires at least 2 dimensions in the "
                           f"input, got shape {tuple(t.shape)}")
    if not training or p == 0.0 or t.numel() == 0:
        return t
    dt = t._array.dtype
    if p == 1.0:
        out = t * 0.0
    else:
        shape = (t.shape[0], t.shape[1]) + (1,) * (t.ndim - 2) if feature else t.shape
        m = (default_generator().random(shape) >= p).astype(dt)
        a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        mul = Tensor._make((m * a).astype(dt))
        add = Tensor._make(((m - 1) * _ALPHA * a + _ALPHA * a * p).astype(dt))
        out = t * mul + add
    if not inplace:
        return out
    if t.requires_grad and _fn._state.grad:
        raise RuntimeError(f"{name}: in-place on a tensor that requires grad is not supported; "
                           f"use inplace=False")
    t._array[...] = out._array
    t._vc[0] += 1
    return t


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of each element (see the module docstring); the identity unless
    ``training``. Example: ``F.alpha_dropout(x, 0.2, training=True)``"""
    return _alpha(input, p, training, inplace, False, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of an (N, C, ...) input: one mask value per
    (sample, channel). Example: ``F.feature_alpha_dropout(x, 0.2, training=True)``"""
    return _alpha(input, p, training, inplace, True, "feature_alpha_dropout")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, D, H, W) — or unbatched (C, D, H, W) — input with
    probability ``p``, scaling the rest by 1 / (1 − p).

    Example: ``F.dropout3d(fastdl.ones(2, 3, 2, 2, 2), 0.5)``: each (n, c) volume is all 0
    or all 2.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if t.ndim not in (4, 5):
        raise ValueError(f"dropout3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) "
                         f"input, got shape {tuple(t.shape)}")
    if t.ndim == 4:
        if inplace:
            raise ValueError("dropout3d: inplace is not supported for unbatched input")
        return dropout3d(t.unsqueeze(0), p, training).squeeze(0)
    N, C = t.shape[0], t.shape[1]
    y = dropout2d(t.reshape(N, C, t.shape[2], -1), p, training).reshape(*t.shape)
    if not inplace or y is t:
        return y
    if t.requires_grad and _fn._state.grad:
        raise RuntimeError("dropout3d: in-place on a tensor that requires grad is not "
                           "supported; use inplace=False")
    t._array[...] = y._array
    t._vc[0] += 1
    return t
