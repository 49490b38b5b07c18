"""Scans along a dimension: cumsum, cumprod, cummax, cummin, logcumsumexp (and
``cumsum_``/``cumprod_``). Each is one ``_Op`` whose backward is a reverse scan.

Example::

    x = fastdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    fastdl.cumsum(x, 0)                   # [1., 3., 6.]
    fastdl.cummax(x, 0).indices           # [0, 1, 2]
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import return_types
from ..autograd.function import _Op
from ._support import as_tensor, arr, inplace, norm_dim, np_dtype, out_, wrap
from .select import scatter_add_array
from .table import register


def _rev_cumsum(g, d):
    return np.flip(np.cumsum(np.flip(g, d), axis=d), d)


def _cum(a, d, dt, prod):
    """cumsum/cumprod of ``a`` along ``d`` in dtype ``dt``: fastdl's kernel (double
    accumulation, as torch's CPU scan) for float32/float64, NumPy's otherwise."""
    if a.dtype == dt and (dt == np.float32 or dt == np.float64) and a.size:
        return _C.tensorops_cumop(np.ascontiguousarray(a), d, prod)
    return (np.cumprod if prod else np.cumsum)(a, axis=d, dtype=dt)


def _scan_dtype(a, dtype, what):
    if dtype is not None:
        return np_dtype(dtype, what)
    return np.dtype(np.int64) if a.dtype.kind in "biu" else a.dtype


class _CumSum(_Op):
    @staticmethod
    def forward(ctx, a, d, dt):
        ctx.d, ctx.src = d, a.dtype
        if a.ndim == 0:
            return a.astype(dt)
        return _cum(a, d, dt, False)

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g.astype(ctx.src), None, None
        return _rev_cumsum(g, ctx.d).astype(ctx.src, copy=False), None, None


@register()
def cumsum(input, dim, *, dtype=None, out=None):
    """Running sum along ``dim``: ``out[i] = Σ_{j ≤ i} input[j]``. Integer and bool inputs
    give int64 (as torch); ``dtype`` casts first. Gradient: the reverse running sum.

    Example: ``fastdl.cumsum(fastdl.tensor([1, 2, 3]), 0)`` gives ``[1, 3, 6]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "cumsum")
    dt = _scan_dtype(a, dtype, "cumsum")
    return out_(out, _CumSum.apply(x, d, dt), "cumsum")


@register()
def cumsum_(self, dim, *, dtype=None):
    """In place ``cumsum``. Example: ``x.cumsum_(0)``"""
    return inplace(self, lambda t: cumsum(t, dim, dtype=dtype), "cumsum_")


class _CumProd(_Op):
    @staticmethod
    def forward(ctx, a, d, dt):
        ctx.d, ctx.src = d, a.dtype
        if a.ndim == 0:
            out = a.astype(dt)
        else:
            out = _cum(a, d, dt, True)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        if a.ndim == 0:
            return g.astype(ctx.src), None, None
        d = ctx.d
        if (a != 0).all():
            return (_rev_cumsum(g * out, d) / a).astype(ctx.src, copy=False), None, None
        # exact with zeros: d out_j / d a_i = Π_{k ≤ j, k ≠ i} a_k for j ≥ i
        am = np.moveaxis(a, d, -1)
        gm = np.moveaxis(g, d, -1)
        om = np.moveaxis(out, d, -1)
        n = am.shape[-1]
        res = np.zeros_like(am, dtype=np.result_type(g, a))
        for i in range(n):
            prefix = om[..., i - 1] if i else np.ones(am.shape[:-1], om.dtype)
            tail = np.cumprod(am[..., i + 1:], axis=-1)
            acc = gm[..., i] + (gm[..., i + 1:] * tail).sum(-1)
            res[..., i] = prefix * acc
        return np.moveaxis(res, -1, d).astype(ctx.src, copy=False), None, None


@register()
def cumprod(input, dim, *, dtype=None, out=None):
    """Running product along ``dim``. Integer inputs give int64; the gradient is exact also
    where the input has zeros.

    Example: ``fastdl.cumprod(fastdl.tensor([1.0, 2.0, 3.0]), 0)`` gives ``[1., 2., 6.]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "cumprod")
    return out_(out, _CumProd.apply(x, d, _scan_dtype(a, dtype, "cumprod")), "cumprod")


@register()
def cumprod_(self, dim, *, dtype=None):
    """In place ``cumprod``. Example: ``x.cumprod_(0)``"""
    return inplace(self, lambda t: cumprod(t, dim, dtype=dtype), "cumprod_")


class _CumExt(_Op):
    """Running max/min; the gradient goes to the element each output was taken from."""

    @staticmethod
    def forward(ctx, a, d, is_max):
        if a.ndim == 0:
            ctx.idx, ctx.d, ctx.shape = np.zeros((), np.int64), 0, a.shape
            return a.copy(), np.zeros((), np.int64)
        if a.dtype.kind == "f" and a.dtype.itemsize >= 4:  # float32/float64: one C++ pass
            vals, idx = _C.tensorops_cumext(np.ascontiguousarray(a), d, is_max)
            ctx.idx, ctx.d, ctx.shape = idx, d, a.shape
            return vals, idx
        uf = np.maximum if is_max else np.minimum
        vals = uf.accumulate(a, axis=d)
        n = a.shape[d]
        view = [1] * a.ndim
        view[d] = n
        pos = np.arange(n).reshape(view)
        # a new running extremum (ties included: torch takes the latest index)
        hit = a == vals
        if a.dtype.kind == "f":
            nan = np.isnan(a)
            if nan.any():  # once NaN, the value stays NaN and the index at the latest NaN
                seen = np.cumsum(nan, axis=d)
                hit = np.where(seen > 0, nan, hit)
        idx = np.where(hit, pos, 0)
        np.maximum.accumulate(idx, axis=d, out=idx)
        ctx.idx, ctx.d, ctx.shape = idx, d, a.shape
        return vals, idx

    @staticmethod
    def backward(ctx, g, gi=None):
        if g.ndim == 0:
            return g, None, None
        return scatter_add_array(ctx.shape, ctx.idx, g, ctx.d, g.dtype), None, None


def _cumext(input, dim, is_max, out, what):
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, what)
    if a.size == 0:
        res = (x.clone(), wrap(np.zeros(a.shape, np.int64)))
    else:
        res = _CumExt.apply(x, d, is_max)
    rt = return_types.cummax if is_max else return_types.cummin
    return out_(out, rt(*res), what)


@register()
def cummax(input, dim, *, out=None):
    """Running maximum along ``dim`` and where it was taken from: a named tuple
    ``(values, indices)``; ties take the latest index and a NaN propagates, as torch.

    Example: ``fastdl.cummax(fastdl.tensor([1, 3, 3, 2]), 0)`` gives values ``[1, 3, 3, 3]``,
    indices ``[0, 1, 2, 2]``."""
    return _cumext(input, dim, True, out, "cummax")


@register()
def cummin(input, dim, *, out=None):
    """Running minimum along ``dim`` with its indices (named tuple ``(values, indices)``).

    Example: ``fastdl.cummin(fastdl.tensor([3, 1, 2]), 0).values`` gives ``[3, 1, 1]``."""
    return _cumext(input, dim, False, out, "cummin")


class _LogCumSumExp(_Op):
    @staticmethod
    def forward(ctx, a, d):
        if a.ndim == 0:
            out = a.copy()
        else:
            out = np.logaddexp.accumulate(a, axis=d)
        ctx.save_for_backward(a, out)
        ctx.d = d
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        if a.ndim == 0:
            return g, None
        d = ctx.d
        # grad_i = Σ_{j ≥ i} g_j exp(a_i - out_j), in log space for each sign of g
        with np.errstate(all="ignore"):
            res = np.zeros_like(a)
            for sign in (1, -1):
                lg = np.where(sign * g > 0, np.log(np.abs(g)), -np.inf) - out
                acc = np.flip(np.logaddexp.accumulate(np.flip(lg, d), axis=d), d)
                res = res + sign * np.exp(a + acc)
        return res.astype(a.dtype, copy=False), None


@register()
def logcumsumexp(input, dim, *, out=None):
    """``log Σ_{j ≤ i} exp(input[j])`` along ``dim``, computed stably (no overflow for large
    inputs). Gradient: ``Σ_{j ≥ i} g_j exp(input_i - out_j)``.

    Example: ``fastdl.logcumsumexp(fastdl.tensor([0.0, 0.0]), 0)`` gives ``[0., 0.6931]``."""
    x = as_tensor(input)
    a = arr(x)
    if a.dtype.kind != "f":
        from ._support import float_dtype
        x = x.to(float_dtype(a.dtype))
    d = norm_dim(dim, a.ndim, "logcumsumexp")
    return out_(out, _LogCumSumExp.apply(x, d), "logcumsumexp")


__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]
