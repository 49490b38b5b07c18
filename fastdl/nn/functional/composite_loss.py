"""fastdl.nn.functional: losses written as compositions of differentiable Tensor ops
(ranking and embedding losses, the Poisson and Gaussian negative log-likelihoods) and
``pairwise_distance``. PyTorch's formulas, arguments and reductions; a few elementwise passes
each, no kernel of their own (the heavy losses, cross entropy and the pointwise ones, are in
``loss.py`` on fused kernels).
"""
from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor, where
from ._args import _float as _f
from .activation import softplus

__all__ = ["pairwise_distance", "margin_ranking_loss", "soft_margin_loss",
           "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "poisson_nll_loss", "gaussian_nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction")
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _const(v, like):
    return Tensor._make(np.asarray(v, dtype=like._array.dtype))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``‖x1 − x2 + eps‖_p`` over the last dimension (inputs broadcast).

    Example: ``F.pairwise_distance(a, b)`` for (N, D) a, b gives N distances.
    """
    a, b = _f(x1, "pairwise_distance", "x1"), _f(x2, "pairwise_distance", "x2")
    d = (a - b + eps).abs()
    if p == math.inf:
        return d.max(-1, keepdim=keepdim)[0]  # (values, indices), as torch
    return (d ** p).sum(-1, keepdim=keepdim) ** (1.0 / p)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """``max(0, −y·(x1 − x2) + margin)`` with y = ±1.

    Example: ``F.margin_ranking_loss(s_pos, s_neg, fastdl.ones(8), margin=0.5)``
    """
    fn = "margin_ranking_loss"
    a, b, y = _f(input1, fn, "input1"), _f(input2, fn, "input2"), _f(target, fn, "target")
    return _reduce((-y * (a - b) + margin).clamp(min=0.0), reduction, fn)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(−y·x))`` (as softplus, stable for large |x|), y = ±1.

    Example: ``F.soft_margin_loss(scores, labels)``
    """
    fn = "soft_margin_loss"
    x, y = _f(input, fn, "input"), _f(target, fn, "target")
    return _reduce(softplus(-y * x), reduction, fn)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """``x`` where y = 1, ``max(0, margin − x)`` where y = −1 (x: a distance).

    Example: ``F.hinge_embedding_loss(distances, labels, margin=1.0)``
    """
    fn = "hinge_embedding_loss"
    x, y = _f(input, fn, "input"), _f(target, fn, "target")
    zero = _const(0.0, x)
    m = where(Tensor._make(y._array != 1), (margin - x).clamp(min=0.0), zero)
    s = where(Tensor._make(y._array != -1), x, zero)
    return _reduce(m + s, reduction, fn)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 − cos(x1, x2)`` where y = 1, ``max(0, cos(x1, x2) − margin)`` where y = −1; cos
    over the last dimension with PyTorch's 1e-12 added to each squared norm.

    Example: ``F.cosine_embedding_loss(a, b, fastdl.tensor([1.0, -1.0]))`` for (2, D) a, b
    """
    fn = "cosine_embedding_loss"
    a, b, y = _f(input1, fn, "input1"), _f(input2, fn, "input2"), _f(target, fn, "target")
    if a.ndim not in (1, 2) or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fn}: inputs must both be (N, D) or (D,), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    prod = (a * b).sum(-1)
    denom = (((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12)) ** 0.5
    cos = prod / denom
    zero = _const(0.0, cos)
    pos = where(Tensor._make(y._array == 1), 1.0 - cos, zero)
    neg = where(Tensor._make(y._array == -1), (cos - margin).clamp(min=0.0), zero)
    return _reduce(pos + neg, reduction, fn)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """``max(0, margin + d(a, p) − d(a, n))`` with ``d = pairwise_distance(·, ·, p, eps)``;
    ``swap`` uses ``min(d(a, n), d(p, n))`` (Balntas et al.).

    Example: ``F.triplet_margin_loss(a, pos, neg, margin=0.2)`` for (N, D) embeddings
    """
    fn = "triplet_margin_loss"
    a, pos, neg = _f(anchor, fn, "anchor"), _f(positive, fn, "positive"), _f(negative, fn,
                                                                           "negative")
    if not (a.ndim == pos.ndim == neg.ndim and a.ndim in (1, 2)):
        raise ValueError(f"{fn}: anchor, positive and negative must all be (N, D) or (D,), got "
                         f"{tuple(a.shape)}, {tuple(pos.shape)}, {tuple(neg.shape)}")
    if margin <= 0:
        raise ValueError(f"{fn}: margin must be greater than 0, got {margin}")
    d_ap = pairwise_distance(a, pos, p, eps)
    d_an = pairwise_distance(a, neg, p, eps)
    if swap:
        d_pn = pairwise_distance(pos, neg, p, eps)
        d_an = where(Tensor._make(d_pn._array < d_an._array), d_pn, d_an)
    return _reduce((d_ap - d_an + margin).clamp(min=0.0), reduction, fn)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Poisson negative log-likelihood: ``exp(x) − y·x`` (``log_input``) or
    ``x − y·log(x + eps)``; ``full`` adds Stirling's ``y·log y − y + ½·log(2πy)`` where y > 1.

    Example: ``F.poisson_nll_loss(log_rates, counts)``
    """
    fn = "poisson_nll_loss"
    x, y = _f(input, fn, "input"), _f(target, fn, "target")
    loss = x.exp() - y * x if log_input else x - y * (x + eps).log()
    if full:
        yd = y._array
        with np.errstate(divide="ignore", invalid="ignore"):
            st = np.where(yd > 1, yd * np.log(yd) - yd + 0.5 * np.log(2 * np.pi * yd), 0.0)
        loss = loss + Tensor._make(st.astype(x._array.dtype))
    return _reduce(loss, reduction, fn)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood with predicted variance ``var`` (same shape as input,
    or one dimension less / a trailing 1 for a shared variance):
    ``½·(log(max(var, eps)) + (x − y)² / max(var, eps))`` (+ ½·log 2π with ``full``); the
    clamp, as PyTorch's, passes no gradient where var < eps.

    Example: ``F.gaussian_nll_loss(mean, target, var)``
    """
    fn = "gaussian_nll_loss"
    x, y, v = _f(input, fn, "input"), _f(target, fn, "target"), _f(var, fn, "var")
    if tuple(v.shape) != tuple(x.shape):
        if tuple(x.shape[:-1]) == tuple(v.shape):
            v = v.unsqueeze(-1)
        elif not (tuple(x.shape[:-1]) == tuple(v.shape[:-1]) and v.shape[-1] == 1):
            raise ValueError(f"{fn}: var of shape {tuple(v.shape)} is not compatible with input "
                             f"of shape {tuple(x.shape)}")
    if np.any(v._array < 0):
        raise ValueError(f"{fn}: var has negative entry/entries")
    small = Tensor._make(v._array < eps)
    vc = where(small, _const(eps, v), v)  # no gradient through the clamp
    loss = 0.5 * (vc.log() + (x - y) ** 2 / vc)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, fn)
