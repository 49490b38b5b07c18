"""``fastdl.nn.functional``: the pools built on the 2-D pooling kernels — 1-D and 3-D
adaptive pools, 3-D max/avg pools, power-average (LP) pools, max unpooling, fractional max
pooling and the ``*_with_indices`` spellings.

Box pools are separable: the max over a D×H×W box is the max over D of the maxima over H×W.
So ``max_pool3d`` is two passes of the 2-D kernel — one over (H, W) per depth slice, one over
D with a window of height kD and width 1 — and inherits its backward. ``avg_pool3d`` and
``adaptive_avg_pool3d`` are one C++ kernel each way (``csrc/kernels/pool3d/``: separable box
windows, the backward writing each input gradient row once). Max unpooling and fractional
pooling are single ops on arrays.
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor
from ._args import _float as _t, _tuple as _tup
from .activation import relu
from .pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool1d,
                      max_pool2d, pool_output_size)

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_avg_pool3d", "adaptive_max_pool3d",
           "adaptive_max_pool3d_with_indices", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _batched(x, nd, fn):
    """(x as (N, C, *spatial), was it unbatched)."""
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: expected {nd + 1}-D or {nd + 2}-D input, got shape "
                         f"{tuple(x.shape)}")
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    return x, False


# ---------------------------------------------------------------------------------------
# 1-D adaptive pools and the *_with_indices spellings


def _osize1(output_size, fn):
    o = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    if not isinstance(o, numbers.Integral) or isinstance(o, bool) or o < 1:
        raise ValueError(f"{fn}: output_size must be a positive int, got {output_size!r}")
    return int(o)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """Adaptive 1-D average pooling of (N, C, L) or (C, L) to length ``output_size``: output i
    averages [floor(i·L/O), ceil((i+1)·L/O)).

    Example: ``F.adaptive_avg_pool1d(fastdl.randn(2, 3, 10), 4).shape == (2, 3, 4)``
    """
    x = _t(input, "adaptive_avg_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"adaptive_avg_pool1d: expected 2-D or 3-D input, got shape "
                         f"{tuple(x.shape)}")
    o = _osize1(output_size, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(x.unsqueeze(-2), (1, o)).squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """Adaptive 1-D max pooling (windows as ``adaptive_avg_pool1d``); with
    ``return_indices`` also the int64 positions along L.

    Example: ``F.adaptive_max_pool1d(fastdl.randn(2, 3, 10), 4).shape == (2, 3, 4)``
    """
    x = _t(input, "adaptive_max_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"adaptive_max_pool1d: expected 2-D or 3-D input, got shape "
                         f"{tuple(x.shape)}")
    o = _osize1(output_size, "adaptive_max_pool1d")
    r = adaptive_max_pool2d(x.unsqueeze(-2), (1, o), return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool1d`` returning (values, indices). Example:
    ``v, i = F.adaptive_max_pool1d_with_indices(x, 4)``"""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool2d`` returning (values, indices). Example:
    ``v, i = F.adaptive_max_pool2d_with_indices(x, (3, 3))``"""
    return adaptive_max_pool2d(input, output_size, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool1d`` returning (values, indices). Example:
    ``v, i = F.max_pool1d_with_indices(x, 2)``"""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool2d`` returning (values, indices). Example:
    ``v, i = F.max_pool2d_with_indices(x, 2)``"""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------------------------------------
# 3-D pools as two 2-D passes


def _osize3(output_size, shape, fn):
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        o = (int(output_size),) * 3
    else:
        o = tuple(output_size)
        if len(o) != 3:
            raise ValueError(f"{fn}: output_size must be an int or a triple, got "
                             f"{output_size!r}")
        o = tuple(shape[-3 + i] if e is None else int(e) for i, e in enumerate(o))
    if min(o) < 1:
        raise ValueError(f"{fn}: output_size must be >= 1, got {o}")
    return o


class _AdaptiveAvgPool3d(_Op):
    """x (N, C, D, H, W) -> (N, C, *out): one C++ op each way (``csrc/kernels/pool3d/``)."""

    @staticmethod
    def forward(ctx, x, out):
        x = np.ascontiguousarray(x)
        ctx.shape = x.shape
        return _C.adaptive_avg_pool3d(x, out)

    @staticmethod
    def backward(ctx, g):
        return _C.adaptive_avg_pool3d_backward(np.ascontiguousarray(g), ctx.shape), None


def adaptive_avg_pool3d(input, output_size):  # noqa: A002
    """Adaptive 3-D average pooling of (N, C, D, H, W) or (C, D, H, W) to ``output_size``
    (int or triple; None keeps that size): along each axis, output i of o averages the
    inputs [floor(i·n/o), ceil((i+1)·n/o)), and ``y[n, c, i, j, k]`` is the mean over the
    product of the three windows. One C++ kernel each way (``csrc/kernels/pool3d/``; NumPy
    twin ``fastdl.testing.reference.pool3d``).

    Example: ``F.adaptive_avg_pool3d(fastdl.randn(1, 2, 5, 6, 7), 2).shape == (1, 2, 2, 2, 2)``
    """
    fn = "adaptive_avg_pool3d"
    x, unb = _batched(_t(input, fn), 3, fn)
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{fn}: expected input with non-zero sizes for the depth, height and "
                         f"width, got shape {tuple(x.shape)}")
    y = _AdaptiveAvgPool3d.apply(x, _osize3(output_size, x.shape, fn))
    return y.squeeze(0) if unb else y


def _combine_indices(i2, iD, N, C, oD, oH, oW, H, W):
    """3-D flat indices d·H·W + h·W + w from the (H, W) pass indices i2 (N, C·D, oH, oW)
    and the depth pass indices iD (N, C, oD, oH·oW) = d·(oH·oW) + j."""
    hw = oH * oW
    d = iD // hw                                   # (N, C, oD, hw)
    j = iD % hw
    i2 = i2.reshape(N, C, -1, hw)                  # (N, C, D, hw)
    n_i = np.arange(N)[:, None, None, None]
    c_i = np.arange(C)[None, :, None, None]
    plane = i2[n_i, c_i, d, j]
    return (d * H * W + plane).reshape(N, C, oD, oH, oW)


def adaptive_max_pool3d(input, output_size, return_indices=False):  # noqa: A002
    """Adaptive 3-D max pooling (windows as ``adaptive_avg_pool3d``); with
    ``return_indices`` also int64 indices d·H·W + h·W + w into each input volume.

    Example: ``F.adaptive_max_pool3d(fastdl.randn(1, 2, 5, 6, 7), 2).shape == (1, 2, 2, 2, 2)``
    """
    fn = "adaptive_max_pool3d"
    x, unb = _batched(_t(input, fn), 3, fn)
    N, C, D, H, W = x.shape
    oD, oH, oW = _osize3(output_size, x.shape, fn)
    y2, i2 = adaptive_max_pool2d(x.reshape(N, C * D, H, W), (oH, oW), True)
    y, iD = adaptive_max_pool2d(y2.reshape(N, C, D, oH * oW), (oD, oH * oW), True)
    y = y.reshape(N, C, oD, oH, oW)
    if not return_indices:
        return y.squeeze(0) if unb else y
    idx = Tensor._make(_combine_indices(i2._array, iD._array, N, C, oD, oH, oW, H, W))
    return (y.squeeze(0), idx.squeeze(0)) if unb else (y, idx)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool3d`` returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def _window3(fn, kernel_size, stride, padding, dilation):
    k = _tup(kernel_size, 3, fn, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _tup(stride, 3, fn, "stride")
    p = _tup(padding, 3, fn, "padding")
    d = _tup(dilation, 3, fn, "dilation")
    return k, s, p, d


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W): the max of each (dilated)
    kD×kH×kW window; arguments, output size and NaN/tie rules as ``max_pool2d`` per dim.
    With ``return_indices`` also int64 indices d·H·W + h·W + w. Differentiable.

    Example: ``F.max_pool3d(fastdl.randn(1, 2, 4, 8, 8), 2).shape == (1, 2, 2, 4, 4)``
    """
    fn = "max_pool3d"
    x, unb = _batched(_t(input, fn), 3, fn)
    k, s, p, d = _window3(fn, kernel_size, stride, padding, dilation)
    N, C, D, H, W = x.shape
    y2, i2 = max_pool2d(x.reshape(N, C * D, H, W), k[1:], s[1:], p[1:], d[1:], ceil_mode, True)
    oH, oW = y2.shape[-2:]
    y, iD = max_pool2d(y2.reshape(N, C, D, oH * oW), (k[0], 1), (s[0], 1), (p[0], 0),
                       (d[0], 1), ceil_mode, True)
    oD = y.shape[2]
    y = y.reshape(N, C, oD, oH, oW)
    if not return_indices:
        return y.squeeze(0) if unb else y
    idx = Tensor._make(_combine_indices(i2._array, iD._array, N, C, oD, oH, oW, H, W))
    return (y.squeeze(0), idx.squeeze(0)) if unb else (y, idx)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool3d`` returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


class _AvgPool3d(_Op):
    """x (N, C, D, H, W) -> (N, C, *out): one C++ op each way (``csrc/kernels/pool3d/``)."""

    @staticmethod
    def forward(ctx, x, out, k, s, p, count_include_pad, dov):
        x = np.ascontiguousarray(x)
        ctx.shape = x.shape
        ctx.args = (k, s, p, count_include_pad, dov)
        return _C.avg_pool3d(x, out, k, s, p, count_include_pad, dov)

    @staticmethod
    def backward(ctx, g):
        gx = _C.avg_pool3d_backward(np.ascontiguousarray(g), ctx.shape, *ctx.args)
        return gx, None, None, None, None, None, None


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W): output (i, j, k) is the sum
    over the window [i·sD − pD, i·sD − pD + kD) × (likewise H, W), clipped to the input,
    divided by ``divisor_override`` if given, else by the window's volume clipped to the
    padded input (``count_include_pad=True``) or to the input (False). ``padding`` at most
    half of ``kernel_size``; output size as ``max_pool3d`` (``ceil_mode``). One C++ kernel
    each way (``csrc/kernels/pool3d/``; NumPy twin ``fastdl.testing.reference.pool3d``).

    Example: ``F.avg_pool3d(fastdl.ones(1, 1, 4, 4, 4), 2)`` is all ones, shape (1, 1, 2, 2, 2).
    """
    fn = "avg_pool3d"
    x, unb = _batched(_t(input, fn), 3, fn)
    k, s, p, _ = _window3(fn, kernel_size, stride, padding, 1)
    if min(k) < 1 or min(s) < 1:
        raise ValueError(f"{fn}: kernel_size {k} and stride {s} must be >= 1")
    if min(p) < 0 or any(p[i] > k[i] // 2 for i in range(3)):
        raise ValueError(f"{fn}: padding {p} must be >= 0 and at most half of kernel_size {k}")
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, numbers.Integral)
                                         or divisor_override == 0):
        raise ValueError(f"{fn}: divisor_override must be a non-zero int or None, got "
                         f"{divisor_override!r}")
    try:
        out = pool_output_size(tuple(x.shape[2:]), k, s, p, 1, ceil_mode)
    except ValueError as e:
        raise ValueError(f"{fn}: input {tuple(x.shape)}: {e}") from None
    dov = 0 if divisor_override is None else int(divisor_override)
    y = _AvgPool3d.apply(x, tuple(out), k, s, p, bool(count_include_pad), dov)
    return y.squeeze(0) if unb else y


# ---------------------------------------------------------------------------------------
# power-average pools


def _lp(x, norm_type, kernel_size, stride, ceil_mode, nd, fn):
    x = _t(x, fn)
    k = _tup(kernel_size, nd, fn, "kernel_size")
    if norm_type == float("inf"):
        if nd == 1:
            return max_pool1d(x, k[0], stride, 0, 1, ceil_mode)
        return (max_pool2d if nd == 2 else max_pool3d)(x, k, stride, 0, 1, ceil_mode)
    p = float(norm_type)
    if nd == 1:
        if x.ndim not in (2, 3):
            raise ValueError(f"{fn}: expected 2-D or 3-D input, got shape {tuple(x.shape)}")
        s = k if stride is None else _tup(stride, 1, fn, "stride")
        out = avg_pool2d((x ** p).unsqueeze(-2), (1, k[0]), (1, s[0]), 0, ceil_mode)
        out = out.squeeze(-2)
    elif nd == 2:
        out = avg_pool2d(x ** p, k, stride, 0, ceil_mode)
    else:
        out = avg_pool3d(x ** p, k, stride, 0, ceil_mode)
    # sign(out)·relu(|out|) is out itself except at exact zeros; written as PyTorch does
    out = out.sign() * relu(out.abs())
    return (out * float(np.prod(k))) ** (1.0 / p)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over (N, C, L); p = inf is max pooling.
    Example: ``F.lp_pool1d(fastdl.rand(1, 2, 8), 2, 3)``"""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over (N, C, H, W).
    Example: ``F.lp_pool2d(fastdl.rand(1, 2, 8, 8), 2, 2)``"""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over (N, C, D, H, W).
    Example: ``F.lp_pool3d(fastdl.rand(1, 2, 4, 4, 4), 2, 2)``"""
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")


# ---------------------------------------------------------------------------------------
# max unpooling


class _Unpool(_Op):
    """x (N, C, P) values, idx (N, C, P) positions in a plane of Q -> (N, C, Q)."""

    @staticmethod
    def forward(ctx, x, idx, Q):
        N, C, P = x.shape
        out = np.zeros((N, C, Q), dtype=x.dtype)
        n_i = np.arange(N)[:, None, None]
        c_i = np.arange(C)[None, :, None]
        out[n_i, c_i, idx] = x
        ctx.idx = idx
        return out

    @staticmethod
    def backward(ctx, g):
        N, C, _ = g.shape
        n_i = np.arange(N)[:, None, None]
        c_i = np.arange(C)[None, :, None]
        return g[n_i, c_i, ctx.idx], None, None


def _unpool(input, indices, kernel_size, stride, padding, output_size, nd, fn):
    x = _t(input, fn)
    idx = indices._array if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must be int64, got {idx.dtype}")
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: Expected shape of indices to be same as that of the input "
                         f"tensor ({tuple(x.shape)}) but got indices tensor with shape "
                         f"{tuple(idx.shape)}")
    xb, unb = _batched(x, nd, fn)
    k = _tup(kernel_size, nd, fn, "kernel_size")
    s = k if stride is None else _tup(stride, nd, fn, "stride")
    p = _tup(padding, nd, fn, "padding")
    insz = xb.shape[2:]
    default = tuple((insz[i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(nd))
    if output_size is None:
        osz = default
    else:
        osz = tuple(int(e) for e in output_size)
        if len(osz) == nd + 2 or len(osz) == nd + 1:
            osz = osz[-nd:]
        if len(osz) != nd:
            raise ValueError(f"{fn}: output_size must have {nd} elements, got {output_size!r}")
        for i in range(nd):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < osz[i] < hi:
                raise ValueError(f"{fn}: invalid output_size {osz} (dim {i} must be between "
                                 f"{lo} and {hi})")
    Q = int(np.prod(osz))
    N, C = xb.shape[:2]
    ib = idx.reshape((N, C, -1)).astype(np.int64)
    if ib.size and (ib.min() < 0 or ib.max() >= Q):
        raise RuntimeError(f"{fn}: Found an invalid max index: {int(ib.max())} (output volumes "
                           f"are of size {'x'.join(map(str, osz))})")
    y = _Unpool.apply(xb.reshape(N, C, -1), ib, Q).reshape(N, C, *osz)
    return y.squeeze(0) if unb else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """Partial inverse of ``max_pool1d``: each value goes to its index, the rest are zero;
    output length (L − 1)·stride − 2·padding + kernel_size unless ``output_size``.
    Example: ``F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2)``"""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 1,
                   "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """Partial inverse of ``max_pool2d`` (indices h·W + w into each output plane).
    Example: ``F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)``"""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 2,
                   "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """Partial inverse of ``max_pool3d`` (indices d·H·W + h·W + w).
    Example: ``F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2)``"""
    return _unpool(input, indices, kernel_size, stride, padding, output_size, 3,
                   "max_unpool3d")


# ---------------------------------------------------------------------------------------
# fractional max pooling


def _intervals(sample, n_in, n_out, k):
    """Window starts of one dim (Graham's pseudo-random pooling regions), PyTorch's rule."""
    if n_out == 1:
        return np.array([n_in - k], dtype=np.int64)
    alpha = (n_in - k) / (n_out - 1)
    i = np.arange(n_out - 1)
    seq = ((i + sample) * alpha).astype(np.int64) - int(sample * alpha)
    return np.append(seq, n_in - k).astype(np.int64)


class _FracMax(_Op):
    """x (N, C, *S) -> max over the windows starting at starts[d] (N, C, O_d) of size k_d."""

    @staticmethod
    def forward(ctx, x, starts, k):
        nd = len(k)
        N, C = x.shape[:2]
        S = x.shape[2:]
        # absolute positions per dim: (N, C, O_d, k_d)
        pos = [starts[d][..., None] + np.arange(k[d]) for d in range(nd)]
        n_i = np.arange(N).reshape((N, 1) + (1,) * (2 * nd))
        c_i = np.arange(C).reshape((1, C) + (1,) * (2 * nd))
        # index arrays shaped (N, C, O_1, .., O_nd, k_1, .., k_nd)
        idx = []
        for d in range(nd):
            O_d = pos[d].shape[2]
            shape = [N, C] + [O_d if j == d else 1 for j in range(nd)] + \
                [k[d] if j == d else 1 for j in range(nd)]
            idx.append(pos[d].reshape(shape))
        vals = x[(n_i, c_i) + tuple(idx)]
        O = vals.shape[2:2 + nd]
        flatv = vals.reshape(N, C, *O, -1)
        am = np.argmax(flatv, axis=-1)
        nan = np.isnan(flatv).any(axis=-1)
        if nan.any():
            am = np.where(nan, np.argmax(np.isnan(flatv), axis=-1), am)
        out = np.take_along_axis(flatv, am[..., None], -1)[..., 0]
        # flat input index of each chosen element
        ks = np.unravel_index(am, k)
        flat = np.zeros(am.shape, dtype=np.int64)
        for d in range(nd):
            st = starts[d].reshape([N, C] + [starts[d].shape[2] if j == d else 1
                                             for j in range(nd)])
            flat = flat * S[d] + (st + ks[d])
        ctx.flat, ctx.shape = flat, x.shape
        return out, flat

    @staticmethod
    def backward(ctx, g, _gi=None):
        N, C = ctx.shape[:2]
        gx = np.zeros((N, C, int(np.prod(ctx.shape[2:]))), dtype=g.dtype)
        n_i = np.arange(N)[:, None, None]
        c_i = np.arange(C)[None, :, None]
        np.add.at(gx, (n_i, c_i, ctx.flat.reshape(N, C, -1)), g.reshape(N, C, -1))
        return gx.reshape(ctx.shape), None, None


def _fractional(input, kernel_size, output_size, output_ratio, return_indices,
                _random_samples, nd, fn):
    x, unb = _batched(_t(input, fn), nd, fn)
    k = _tup(kernel_size, nd, fn, "kernel_size")
    S = tuple(x.shape[2:])
    N, C = x.shape[:2]
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{fn} requires specifying either an output_size or an "
                             f"output_ratio")
        r = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        if len(r) != nd or not all(0 < float(e) < 1 for e in r):
            raise ValueError(f"{fn}: output_ratio must be in (0, 1), got {output_ratio!r}")
        o = tuple(int(S[d] * float(r[d])) for d in range(nd))
    else:
        o = _tup(output_size, nd, fn, "output_size")
    for d in range(nd):
        if k[d] < 1 or o[d] < 1 or o[d] + k[d] - 1 > S[d]:
            raise ValueError(f"{fn}: output_size {o} + kernel_size {k} - 1 must not exceed the "
                             f"input size {S} (and all must be >= 1)")
    if _random_samples is None:
        from ...random import default_generator
        samples = default_generator().random((N, C, nd)).astype(x._array.dtype)
    else:
        samples = _random_samples._array if isinstance(_random_samples, Tensor) else \
            np.asarray(_random_samples)
        if samples.shape != (N, C, nd):
            raise ValueError(f"{fn}: _random_samples must have shape {(N, C, nd)}, got "
                             f"{samples.shape}")
    # PyTorch's sample order: (W, H) in 2-D, (D, H, W) in 3-D
    starts = []
    for d in range(nd):
        sd = samples[:, :, (nd - 1 - d) if nd == 2 else d].astype(np.float64)
        st = np.empty((N, C, o[d]), dtype=np.int64)
        for n in range(N):
            for c in range(C):
                st[n, c] = _intervals(float(sd[n, c]), S[d], o[d], k[d])
        starts.append(st)
    y, idx = _FracMax.apply(x, starts, k)
    if unb:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling (Graham, 2014) of (N, C, H, W): windows of ``kernel_size``
    whose starts follow a pseudo-random sequence (one uniform sample per (sample, channel,
    dim), from fastdl's generator or ``_random_samples`` (N, C, 2)) so that the output has
    ``output_size`` (or ``output_ratio`` × input size). PyTorch's interval rule, so equal
    samples give PyTorch's output.

    Example: ``F.fractional_max_pool2d(fastdl.randn(1, 2, 10, 10), 3, output_size=6)``
    """
    return _fractional(input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples, 2, "fractional_max_pool2d")


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """``fractional_max_pool2d`` returning (values, indices)."""
    return _fractional(input, kernel_size, output_size, output_ratio, True, _random_samples, 2,
                       "fractional_max_pool2d")


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling of (N, C, D, H, W); see ``fractional_max_pool2d``
    (``_random_samples`` (N, C, 3)).
    Example: ``F.fractional_max_pool3d(fastdl.randn(1, 2, 8, 8, 8), 2, output_size=5)``"""
    return _fractional(input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples, 3, "fractional_max_pool3d")


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """``fractional_max_pool3d`` returning (values, indices)."""
    return _fractional(input, kernel_size, output_size, output_ratio, True, _random_samples, 3,
                       "fractional_max_pool3d")
