"""Reductions, each with its backward: sum, mean (``_Sum``, ``_Mean``), max/min/amax/amin
(``_AMax``, ties share the gradient; with ``dim``, max/min return
``fastdl.return_types.max``/``min`` named tuples), prod (``_Prod``, exact at zeros), and
composites var, std, norm, argmax, argmin, aminmax. ``dim`` is an int, a tuple or None
(all); ``dtype=`` casts the input first, as torch.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..autograd.function import _Op
from ..tensor import Tensor, _arr, _wrap_operand
from ._util import (_BOOL, _F32, _FLOATS, _I64, _LOWP, _binary, _compare, _default_float,
                    _empty, _norm_dim, _norm_dims, _out, _result_dtype, _sum_to, _unary)
from .table import register

from .. import return_types as _rt
from ._util import _F64
from .index import _TakeAlong


_add_reduce = np.add.reduce


class _Sum(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        if a.dtype is _F32 or a.dtype is _F64:
            out = _add_reduce(a, dims, None, None, keepdim)
            return out if out.__class__ is np.ndarray else np.asarray(out)
        if a.dtype in _LOWP:  # accumulate float16/bfloat16 in float32, round once
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        if a.dtype.kind in "biu":  # integers and bools sum to int64, as torch
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_I64))
        return a.sum(axis=dims, keepdims=keepdim)  # a NumPy scalar is wrapped by _make

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return np.broadcast_to(g, ctx.shape), None, None


class _Mean(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        n = a.size if dims is None else int(np.prod([a.shape[d] for d in dims]))
        ctx.n = n
        if a.dtype in _LOWP:
            return np.asarray(np.mean(a, axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        return np.asarray(np.mean(a, axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return np.broadcast_to(g / builtins.max(ctx.n, 1), ctx.shape), None, None


class _AMax(_Op):
    """max/min over dims; the gradient is shared evenly among tied extrema (PyTorch's amax)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, is_max):
        fn = np.max if is_max else np.min
        out = np.asarray(fn(a, axis=dims, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        if keepdim:
            return out
        return out.reshape(()) if dims is None else np.squeeze(out, axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = (a == out) | (np.isnan(a) & np.isnan(out))
        cnt = mask.sum(axis=ctx.dims, keepdims=True)
        g = g.reshape(out.shape)
        return (mask * (g / cnt)).astype(a.dtype, copy=False), None, None, None


class _Prod(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = np.asarray(np.prod(a, axis=dims, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        if keepdim:
            return out
        return out.reshape(()) if dims is None else np.squeeze(out, axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        g = g.reshape(out.shape)
        # product of the others, exact also where a == 0
        axes = ctx.dims if ctx.dims is not None else tuple(range(a.ndim))
        moved = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
        flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        others = np.moveaxis(others, tuple(range(-len(axes), 0)), axes)
        return g * others, None, None



def _cast(input, dtype):
    return input if dtype is None else input.to(dtype)


@register(function=False)
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A001
    """Sum over ``dim`` (int, tuple or None for all); integers and bools sum to int64.
    Example: ``x.sum(dim=1)``"""
    if dim is None and dtype is None and out is None:  # the common case, kept short
        return _Sum.apply(input, None, keepdim)
    t = _cast(input, dtype)
    return _out(_Sum.apply(t, _norm_dims(dim, t._array.ndim, "sum"), keepdim), out, "sum")


@register(function=False)
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over ``dim``; the input (after ``dtype``) must be floating, as torch.
    Example: ``x.mean(0, keepdim=True)``"""
    t = _cast(input, dtype)
    if t._array.dtype not in _FLOATS:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {t.dtype}")
    return _out(_Mean.apply(t, _norm_dims(dim, t._array.ndim, "mean"), keepdim), out, "mean")


def _count(t, dims):
    n = 1
    for d in (dims if dims is not None else range(t._array.ndim)):
        n *= t._array.shape[d]
    return n


@register(function=False)
def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None, out=None):
    """Variance over ``dim`` with ``correction`` (default 1: unbiased; ``unbiased=False`` is
    0), as torch. Composite. Example: ``x.var(dim=0, correction=0)``"""
    dims = _norm_dims(dim, input._array.ndim, "var")
    c = (1 if unbiased else 0) if correction is None else correction
    d = input - mean(input, dims, keepdim=True)
    return _out((d * d).sum(dims, keepdim=keepdim) / builtins.max(_count(input, dims) - c, 0),
                out, "var")


@register(function=False)
def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None, out=None):
    """Standard deviation, ``sqrt(var(...))``. Example: ``x.std(1)``"""
    return _out(var(input, dim, unbiased, keepdim, correction=correction).sqrt(), out, "std")


def _minmax(t, dim, keepdim, is_max):
    name = "max" if is_max else "min"
    if dim is None:
        if t._array.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument.")
        return _AMax.apply(t, None, False, is_max)
    d = _norm_dim(dim, t._array.ndim, name)
    if t._array.ndim and t._array.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    # NaN wins, as in PyTorch: argmax/argmin return the first NaN
    fn = np.argmax if is_max else np.argmin
    a = t._array if t._array.ndim else t._array.reshape(1)
    idx = fn(a, axis=d, keepdims=True)
    vals = _TakeAlong.apply(t if t._array.ndim else t.reshape(1), d, idx)
    if not keepdim or not t._array.ndim:
        vals = vals.squeeze(d)
        idx = idx.squeeze(d)
    ret = _rt.max if is_max else _rt.min
    return ret(vals, Tensor._make(idx.astype(np.int64, copy=False)))


@register(function=False)
def max(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """The largest element; with ``dim`` the named tuple ``(values, indices)``; with a
    tensor as second argument, ``maximum``. Example: ``values, idx = x.max(dim=1)``"""
    if isinstance(dim, Tensor):
        return maximum(input, dim, out=out)
    r = _minmax(input, dim, keepdim, True)
    if out is not None:
        if isinstance(r, tuple):
            return _rt.max(_out(r[0], out[0], "max"), _out(r[1], out[1], "max"))
        return _out(r, out, "max")
    return r


@register(function=False)
def min(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """The smallest element; with ``dim`` the named tuple ``(values, indices)``; with a
    tensor as second argument, ``minimum``. Example: ``x.min(0).indices``"""
    if isinstance(dim, Tensor):
        return minimum(input, dim, out=out)
    r = _minmax(input, dim, keepdim, False)
    if out is not None:
        if isinstance(r, tuple):
            return _rt.min(_out(r[0], out[0], "min"), _out(r[1], out[1], "min"))
        return _out(r, out, "min")
    return r


@register(function=False)
def amax(input, dim=(), keepdim=False, *, out=None):
    """Largest values over ``dim`` (all when empty or None); ties share the gradient."""
    dims = _norm_dims(None if dim == () else dim, input._array.ndim, "amax")
    return _out(_AMax.apply(input, dims, keepdim, True), out, "amax")


@register(function=False)
def amin(input, dim=(), keepdim=False, *, out=None):
    """Smallest values over ``dim`` (all when empty or None); ties share the gradient."""
    dims = _norm_dims(None if dim == () else dim, input._array.ndim, "amin")
    return _out(_AMax.apply(input, dims, keepdim, False), out, "amin")


def _argext(t, dim, keepdim, fn):
    if dim is None:
        r = fn(t._array.reshape(-1))
        out = np.asarray(r, dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * t._array.ndim)
        return Tensor._make(out)
    d = _norm_dim(dim, t._array.ndim, "argmax")
    return Tensor._make(fn(t._array, axis=d, keepdims=keepdim).astype(np.int64, copy=False))


@register(function=False)
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _argext(input, dim, keepdim, np.argmax)


@register(function=False)
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _argext(input, dim, keepdim, np.argmin)


@register(function=False)
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product over ``dim`` (one int, or all); its own primitive so zeros keep an exact
    gradient. Example: ``x.prod(1)``"""
    t = _cast(input, dtype)
    return _out(_Prod.apply(t, _norm_dims(dim, t._array.ndim, "prod"), keepdim), out, "prod")


from .arith import maximum, minimum  # noqa: E402
