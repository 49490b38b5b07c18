"""Indexing, each primitive with its backward: ``_GetItem`` (basic and advanced indexing;
the gradient scatter-adds back), ``_IndexPut`` (``x[idx] = v`` under autograd),
``_TakeAlong``, ``_Gather``, ``_Where``; and the public ops where, masked_fill,
index_select, gather.
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



def _index_arg(idx):
    if isinstance(idx, Tensor):
        return idx._array
    if isinstance(idx, tuple):
        return tuple(i._array if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


class _GetItem(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.idx = a.shape, idx
        try:
            out = a[idx]
        except IndexError as e:
            raise IndexError(f"index {idx!r} is out of bounds for a tensor of shape "
                             f"{a.shape}: {e}") from None
        return np.asarray(out)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # create_graph: a recorded scatter-add
            return _GetItemBackward.apply(g, ctx.shape, ctx.idx), None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, ctx.idx, g)
        return out, None


class _GetItemBackward(_Op):
    """The gradient of ``a[idx]``: ``g`` scatter-added into zeros of ``a``'s shape; its own
    gradient is ``gg[idx]`` (double backward of indexing)."""

    _double = True

    @staticmethod
    def forward(ctx, g, shape, idx):
        ctx.idx = idx
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, idx, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        if isinstance(gg, Tensor):
            return _GetItem.apply(gg, ctx.idx), None, None
        return np.asarray(gg[ctx.idx]), None, None


class _IndexPut(_Op):
    @staticmethod
    def forward(ctx, a, idx, v):
        ctx.idx = idx
        ctx.vshape = np.shape(v)
        out = a.copy()
        out[idx] = v
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga[ctx.idx] = 0
        gv = None
        if ctx.needs_input_grad[2]:
            gv = _sum_to(np.asarray(g[ctx.idx]), ctx.vshape)
        return ga, None, gv


class _TakeAlong(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, d, idx):
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        return np.take_along_axis(a, idx, axis=d)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # create_graph: a recorded scatter-add (double: a gather)
            return _ScatterAddAlong.apply(g, ctx.shape, ctx.d, ctx.idx), None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.d)
        return out, None, None


class _Gather(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, d, idx):
        if idx.ndim != a.ndim:
            raise ValueError(f"gather: index has {idx.ndim} dimensions, input has {a.ndim}")
        n = a.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"gather: index out of range for dimension {d} of size {n}")
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        return np.take_along_axis(a, idx, axis=d)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # create_graph
            return _ScatterAddAlong.apply(g, ctx.shape, ctx.d, ctx.idx), None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, tuple(ctx.idx if i == ctx.d else np.arange(s).reshape(
            [-1 if j == i else 1 for j in range(g.ndim)])
            for i, s in enumerate(ctx.idx.shape)), g)
        return out, None, None


class _ScatterAddAlong(_Op):
    """The gradient of ``take_along_dim``/``gather``: g summed into zeros of the input's shape
    at ``idx`` along dim d; its backward gathers there again (double backward)."""

    _double = True

    @staticmethod
    def forward(ctx, g, shape, d, idx):
        ctx.d, ctx.idx = d, idx
        out = np.zeros(shape, dtype=g.dtype)
        np.add.at(out, tuple(idx if i == d else np.arange(s).reshape(
            [-1 if j == i else 1 for j in range(idx.ndim)]) for i, s in enumerate(idx.shape)), g)
        return out

    @staticmethod
    def backward(ctx, gg):
        if isinstance(gg, Tensor):
            return _TakeAlong.apply(gg, ctx.d, ctx.idx), None, None, None
        return np.take_along_axis(gg, ctx.idx, axis=ctx.d), None, None, None


class _Where(_Op):
    _double = True

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.sa, ctx.sb = np.shape(a), np.shape(b)
        return np.asarray(np.where(cond, a, b))

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph: the same selection, recorded
            z = g._array.dtype.type(0)
            ga = _sum_to(_Where.apply(ctx.cond, g, z), ctx.sa) if n[1] else None
            gb = _sum_to(_Where.apply(ctx.cond, z, g), ctx.sb) if n[2] else None
            return None, ga, gb
        z = np.zeros((), dtype=g.dtype)
        ga = _sum_to(np.where(ctx.cond, g, z), ctx.sa) if n[1] else None
        gb = _sum_to(np.where(ctx.cond, z, g), ctx.sb) if n[2] else None
        return None, ga, gb



def where(condition, input, other):  # noqa: A002
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcast).
    Example: ``fastdl.where(x > 0, x, 0.0)``"""
    cond = np.asarray(_arr(condition))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got {cond.dtype}")
    a = _wrap_operand(input, None)
    b = _wrap_operand(other, None)
    return _Where.apply(cond, a, b)


