"""fastdl.nn.functional: padding, interpolation, unfold/fold, one-hot encoding, p-norm
normalisation and cosine similarity.

Data-movement ops without a kernel family of their own: NumPy does the copies (a pass or a
few), and each backward is the exact adjoint of its forward (a slice for constant padding, a
scatter-add of every copied position onto its source for reflect/replicate/circular padding
and interpolation, col2im for unfold and im2col for fold).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...autograd.function import _Op
from ...tensor import Tensor, _cl_only, as_tensor, channels_last
from ._args import _float, _tuple

__all__ = ["pad", "one_hot", "normalize", "cosine_similarity", "interpolate", "unfold",
           "fold"]

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
    a = np.asarray(t._array)
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
    t = _float(input, "normalize")
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


# ---- interpolation ----------------------------------------------------------------------------
def _axis_map(n_in, n_out, mode, align_corners, scale):
    """For one axis: (i0, i1, w1) with out[j] = in[i0[j]]·(1 − w1[j]) + in[i1[j]]·w1[j]
    (nearest modes: w1 = 0). ``scale`` is the input/output ratio torch uses (1/scale_factor
    when a scale factor was given, else n_in/n_out)."""
    j = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        src = np.floor((j + 0.5) * scale) if mode == "nearest-exact" else np.floor(j * scale)
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        return i0, i0, np.zeros(n_out)
    if align_corners:
        src = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((j + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


class _Interp(_Op):
    @staticmethod
    def forward(ctx, x, maps):
        ctx.maps, ctx.shape = maps, x.shape
        y = x
        for k, (i0, i1, w1) in enumerate(maps):
            ax = 2 + k
            if not w1.any():
                y = np.take(y, i0, axis=ax)
            else:
                shp = [1] * y.ndim
                shp[ax] = -1
                w = w1.reshape(shp).astype(x.dtype)
                y = np.take(y, i0, axis=ax) * (1 - w) + np.take(y, i1, axis=ax) * w
        return np.ascontiguousarray(y, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        gx = g
        for k in range(len(ctx.maps) - 1, -1, -1):
            i0, i1, w1 = ctx.maps[k]
            ax = 2 + k
            n = ctx.shape[ax]
            moved = np.moveaxis(gx, ax, 0)
            acc = np.zeros((n,) + moved.shape[1:], dtype=g.dtype)
            wshape = (-1,) + (1,) * (moved.ndim - 1)
            w = w1.reshape(wshape).astype(g.dtype)
            np.add.at(acc, i0, moved * (1 - w))
            if w1.any():
                np.add.at(acc, i1, moved * w)
            gx = np.moveaxis(acc, 0, ax)
        return np.ascontiguousarray(gx), None


_INTERP_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,),
                 "bilinear": (2,), "trilinear": (3,), "bicubic": (2,), "area": (1, 2, 3)}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of an (N, C, L), (N, C, H, W) or (N, C, D, H, W) input
    to ``size`` or by ``scale_factor``, PyTorch's rules: ``'nearest'`` takes
    ``in[floor(j·scale)]``, ``'nearest-exact'`` ``in[floor((j + 0.5)·scale)]``; ``'linear'``
    / ``'bilinear'`` / ``'trilinear'`` interpolate separably along each axis from
    ``(j + 0.5)·scale − 0.5`` (clamped at 0), or ``j·(in − 1)/(out − 1)`` with
    ``align_corners=True``. ``scale`` is ``1/scale_factor`` when a factor is given (unless
    ``recompute_scale_factor``), else ``in/out``; ``'area'`` is adaptive average pooling to
    the output size (as torch). Differentiable (the backward scatters each output gradient
    onto the inputs it was weighted from).

    Example: ``F.interpolate(x, scale_factor=2, mode='bilinear')`` doubles H and W of x.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if mode not in _INTERP_MODES:
        raise ValueError(f"interpolate: mode must be one of {sorted(_INTERP_MODES)}, got "
                         f"{mode!r}")
    nsp = t.ndim - 2
    if nsp not in _INTERP_MODES[mode]:
        raise ValueError(f"interpolate: mode {mode!r} needs a "
                         f"{' or '.join(str(d + 2) for d in _INTERP_MODES[mode])}-D input, got "
                         f"shape {tuple(t.shape)}")
    t = _float(t, "interpolate")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    spatial = tuple(t.shape[2:])
    if size is not None:
        sizes = (size,) * nsp if np.isscalar(size) else tuple(size)
        if len(sizes) != nsp:
            raise ValueError(f"interpolate: size {size} does not match the {nsp} spatial "
                             f"dimensions of input of shape {tuple(t.shape)}")
        for s_ in sizes:
            if isinstance(s_, bool) or not isinstance(s_, (numbers.Integral, np.integer)):
                raise TypeError(f"interpolate: size must be an int or a tuple of ints, got "
                                f"{size!r}")
        sizes = tuple(int(s) for s in sizes)
        scales = [i / o if o > 0 else 0.0 for i, o in zip(spatial, sizes)]
    else:
        factors = (scale_factor,) * nsp if np.isscalar(scale_factor) else tuple(scale_factor)
        if len(factors) != nsp:
            raise ValueError(f"interpolate: scale_factor {scale_factor} does not match the "
                             f"{nsp} spatial dimensions of input of shape {tuple(t.shape)}")
        for f in factors:
            if isinstance(f, bool) or not isinstance(f, (numbers.Real, np.number)):
                raise TypeError(f"interpolate: scale_factor must be a number or a tuple of "
                                f"numbers, got {scale_factor!r}")
            if not (math.isfinite(float(f)) and float(f) > 0):
                raise ValueError(f"interpolate: scale_factor must be finite and positive, got "
                                 f"{scale_factor!r}")
        sizes = tuple(int(np.floor(i * float(f))) for i, f in zip(spatial, factors))
        scales = ([i / o if o > 0 else 0.0 for i, o in zip(spatial, sizes)]
                  if recompute_scale_factor else [1.0 / float(f) for f in factors])
    if any(s <= 0 for s in sizes) or any(i <= 0 for i in spatial):
        raise ValueError(f"interpolate: input {tuple(t.shape)} and output {sizes} sizes must "
                         "be positive")
    # the output's size is checked before anything of that size (the index maps) is built
    numel = math.prod(t.shape[:2]) * math.prod(sizes)
    if numel * t._array.dtype.itemsize > 2**63 - 1:
        raise ValueError(f"interpolate: output size {tuple(t.shape[:2]) + sizes} (from "
                         f"{'size' if size is not None else 'scale_factor'}) overflows the "
                         f"addressable bytes")
    if mode == "area":  # torch's definition: adaptive average pooling to the output size
        from . import pooling, pooling_ext
        pool = {1: pooling_ext.adaptive_avg_pool1d, 2: pooling.adaptive_avg_pool2d,
                3: pooling_ext.adaptive_avg_pool3d}[nsp]
        y = pool(t, sizes)
    elif mode == "bicubic":  # Keys' cubic convolution, in sample.py
        from .sample import _bicubic
        y = _bicubic(t, sizes, scales, bool(align_corners))
    else:
        maps = tuple(_axis_map(i, o, mode, bool(align_corners), s)
                     for i, o, s in zip(spatial, sizes, scales))
        y = _Interp.apply(t, maps)
    if _cl_only(t._array):  # torch: a channels-last input gives a channels-last output
        y = y.contiguous(memory_format=channels_last)
    return y


# ---- unfold / fold (im2col and its adjoint) ---------------------------------------------------
def _window(fn, kernel_size, dilation, padding, stride):
    """The (kernel, dilation, padding, stride) pairs of unfold/fold, checked."""
    k, d = _tuple(kernel_size, 2, fn, "kernel_size"), _tuple(dilation, 2, fn, "dilation")
    p, s = _tuple(padding, 2, fn, "padding"), _tuple(stride, 2, fn, "stride")
    if min(k + d + s) < 1 or min(p) < 0:
        raise ValueError(f"{fn}: kernel_size, dilation and stride must be >= 1 and padding "
                         f">= 0, got {k}, {d}, {s}, {p}")
    return k, d, p, s


def _blocks(H, W, k, d, p, s, fn):
    oh = (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{fn}: no sliding block fits: input spatial size ({H}, {W}), "
                         f"kernel_size {k}, dilation {d}, padding {p}, stride {s}")
    return oh, ow


def _im2col(x, k, d, p, s, oh, ow):
    N, C = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = np.empty((N, C, k[0], k[1], oh, ow), x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            r, c = i * d[0], j * d[1]
            cols[:, :, i, j] = xp[:, :, r:r + s[0] * (oh - 1) + 1:s[0],
                                  c:c + s[1] * (ow - 1) + 1:s[1]]
    return cols.reshape(N, C * k[0] * k[1], oh * ow)


def _col2im(cols, C, H, W, k, d, p, s, oh, ow):
    N = cols.shape[0]
    c6 = cols.reshape(N, C, k[0], k[1], oh, ow)
    xp = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), cols.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            r, c = i * d[0], j * d[1]
            xp[:, :, r:r + s[0] * (oh - 1) + 1:s[0], c:c + s[1] * (ow - 1) + 1:s[1]] += \
                c6[:, :, i, j]
    return np.ascontiguousarray(xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W])


class _Unfold(_Op):
    @staticmethod
    def forward(ctx, x, geo):
        k, d, p, s, oh, ow = geo
        ctx.geo, ctx.shape = geo, x.shape
        return _im2col(x, k, d, p, s, oh, ow)

    @staticmethod
    def backward(ctx, g):
        k, d, p, s, oh, ow = ctx.geo
        _, C, H, W = ctx.shape
        return _col2im(np.ascontiguousarray(g), C, H, W, k, d, p, s, oh, ow), None


class _Fold(_Op):
    @staticmethod
    def forward(ctx, cols, geo):
        C, H, W, k, d, p, s, oh, ow = geo
        ctx.geo = geo
        return _col2im(np.ascontiguousarray(cols), C, H, W, k, d, p, s, oh, ow)

    @staticmethod
    def backward(ctx, g):
        C, H, W, k, d, p, s, oh, ow = ctx.geo
        return _im2col(np.ascontiguousarray(g), k, d, p, s, oh, ow), None


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of an (N, C, H, W) input as columns (im2col): output
    (N, C·kH·kW, L), L the number of block positions, channel-major then kernel row/column,
    as PyTorch's. Differentiable (the backward is ``fold``).

    Example: ``F.unfold(fastdl.randn(1, 3, 5, 5), 3).shape == (1, 27, 9)``
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    unbatched = t.ndim == 3
    if t.ndim not in (3, 4):
        raise ValueError(f"unfold: expected a 3-D or 4-D input, got shape {tuple(t.shape)}")
    if unbatched:
        t = t.unsqueeze(0)
    k, d, p, s = _window("unfold", kernel_size, dilation, padding, stride)
    oh, ow = _blocks(t.shape[2], t.shape[3], k, d, p, s, "unfold")
    out = _Unfold.apply(t, (k, d, p, s, oh, ow))
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding local blocks (columns as ``unfold`` makes them, (N, C·kH·kW, L)) back into
    an (N, C, H, W) tensor of ``output_size`` (col2im; overlapping blocks add up).
    Differentiable (the backward is ``unfold``).

    Example: ``F.fold(F.unfold(x, 2, stride=2), (4, 4), 2, stride=2)`` gives back x for
    (N, C, 4, 4) x.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    unbatched = t.ndim == 2
    if t.ndim not in (2, 3):
        raise ValueError(f"fold: expected a 2-D or 3-D input, got shape {tuple(t.shape)}")
    if unbatched:
        t = t.unsqueeze(0)
    H, W = _tuple(output_size, 2, "fold", "output_size")
    k, d, p, s = _window("fold", kernel_size, dilation, padding, stride)
    if t.shape[1] % (k[0] * k[1]):
        raise ValueError(f"fold: expected size of input's dimension 1 to be divisible by the "
                         f"product of kernel_size {k}, but got input of shape "
                         f"{tuple(t.shape)}")
    oh, ow = _blocks(H, W, k, d, p, s, "fold")
    if t.shape[2] != oh * ow:
        raise ValueError(f"fold: given output_size {(H, W)}, kernel_size {k}, dilation {d}, "
                         f"padding {p}, stride {s}, expected size of input's dimension 2 to "
                         f"match the number of sliding blocks {oh * ow}, but got "
                         f"{t.shape[2]}")
    C = t.shape[1] // (k[0] * k[1])
    out = _Fold.apply(t, (C, H, W, k, d, p, s, oh, ow))
    return out.squeeze(0) if unbatched else out
