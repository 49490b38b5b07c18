"""fastdl.nn.functional: pooling (max, average, adaptive) and its output-size rule.

Python entry of ``csrc/bindings/bind_pool.cpp`` → ``csrc/kernels/pool/``.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, _cl_only, _nchw, _to_cl
from .conv import _check_tensor, _tuple

__all__ = ["pool_output_size", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "max_pool1d", "avg_pool1d"]


def _pool_out_1(size, k, s, p, d, ceil_mode):
    if k < 1:
        raise ValueError(f"pool_output_size: kernel_size must be >= 1, got {k}")
    if s < 1:
        raise ValueError(f"pool_output_size: stride must be >= 1, got {s}")
    if d < 1:
        raise ValueError(f"pool_output_size: dilation must be >= 1, got {d}")
    if p < 0:
        raise ValueError(f"pool_output_size: padding must be >= 0, got {p}")
    num = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-num // s) + 1
        if (out - 1) * s >= size + p:  # the last window would start past the input
            out -= 1
        rule = "ceil"
    else:
        out = num // s + 1
        rule = "floor"
    if out < 1:
        raise ValueError(
            f"pool_output_size: output size would be {out} < 1: {rule}((size + 2·padding − "
            f"dilation·(kernel_size − 1) − 1) / stride) + 1 = {rule}(({size} + 2·{p} − "
            f"{d}·({k} − 1) − 1) / {s}) + 1 = {out} (the window is larger than the padded "
            f"input)")
    return out


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of a pooling window sliding over each spatial dimension (PyTorch's rule):

        out = floor((size + 2·padding − dilation·(kernel_size − 1) − 1) / stride) + 1

    or, with ``ceil_mode=True``, the same with ceil — but a last window that would start beyond
    the input and its left padding (``(out − 1)·stride >= size + padding``) is dropped.
    ``stride=None`` means ``stride = kernel_size``. Arguments are ints or tuples (one entry
    per spatial dimension); ints broadcast. Returns an int when all arguments are ints, else a
    tuple. An output smaller than 1 is a ValueError showing the formula with the numbers.

    Caffe always ceils and never drops the last window, so sizes can differ: size 5, kernel 2,
    stride 2, padding 1 gives here floor(5/2)+1 = 3 (ceil_mode=False) and ceil(5/2)+1 = 4
    reduced to 3 with ceil_mode=True (the 4th window would start at 6−1 = 5 >= 5 + 1 − 1,
    i.e. entirely in the right padding), while Caffe gives 4.

    Example: ``pool_output_size(112, 2) == 56``; ``pool_output_size(112, 3, 2, 1,
    ceil_mode=True) == 57``; ``pool_output_size(6, 3, 2, ceil_mode=True) == 3``.
    """
    if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0):
        stride = kernel_size
    args = (size, kernel_size, stride, padding, dilation)
    names = ("size", "kernel_size", "stride", "padding", "dilation")
    n = max((len(a) for a in args if not isinstance(a, (int, np.integer))), default=0)
    if n == 0:
        vals = [_tuple(a, 1, "pool_output_size", nm)[0] for a, nm in zip(args, names)]
        return _pool_out_1(*vals, bool(ceil_mode))
    cols = [_tuple(a, n, "pool_output_size", nm) for a, nm in zip(args, names)]
    return tuple(_pool_out_1(*(c[i] for c in cols), bool(ceil_mode)) for i in range(n))


def _as4d(x, fn):
    if x.ndim not in (3, 4):
        raise ValueError(f"{fn}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{tuple(x.shape)}")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ValueError(f"{fn}: input spatial size must be >= 1, got shape {tuple(x.shape)}")


def _to4(a):
    a = _nchw(a) if a.__class__ is np.ndarray else np.ascontiguousarray(a)
    return a.reshape((1,) + a.shape) if a.ndim == 3 else a


def _window_args(fn, kernel_size, stride, padding, dilation, ceil_mode, shape):
    k = _tuple(kernel_size, 2, fn, "kernel_size")
    if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0):
        s = k
    else:
        s = _tuple(stride, 2, fn, "stride")
    p = _tuple(padding, 2, fn, "padding")
    d = _tuple(dilation, 2, fn, "dilation")
    if min(k) < 1:
        raise ValueError(f"{fn}: kernel_size must be >= 1, got {k}")
    if min(s) < 1:
        raise ValueError(f"{fn}: stride must be >= 1, got {s}")
    if min(d) < 1:
        raise ValueError(f"{fn}: dilation must be >= 1, got {d}")
    if min(p) < 0:
        raise ValueError(f"{fn}: padding must be >= 0, got {p}")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{fn}: padding {p} must be at most half of kernel_size {k}")
    try:
        pool_output_size(tuple(shape[-2:]), k, s, p, d, ceil_mode)
    except ValueError as e:
        raise ValueError(f"{fn}: input {tuple(shape)}: {e}") from None
    return k, s, p, d


class _PlaneMaxOp(_Op):
    """Max pooling whose kernel gives, with each output, the flat index of its maximum in the
    input plane: ``forward(ctx, x, *params, return_indices)`` runs the subclass's
    ``_pool(x4, params, want_indices)``; the backward adds g at those indices (a recorded
    scatter under create_graph, whose own backward is a gather)."""
    _double = True

    @classmethod
    def forward(cls, ctx, x, *args):
        *params, return_indices = args
        need = getattr(ctx, "needs_input_grad", None) is not None
        y, idx = cls._pool(_to4(x), params, bool(return_indices or need))
        ctx.in_shape = x.shape
        ctx.idx = idx
        ctx.n_params = len(args)
        # channels last in, channels last out (the kernel runs on an NCHW copy)
        ctx.cl = cl = not x.flags.c_contiguous and _cl_only(x)
        if cl:
            y = _to_cl(y)
            if return_indices:
                idx = _to_cl(idx)
        if x.ndim == 3:
            y = y[0]
            idx = None if idx is None else idx[0]
        return (y, idx) if return_indices else y

    @staticmethod
    def backward(ctx, g, *rest):
        sh = ctx.in_shape
        none = (None,) * ctx.n_params
        if isinstance(g, Tensor):  # create_graph
            return (_PlaneScatter.apply(g, ctx.idx, sh),) + none
        dx = _C.max_pool2d_backward(_to4(g), ctx.idx, sh[-2], sh[-1])
        return (_to_cl(dx) if ctx.cl else dx.reshape(sh),) + none


class _MaxPool2dOp(_PlaneMaxOp):
    @staticmethod
    def _pool(x4, params, want_indices):
        geo, ceil_mode = params
        return _C.max_pool2d(x4, *geo, bool(ceil_mode), want_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W):

        y[n, c, i, j] = max_{a < kH, b < kW} x[n, c, i·sH − pH + a·dH, j·sW − pW + b·dW]

    over the window's elements inside the input (padding never wins). ``stride`` defaults to
    ``kernel_size``; ``padding`` at most ``kernel_size // 2`` (PyTorch's check); output size
    from ``pool_output_size`` (``ceil_mode``). NaN propagates; ties go to the first element in
    row-major order. With ``return_indices`` also returns int64 indices ``h·W + w`` into each
    input plane (as PyTorch). Differentiable (the gradient goes to the chosen element).
    Differs from PyTorch in one corner: a dilated window with no element inside the input
    gives -inf with the index of the nearest input element (PyTorch's index can point
    outside the input there).

    Example: ``F.max_pool2d(fastdl.randn(1, 3, 8, 8), 2).shape == (1, 3, 4, 4)``
    """
    x = _check_tensor(input, "max_pool2d", "input")
    _as4d(x, "max_pool2d")
    k, s, p, d = _window_args("max_pool2d", kernel_size, stride, padding, dilation, ceil_mode,
                              x.shape)
    geo = (k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1])
    return _MaxPool2dOp.apply(x, geo, bool(ceil_mode), bool(return_indices))


class _AvgPool2dOp(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, geo, ceil_mode, cip, dov):
        x4 = _to4(x)
        y = _C.avg_pool2d(x4, *geo, ceil_mode, cip, dov)
        ctx.args = (geo, ceil_mode, cip, dov)
        ctx.in_shape = x.shape
        ctx.cl = not x.flags.c_contiguous and _cl_only(x)  # channels last in and out
        if ctx.cl:
            return _to_cl(y)
        return y[0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx, g):
        geo, ceil_mode, cip, dov = ctx.args
        sh = ctx.in_shape
        if isinstance(g, Tensor):  # create_graph: the adjoint as a recorded op
            return _AvgPoolBackward.apply(g, sh, ctx.args), None, None, None, None
        dx = _C.avg_pool2d_backward(_to4(g), sh[-2], sh[-1], *geo, ceil_mode, cip, dov)
        return (_to_cl(dx) if ctx.cl else dx.reshape(sh)), None, None, None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over (N, C, H, W) or (C, H, W):

        y[n, c, i, j] = Σ_window x / divisor

    The window [i·sH − pH, i·sH − pH + kH) is clipped to the padded input [−pH, H + pH);
    ``divisor`` = ``divisor_override`` if given, else the clipped window's area when
    ``count_include_pad`` (so a ceil-mode window hanging past the right padding does not count
    the overhang), else the number of its elements inside the input. ``stride`` defaults to
    ``kernel_size``; ``padding`` at most ``kernel_size // 2``. Differentiable.

    Example: ``F.avg_pool2d(fastdl.ones(1, 1, 4, 4), 2)`` is all ones, shape (1, 1, 2, 2).
    """
    x = _check_tensor(input, "avg_pool2d", "input")
    _as4d(x, "avg_pool2d")
    k, s, p, _ = _window_args("avg_pool2d", kernel_size, stride, padding, 1, ceil_mode,
                              x.shape)
    if divisor_override is None:
        dov = 0
    else:
        if isinstance(divisor_override, bool) or \
                not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0:
            raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int or None, "
                             f"got {divisor_override!r}")
        dov = int(divisor_override)
    geo = (k[0], k[1], s[0], s[1], p[0], p[1])
    return _AvgPool2dOp.apply(x, geo, bool(ceil_mode), bool(count_include_pad), dov)


def _adaptive_size(fn, output_size, shape):
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        o = (int(output_size),) * 2
    else:
        try:
            o = tuple(output_size)
        except TypeError:
            raise ValueError(f"{fn}: output_size must be an int or a pair, got "
                             f"{output_size!r}") from None
        if len(o) != 2:
            raise ValueError(f"{fn}: output_size must be an int or a pair, got {output_size!r}")
        o = tuple(shape[-2 + i] if e is None else e for i, e in enumerate(o))
        if not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in o):
            raise ValueError(f"{fn}: output_size must hold ints or None, got {output_size!r}")
        o = tuple(int(e) for e in o)
    if min(o) < 1:
        raise ValueError(f"{fn}: output_size must be >= 1, got {o}")
    return o


class _AdaptiveAvgOp(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, o):
        y = _C.adaptive_avg_pool2d(_to4(x), o[0], o[1])
        ctx.in_shape = x.shape
        # channels last in and out; to 1×1 (torch's mean) the input gradient is NCHW
        ctx.cl = o != (1, 1) and not x.flags.c_contiguous and _cl_only(x)
        if ctx.cl:
            return _to_cl(y)
        return y[0] if x.ndim == 3 else y

    @staticmethod
    def backward(ctx, g):
        sh = ctx.in_shape
        if isinstance(g, Tensor):  # create_graph: the adjoint as a recorded op
            return _AdaptiveAvgBackward.apply(g, sh), None
        dx = _C.adaptive_avg_pool2d_backward(_to4(g), sh[-2], sh[-1])
        return (_to_cl(dx) if ctx.cl else dx.reshape(sh)), None


def adaptive_avg_pool2d(input, output_size):
    """Adaptive 2-D average pooling to ``output_size`` (int or pair; None keeps that input
    size): output (i, j) averages rows [floor(i·H/OH), ceil((i+1)·H/OH)) and columns
    [floor(j·W/OW), ceil((j+1)·W/OW)). Differentiable.

    Example: ``F.adaptive_avg_pool2d(fastdl.randn(2, 8, 7, 7), 1).shape == (2, 8, 1, 1)``
    """
    x = _check_tensor(input, "adaptive_avg_pool2d", "input")
    _as4d(x, "adaptive_avg_pool2d")
    o = _adaptive_size("adaptive_avg_pool2d", output_size, x.shape)
    return _AdaptiveAvgOp.apply(x, o)


class _AdaptiveMaxOp(_PlaneMaxOp):
    @staticmethod
    def _pool(x4, params, want_indices):
        (o,) = params
        return _C.adaptive_max_pool2d(x4, o[0], o[1], want_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive 2-D max pooling to ``output_size`` (windows as ``adaptive_avg_pool2d``; NaN
    propagates, ties to the first element). With ``return_indices`` also returns int64
    indices ``h·W + w`` into each input plane. Differentiable.

    Example: ``F.adaptive_max_pool2d(fastdl.randn(2, 8, 9, 9), (3, 3)).shape == (2, 8, 3, 3)``
    """
    x = _check_tensor(input, "adaptive_max_pool2d", "input")
    _as4d(x, "adaptive_max_pool2d")
    o = _adaptive_size("adaptive_max_pool2d", output_size, x.shape)
    return _AdaptiveMaxOp.apply(x, o, bool(return_indices))


def _pool1d_args(fn, input, kernel_size, stride, padding, dilation=1):
    x = _check_tensor(input, fn, "input")
    if x.ndim not in (2, 3):
        raise ValueError(f"{fn}: expected 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{tuple(x.shape)}")
    k = _tuple(kernel_size, 1, fn, "kernel_size")[0]
    s = k if stride is None else _tuple(stride, 1, fn, "stride")[0]
    p = _tuple(padding, 1, fn, "padding")[0]
    d = _tuple(dilation, 1, fn, "dilation")[0]
    return x, (1, k), (1, s), (0, p), (1, d)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L): ``max_pool2d`` with height 1; indices are
    positions along L.

    Example: ``F.max_pool1d(fastdl.randn(2, 3, 10), 2).shape == (2, 3, 5)``
    """
    x, k, s, p, d = _pool1d_args("max_pool1d", input, kernel_size, stride, padding, dilation)
    r = max_pool2d(x.unsqueeze(-2), k, s, p, d, ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L): ``avg_pool2d`` with height 1.

    Example: ``F.avg_pool1d(fastdl.ones(1, 1, 6), 3).numpy().tolist() == [[[1.0, 1.0]]]``
    """
    x, k, s, p, _ = _pool1d_args("avg_pool1d", input, kernel_size, stride, padding)
    return avg_pool2d(x.unsqueeze(-2), k, s, p, ceil_mode, count_include_pad).squeeze(-2)


# ---- double backward (create_graph=True) ----------------------------------------------------
# Pooling is linear in its input once the window choice is fixed: y = P x. Its backward is
# dx = Pᵀ g, and the backward of that is P gg. Each Pᵀ below is an op whose backward is P.

class _PlaneScatter(_Op):
    """Max pooling's backward: g scattered (summed) into zeros of the input's shape at the
    per-plane flat indices of the maxima; its backward gathers at those indices."""

    _double = True

    @staticmethod
    def forward(ctx, g, idx, in_shape):
        ctx.idx, ctx.in_shape = idx, in_shape
        return _C.max_pool2d_backward(_to4(g), idx, in_shape[-2], in_shape[-1]).reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        return _PlaneGather.apply(gg, ctx.idx, ctx.in_shape), None, None


class _PlaneGather(_Op):
    """x[..., idx] per (n, c) plane (flat h·w indices): max pooling's forward for a fixed
    choice of maxima; its backward is ``_PlaneScatter``."""

    _double = True

    @staticmethod
    def forward(ctx, x, idx, in_shape):
        ctx.idx, ctx.in_shape = idx, in_shape
        ctx.out_shape = idx.shape if len(in_shape) == 4 else idx.shape[1:]
        x4 = _to4(x)
        i4 = idx.reshape((1,) + idx.shape) if idx.ndim == 3 else idx
        flat = x4.reshape(x4.shape[0], x4.shape[1], -1)
        out = np.take_along_axis(flat, i4.reshape(i4.shape[0], i4.shape[1], -1), axis=2)
        return out.reshape(ctx.out_shape)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return _PlaneScatter.apply(g, ctx.idx, ctx.in_shape), None, None
        sh = ctx.in_shape
        return _C.max_pool2d_backward(_to4(g), ctx.idx, sh[-2], sh[-1]).reshape(sh), None, None


class _AvgPoolBackward(_Op):
    """avg_pool2d's backward Pᵀ g as an op; its backward is avg_pool2d (P) itself."""

    _double = True

    @staticmethod
    def forward(ctx, g, in_shape, args):
        ctx.args = args
        geo, ceil_mode, cip, dov = args
        return _C.avg_pool2d_backward(_to4(g), in_shape[-2], in_shape[-1], *geo, ceil_mode, cip,
                                      dov).reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        geo, ceil_mode, cip, dov = ctx.args
        if isinstance(gg, Tensor):
            return _AvgPool2dOp.apply(gg, geo, ceil_mode, cip, dov), None, None
        y = _C.avg_pool2d(_to4(gg), *geo, ceil_mode, cip, dov)
        return (y[0] if gg.ndim == 3 else y), None, None


class _AdaptiveAvgBackward(_Op):
    """adaptive_avg_pool2d's backward as an op; its backward is adaptive_avg_pool2d."""

    _double = True

    @staticmethod
    def forward(ctx, g, in_shape):
        ctx.o = g.shape[-2:]
        return _C.adaptive_avg_pool2d_backward(_to4(g), in_shape[-2],
                                               in_shape[-1]).reshape(in_shape)

    @staticmethod
    def backward(ctx, gg):
        o = ctx.o
        if isinstance(gg, Tensor):
            return _AdaptiveAvgOp.apply(gg, o), None
        y = _C.adaptive_avg_pool2d(_to4(gg), o[0], o[1])
        return (y[0] if gg.ndim == 3 else y), None
