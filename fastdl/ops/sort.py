"""Sorting and selection: sort, argsort, msort, topk, unique, unique_consecutive,
searchsorted, bucketize, bincount, histc.

Values are gathered with the differentiable ``take_along`` (the gradient goes back to the
chosen elements); indices are int64. NaN sorts as the largest value, as in torch.

Example::

    v, i = fastdl.sort(fastdl.tensor([3.0, 1.0, 2.0]), descending=True)   # [3, 2, 1], [0, 2, 1]
    fastdl.topk(fastdl.tensor([1.0, 3.0, 2.0]), 2).indices                # [1, 2]
"""
from __future__ import annotations

import numpy as np

from .. import _C

from .. import return_types
from ._support import Tensor, arr, as_tensor, norm_dim, np_dtype, out_, wrap
from .select import _TakeAlong, take_along
from .table import register

# dtypes the C++ sorting kernels take (csrc/kernels/sort/); the others go through NumPy
_KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))


def _contig(a):
    """``a`` as a C-contiguous aligned array, copied only when it is not one (a 0-d array
    stays 0-d, which ``np.ascontiguousarray`` would make 1-d)."""
    return a if a.flags.c_contiguous and a.flags.aligned else np.array(a, order="C")


class _Sort(_TakeAlong):
    """The sorted values the kernel produced alongside their indices; the gradient goes back
    to the chosen elements as ``take_along``'s."""

    @staticmethod
    def forward(ctx, a, d, idx_vals):
        idx, vals = idx_vals
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        return vals


def _kernel_sort(a, d, descending, values=True):
    """(values or None, indices) of ``a`` sorted along ``d`` by the radix-sort kernel (stable,
    NaN the largest, torch's order), or None when its dtype is not the kernel's. Along another
    than the last dimension the input is moved to the last and the results moved back (one
    copy each way)."""
    if a.dtype not in _KERNEL_DTYPES or a.ndim == 0:
        return None
    last = d == a.ndim - 1
    src = _contig(a if last else np.moveaxis(a, d, -1))
    v, i = _C.sort_rows(src, bool(descending), bool(values), True)
    if not last:
        i = np.ascontiguousarray(np.moveaxis(i, -1, d))
        if v is not None:
            v = np.ascontiguousarray(np.moveaxis(v, -1, d))
    return v, i


def _order(a, d, descending, stable):
    """argsort along d; descending keeps equal elements in their original order (stable)."""
    if a.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    n = a.shape[d]
    # stable descending: sort the reversed axis ascending, then reverse back
    rev = np.flip(a, d)
    if a.dtype.kind == "b":
        rev = rev.astype(np.int8)
    o = np.argsort(rev, axis=d, kind="stable")
    return np.flip(n - 1 - o, d)


@register()
def sort(input, dim=-1, descending=False, *, stable=False, out=None):
    """The elements sorted along ``dim`` and where they came from: a named tuple
    ``(values, indices)``. The sort is always stable (equal elements keep their order, also
    descending); NaN counts as the largest value and -0.0 equals 0.0 (torch's order).
    Gradient to the sorted elements. float32/float64/int32/int64 run on a radix-sort kernel.

    Example: ``fastdl.sort(fastdl.tensor([3.0, 1.0, 1.0, 2.0]))`` gives values
    ``[1, 1, 2, 3]``, indices ``[1, 2, 3, 0]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "sort")
    if a.ndim == 0:
        return out_(out, return_types.sort(x.clone(), wrap(np.zeros((), np.int64))), "sort")
    k = _kernel_sort(a, d, descending)
    if k is not None:
        vals, idx = k
        return out_(out, return_types.sort(_Sort.apply(x, d, (idx, vals)), wrap(idx)), "sort")
    idx = _order(a, d, descending, stable).astype(np.int64)
    return out_(out, return_types.sort(take_along(x, d, idx), wrap(idx)), "sort")


@register()
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (stable).

    Example: ``fastdl.argsort(fastdl.tensor([3, 1, 2]))`` gives ``[1, 2, 0]``."""
    a = arr(as_tensor(input))
    d = norm_dim(dim, a.ndim, "argsort")
    k = _kernel_sort(a, d, descending, values=False) if a.ndim else None
    if k is not None:
        return wrap(k[1])
    return wrap(_order(a, d, descending, stable).astype(np.int64))


@register()
def msort(input, *, out=None):
    """``sort(input, dim=0).values``. Example: ``fastdl.msort(fastdl.tensor([[2, 1], [1, 3]]))``
    gives ``[[1, 1], [2, 3]]``."""
    return out_(out, sort(input, 0).values, "msort")


@register()
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their
    indices: a named tuple ``(values, indices)``, in sorted order. Ties keep the lower index
    first. Gradient to the chosen elements.

    Example: ``fastdl.topk(fastdl.tensor([1.0, 3.0, 2.0]), 2)`` gives values ``[3., 2.]``,
    indices ``[1, 2]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "topk")
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range (k={k}, dimension {d} has "
                           f"size {n})")
    if a.ndim == 0:
        return out_(out, return_types.topk(x.clone() if k else x.reshape(1)[:0].reshape(-1),
                                           wrap(np.zeros((), np.int64))), "topk")
    if a.dtype.kind == "f" and a.dtype.itemsize >= 4 and k and a.size:
        # float32/float64 on the C++ kernel, along d in place (NaN the largest, ties by lower
        # index): a running k-best per line that skips, by vector compares, what cannot enter
        idx = _C.tensorops_topk(np.ascontiguousarray(a), k, d, bool(largest))
    elif largest and k < n and n > 64 and a.dtype.kind == "f" and not np.isnan(a).any():
        # partial selection first (O(n)), then order the k winners
        part = np.argpartition(-a, k - 1, axis=d) if k else None
        cand = np.take(part, np.arange(k), axis=d) if k else np.zeros(
            [0 if i == d else s for i, s in enumerate(a.shape)], np.int64)
        vals = np.take_along_axis(a, cand, axis=d)
        # order by value descending, ties by index ascending
        key = np.argsort(cand, axis=d, kind="stable")
        cand = np.take_along_axis(cand, key, axis=d)
        vals = np.take_along_axis(a, cand, axis=d)
        o = _order(vals, d, True, True)
        idx = np.take_along_axis(cand, o, axis=d)
    else:
        order = _order(a, d, largest, True)
        idx = np.take(order, np.arange(k), axis=d)
    idx = idx.astype(np.int64)
    return out_(out, return_types.topk(take_along(x, d, idx), wrap(idx)), "topk")


@register()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct elements (sorted), or with ``dim`` the distinct slices along ``dim``;
    ``return_inverse`` adds where each element went, ``return_counts`` how often each
    occurs (returned in that order after the values). Not differentiable.

    The output is sorted whatever ``sorted`` says (as torch's CPU unique). Without ``dim``,
    NaN != NaN: each NaN is a distinct element (after every number, in input order, as
    torch), and -0.0 and 0.0 are one element (kept as its first occurrence).

    Example: ``fastdl.unique(fastdl.tensor([2, 1, 2]), return_counts=True)`` gives
    ``([1, 2], [1, 2])``."""
    a = arr(as_tensor(input))
    if dim is None and a.dtype in _KERNEL_DTYPES:
        # radix sort (or, for integers over a narrow range, a count per value), runs of equal
        # keys, the inverse through the sort's positions
        u, inv, cnt = _C.sort_unique(_contig(a), bool(return_inverse),
                                     bool(return_counts))
        res = [wrap(u)] + [wrap(r) for r in (inv, cnt) if r is not None]
        return res[0] if len(res) == 1 else tuple(res)
    if dim is None:
        u, inv, cnt = np.unique(a.reshape(-1), return_inverse=True, return_counts=True,
                                equal_nan=False)
        inv = inv.reshape(a.shape)
    else:
        d = norm_dim(dim, a.ndim, "unique")
        if a.shape[d] == 0:
            u = a.copy()
            inv = np.zeros(0, np.int64)
            cnt = np.zeros(0, np.int64)
        else:
            u, inv, cnt = np.unique(a, return_inverse=True, return_counts=True, axis=d)
            inv = inv.reshape(-1)
    res = [wrap(u)]
    if return_inverse:
        res.append(wrap(inv.astype(np.int64)))
    if return_counts:
        res.append(wrap(cnt.astype(np.int64)))
    return res[0] if len(res) == 1 else tuple(res)


@register()
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (of the flattened input, or of slices
    along ``dim``), with optional ``inverse`` and ``counts`` as ``unique``.

    Example: ``fastdl.unique_consecutive(fastdl.tensor([1, 1, 2, 2, 1]))`` gives
    ``[1, 2, 1]``."""
    a = arr(as_tensor(input))
    if dim is None:
        flat = a.reshape(-1)
        d = 0
        m = flat
    else:
        d = norm_dim(dim, a.ndim, "unique_consecutive")
        m = np.moveaxis(a, d, 0).reshape(a.shape[d], -1) if a.ndim else a.reshape(1, 1)
    n = m.shape[0]
    if n == 0:
        keep = np.zeros(0, bool)
    else:
        diff = m[1:] != m[:-1]
        if diff.ndim > 1:
            diff = diff.any(axis=1)
        keep = np.concatenate([[True], diff])
    starts = np.flatnonzero(keep)
    if dim is None:
        u = flat[starts]
    else:
        u = np.take(a, starts, axis=d)
    res = [wrap(u)]
    if return_inverse:
        inv = (np.cumsum(keep) - 1).astype(np.int64)
        res.append(wrap(inv.reshape(a.shape) if dim is None else inv))
    if return_counts:
        res.append(wrap(np.diff(np.append(starts, n)).astype(np.int64)))
    return res[0] if len(res) == 1 else tuple(res)


@register(method=False)
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    """For each value of ``input``, the index where it would be inserted into
    ``sorted_sequence`` to keep it sorted (the innermost dimension; leading dimensions must
    match ``input``'s, or the sequence is 1-D). ``right=True`` (or ``side="right"``) puts
    it after equal elements. int64 (int32 with ``out_int32``). As torch, the index is found by
    bisection stepping right past ``s`` when ``not s >= v`` (``not s > v`` for right): a NaN
    value lands at the end, and a sequence holding NaN gives torch's answer step for step.

    Example: ``fastdl.searchsorted(fastdl.tensor([1, 3, 5]), fastdl.tensor([3, 6]))`` gives
    ``[1, 3]``."""
    seq = arr(as_tensor(sorted_sequence))
    scalar = not isinstance(input, Tensor) and np.ndim(input) == 0
    v = arr(as_tensor(input)) if not scalar else np.asarray(input)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got "
                               f"{side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted(): side and right can't be set to opposites")
        right = side == "right"
    s = "right" if right else "left"
    if sorter is not None:
        so = arr(as_tensor(sorter))
        seq = np.take_along_axis(seq, so, axis=-1)
    if seq.ndim == 0:
        raise RuntimeError("searchsorted(): boundaries tensor should have positive dimension")
    if (not scalar and seq.dtype == v.dtype and seq.dtype in _KERNEL_DTYPES
            and (seq.ndim == 1 or v.shape[:-1] == seq.shape[:-1])):
        # branchless bisection, 16 values in lockstep (torch's exact steps where the sequence
        # holds a NaN)
        res = _C.sort_searchsorted(_contig(seq), _contig(v),
                                   bool(right), bool(out_int32))
        return out_(out, wrap(res), "searchsorted")
    if seq.ndim == 1:
        res = np.searchsorted(seq, v, side=s)
    else:
        if scalar or v.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the "
                               f"first N-1 dimensions of boundaries tensor and input value "
                               f"tensor must match, but we got boundaries tensor "
                               f"{list(seq.shape)} and input value tensor {list(v.shape)}")
        sq = seq.reshape(-1, seq.shape[-1])
        vv = v.reshape(-1, v.shape[-1])
        res = np.stack([np.searchsorted(sq[i], vv[i], side=s) for i in range(sq.shape[0])])
        res = res.reshape(v.shape)
    res = np.asarray(res, np.int32 if out_int32 else np.int64)
    return out_(out, wrap(res), "searchsorted")


@register()
def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element given the 1-D sorted ``boundaries``: ``i`` such that
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=True``: ``boundaries[i-1] <= x <
    boundaries[i]``).

    Example: ``fastdl.bucketize(fastdl.tensor([1, 5, 9]), fastdl.tensor([2, 5, 8]))`` gives
    ``[0, 1, 3]``."""
    b = arr(as_tensor(boundaries))
    if b.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got dim("
                           f"{b.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


@register()
def bincount(input, weights=None, minlength=0):
    """Counts of each value 0, 1, ... in the 1-D non-negative integer ``input`` (at least
    ``minlength`` bins); with ``weights`` the sum of the weights per value (weights' dtype,
    float64 for integer weights... as torch: float weights keep their dtype).

    Example: ``fastdl.bincount(fastdl.tensor([0, 1, 1, 3]))`` gives ``[1, 2, 0, 1]``."""
    a = arr(as_tensor(input))
    if a.ndim != 1:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got "
                           f"shape {tuple(a.shape)}")
    if a.dtype.kind not in "iub":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got "
                           f"{a.dtype}")
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    if weights is None:
        return wrap(np.bincount(a, minlength=minlength).astype(np.int64))
    w = arr(as_tensor(weights))
    if w.shape != a.shape:
        raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as "
                           f"input, got {tuple(w.shape)} and {tuple(a.shape)}")
    dt = w.dtype if w.dtype.kind == "f" else np.float64
    return wrap(np.bincount(a, weights=w, minlength=minlength).astype(dt))


@register()
def histc(input, bins=100, min=0, max=0, *, out=None):  # noqa: A002
    """Histogram of ``bins`` equal-width bins over [min, max] (both 0: the data's range);
    elements outside are ignored, max falls in the last bin. The input's float dtype.

    Example: ``fastdl.histc(fastdl.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)`` gives
    ``[0., 2., 1., 0.]``."""
    x = as_tensor(input)
    a = arr(x)
    if a.dtype.kind != "f":
        raise RuntimeError(f"histc(): \"histogram_cpu\" not implemented for '{a.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"histc(): max must be larger than min (min={min}, max={max})")
    # torch's bin of an element, in the input's dtype: int((x - min) / (max - min) * bins)
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    v = a.reshape(-1)
    keep = v >= dt.type(lo)
    keep &= v <= dt.type(hi)
    v = v[keep].astype(dt, copy=False)
    v -= dt.type(lo)
    v /= dt.type(hi) - dt.type(lo)
    v *= dt.type(bins)
    idx = v.astype(np.int64)
    np.minimum(idx, bins - 1, out=idx)
    return out_(out, wrap(np.bincount(idx, minlength=bins).astype(a.dtype)), "histc")


__all__ = ["sort", "argsort", "msort", "topk", "unique", "unique_consecutive", "searchsorted",
           "bucketize", "bincount", "histc"]
del np_dtype
