"""Reductions: logsumexp, median/nanmedian, mode, quantile, nansum, nanmean, count_nonzero,
any/all with ``dim``, std_mean/var_mean, aminmax, norm (``p``, ``dim``; the gradient of a
zero vector's norm is 0, as torch), and the function forms of the Tensor reductions
(``fastdl.sum(x, dim=1)``, ``fastdl.max(x, 1)``, ...) with torch's signatures.

Example::

    x = fastdl.tensor([[1.0, 5.0, 3.0]])
    fastdl.median(x, 1)            # values [3.], indices [2]
    fastdl.logsumexp(x, dim=1)     # [5.1429]
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import _C, return_types
from ..autograd.function import _Op
from ._support import (Tensor, arr, as_tensor, float_dtype, norm_dim, norm_dims, np_dtype,
                       out_, wrap)
from ._util import (_F32, _F64, _broadcast_to, _count, _empty, _is_t, _nd, _no_graph,
                    _squeeze, _wrap)
from .select import take_along
from .table import register


# ---- logsumexp ------------------------------------------------------------------------------


class _LogSumExp(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        with np.errstate(all="ignore"):
            m = np.maximum.reduce(a, dims, None, None, True) if a.size else np.zeros(
                [1 if dims is None or i in dims else s for i, s in enumerate(a.shape)], a.dtype)
            m = np.where(np.isfinite(m), m, 0)
            # exp(a - m) in one temporary (from the caching pool when large), summed in place
            t = np.subtract(a, m, out=_empty(a.shape, a.dtype)) if a.dtype.kind == "f" \
                else a - m
            np.exp(t, out=t)
            s = np.log(np.add.reduce(t, dims, None, None, True)) + m
        ctx.save_for_backward(a, s)
        ctx.dims, ctx.keepdim = dims, keepdim
        return _squeeze(s, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: g·exp(a − lse), lse this op's output
            from ..autograd.function import _output_tensor
            st = _output_tensor(ctx, 0, _squeeze(s._array, ctx.dims, ctx.keepdim))
            return g.reshape(s.shape) * (a - st.reshape(s.shape)).exp(), None, None
        g = g.reshape(s.shape)
        with np.errstate(all="ignore"):
            return (g * np.exp(a - s)).astype(a.dtype, copy=False), None, None


@register()
def logsumexp(input, dim, keepdim=False, *, out=None):
    """``log Σ exp(input)`` over ``dim`` (int or tuple), shifted by the maximum so large
    inputs do not overflow; an integer input gives the default float dtype.
    Gradient: ``softmax``.

    Example: ``fastdl.logsumexp(fastdl.tensor([[0.0, 0.0]]), dim=1)`` gives ``[0.6931]``."""
    x = as_tensor(input)
    a = arr(x)
    if a.dtype.kind != "f":
        x = x.to(float_dtype(a.dtype))
    dims = norm_dims(dim, a.ndim, "logsumexp")
    if a.ndim == 0:
        dims = None
    return out_(out, _LogSumExp.apply(x, dims, keepdim), "logsumexp")


# ---- order statistics -----------------------------------------------------------------------


def _select_kth(x, d, k_of_n, keepdim, rt, what, nan_last=True):
    """values, indices of the k-th smallest (``k_of_n(n_valid)``) along ``d``."""
    a = arr(x)
    if a.ndim == 0:
        return rt(x.clone(), wrap(np.zeros((), np.int64)))
    if a.shape[d] == 0:
        raise IndexError(f"{what}(): Expected reduction dim {d} to have non-zero size.")
    if a.dtype.kind == "f":
        nv = (~np.isnan(a)).sum(axis=d, keepdims=True)
    else:
        nv = np.full([1 if i == d else s for i, s in enumerate(a.shape)], a.shape[d])
    k = k_of_n(nv, a.shape[d])
    if k.size and k.min() == k.max():
        # one rank for every slice: a partial selection (O(n)); NaN sorts last as in sort
        kk = int(k.flat[0])
        idx = np.take(np.argpartition(a, kk, axis=d), [kk], axis=d)
    else:
        order = np.argsort(a, axis=d, kind="stable")  # NaN sorts last
        idx = np.take_along_axis(order, k, axis=d)
    vals = take_along(x, d, idx)
    if not keepdim:
        vals = vals.squeeze(d)
        idx = idx.squeeze(d)
    return rt(vals, wrap(idx.astype(np.int64)))


def _median_k(nan_policy):
    def k_of_n(nv, n):
        if nan_policy == "propagate":
            # a slice with a NaN gives the (first) NaN, as torch
            k = np.where(nv < n, nv, (n - 1) // 2)
        else:
            k = np.maximum(nv - 1, 0) // 2
        return k.astype(np.int64)
    return k_of_n


@register()
def median(input, dim=None, keepdim=False, *, out=None):
    """The lower median (for an even count the smaller of the two middle values, as torch):
    of all elements when ``dim`` is None, else a named tuple ``(values, indices)`` along
    ``dim``. A NaN in a slice makes its median NaN. The gradient goes to the chosen element.

    Example: ``fastdl.median(fastdl.tensor([1.0, 4.0, 2.0, 3.0]))`` gives ``2.``."""
    x = as_tensor(input)
    a = arr(x)
    if dim is None:
        if a.size == 0:
            return wrap(np.asarray(np.nan, a.dtype))
        r = _select_kth(x.reshape(-1), 0, _median_k("propagate"), False, return_types.median,
                        "median")
        return out_(out, r.values, "median")
    d = norm_dim(dim, a.ndim, "median")
    return out_(out, _select_kth(x, d, _median_k("propagate"), keepdim, return_types.median,
                                 "median"), "median")


@register()
def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """``median`` ignoring NaN (NaN only where a slice is all NaN).

    Example: ``fastdl.nanmedian(fastdl.tensor([1.0, float('nan'), 3.0]))`` gives ``1.``."""
    x = as_tensor(input)
    a = arr(x)
    if dim is None:
        if a.size == 0:
            return wrap(np.asarray(np.nan, a.dtype))
        r = _select_kth(x.reshape(-1), 0, _median_k("omit"), False, return_types.nanmedian,
                        "nanmedian")
        return out_(out, r.values, "nanmedian")
    d = norm_dim(dim, a.ndim, "nanmedian")
    return out_(out, _select_kth(x, d, _median_k("omit"), keepdim, return_types.nanmedian,
                                 "nanmedian"), "nanmedian")


@register()
def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The ``k``-th smallest element (1-based) along ``dim`` and its index: a named tuple
    ``(values, indices)``. Gradient to the chosen element.

    Example: ``fastdl.kthvalue(fastdl.tensor([3.0, 1.0, 2.0]), 2)`` gives values ``2.``,
    indices ``2``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "kthvalue")
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {d} "
                         f"(k={k}, size {n})")
    return out_(out, _select_kth(x, d, lambda nv, n_: np.full(nv.shape, k - 1, np.int64),
                                 keepdim, return_types.kthvalue, "kthvalue"), "kthvalue")


@register()
def mode(input, dim=-1, keepdim=False, *, out=None):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and
    the index of its last occurrence, as torch: a named tuple ``(values, indices)``.

    Example: ``fastdl.mode(fastdl.tensor([1, 2, 2, 1, 3]))`` gives values ``1``, indices
    ``3``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "mode")
    if a.ndim == 0:
        return out_(out, return_types.mode(x.clone(), wrap(np.zeros((), np.int64))), "mode")
    if a.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    m = np.moveaxis(a, d, -1)
    rows = m.reshape(-1, m.shape[-1])
    n = rows.shape[1]
    if rows.dtype in _MODE_KERNEL and rows.size:
        # one C++ sort per row: the longest run, then its value's last index
        _, pos = _C.tensorops_mode(np.ascontiguousarray(rows))
        return _mode_result(x, pos, m.shape[:-1], d, keepdim, out)
    order = np.argsort(rows, axis=1, kind="stable")
    srt = np.take_along_axis(rows, order, axis=1)
    # run starts in each sorted row
    new = np.ones(srt.shape, bool)
    if n > 1:
        neq = srt[:, 1:] != srt[:, :-1]
        if srt.dtype.kind == "f":
            neq &= ~(np.isnan(srt[:, 1:]) & np.isnan(srt[:, :-1]))
        new[:, 1:] = neq
    run_id = np.cumsum(new, axis=1) - 1
    r = np.arange(rows.shape[0])[:, None]
    counts = np.zeros(srt.shape, np.int64)
    np.add.at(counts, (np.broadcast_to(r, srt.shape), run_id), 1)
    best_run = np.argmax(counts, axis=1)  # first maximal run = smallest value
    in_best = run_id == best_run[:, None]
    # last occurrence in the original order among the best run's positions
    pos = np.where(in_best, order, -1).max(axis=1)
    return _mode_result(x, pos, m.shape[:-1], d, keepdim, out)


_MODE_KERNEL = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def _mode_result(x, pos, shape, d, keepdim, out):
    """mode's named tuple from the per-row positions ``pos`` of the mode values."""
    idx = pos.reshape(shape)
    idx_k = np.expand_dims(idx, d)
    vals = take_along(x, d, idx_k)
    if not keepdim:
        vals = vals.squeeze(d)
    else:
        idx = idx_k
    return out_(out, return_types.mode(vals, wrap(idx.astype(np.int64, copy=False))), "mode")


_INTERP = ("linear", "lower", "higher", "midpoint", "nearest")


@register()
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The ``q``-quantiles (``q`` a number in [0, 1] or a 1-D tensor; a tensor ``q`` adds a
    leading dimension) of the elements along ``dim`` (all when None), interpolating between
    neighbours by ``interpolation``: linear, lower, higher, midpoint or nearest. A slice with
    a NaN gives NaN. Differentiable (through the two neighbours).

    Example: ``fastdl.quantile(fastdl.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)`` gives ``2.5``."""
    return _quantile(input, q, dim, keepdim, interpolation, out, "quantile", False)


@register()
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """``quantile`` ignoring NaN (NaN only for an all-NaN slice).

    Example: ``fastdl.nanquantile(fastdl.tensor([1.0, float('nan'), 3.0]), 0.5)`` gives
    ``2.``."""
    return _quantile(input, q, dim, keepdim, interpolation, out, "nanquantile", True)


def _quantile(input, q, dim, keepdim, interpolation, out, what, ignore_nan):
    x = as_tensor(input)
    a = arr(x)
    if a.dtype.kind != "f":
        raise RuntimeError(f"{what}() input tensor must be either float or double dtype")
    if interpolation not in _INTERP:
        raise ValueError(f"{what}() interpolation must be one of linear, lower, higher, "
                         f"midpoint or nearest. Got {interpolation}")
    scalar_q = not isinstance(q, Tensor) and np.ndim(q) == 0
    qa = np.asarray(arr(q) if isinstance(q, Tensor) else q, dtype=a.dtype).reshape(-1)
    if isinstance(q, Tensor) and arr(q).ndim > 1:
        raise RuntimeError(f"{what}() q must be a scalar or 1D tensor")
    if qa.size and (qa.min() < 0 or qa.max() > 1 or np.isnan(qa).any()):
        raise RuntimeError(f"{what}() q values must be in the range [0, 1]")
    if dim is None:
        xs = x.reshape(-1)
        d = 0
        out_shape_keep = (1,) * a.ndim
    else:
        d = norm_dim(dim, a.ndim, what)
        xs = x if a.ndim else x.reshape(1)
    s = arr(xs)
    if s.shape[d] == 0:
        raise IndexError(f"{what}() input tensor must be non-empty")
    n = s.shape[d]
    order = np.argsort(s, axis=d, kind="stable")
    srt = take_along(xs, d, order)  # NaN last
    nan = np.isnan(s).sum(axis=d, keepdims=True)
    nv = (n - nan) if ignore_nan else np.full(nan.shape, n)
    results = []
    for qq in qa:
        pos = qq * (np.maximum(nv, 1) - 1).astype(a.dtype)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(nv - 1, 0))
        frac = (pos - lo).astype(a.dtype)
        if interpolation == "lower":
            hi, frac = lo, np.zeros_like(frac)
        elif interpolation == "higher":
            lo = np.ceil(pos).astype(np.int64)
            hi, frac = lo, np.zeros_like(frac)
        elif interpolation == "nearest":
            lo = np.rint(pos).astype(np.int64)
            hi, frac = lo, np.zeros_like(frac)
        elif interpolation == "midpoint":
            hi = np.ceil(pos).astype(np.int64)
            frac = np.where(hi > lo, 0.5, 0.0).astype(a.dtype)
        vlo = take_along(srt, d, lo)
        vhi = take_along(srt, d, hi)
        r = vlo + (vhi - vlo) * wrap(frac) if interpolation in ("linear", "midpoint") else vlo
        bad = (nan > 0) if not ignore_nan else (nv == 0)
        if bad.any():
            from ..tensor import where
            r = where(wrap(bad), wrap(np.asarray(np.nan, a.dtype)), r)
        if dim is None:
            r = r.reshape(*out_shape_keep) if keepdim else r.reshape(())
        elif not keepdim:
            r = r.squeeze(d) if a.ndim else r.reshape(())
        results.append(r)
    if scalar_q:
        res = results[0]
    else:
        from ..tensor import stack
        res = stack(results, 0)
    return out_(out, res, what)


# ---- NaN-aware and counting reductions ------------------------------------------------------


class _NanSum(_Op):
    """The sum of every non-NaN element (one pass of ``_C.tensorops_nansum``); gradient 1
    where the input is not NaN, 0 where it is."""

    _double = True

    @staticmethod
    def forward(ctx, a, keepdim):
        ctx.shape = a.shape
        ctx.save_for_backward(a)
        r = np.asarray(_C.tensorops_nansum(a), a.dtype)
        return r.reshape((1,) * a.ndim) if keepdim else r

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        nan = np.isnan(_nd(x))
        gb = _broadcast_to(g, ctx.shape)
        if not nan.any():
            return gb, None
        if _is_t(gb):  # create_graph: a recorded where
            from ..tensor import where
            return where(wrap(nan), wrap(np.zeros((), _nd(x).dtype)), gb), None
        return np.where(nan, np.zeros((), gb.dtype), gb), None


@register()
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum treating NaN as 0 (0 for an all-NaN slice). Example:
    ``fastdl.nansum(fastdl.tensor([1.0, float('nan')]))`` gives ``1.``"""
    x = as_tensor(input)
    a = arr(x)
    if (a.dtype is _F32 or a.dtype is _F64) and dtype is None and a.flags.c_contiguous and \
            a.flags.aligned and (dim is None or (isinstance(dim, (tuple, list)) and not dim)):
        # the whole tensor: one pass of the kernel (lane sums in the dtype, then double)
        if _no_graph(x):
            r = np.asarray(_C.tensorops_nansum(a), a.dtype)
            return out_(out, _wrap(r.reshape((1,) * a.ndim) if keepdim else r), "nansum")
        return out_(out, _NanSum.apply(x, bool(keepdim)), "nansum")
    if a.dtype.kind == "f":
        # a NaN in a slice makes that slice's sum NaN: a sum without NaN is the answer (and
        # its gradient, 1 everywhere, is nansum's); otherwise zero the NaNs and sum again
        s = _sum(x, dim, keepdim, dtype)
        if not np.isnan(arr(s)).any():
            return out_(out, s, "nansum")
        from ..tensor import where
        x = where(wrap(np.isnan(a)), wrap(np.zeros((), a.dtype)), x)
    return out_(out, _sum(x, dim, keepdim, dtype), "nansum")


@register()
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Mean of the non-NaN elements (NaN for an all-NaN slice).

    Example: ``fastdl.nanmean(fastdl.tensor([1.0, float('nan'), 3.0]))`` gives ``2.``."""
    x = as_tensor(input)
    a = arr(x)
    if a.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{a.dtype}")
    cnt = _sum(wrap(~np.isnan(a)), dim, keepdim, None)
    with np.errstate(all="ignore"):
        return out_(out, nansum(x, dim, keepdim, dtype=dtype) / cnt.to(a.dtype), "nanmean")


def _sum(x, dim, keepdim, dtype):
    dims = norm_dims(dim, arr(x).ndim, "sum")
    return x.sum(dims if dims is None else (dims if len(dims) > 1 else dims[0]), keepdim,
                 **({"dtype": np_dtype(dtype)} if dtype is not None else {}))


@register()
def count_nonzero(input, dim=None):
    """The number of nonzero elements (over ``dim``, an int or tuple), int64.

    Example: ``fastdl.count_nonzero(fastdl.tensor([[0, 1], [2, 0]]), dim=0)`` gives
    ``[1, 1]``."""
    a = arr(as_tensor(input))
    dims = norm_dims(dim, a.ndim, "count_nonzero")
    return wrap(np.asarray(np.count_nonzero(a, axis=dims), dtype=np.int64))


def _anyall(input, dim, keepdim, out, fn, what):
    a = arr(as_tensor(input))
    dims = norm_dims(dim, a.ndim, what)
    if a.ndim == 0:
        dims = None
    r = np.asarray(fn(a, axis=dims, keepdims=keepdim)).astype(np.bool_)
    if dim is None and keepdim:
        r = r.reshape((1,) * a.ndim)
    res = wrap(r if a.dtype != np.uint8 else r.astype(np.uint8))
    return out_(out, res, what)


@register()
def any(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """True where any element (over ``dim``, an int or tuple, or all) is nonzero; bool.

    Example: ``fastdl.any(fastdl.tensor([[0, 1], [0, 0]]), dim=1)`` gives ``[True, False]``."""
    return _anyall(input, dim, keepdim, out, np.any, "any")


@register()
def all(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """True where every element (over ``dim``, or all) is nonzero; bool.

    Example: ``fastdl.all(fastdl.tensor([[1, 1], [0, 1]]), dim=1)`` gives ``[True, False]``."""
    return _anyall(input, dim, keepdim, out, np.all, "all")


# ---- moments ----------------------------------------------------------------------------------


def _correction(what, unbiased, correction):
    if correction is not None and unbiased is not None:
        raise RuntimeError(f"{what}(): pass unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def _dim_unbiased(dim, unbiased):
    # torch's legacy overload: std(input, unbiased) with a bool in the dim position
    if isinstance(dim, (bool, np.bool_)):
        return None, bool(dim)
    return dim, unbiased


def _var(x, dim, correction, keepdim):
    a = arr(x)
    dims = norm_dims(dim, a.ndim, "var")
    n = _count(a, dims)
    dof = n - correction
    if a.size and a.ndim and dof > 0 and (a.dtype == np.float32 or a.dtype == np.float64) \
            and _no_graph(x):
        # nothing to record: the same steps as below on the arrays (bitwise the same result),
        # without five graph-less Tensor ops
        dev = a - np.add.reduce(a, dims, None, None, True) / n
        dev *= dev
        return _wrap(np.asarray(np.add.reduce(dev, dims, None, None, keepdim) / dof))
    mean = x.mean(dims, keepdim=True) if (a.size and a.ndim) else x.sum(dims, keepdim=True) * 1
    dev = x - mean
    s = (dev * dev).sum(dims, keepdim=keepdim)
    if dof > 0:
        return s / dof
    with np.errstate(all="ignore"):  # torch: inf (or NaN for an empty slice)
        return s * wrap(np.asarray(np.inf if n else np.nan, a.dtype))


@register()
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Variance ``Σ(x - mean)² / (N - correction)`` over ``dim`` (default: all);
    ``correction`` defaults to 1 (``unbiased=False`` means 0). N ≤ correction gives inf.

    Example: ``fastdl.var(fastdl.tensor([1.0, 2.0, 3.0]))`` gives ``1.``."""
    dim, unbiased = _dim_unbiased(dim, unbiased)
    x = as_tensor(input)
    _check_float(x, "var")
    return out_(out, _var(x, dim, _correction("var", unbiased, correction), keepdim), "var")


@register()
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments.

    Example: ``fastdl.std(fastdl.tensor([1.0, 2.0, 3.0]))`` gives ``1.``."""
    dim, unbiased = _dim_unbiased(dim, unbiased)
    x = as_tensor(input)
    _check_float(x, "std")
    return out_(out, _var(x, dim, _correction("std", unbiased, correction), keepdim).sqrt(),
                "std")


def _check_float(x, what):
    if arr(x).dtype.kind != "f":
        raise RuntimeError(f"{what}(): std and var only support floating point and complex "
                           f"dtypes, got {arr(x).dtype}")


@register(method=False)
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(var, mean)`` over ``dim`` in one call (same arguments as ``var``).

    Example: ``v, m = fastdl.var_mean(x, dim=0)``"""
    dim, unbiased = _dim_unbiased(dim, unbiased)
    x = as_tensor(input)
    _check_float(x, "var_mean")
    c = _correction("var_mean", unbiased, correction)
    dims = norm_dims(dim, arr(x).ndim, "var_mean")
    return out_(out, (_var(x, dim, c, keepdim), x.mean(dims, keepdim=keepdim)), "var_mean")


@register(method=False)
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """``(std, mean)`` over ``dim`` in one call (same arguments as ``std``).

    Example: ``s, m = fastdl.std_mean(x, dim=0)``"""
    dim, unbiased = _dim_unbiased(dim, unbiased)
    x = as_tensor(input)
    _check_float(x, "std_mean")
    c = _correction("std_mean", unbiased, correction)
    dims = norm_dims(dim, arr(x).ndim, "std_mean")
    return out_(out, (_var(x, dim, c, keepdim).sqrt(), x.mean(dims, keepdim=keepdim)),
                "std_mean")


@register()
def aminmax(input, *, dim=None, keepdim=False, out=None):
    """The minimum and maximum (over ``dim``, or all) as a named tuple ``(min, max)``.

    Example: ``fastdl.aminmax(fastdl.tensor([3, 1, 2]))`` gives ``min=1, max=3``."""
    x = as_tensor(input)
    a = arr(x)
    if a.size == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    kw = {} if dim is None else {"dim": dim}
    return out_(out, return_types.aminmax(x.amin(**kw, keepdim=keepdim),
                                          x.amax(**kw, keepdim=keepdim)), "aminmax")


# ---- norms --------------------------------------------------------------------------------------


class _VectorNorm(_Op):
    """‖x‖_p over ``dims``; the gradient of a zero norm is 0 (torch's subgradient)."""

    _double = True

    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        if p == 2 and dims is None and a.flags.c_contiguous and a.size and \
                (a.dtype == np.float32 or a.dtype == np.float64):  # the common case first
            f = a.reshape(-1)  # BLAS dot: one pass, no a * a temporary
            r = np.sqrt(np.asarray(np.dot(f, f), a.dtype)).reshape((1,) * a.ndim)
            ctx.save_for_backward(a, r)
            ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
            return r if keepdim else r.reshape(())
        ax = np.abs(a) if p != 2 else None  # the 2-norm needs no |a| pass
        if p == np.inf:
            r = np.max(ax, axis=dims, keepdims=True) if a.size else np.zeros(
                [1 if dims is None or i in dims else s for i, s in enumerate(a.shape)], a.dtype)
        elif p == -np.inf:
            r = np.min(ax, axis=dims, keepdims=True)
        elif p == 0:
            r = np.sum(ax != 0, axis=dims, keepdims=True).astype(a.dtype)
        elif p == 1:
            r = np.add.reduce(ax, dims, None, None, True)
        elif p == 2 and dims is None and a.flags.c_contiguous and a.size and \
                a.dtype in (np.float32, np.float64):
            f = a.reshape(-1)  # BLAS dot: one pass, no a * a temporary
            r = np.sqrt(np.asarray(np.dot(f, f), a.dtype)).reshape((1,) * a.ndim)
        elif p == 2:
            r = np.sqrt(np.add.reduce(a * a, dims, None, None, True))
        else:
            with np.errstate(all="ignore"):
                r = np.power(np.sum(np.power(ax, p), axis=dims, keepdims=True), 1.0 / p)
        r = np.asarray(r, dtype=a.dtype)
        ctx.save_for_backward(a, r)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        return _squeeze(r, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, r = ctx.saved_tensors
        p = ctx.p
        if isinstance(g, Tensor):
            return _vector_norm_backward_graph(ctx, a, r, g)
        g = g.reshape(r.shape)
        with np.errstate(all="ignore"):
            if p == 0:
                ga = np.zeros_like(a)
            elif p == 1:
                ga = g * np.sign(a)
            elif p == 2:
                ga = np.where(r == 0, 0, g * a / np.where(r == 0, 1, r))
            elif p in (np.inf, -np.inf):
                hit = np.abs(a) == r
                cnt = np.sum(hit, axis=ctx.dims, keepdims=True)
                ga = np.where(hit, g * np.sign(a) / np.maximum(cnt, 1), 0)
            else:
                ax = np.abs(a)
                ga = np.where(r == 0, 0, g * np.sign(a) * np.power(ax, p - 1) /
                              np.power(np.where(r == 0, 1, r), p - 1))
        return ga.astype(a.dtype, copy=False), None, None, None


def vector_norm_impl(x, ord, dim, keepdim, dtype, what):
    """‖x‖_ord over ``dim`` (None: all elements), shared by ``norm`` and
    ``linalg.vector_norm``."""
    if dtype is not None:
        x = x.to(np_dtype(dtype, what))
    a = arr(x)
    if a.dtype.kind != "f":
        raise RuntimeError(f"{what}(): expected a floating point input, got {a.dtype}")
    if ord.__class__ is not float and ord.__class__ is not int and \
            (isinstance(ord, str) or not isinstance(ord, numbers.Real)):
        raise RuntimeError(f"{what}(): ord must be a number, got {ord!r}")
    dims = norm_dims(dim, a.ndim, what)
    if a.ndim == 0:
        dims = None
    if a.size == 0 and ord < 0:
        raise RuntimeError(f"{what}(): cannot compute the {ord} norm of an empty tensor "
                           f"because the operation has no identity")
    return _VectorNorm.apply(x, float(ord), dims, keepdim)


@register()
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """The ``p``-norm over ``dim`` (all elements when None): ``p`` a number (inf, -inf, 0 and
    negative included) or ``"fro"`` (the 2-norm of the selected elements); ``"nuc"`` with a
    2-tuple ``dim`` is the nuclear norm. The gradient of a zero vector's 2-norm is 0.

    Example: ``fastdl.norm(fastdl.tensor([3.0, 4.0]))`` gives ``5.``."""
    x = as_tensor(input)
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        from ..linalg import matrix_norm
        d = (-2, -1) if dim is None else dim
        return out_(out, matrix_norm(x, "nuc", d, keepdim, dtype=dtype), "norm")
    if isinstance(p, str):
        raise RuntimeError(f"norm(): unknown p {p!r}")
    return out_(out, vector_norm_impl(x, p, dim, keepdim, dtype, "norm"), "norm")


__all__ = ["logsumexp", "median", "nanmedian", "kthvalue", "mode", "quantile", "nanquantile",
           "nansum", "nanmean", "count_nonzero", "any", "all", "var", "std", "var_mean",
           "std_mean", "aminmax", "norm"]


def _vector_norm_backward_graph(ctx, a, r, g):
    """``_VectorNorm``'s backward from recorded ops (create_graph=True) for p = 1 and p = 2
    (the gradient of a zero 2-norm stays 0); other orders raise."""
    from ..autograd.function import _output_tensor
    p = ctx.p
    ra = r._array
    g = g.reshape(ra.shape)
    if p == 1:
        return g * Tensor._make(np.sign(a._array)), None, None, None
    if p == 2:
        zero = ra == 0
        rt = _output_tensor(ctx, 0, _squeeze(ra, ctx.dims, ctx.keepdim)).reshape(ra.shape)
        safe = rt + Tensor._make(zero.astype(ra.dtype))  # 1 where the norm is 0
        return g * a / safe * Tensor._make((~zero).astype(ra.dtype)), None, None, None
    raise RuntimeError(f"VectorNorm does not support double backward (create_graph=True) "
                       f"for ord={p}; use ord=1 or ord=2")
