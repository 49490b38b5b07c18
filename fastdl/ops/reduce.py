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
from ..tensor import Tensor, _arr, _as_array, _wrap_operand
from ._util import (_BOOL, _F32, _FLOATS, _I64, _LOWP, _binary, _compare, _default_float,
                    _empty, _norm_dim, _norm_dims, _out, _result_dtype, _sum_to, _unary)
from .table import register

from .. import return_types as _rt
from ._util import (_F64, _array_of, _broadcast_to, _count, _expand_dims, _is_t, _like, _nd,
                    _no_graph, _squeeze, _wrap)
from .index import _TakeAlong


_add_reduce = np.add.reduce


class _Sum(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        if a.dtype is _F32 or a.dtype is _F64:
            return _array_of(_add_reduce(a, dims, None, None, keepdim))
        if a.dtype in _LOWP:  # accumulate float16/bfloat16 in float32, round once
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        if a.dtype.kind in "biu":  # integers and bools sum to int64, as torch
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_I64))
        return a.sum(axis=dims, keepdims=keepdim)  # a NumPy scalar is wrapped by _make

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = _expand_dims(g, ctx.dims)
        return _broadcast_to(g, ctx.shape), None, None


class _Mean(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.n = n = _count(a, dims)
        if n and (a.dtype is _F32 or a.dtype is _F64):  # np.mean's own steps, without its wrapper
            return _array_of(_add_reduce(a, dims, None, None, keepdim) / n)
        if a.dtype in _LOWP:
            return np.asarray(np.mean(a, axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        return np.asarray(np.mean(a, axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = _expand_dims(g, ctx.dims)
        return _broadcast_to(g / builtins.max(ctx.n, 1), ctx.shape), None, None


class _AMax(_Op):
    """max/min over dims; the gradient is shared evenly among tied extrema (PyTorch's amax)."""

    _double = True
    @staticmethod
    def forward(ctx, a, dims, keepdim, is_max):
        fn = np.maximum if is_max else np.minimum  # the ufunc's reduce: no np.max wrapper
        out = np.asarray(fn.reduce(a, axis=dims, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return _squeeze(out, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        a, out = _nd(a), _nd(out)
        mask = (a == out) | (np.isnan(a) & np.isnan(out))
        cnt = mask.sum(axis=ctx.dims, keepdims=True)
        g = g.reshape(out.shape)
        if _is_t(g):
            return g * _like((mask / cnt).astype(a.dtype), g), None, None, None
        return (mask * (g / cnt)).astype(a.dtype, copy=False), None, None, None


class _Prod(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = np.asarray(np.multiply.reduce(a, dims, None, None, True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return _squeeze(out, dims, keepdim)

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


def _tensor(x):
    """``x`` as a Tensor (array-likes and numbers as ``fastdl.tensor`` makes them)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._make(_as_array(x, copy=False))


@register()
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A001
    """Sum over ``dim`` (int, tuple/list, or None for all); integer and bool inputs sum in
    int64, as torch; ``dtype`` casts first.
    Example: ``fastdl.sum(fastdl.ones(2, 3), dim=1)`` gives ``[3., 3.]``"""
    if input.__class__ is not Tensor:
        input = _tensor(input)
    if dtype is None and out is None:  # the common cases, kept short
        if dim is None:
            return _Sum.apply(input, None, keepdim)
        if dim.__class__ is int:
            return _Sum.apply(input, (_norm_dim(dim, input._array.ndim, "sum"),), keepdim)
    t = _cast(input, dtype)
    return _out(_Sum.apply(t, _norm_dims(dim, t._array.ndim, "sum"), keepdim), out, "sum")


@register()
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean over ``dim`` (int, tuple/list, or all); the input (after ``dtype``) must be
    floating, as torch. Example: ``fastdl.mean(fastdl.tensor([1.0, 2.0]))`` gives ``1.5``"""
    t = input if input.__class__ is Tensor else _tensor(input)
    if dtype is None and out is None and t._array.dtype in _FLOATS:  # the common cases
        if dim is None:
            return _Mean.apply(t, None, keepdim)
        if dim.__class__ is int:
            return _Mean.apply(t, (_norm_dim(dim, t._array.ndim, "mean"),), keepdim)
    t = _cast(t, dtype)
    if t._array.dtype not in _FLOATS:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {t.dtype}")
    return _out(_Mean.apply(t, _norm_dims(dim, t._array.ndim, "mean"), keepdim), out, "mean")


def _extreme_all(t, is_max):
    """The largest (smallest) element of ``t`` as a 0-d Tensor; NaN wins, as in PyTorch.
    Without a graph to record it is one ``argmax`` and one element read (the ufunc's
    ``reduce`` costs twice that on small inputs)."""
    a = t._array
    if a.size == 0:
        name = "max" if is_max else "min"
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                           f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                           f"argument.")
    if _no_graph(t):
        flat = a.reshape(-1)
        return _wrap(np.array(flat[flat.argmax() if is_max else flat.argmin()]))
    return _AMax.apply(t, None, False, is_max)


def _minmax(t, dim, keepdim, is_max):
    if dim is None:
        return _extreme_all(t, is_max)
    name = "max" if is_max else "min"
    a = t._array
    d = _norm_dim(dim, a.ndim, name)
    ret = _rt.max if is_max else _rt.min
    if not a.ndim:
        return ret(_extreme_all(t, is_max), _wrap(np.zeros((), np.int64)))
    if a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    # NaN wins, as in PyTorch: argmax/argmin return the first NaN, and the ufunc's reduce
    # gives NaN there too (no gather)
    idx = a.argmax(d, None, keepdims=True) if is_max else a.argmin(d, None, keepdims=True)
    if _no_graph(t):
        vals = _wrap((np.maximum if is_max else np.minimum).reduce(a, d, None, None, keepdim))
    else:
        vals = _MaxAlong.apply(t, d, idx, keepdim, is_max)
    if idx.dtype is not _I64:
        idx = idx.astype(np.int64)
    return ret(vals, _wrap(idx if keepdim else idx.squeeze(d)))


class _MaxAlong(_TakeAlong):
    """The values of max/min along ``d`` whose indices ``idx`` (keepdims) argmax/argmin
    gave: the ufunc's reduce, which also gives NaN where argmax took the first NaN (no
    gather); the gradient goes to ``idx`` (``_TakeAlong``'s backward, also for
    create_graph)."""

    @staticmethod
    def forward(ctx, a, d, idx, keepdim, is_max):
        ctx.shape, ctx.d, ctx.idx, ctx.keepdim = a.shape, d, idx, keepdim
        return (np.maximum if is_max else np.minimum).reduce(a, axis=d, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = g.reshape(ctx.idx.shape)
        return _TakeAlong.backward(ctx, g)[0], None, None, None, None


def _other(dim):
    """max/min's second argument is a tensor (or array-like): the elementwise form."""
    return isinstance(dim, Tensor) or (dim is not None and
                                       not isinstance(dim, (int, np.integer)))


def _max_min(input, dim, keepdim, out, largest):
    """``max`` (largest) or ``min``: the extreme element, the named tuple ``(values,
    indices)`` along ``dim``, or with a tensor ``dim`` the elementwise ``maximum``/``minimum``."""
    name = "max" if largest else "min"
    if input.__class__ is not Tensor:
        input = _tensor(input)
    if dim is None and out is None and not keepdim:  # x.max(): the common case, kept short
        return _extreme_all(input, largest)
    if _other(dim):
        return (maximum if largest else minimum)(input, dim, out=out)
    if dim is None and keepdim:
        raise TypeError(f"{name}(): keepdim needs dim")
    r = _minmax(input, dim, keepdim, largest)
    if out is None:
        return r
    if isinstance(r, tuple):
        return (_rt.max if largest else _rt.min)(_out(r[0], out[0], name),
                                                 _out(r[1], out[1], name))
    return _out(r, out, name)


@register()
def max(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """The largest element; with ``dim`` the named tuple ``(values, indices)``; with a
    tensor as second argument, ``maximum``.
    Example: ``fastdl.max(fastdl.tensor([[1, 5], [7, 2]]), 1)`` gives values ``[5, 7]``,
    indices ``[1, 0]``"""
    return _max_min(input, dim, keepdim, out, True)


@register()
def min(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """The smallest element; with ``dim`` the named tuple ``(values, indices)``; with a
    tensor as second argument, ``minimum``. Example: ``fastdl.min(fastdl.tensor([3, 1]))``
    gives ``1``"""
    return _max_min(input, dim, keepdim, out, False)


@register()
def amax(input, dim=(), keepdim=False, *, out=None):
    """Largest values over ``dim`` (int, tuple/list, or all when empty or None); ties share
    the gradient. Example: ``fastdl.amax(fastdl.tensor([[1, 5], [7, 2]]), 0)``"""
    return _out(_amax_amin(input, dim, keepdim, True), out, "amax")


@register()
def amin(input, dim=(), keepdim=False, *, out=None):
    """Smallest values over ``dim`` (int, tuple/list, or all when empty or None); ties share
    the gradient. Example: ``fastdl.amin(fastdl.tensor([[1, 5], [7, 2]]), 0)``"""
    return _out(_amax_amin(input, dim, keepdim, False), out, "amin")


def _amax_amin(input, dim, keepdim, is_max):
    t = input if input.__class__ is Tensor else _tensor(input)
    a = t._array
    dims = _norm_dims(None if dim == () else dim, a.ndim, "amax" if is_max else "amin")
    if _no_graph(t):  # the ufunc's reduce directly: no graph node, no keepdims round trip
        r = (np.maximum if is_max else np.minimum).reduce(a, dims, None, None, keepdim)
        return _wrap(_array_of(r))
    return _AMax.apply(t, dims, keepdim, is_max)


def _argext(t, dim, keepdim, is_max):
    """argmax (``is_max``) or argmin of ``t`` (flattened when ``dim`` is None), int64; the
    ndarray's own method (NumPy's function adds a Python wrapper)."""
    a = t._array
    name = "argmax" if is_max else "argmin"
    if dim is None:
        if a.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        flat = a.reshape(-1)
        out = np.array(flat.argmax() if is_max else flat.argmin(), dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * a.ndim)
        return _wrap(out)
    d = _norm_dim(dim, a.ndim, name)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    r = a.argmax(d, None, keepdims=keepdim) if is_max else a.argmin(d, None, keepdims=keepdim)
    return _wrap(r if r.dtype is _I64 else r.astype(np.int64))


@register()
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None), int64.
    Example: ``fastdl.argmax(fastdl.tensor([1, 5, 2]))``"""
    return _argext(input if input.__class__ is Tensor else _tensor(input), dim, keepdim, True)


@register()
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None), int64.
    Example: ``fastdl.argmin(fastdl.tensor([1, 5, 2]))``"""
    return _argext(input if input.__class__ is Tensor else _tensor(input), dim, keepdim, False)


@register()
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Product over ``dim`` (one int, or all); integer and bool inputs multiply in int64;
    its own primitive so zeros keep an exact gradient.
    Example: ``fastdl.prod(fastdl.tensor([2.0, 3.0]))`` gives ``6.``"""
    t = _tensor(input)
    if dtype is None and t._array.dtype.kind in "biu" and t._array.dtype != _I64:
        dtype = _I64
    t = _cast(t, dtype)
    dims = _norm_dims(dim, t._array.ndim, "prod")
    if _no_graph(t):  # the ufunc's reduce directly: no graph node, no keepdims round trip
        r = np.multiply.reduce(t._array, dims, None, None, keepdim)
        return _out(_wrap(_array_of(r)), out, "prod")
    return _out(_Prod.apply(t, dims, keepdim), out, "prod")


from .arith import maximum, minimum  # noqa: E402
