"""``fastdl.nn.functional``: multi-class and multi-label margin losses, the triplet loss with
a custom distance, and the CTC loss.

The margin losses are compositions of differentiable Tensor ops (a gather, a clamp, masked
sums). ``ctc_loss`` is one op whose forward and backward (the α/β recursions in log space)
run in C++ (``csrc/bindings/bind_ctc.cpp`` → ``csrc/kernels/ctc/``; NumPy twin in
``fastdl.testing.reference.ctc``).
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor, where
from ._args import _float as _f
from .activation import logsigmoid
from .composite_loss import _REDUCTIONS, _reduce, pairwise_distance
from .loss import _legacy

__all__ = ["multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
           "triplet_margin_with_distance_loss", "ctc_loss"]

def _ints(x, fn, name):
    a = x._array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integers (int64), got {a.dtype}")
    return a.astype(np.int64)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None,  # noqa: A002
                      size_average=None, reduce=None, reduction="mean"):
    """Multi-class hinge loss of scores x (N, C) — or (C,) — and class indices y (N,):
    ``loss_n = Σ_{i ≠ y} w[y]·max(0, margin − x[y] + x[i])^p / C`` with p ∈ {1, 2}.

    Example: ``F.multi_margin_loss(fastdl.randn(4, 5), fastdl.tensor([0, 2, 4, 1]))``
    """
    fn = "multi_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"{fn}: only p == 1 and p == 2 supported, got {p}")
    x = _f(input, fn)
    y = _ints(target, fn, "target")
    unbatched = x.ndim <= 1
    if x.ndim == 0:
        x = x.reshape(1)
    if unbatched:
        x = x.reshape(1, -1)
        y = y.reshape(-1)
    if x.ndim != 2:
        raise ValueError(f"{fn}: input must be (N, C) or (C,), got shape {tuple(x.shape)}")
    N, C = x.shape
    if y.shape != (N,):
        raise ValueError(f"{fn}: target must have shape ({N},) for input of shape "
                         f"{tuple(x.shape)}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= C):
        raise IndexError(f"{fn}: target {int(y.min() if y.min() < 0 else y.max())} is out of "
                         f"bounds for {C} classes")
    xy = x.gather(1, y[:, None])
    z = (float(margin) - xy + x).clamp(min=0.0)
    if p == 2:
        z = z * z
    other = np.ones((N, C), dtype=x._array.dtype)
    other[np.arange(N), y] = 0
    z = z * Tensor._make(other)
    if weight is not None:
        w = _f(weight, fn, "weight")
        if w.ndim != 1 or w.shape[0] != C:
            raise ValueError(f"{fn}: weight must have shape ({C},), got {tuple(w.shape)}")
        z = z * w[y][:, None]
    loss = z.sum(1) / C
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction, fn)


def multilabel_margin_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                           reduction="mean"):
    """Multi-label hinge loss: ``target`` (N, C) lists each sample's classes, ended by the
    first −1; with J the listed classes,
    ``loss_n = Σ_{j ∈ J} Σ_{i ∉ J} max(0, 1 − (x[j] − x[i])) / C``.

    Example: ``F.multilabel_margin_loss(x, fastdl.tensor([[3, 0, -1, 1]]))`` counts classes 3, 0.
    """
    fn = "multilabel_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    x = _f(input, fn)
    y = _ints(target, fn, "target")
    unbatched = x.ndim <= 1
    if unbatched:
        x = x.reshape(1, -1)
        y = y.reshape(1, -1)
    if x.ndim != 2 or y.shape != tuple(x.shape):
        raise ValueError(f"{fn}: inconsistent target size: {y.shape} for input of size "
                         f"{tuple(x.shape)}")
    N, C = x.shape
    # slot k of row n is valid while no −1 came before it
    valid = np.cumprod(y != -1, axis=1).astype(bool)
    if np.any(valid & ((y < 0) | (y >= C))):
        raise IndexError(f"{fn}: target values must be class indices in [0, {C}) or -1")
    ycl = np.where(valid, y, 0)
    is_t = np.zeros((N, C), bool)
    rows = np.repeat(np.arange(N), C)[valid.reshape(-1)]
    is_t[rows, ycl[valid]] = True
    xj = x.gather(1, ycl)                                  # (N, C): the score of slot k
    d = (1.0 - xj.reshape(N, C, 1) + x.reshape(N, 1, C)).clamp(min=0.0)
    mask = (valid[:, :, None] & ~is_t[:, None, :]).astype(x._array.dtype)
    loss = (d * Tensor._make(mask)).sum((1, 2)) / C
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction, fn)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None,  # noqa: A002
                                reduce=None, reduction="mean"):
    """One-vs-all logistic loss of scores x (N, C) and 0/1 targets y (N, C):
    ``loss_n = −mean_c w_c·(y_c·log σ(x_c) + (1 − y_c)·log σ(−x_c))``.

    Example: ``F.multilabel_soft_margin_loss(x, (fastdl.rand(4, 5) > 0.5).double())``
    """
    fn = "multilabel_soft_margin_loss"
    reduction = _legacy(size_average, reduce, reduction)
    x = _f(input, fn)
    y = target if isinstance(target, Tensor) else as_tensor(np.asarray(target, x._array.dtype))
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: target has shape {tuple(y.shape)}, input {tuple(x.shape)}: "
                         f"they must be the same")
    if y._array.dtype != x._array.dtype:
        y = y.to(x._array.dtype)
    loss = -(y * logsigmoid(x) + (1.0 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * _f(weight, fn, "weight")
    loss = loss.sum(x.ndim - 1) / x.shape[-1]
    return _reduce(loss, reduction, fn)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """Triplet loss with any distance: ``max(d(a, p) − d(a, n) + margin, 0)``, ``d`` =
    ``distance_function`` (default ``pairwise_distance``); with ``swap``, d(a, n) is
    replaced by min(d(a, n), d(p, n)). ``margin`` must be > 0.

    Example::

        F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y:
                                            1 - F.cosine_similarity(x, y))
    """
    fn = "triplet_margin_with_distance_loss"
    if not margin > 0:
        raise ValueError(f"{fn}: margin must be greater than 0, got {margin}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction")
    a, p, n = _f(anchor, fn, "anchor"), _f(positive, fn, "positive"), _f(negative, fn,
                                                                            "negative")
    if not (a.ndim == p.ndim == n.ndim):
        raise RuntimeError(f"{fn}: the anchor, positive and negative must have the same number "
                           f"of dimensions, got {a.ndim}, {p.ndim}, {n.ndim}")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(a, p)
    d_neg = dist(a, n)
    if swap:
        d_swap = dist(p, n)
        d_neg = where(Tensor._make(d_swap._array < d_neg._array), d_swap, d_neg)
    loss = (d_pos - d_neg + float(margin)).clamp(min=0.0)
    return _reduce(loss, reduction, fn)


# ---------------------------------------------------------------------------------------
# CTC


class _CTC(_Op):
    """log_probs (T, N, C) -> per-sample nll (N,) (0 where infinite, with zero_infinity)."""

    @staticmethod
    def forward(ctx, lp, targets, offs, ilen, tlen, blank, zero_infinity):
        lp = np.ascontiguousarray(lp)
        nll, la = _C.ctc_forward(lp, targets, offs, ilen, tlen, blank)
        ctx.args = (targets, offs, ilen, tlen, blank)
        ctx.zero_infinity = zero_infinity
        ctx.save_for_backward(lp, nll, la)
        if zero_infinity:
            return np.where(np.isinf(nll), np.zeros((), nll.dtype), nll)
        return nll

    @staticmethod
    def backward(ctx, g):
        lp, nll, la = ctx.saved_tensors
        g = np.ascontiguousarray(g, dtype=lp.dtype)
        grad = _C.ctc_backward(lp, *ctx.args, nll, la, g, ctx.zero_infinity)
        return grad, None, None, None, None, None, None


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
             reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss: ``−log Σ_π Π_t p_t(π_t)`` over every
    alignment π of the target to the input (blanks and repeats collapsed).

    ``log_probs`` (T, N, C) — or unbatched (T, C) — are log-softmax outputs; ``targets``
    are padded (N, S) or concatenated 1-D (Σ target_lengths) class indices, none equal to
    ``blank``; ``input_lengths``/``target_lengths`` (N,) Tensors or sequences of ints.
    reduction 'mean' divides each loss by its target length (at least 1) and averages
    over the batch; 'sum' adds; 'none' gives (N,). ``zero_infinity`` sets infinite losses
    (an input too short for its target) and their gradients to zero. As PyTorch's, the
    gradient with respect to ``log_probs`` is ``exp(log_probs) − posterior``: exact through
    a preceding ``log_softmax``.

    Example::

        lp = fastdl.randn(50, 4, 20).log_softmax(2)
        loss = F.ctc_loss(lp, fastdl.randint(1, 20, (4, 10)), [50] * 4, [10, 8, 9, 10])
    """
    fn = "ctc_loss"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction")
    lp = _f(log_probs, fn, "log_probs")
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp.unsqueeze(1)
    if lp.ndim != 3:
        raise ValueError(f"{fn}: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{tuple(log_probs.shape)}")
    T, N, C = lp.shape
    tg = _ints(targets, fn, "targets")
    il = _ints(input_lengths, fn, "input_lengths").reshape(-1)
    tl = _ints(target_lengths, fn, "target_lengths").reshape(-1)
    if unbatched and tg.ndim == 1:
        tg = tg.reshape(1, -1)
    if il.shape != (N,) or tl.shape != (N,):
        raise ValueError(f"{fn}: input_lengths and target_lengths must have {N} entries (the "
                         f"batch of log_probs {tuple(lp.shape)}), got {il.shape[0]} and "
                         f"{tl.shape[0]}")
    if tg.ndim == 2:
        if tg.shape[0] != N:
            raise ValueError(f"{fn}: padded targets must be (N={N}, S), got {tg.shape}")
        if tl.size and tl.max() > tg.shape[1]:
            raise ValueError(f"{fn}: target_lengths {tl.tolist()} exceed the padded target "
                             f"length {tg.shape[1]}")
        offs = np.arange(N, dtype=np.int64) * tg.shape[1]
        flat = np.ascontiguousarray(tg.reshape(-1))
    elif tg.ndim == 1:
        if tl.sum() > tg.shape[0]:
            raise ValueError(f"{fn}: target_lengths sum to {int(tl.sum())} but the "
                             f"concatenated targets have {tg.shape[0]} entries")
        offs = np.concatenate(([0], np.cumsum(tl)[:-1])).astype(np.int64)
        flat = np.ascontiguousarray(tg)
    else:
        raise ValueError(f"{fn}: targets must be (N, S) or 1-D, got shape {tg.shape}")
    nll = _CTC.apply(lp, flat, offs, np.ascontiguousarray(il), np.ascontiguousarray(tl),
                     int(blank), bool(zero_infinity))
    if reduction == "mean":
        div = np.maximum(tl, 1).astype(lp._array.dtype)
        return (nll / Tensor._make(div)).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.reshape(()) if unbatched else nll
