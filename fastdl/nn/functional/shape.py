"""fastdl.nn.functional: padding, one-hot encoding and p-norm normalisation.

Data-movement ops without a kernel family of their own: NumPy does the copies (one pass),
and the backward of every padding mode is its exact adjoint (a slice for constant padding, a
scatter-add of the padded positions onto their sources for reflect/replicate/circular).
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor

__all__ = ["pad", "one_hot", "normalize", "cosine_similarity"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n, lo, hi, mode):
    """For each position of an axis padded by (lo, hi), the input index it copies."""
    p = np.arange(-lo, n + hi)
    if mode == "reflect":
        p = np.abs(p)
        return np.where(p >= n, 2 * (n - 1) - p, p)
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    return p % n  # circular


class _Pad(_Op):
    @staticmethod
    def forward(ctx, x, pairs, mode, value):
        # pairs: per axis of x, (lo, hi); negative = crop (constant mode)
        ctx.pairs, ctx.mode, ctx.shape = pairs, mode, x.shape
        if mode == "constant":
            grow = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
            y = np.pad(x, grow, mode="constant", constant_values=value)
            crop = tuple(slice(max(-lo, 0), y.shape[i] - max(-hi, 0))
                         for i, (lo, hi) in enumerate(pairs))
            return np.ascontiguousarray(y[crop])
        y = x
        for ax, (lo, hi) in enumerate(pairs):
            if lo or hi:
                y = np.take(y, _source_index(x.shape[ax], lo, hi, mode), axis=ax)
        return np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, g):
        pairs, mode = ctx.pairs, ctx.mode
        if mode == "constant":
            # the adjoint of pad-then-crop: pad the gradient by the crops (zeros), then take
            # the interior
            grow = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pairs]
            gg = np.pad(g, grow, mode="constant")
            sl = tuple(slice(max(lo, 0), gg.shape[i] - max(hi, 0))
                       for i, (lo, hi) in enumerate(pairs))
            return np.ascontiguousarray(gg[sl]), None, None, None
        gx = g
        for ax in range(len(pairs) - 1, -1, -1):
            lo, hi = pairs[ax]
            if lo or hi:
                n = ctx.shape[ax]
                moved = np.moveaxis(gx, ax, 0)
                acc = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
                np.add.at(acc, _source_index(n, lo, hi, mode), moved)
                gx = np.moveaxis(acc, 0, ax)
        return np.ascontiguousarray(gx), None, None, None


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad)//2`` dimensions, PyTorch's order: ``pad = (left, right,
    top, bottom, front, back)`` starting from the last dimension. Modes: ``'constant'``
    (``value``, default 0; negative pads crop), ``'reflect'`` (mirror without repeating the
    edge; each pad < the dimension), ``'replicate'`` (repeat the edge), ``'circular'`` (wrap;
    each pad ≤ the dimension). Differentiable; the backward sums each padded gradient back
    onto the input element it copies.

    Example: ``F.pad(x, (1, 1, 2, 0))`` pads the last dim by 1 on both sides and the
    second-to-last by 2 on top.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    pad = tuple(int(v) for v in pad)
    if len(pad) % 2 or len(pad) // 2 > t.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2·ndim, got "
                         f"{len(pad)} for an input of shape {tuple(t.shape)}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    if mode != "constant" and value not in (None, 0, 0.0):
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    k = len(pad) // 2
    pairs = [(0, 0)] * (t.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]
    for ax, (lo, hi) in enumerate(pairs):
        n = t.shape[ax]
        if mode == "constant":
            if n + lo + hi < 0:
                raise ValueError(f"pad: padding ({lo}, {hi}) leaves dimension {ax} of size {n} "
                                 "negative")
        elif lo < 0 or hi < 0:
            raise ValueError(f"pad: negative padding is only allowed in constant mode, got "
                             f"{pad}")
        elif mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(f"pad: padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({lo}, {hi}) at dimension {ax} of "
                             f"input of shape {tuple(t.shape)}")
        elif mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: padding value causes wrapping around more than once: "
                             f"({lo}, {hi}) at dimension {ax} of size {n}")
        elif mode == "replicate" and n == 0 and (lo or hi):
            raise ValueError(f"pad: cannot replicate-pad the empty dimension {ax}")
    v = 0.0 if value is None else float(value)
    return _Pad.apply(t, tuple(pairs), mode, v)


def one_hot(tensor, num_classes=-1):
    """``out[..., c] = 1`` where ``tensor == c`` (int64, a new last dimension of size
    ``num_classes``; ``-1``: ``max + 1``). Class values must be in [0, num_classes).

    Example: ``F.one_hot(fastdl.tensor([0, 2]), 3)`` gives ``[[1, 0, 0], [0, 0, 1]]``.
    """
    t = tensor if isinstance(tensor, Tensor) else as_tensor(tensor)
    a = np.asarray(t.data)
    if a.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensor, got dtype {a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError("one_hot: Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1 if a.size else 0
    num_classes = int(num_classes)
    if a.size and a.max() >= num_classes:
        raise ValueError(f"one_hot: Class values must be smaller than num_classes "
                         f"({num_classes}), got {int(a.max())}.")
    out = np.zeros(a.shape + (num_classes,), dtype=np.int64)
    if a.size:
        np.put_along_axis(out, a.astype(np.int64)[..., None], 1, axis=-1)
    return Tensor._make(out)


class _Normalize(_Op):
    @staticmethod
    def forward(ctx, x, p, dim, eps):
        ax = np.abs(x)
        if p == np.inf:
            n = ax.max(axis=dim, keepdims=True) if x.shape[dim] else np.zeros_like(
                ax.sum(axis=dim, keepdims=True))
        else:
            n = np.power(np.power(ax, p).sum(axis=dim, keepdims=True), 1.0 / p)
        d = np.maximum(n, np.asarray(eps, x.dtype))
        ctx.save_for_backward(x, n, d)
        ctx.p, ctx.dim, ctx.eps = p, dim, eps
        return x / d

    @staticmethod
    def backward(ctx, g):
        x, n, d = ctx.saved_tensors
        p, dim, eps = ctx.p, ctx.dim, ctx.eps
        gx = g / d
        live = n >= eps  # where the norm (not eps) divides, it depends on x
        if np.any(live):
            s = (g * x).sum(axis=dim, keepdims=True) / (d * d)
            if p == np.inf:
                dn = (np.abs(x) == n) * np.sign(x)
                dn = dn / np.maximum(dn.astype(bool).sum(axis=dim, keepdims=True), 1)
            elif p == 2:
                dn = x / np.where(n > 0, n, 1)
            else:
                nn_ = np.where(n > 0, n, 1)
                dn = np.sign(x) * np.power(np.abs(x), p - 1) / np.power(nn_, p - 1)
            gx = gx - np.where(live, s, 0) * dn
        return gx.astype(x.dtype, copy=False), None, None, None


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``x / max(‖x‖_p, eps)`` along ``dim`` (p-norm over that dimension, kept for
    broadcasting). Differentiable.

    Example: ``F.normalize(fastdl.tensor([[3.0, 4.0]]))`` gives ``[[0.6, 0.8]]``.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if t.data.dtype.kind != "f":
        raise TypeError(f"normalize: input must be floating point, got {t.data.dtype}")
    p = float(p)
    if not p > 0:
        raise ValueError(f"normalize: p must be > 0, got {p}")
    if t.ndim == 0:
        raise ValueError("normalize: input must have at least one dimension")
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"normalize: dim {dim} out of range for an input of shape "
                         f"{tuple(t.shape)}")
    return _Normalize.apply(t, p, dim % t.ndim, float(eps))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``Σ x1·x2 / (max(‖x1‖₂, eps) · max(‖x2‖₂, eps))`` along ``dim`` (inputs broadcast
    against each other), as PyTorch computes it. Differentiable.

    Example: ``F.cosine_similarity(a, b, dim=1)`` for (N, D) a and b gives N similarities.
    """
    a = x1 if isinstance(x1, Tensor) else as_tensor(x1)
    b = x2 if isinstance(x2, Tensor) else as_tensor(x2)
    try:
        shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {tuple(a.shape)} and {tuple(b.shape)} "
                         "do not broadcast") from None
    nd = len(shape)
    if not -nd <= dim < nd:
        raise IndexError(f"cosine_similarity: dim {dim} out of range for shape {shape}")
    dim %= nd
    a = a.expand(*shape) if tuple(a.shape) != shape else a
    b = b.expand(*shape) if tuple(b.shape) != shape else b
    return (normalize(a, 2.0, dim, eps) * normalize(b, 2.0, dim, eps)).sum(dim)
