"""Indexing and scatter: gather, scatter (src or value, ``reduce=``), scatter_add,
scatter_reduce, index_add/index_copy/index_fill/index_put, masked_fill/masked_scatter/
masked_select, nonzero, argwhere, where(cond), take, take_along_dim, narrow, select, and
their in-place ``_`` forms.

The differentiable primitives are ``_TakeAlong`` (gather's forward; its backward is a
scatter-add, done with one ``np.bincount`` over flat indices) and ``_Scatter`` (scatter and
its reductions). The rest are compositions of these and of Tensor indexing.

Example::

    x = fastdl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    fastdl.gather(x, 1, fastdl.tensor([[1], [0]]))      # [[2.], [3.]]
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd.function import _Op
from ._support import (Tensor, arr, as_tensor, inplace, norm_dim, operand, out_, result_type,
                       wrap)
from ._util import _empty, _no_graph, _wrap
from .table import register

_F32, _F64, _I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


def _index_array(index, what, name="index"):
    if isinstance(index, Tensor):
        a = arr(index)
    else:
        a = np.asarray(index)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{what}(): Expected dtype int64 for {name}, got {a.dtype}")
    return a.astype(np.int64, copy=False)


def _full_index(idx, d):
    """The NumPy index that addresses ``x[..., idx[...], ...]`` along dim ``d`` with the
    other dims taken from idx's own position (torch's gather/scatter addressing)."""
    nd = idx.ndim
    return tuple(idx if i == d else
                 np.arange(idx.shape[i]).reshape([-1 if j == i else 1 for j in range(nd)])
                 for i in range(nd))


def _flat_index(shape, idx, d):
    """Flat (C-order) positions in an array of ``shape`` addressed by (idx along d), idx
    already in range: ``idx·stride_d + Σ_{i≠d} i_i·stride_i``, one broadcast add per dim."""
    nd = idx.ndim
    strides = [1] * nd
    for i in range(nd - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    lin = idx * strides[d] if strides[d] != 1 else idx.copy()
    for i in range(nd):
        if i != d and idx.shape[i] > 1:
            lin = lin + (np.arange(idx.shape[i]) * strides[i]).reshape(
                [-1 if j == i else 1 for j in range(nd)])
    return np.broadcast_to(lin, idx.shape)


def scatter_add_array(shape, idx, src, d, dtype):
    """zeros(shape) with ``src`` added at (idx along d): the backward of gather."""
    n = int(np.prod(shape))
    if idx.size == 0 or n == 0:
        return np.zeros(shape, dtype)
    flat = _flat_index(shape, idx, d).ravel()
    out = np.bincount(flat, weights=np.asarray(src, np.float64).ravel(), minlength=n)
    return out.reshape(shape).astype(dtype, copy=False)


def _gather_kernel_ok(a, idx, d):
    """Whether ``_C.tensorops_gather`` takes (a, idx) as they are: float32/float64 and int64,
    C-contiguous, same rank, index shaped as ``a`` outside ``d``, not empty (its per-call
    cost is below NumPy's flat-index path at every size)."""
    return a.ndim and idx.size and (a.dtype is _F32 or a.dtype is _F64) and \
        idx.dtype is _I64 and idx.ndim == a.ndim and idx.shape[:d] == a.shape[:d] and \
        idx.shape[d + 1:] == a.shape[d + 1:] and a.flags.c_contiguous and \
        idx.flags.c_contiguous


def _check_index(a_shape, idx, d, what, src_shape=None, ranges=True):
    nd = len(a_shape)
    if idx.ndim != max(nd, 1) and not (nd == 0 and idx.ndim <= 1):
        raise RuntimeError(f"{what}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {tuple(idx.shape)}, input {tuple(a_shape)})")
    for i in range(idx.ndim):
        if i != d and nd and idx.shape[i] > a_shape[i]:
            raise RuntimeError(f"{what}(): Size does not match at dimension {i} expected index "
                               f"{tuple(idx.shape)} to be smaller than self {tuple(a_shape)} "
                               f"apart from dimension {d}")
        if src_shape is not None and idx.shape[i] > src_shape[i]:
            raise RuntimeError(f"{what}(): Expected index {tuple(idx.shape)} to be smaller than "
                               f"src {tuple(src_shape)}")
    n = a_shape[d] if nd else 1
    if ranges and idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.max() if idx.max() >= n else idx.min()
        raise IndexError(f"{what}(): index {int(bad)} is out of range (out of bounds for "
                         f"dimension {d} with size {n})")


class _TakeAlong(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, d, idx):
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        if idx.size == 0:
            return np.zeros(idx.shape, a.dtype)
        if _gather_kernel_ok(a, idx, d):  # (the kernel checks the index range: IndexError)
            return _C.tensorops_gather(a, idx, d)
        src = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        if a.ndim and idx.min() < 0:  # [-n, 0) counts from the end, as on the kernel
            idx = idx % max(a.shape[d], 1)
        return np.take(src.reshape(-1), _flat_index(a.shape, idx, d))

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor) and ctx.shape:  # create_graph: a recorded scatter-add
            from .index import _ScatterAddAlong
            return _ScatterAddAlong.apply(g, ctx.shape, ctx.d,
                                          ctx.idx % max(ctx.shape[ctx.d], 1)), None, None
        return scatter_add_array(ctx.shape, ctx.idx % max(ctx.shape[ctx.d], 1) if ctx.shape
                                 else ctx.idx, g, ctx.d, g.dtype), None, None


def take_along(x, d, idx):
    """Differentiable ``x`` gathered at ``idx`` (int64 array, same rank) along ``d``."""
    return _TakeAlong.apply(x, d, idx)


@register()
def gather(input, dim, index, *, sparse_grad=False, out=None):
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for ``dim=1`` (likewise for every dim):
    index has input's rank and is no larger than input outside ``dim``. The gradient
    scatter-adds back (repeated indices accumulate).

    Example: ``fastdl.gather(fastdl.tensor([[1, 2], [3, 4]]), 1, fastdl.tensor([[0, 0],
    [1, 0]]))`` gives ``[[1, 1], [4, 3]]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "gather")
    idx = _index_array(index, "gather")
    if a.ndim == 0:
        idx = idx.reshape(())
        _check_index((1,), idx.reshape(-1), 0, "gather")
        return out_(out, x.clone(), "gather")
    # the kernel checks the index range itself (one pass less)
    on_kernel = _gather_kernel_ok(a, idx, d)
    _check_index(a.shape, idx, d, "gather", ranges=not on_kernel)
    if on_kernel and _no_graph(x):  # nothing to record: the forward's kernel, no graph node
        return out_(out, _wrap(_C.tensorops_gather(a, idx, d)), "gather")
    return out_(out, _TakeAlong.apply(x, d, idx), "gather")


@register()
def take_along_dim(input, indices, dim=None, *, out=None):
    """Values of ``input`` at ``indices`` along ``dim`` (as ``np.take_along_axis``): the
    two broadcast outside ``dim``; with ``dim=None`` both are flattened.

    Example: ``x.take_along_dim(x.argsort(dim=1), dim=1)`` sorts each row."""
    x = as_tensor(input)
    idx = _index_array(indices, "take_along_dim", "indices")
    if dim is None:
        x = x.reshape(-1)
        idx = idx.reshape(-1)
        d = 0
    else:
        a = arr(x)
        d = norm_dim(dim, a.ndim, "take_along_dim")
        if idx.ndim != a.ndim:
            raise RuntimeError(f"take_along_dim(): input and indices should have the same "
                               f"number of dimensions, but got {a.ndim} and {idx.ndim}")
        sa = list(a.shape)
        si = list(idx.shape)
        sa[d] = si[d] = 1
        bs = np.broadcast_shapes(tuple(sa), tuple(si))
        ta = list(bs)
        ta[d] = a.shape[d]
        ti = list(bs)
        ti[d] = idx.shape[d]
        if tuple(ta) != a.shape:
            x = x.expand(*ta)
        idx = np.broadcast_to(idx, ti)
    n = arr(x).shape[d] if arr(x).ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take_along_dim(): index out of range for dimension {d} of size {n}")
    return out_(out, _TakeAlong.apply(x, d, idx % max(n, 1)), "take_along_dim")


# ---- scatter -------------------------------------------------------------------------------

_REDUCE = {"sum", "prod", "mean", "amax", "amin"}


def _scatter_add_kernel(a, d, idx, s):
    """Whether ``_C.tensorops_scatter_add`` takes this scatter_add: float32/float64 input and
    src of one dtype, all C-contiguous, int64 index shaped as src and as input outside d."""
    return (a.dtype in (np.float32, np.float64) and s.dtype == a.dtype and a.ndim >= 1
            and idx.dtype == np.int64 and idx.shape == s.shape and idx.ndim == a.ndim
            and all(idx.shape[k] == a.shape[k] for k in range(a.ndim) if k != d)
            and a.flags.c_contiguous and a.flags.aligned and s.flags.c_contiguous
            and s.flags.aligned and idx.flags.c_contiguous)


class _Scatter(_Op):
    """out = input with src (or a value) written/reduced at (index along dim).

    reduce None: overwrite (gradient to input 0 where written, to src gathered);
    "sum": add; "prod"/"mean"/"amax"/"amin" with include_self, as torch.scatter_reduce."""

    @staticmethod
    def forward(ctx, a, d, idx, src, reduce, include_self):
        ctx.d, ctx.idx, ctx.reduce, ctx.include_self = d, idx, reduce, include_self
        ctx.src_is_arr = isinstance(src, np.ndarray) and src.ndim > 0
        if ctx.src_is_arr:
            s = src[tuple(slice(0, n) for n in idx.shape)]
        else:
            s = np.broadcast_to(np.asarray(src, a.dtype), idx.shape)
        ctx.src_shape = np.shape(src)
        if reduce == "sum" and include_self and _scatter_add_kernel(a, d, idx, s):
            # float32/float64, contiguous, index covering input outside dim: one C++ pass
            out = _C.tensorops_scatter_add(a, idx, s, d)
            ctx.save_for_backward(a, s, out)
            return out
        out = a.copy()
        fi = _full_index(idx, d)
        if reduce is None:
            # the last write wins for repeated indices (NumPy assigns in order)
            out[fi] = s
        elif reduce == "sum":
            flat = _flat_index(a.shape, idx, d).ravel()
            if not include_self:
                out.reshape(-1)[flat] = 0
            np.add.at(out.reshape(-1), flat, s.ravel().astype(a.dtype))
        elif reduce == "prod":
            flat = _flat_index(a.shape, idx, d).ravel()
            if not include_self:
                out.reshape(-1)[flat] = 1
            np.multiply.at(out.reshape(-1), flat, s.ravel().astype(a.dtype))
        elif reduce in ("amax", "amin"):
            flat = _flat_index(a.shape, idx, d).ravel()
            uf = np.maximum if reduce == "amax" else np.minimum
            tmp = out.reshape(-1)
            if not include_self:
                if a.dtype.kind == "f":
                    init = -np.inf if reduce == "amax" else np.inf
                elif a.dtype.kind == "b":
                    init = reduce != "amax"
                else:
                    info = np.iinfo(a.dtype)
                    init = info.min if reduce == "amax" else info.max
                tmp[flat] = init
            uf.at(tmp, flat, s.ravel().astype(a.dtype))
        elif reduce == "mean":
            flat = _flat_index(a.shape, idx, d).ravel()
            cnt = np.bincount(flat, minlength=a.size).reshape(a.shape)
            if not include_self:
                out.reshape(-1)[flat] = 0
            np.add.at(out.reshape(-1), flat, s.ravel().astype(a.dtype))
            total = cnt + (1 if include_self else 0)
            hit = cnt > 0
            if a.dtype.kind == "f":
                out[hit] = out[hit] / total[hit]
            else:
                out[hit] = np.floor_divide(out[hit], total[hit])
            ctx.total = total
        ctx.save_for_backward(a, s, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, s, out = ctx.saved_tensors
        d, idx, reduce = ctx.d, ctx.idx, ctx.reduce
        fi = _full_index(idx, d)
        n = ctx.needs_input_grad
        ga = gs = None
        if reduce is None:
            if n[0]:
                ga = g.copy()
                ga[fi] = 0
            if n[3]:
                gs = g[fi]
        elif reduce == "sum":
            if n[0]:
                ga = g.copy()
                if not ctx.include_self:
                    ga[fi] = 0
            if n[3]:
                gs = g[fi]
        elif reduce == "mean":
            hit = np.zeros(a.size, bool)
            hit[_flat_index(a.shape, idx, d).ravel()] = True
            hit = hit.reshape(a.shape)
            gt = g / np.where(hit, ctx.total, 1)
            if n[0]:
                ga = np.where(hit, gt if ctx.include_self else 0, g)
            if n[3]:
                gs = gt[fi]
        elif reduce == "prod":
            with np.errstate(all="ignore"):
                if n[0]:
                    ga = np.where(a != 0, g * out / np.where(a != 0, a, 1), 0)
                    if not ctx.include_self:
                        ga[fi] = 0
                if n[3]:
                    gs = np.where(s != 0, g[fi] * out[fi] / np.where(s != 0, s, 1), 0)
        else:  # amax / amin: the gradient is shared evenly among the tied winners
            flat = _flat_index(a.shape, idx, d).ravel()
            win_s = (s == out[fi])
            cnt = np.bincount(flat, weights=win_s.ravel(), minlength=a.size).reshape(a.shape)
            win_a = (a == out) if ctx.include_self else np.zeros(a.shape, bool)
            hit = np.zeros(a.size, bool)
            hit[flat] = True
            hit = hit.reshape(a.shape)
            if not ctx.include_self:
                win_a = ~hit
            else:
                win_a = win_a | ~hit
            cnt = cnt + (win_a & hit)
            with np.errstate(all="ignore"):
                if n[0]:
                    ga = np.where(win_a, g / np.where(hit, cnt, 1), 0)
                if n[3]:
                    gs = np.where(win_s, g[fi] / cnt[fi], 0)
        if gs is not None and ctx.src_is_arr:
            full = np.zeros(ctx.src_shape, g.dtype)
            full[tuple(slice(0, k) for k in idx.shape)] = gs
            gs = full
        elif gs is not None:
            gs = None
        return (None if ga is None else ga.astype(g.dtype, copy=False), None, None,
                None if gs is None else gs.astype(g.dtype, copy=False), None, None)


def _scatter(what, input, dim, index, src, reduce, include_self=True):
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, what)
    idx = _index_array(index, what)
    if isinstance(src, Tensor):
        sa = arr(src)
        if sa.ndim != idx.ndim and idx.size:
            raise RuntimeError(f"{what}(): Index tensor must have the same number of dimensions "
                               f"as src tensor (index {tuple(idx.shape)}, src {tuple(sa.shape)})")
        if sa.dtype != a.dtype:
            raise RuntimeError(f"{what}(): Expected self.dtype to be equal to src.dtype "
                               f"({a.dtype} vs {sa.dtype})")
        if reduce == "sum" and include_self and _scatter_add_kernel(a, d, idx, sa):
            # the kernel takes negative indices and reports one out of range (IndexError)
            _check_index(a.shape, idx, d, what, sa.shape, ranges=False)
            try:
                return _Scatter.apply(x, d, idx, src, reduce, include_self)
            except IndexError as e:
                raise IndexError(str(e).replace("scatter_add()", f"{what}()")) from None
        _check_index(a.shape, idx, d, what, sa.shape)
    else:
        if not isinstance(src, (int, float, bool, np.number)):
            raise TypeError(f"{what}(): src must be a Tensor or a number, got "
                            f"{type(src).__name__}")
        _check_index(a.shape, idx, d, what)
    idx = idx % max(a.shape[d], 1) if a.ndim else idx
    return _Scatter.apply(x, d, idx, src, reduce, include_self)


def _legacy_reduce(reduce, what):
    if reduce is None:
        return None
    m = {"add": "sum", "multiply": "prod"}
    if reduce not in m:
        raise RuntimeError(f"{what}(): reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    return m[reduce]


@register()
def scatter(input, dim, index, src=None, value=None, *, reduce=None, out=None):
    """A copy of ``input`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]``
    (``dim=1``; likewise for every dim). ``src`` is a tensor or a number (``value=``);
    ``reduce='add'|'multiply'`` combines instead of overwriting. With repeated indices and no
    reduce the last write wins (torch leaves it unspecified). Differentiable in input and src.

    Example: ``fastdl.zeros(2, 3).scatter(1, fastdl.tensor([[2], [0]]), 1.0)`` gives
    ``[[0, 0, 1], [1, 0, 0]]``."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected src (a Tensor or a number) or value=")
    r = _scatter("scatter", input, dim, index, operand(src), _legacy_reduce(reduce, "scatter"))
    return out_(out, r, "scatter")


@register()
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    """In place ``scatter``. Example: ``onehot.scatter_(1, labels.unsqueeze(1), 1.0)``"""
    return inplace(self, lambda t: scatter(t, dim, index, src, value, reduce=reduce),
                   "scatter_", *[v for v in (src,) if isinstance(v, Tensor)])


@register()
def scatter_add(input, dim, index, src, *, out=None):
    """``input`` with ``src`` added at (index along dim); repeated indices accumulate.

    Example: ``fastdl.zeros(3).scatter_add(0, fastdl.tensor([0, 0, 2]), fastdl.ones(3))``
    gives ``[2., 0., 1.]``."""
    return out_(out, _scatter("scatter_add", input, dim, index, as_tensor(src), "sum"),
                "scatter_add")


@register()
def scatter_add_(self, dim, index, src):
    """In place ``scatter_add``. Example: ``counts.scatter_add_(0, idx, ones)``"""
    return inplace(self, lambda t: scatter_add(t, dim, index, src), "scatter_add_",
                   *[v for v in (src,) if isinstance(v, Tensor)])


@register()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    """``input`` with ``src`` reduced into (index along dim) by ``reduce`` — ``"sum"``,
    ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``; ``include_self=False`` leaves input's
    values out of the reduction where something is scattered. Gradients as torch (amax/amin
    share it evenly among ties; prod through nonzero factors).

    Example: ``fastdl.zeros(2).scatter_reduce(0, fastdl.tensor([0, 0, 1]),
    fastdl.tensor([1.0, 3.0, 5.0]), "amax", include_self=False)`` gives ``[3., 5.]``."""
    if reduce not in _REDUCE:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be one of sum, prod, mean, "
                           f"amax, amin, got {reduce!r}")
    return out_(out, _scatter("scatter_reduce", input, dim, index, as_tensor(src), reduce,
                              include_self), "scatter_reduce")


@register()
def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """In place ``scatter_reduce``. Example: ``x.scatter_reduce_(0, i, v, "amax")``"""
    return inplace(self, lambda t: scatter_reduce(t, dim, index, src, reduce,
                                                  include_self=include_self),
                   "scatter_reduce_", *[v for v in (src,) if isinstance(v, Tensor)])


# ---- index_* -------------------------------------------------------------------------------


def _index_1d(index, what, n):
    idx = _index_array(index, what)
    if idx.ndim > 1:
        raise IndexError(f"{what}(): Index is supposed to be a vector, got shape "
                         f"{tuple(idx.shape)}")
    idx = idx.reshape(-1)
    if not idx.size:
        return idx.copy()
    if idx.size <= 64:  # Python's min/max of a short list cost less than two reductions
        vals = idx.tolist()
        lo, hi = min(vals), max(vals)
    else:
        lo, hi = idx.min(), idx.max()
    if lo < -n or hi >= n:
        bad = hi if hi >= n else lo
        raise IndexError(f"{what}(): index {int(bad)} is out of bounds for dimension with "
                         f"size {n}")
    return idx % max(n, 1) if lo < 0 else idx.copy()


def _expand_index(idx, d, shape):
    """A vector index along d expanded to the full index tensor of ``shape`` (shape[d] =
    len(idx)) for scatter."""
    view = [1] * len(shape)
    view[d] = -1
    return np.broadcast_to(idx.reshape(view), shape)


def _index_src(what, x, dim, index, source, name="source"):
    a = arr(x)
    d = norm_dim(dim, a.ndim, what)
    n = a.shape[d] if a.ndim else 1
    idx = _index_1d(index, what, n)
    s = as_tensor(source)
    sa = arr(s)
    want = list(a.shape) if a.ndim else [1]
    want[d] = idx.size
    if tuple(sa.shape if sa.ndim else (1,)) != tuple(want) and not (a.ndim == 0 and sa.size == 1):
        raise RuntimeError(f"{what}(): {name} has shape {tuple(sa.shape)}, expected "
                           f"{tuple(want)} (self {tuple(a.shape)} with dim {d} of size "
                           f"{idx.size})")
    return d, idx, s, tuple(want)


@register()
def index_add(input, dim, index, source, *, alpha=1, out=None):
    """``input`` with ``alpha·source[..., i, ...]`` added at ``[..., index[i], ...]`` along
    ``dim`` (repeated indices accumulate). Differentiable in input and source.

    Example: ``fastdl.zeros(3, 2).index_add(0, fastdl.tensor([0, 0]), fastdl.ones(2, 2))``
    gives ``[[2, 2], [0, 0], [0, 0]]``."""
    x = as_tensor(input)
    d, idx, s, want = _index_src("index_add", x, dim, index, source)
    if arr(x).ndim == 0:
        return out_(out, x + s.reshape(()) * alpha, "index_add")
    if alpha != 1:
        s = s * alpha
    a, sa = arr(x), arr(s)
    if a.dtype in (np.float32, np.float64) and sa.dtype == a.dtype and a.flags.c_contiguous \
            and sa.flags.c_contiguous and _no_graph(x) and _no_graph(s):
        # nothing to record: whole rows added at once by the C++ kernel (no expanded index)
        return out_(out, wrap(_C.tensorops_index_add(a, np.ascontiguousarray(idx, np.int64),
                                                     sa, d)), "index_add")
    return out_(out, _Scatter.apply(x, d, np.ascontiguousarray(_expand_index(idx, d, want)),
                                    s, "sum", True), "index_add")


@register()
def index_add_(self, dim, index, source, *, alpha=1):
    """In place ``index_add``. Example: ``x.index_add_(0, idx, rows)``"""
    return inplace(self, lambda t: index_add(t, dim, index, source, alpha=alpha), "index_add_",
                   *[v for v in (source,) if isinstance(v, Tensor)])


@register()
def index_copy(input, dim, index, source, *, out=None):
    """``input`` with ``source[..., i, ...]`` copied to ``[..., index[i], ...]`` along dim.

    Example: ``fastdl.zeros(3).index_copy(0, fastdl.tensor([2]), fastdl.tensor([5.0]))`` gives
    ``[0., 0., 5.]``."""
    x = as_tensor(input)
    d, idx, s, want = _index_src("index_copy", x, dim, index, source)
    if arr(x).ndim == 0:
        return out_(out, s.reshape(()).clone(), "index_copy")
    return out_(out, _Scatter.apply(x, d, np.ascontiguousarray(_expand_index(idx, d, want)),
                                    s, None, True), "index_copy")


@register()
def index_copy_(self, dim, index, source):
    """In place ``index_copy``. Example: ``x.index_copy_(0, idx, rows)``"""
    return inplace(self, lambda t: index_copy(t, dim, index, source), "index_copy_",
                   *[v for v in (source,) if isinstance(v, Tensor)])


@register()
def index_fill(input, dim, index, value):
    """``input`` with ``value`` (a number or 0-d tensor) at ``[..., index[i], ...]`` along
    ``dim``; the gradient to input is 0 there.

    Example: ``fastdl.ones(2, 3).index_fill(1, fastdl.tensor([0, 2]), -1.0)`` gives
    ``[[-1, 1, -1], [-1, 1, -1]]``."""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "index_fill")
    idx = _index_1d(index, "index_fill", a.shape[d] if a.ndim else 1)
    v = value
    if isinstance(v, Tensor):
        if arr(v).ndim != 0:
            raise RuntimeError(f"index_fill(): value must be a 0-dimensional tensor, got shape "
                               f"{tuple(arr(v).shape)}")
        v = arr(v).item()
    if a.ndim == 0:
        return x * 0 + v if idx.size else x.clone()
    want = list(a.shape)
    want[d] = idx.size
    return _Scatter.apply(x, d, np.ascontiguousarray(_expand_index(idx, d, want)), v, None,
                          True)


@register()
def index_fill_(self, dim, index, value):
    """In place ``index_fill``. Example: ``x.index_fill_(1, idx, 0.0)``"""
    return inplace(self, lambda t: index_fill(t, dim, index, value), "index_fill_")


def _indices_tuple(indices, what):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{what}(): indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}")
    out = []
    for t in indices:
        a = arr(t) if isinstance(t, Tensor) else np.asarray(t)
        if a.dtype.kind not in "iub":
            raise IndexError(f"{what}(): tensors used as indices must be long, int, byte or "
                             f"bool tensors, got {a.dtype}")
        out.append(a)
    return tuple(out)


class _IndexPutAcc(_Op):
    @staticmethod
    def forward(ctx, a, idx, v, accumulate):
        out = a.copy()
        ctx.idx, ctx.vshape, ctx.acc = idx, np.shape(v), accumulate
        if accumulate:
            np.add.at(out, idx, v)
        else:
            out[idx] = v
        return out

    @staticmethod
    def backward(ctx, g):
        ga = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            if not ctx.acc:
                ga[ctx.idx] = 0
        gv = None
        if ctx.needs_input_grad[2]:
            from ..autograd.function import _reduce_to
            gv = _reduce_to(np.asarray(g[ctx.idx]), ctx.vshape, "index_put")
        return ga, None, gv, None


@register()
def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` at ``input[indices]`` (a tuple of index tensors, as advanced
    indexing); ``accumulate=True`` adds (repeated indices accumulate) instead of writing.

    Example: ``fastdl.zeros(3).index_put((fastdl.tensor([0, 0]),), fastdl.tensor(1.0),
    accumulate=True)`` gives ``[2., 0., 0.]``."""
    x = as_tensor(input)
    idx = _indices_tuple(indices, "index_put")
    v = as_tensor(values) if not isinstance(values, Tensor) else values
    try:
        np.broadcast_to(np.empty(arr(v).shape), np.empty(arr(x).shape)[idx].shape)
    except (IndexError, ValueError) as e:
        raise RuntimeError(f"index_put(): shape mismatch: value tensor of shape "
                           f"{tuple(arr(v).shape)} cannot be broadcast to indexing result of "
                           f"input {tuple(arr(x).shape)}: {e}") from None
    if arr(v).dtype != arr(x).dtype:
        v = v.to(arr(x).dtype)
    return _IndexPutAcc.apply(x, idx, v, bool(accumulate))


@register()
def index_put_(self, indices, values, accumulate=False):
    """In place ``index_put``. Example: ``x.index_put_((rows, cols), vals, accumulate=True)``"""
    return inplace(self, lambda t: index_put(t, indices, values, accumulate), "index_put_",
                   *[v for v in (values,) if isinstance(v, Tensor)])


# ---- masks -------------------------------------------------------------------------------


def _mask(mask, what, shape=None):
    m = arr(mask) if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"{what}(): expected a boolean mask, got {m.dtype}")
    if shape is not None:
        try:
            full = np.broadcast_shapes(m.shape, shape)
        except ValueError:
            full = None
        if full != tuple(shape):
            raise RuntimeError(f"{what}(): mask of shape {tuple(m.shape)} cannot be broadcast "
                               f"to input of shape {tuple(shape)}")
    return m


@register()
def masked_fill(input, mask, value):
    """``input`` with ``value`` (a number or 0-d tensor, may require grad) where the bool
    ``mask`` (broadcast to input) is True.

    Example: ``scores.masked_fill(~causal, float('-inf'))``"""
    x = as_tensor(input)
    a = arr(x)
    m = _mask(mask, "masked_fill", a.shape)
    if isinstance(value, Tensor):
        if arr(value).ndim != 0:
            raise RuntimeError(f"masked_fill(): only supports a 0-dimensional value tensor, but "
                               f"got tensor with {arr(value).ndim} dimension(s)")
        if not value.requires_grad:
            value = arr(value).item()
    from ..tensor import where
    if isinstance(value, Tensor):
        return where(wrap(m), value.to(a.dtype), x)
    v = np.asarray(value).astype(a.dtype) if a.dtype.kind != "b" else bool(value)
    return where(wrap(m), wrap(np.asarray(v, a.dtype)), x)


@register()
def masked_fill_(self, mask, value):
    """In place ``masked_fill``. Example: ``x.masked_fill_(x < 0, 0.0)``"""
    return inplace(self, lambda t: masked_fill(t, mask, value), "masked_fill_",
                   *[v for v in (value,) if isinstance(v, Tensor)])


@register()
def masked_select(input, mask, *, out=None):
    """The 1-D tensor of ``input``'s elements where ``mask`` is True (both broadcast).

    Example: ``fastdl.masked_select(x, x > 0)``"""
    x = as_tensor(input)
    m = _mask(mask, "masked_select")
    shape = np.broadcast_shapes(m.shape, arr(x).shape)
    if shape != arr(x).shape:
        x = x.expand(*shape)
    m = np.broadcast_to(m, shape)
    return out_(out, x[wrap(np.ascontiguousarray(m))], "masked_select")


@register()
def masked_scatter(input, mask, source):
    """``input`` with the first ``mask.sum()`` elements of ``source`` (in order) written
    where ``mask`` is True. Differentiable in input and source.

    Example: ``fastdl.zeros(4).masked_scatter(fastdl.tensor([True, False, True, False]),
    fastdl.tensor([1.0, 2.0]))`` gives ``[1., 0., 2., 0.]``."""
    x = as_tensor(input)
    a = arr(x)
    m = _mask(mask, "masked_scatter", a.shape)
    m = np.broadcast_to(m, a.shape)
    k = int(m.sum())
    s = as_tensor(source)
    if arr(s).size < k:
        raise RuntimeError(f"masked_scatter(): Number of elements of source < number of ones in "
                           f"mask ({arr(s).size} < {k})")
    vals = s.reshape(-1)[:k]
    pos = np.flatnonzero(m)
    flat = x.reshape(-1)
    return index_copy(flat, 0, wrap(pos), vals).reshape(*a.shape)


@register()
def masked_scatter_(self, mask, source):
    """In place ``masked_scatter``. Example: ``x.masked_scatter_(m, src)``"""
    return inplace(self, lambda t: masked_scatter(t, mask, source), "masked_scatter_",
                   *[v for v in (source,) if isinstance(v, Tensor)])


# ---- nonzero, where, take, narrow, select ----------------------------------------------------


@register()
def nonzero(input, *, out=None, as_tuple=False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with
    ``as_tuple=True`` one 1-D tensor per dimension (a 0-d input counts as 1-D).

    Example: ``fastdl.nonzero(fastdl.tensor([0, 3, 0, 5]))`` gives ``[[1], [3]]``."""
    a = arr(as_tensor(input))
    if as_tuple:
        if a.ndim == 0:
            return (wrap(np.flatnonzero(a.reshape(1)).astype(np.int64)),)
        return tuple(wrap(i.astype(np.int64)) for i in np.nonzero(a))
    res = wrap(np.argwhere(a).astype(np.int64).reshape(-1, a.ndim))
    return out_(out, res, "nonzero")


@register()
def argwhere(input):
    """``nonzero(input)``: the (n, ndim) indices of the nonzero elements.

    Example: ``fastdl.argwhere(fastdl.tensor([[1, 0], [0, 1]]))`` gives ``[[0, 0], [1, 1]]``."""
    return nonzero(input)


@register(method=False)
def where(condition, input=None, other=None, *, out=None):  # noqa: A002
    """``where(condition, input, other)``: elements of ``input`` where the bool ``condition``
    holds, else of ``other`` (all broadcast; numbers allowed; dtype by ``result_type``).
    ``where(condition)`` is ``nonzero(condition, as_tuple=True)``.

    Example: ``fastdl.where(x > 0, x, 0.0)``"""
    from ..tensor import where as _where3
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected both input and other, or neither")
    c = as_tensor(condition)
    x, y = operand(input), operand(other)
    dt = result_type(x, y)
    x = x.to(dt) if isinstance(x, Tensor) and arr(x).dtype != dt else x
    y = y.to(dt) if isinstance(y, Tensor) and arr(y).dtype != dt else y
    if not isinstance(x, Tensor):
        x = wrap(np.asarray(x, dt))
    if not isinstance(y, Tensor):
        y = wrap(np.asarray(y, dt))
    return out_(out, _where3(c, x, y), "where")


@register()
def take(input, index):
    """``input`` flattened, read at ``index`` (any shape; negative counts from the end).

    Example: ``fastdl.take(fastdl.tensor([[4, 3], [5, 6]]), fastdl.tensor([0, 3]))`` gives
    ``[4, 6]``."""
    x = as_tensor(input)
    idx = _index_array(index, "take")
    a = arr(x)
    n = a.size
    if n and a.dtype in (np.float32, np.float64) and _no_graph(x):
        # nothing to record: one pass of the gather kernel, which wraps negative indices and
        # reports the first one out of range (no min/max/modulo passes over the index)
        try:
            r = _C.tensorops_gather(np.ascontiguousarray(a).reshape(-1),
                                    np.ascontiguousarray(idx, np.int64).reshape(-1), 0)
        except IndexError:
            r = None  # the checks below raise take's own message
        if r is not None:
            return wrap(r.reshape(idx.shape))
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.max() if idx.max() >= n else idx.min()
        raise IndexError(f"take(): index {int(bad)} out of range for tensor of size "
                         f"{tuple(arr(x).shape)} with {n} elements")
    flat = x.reshape(-1)
    return _TakeAlong.apply(flat, 0, (idx % max(n, 1)).reshape(-1)).reshape(*idx.shape)


@register()
def narrow(input, dim, start, length):
    """The view ``input[..., start:start+length, ...]`` along ``dim`` (negative start
    counts from the end).

    Example: ``fastdl.arange(6).narrow(0, 2, 3)`` gives ``[2, 3, 4]``."""
    x = as_tensor(input)
    a = arr(x)
    if a.ndim == 0:
        raise RuntimeError("narrow(): cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, a.ndim, "narrow")
    start = int(start)
    n = a.shape[d]
    if start < -n or start > n:
        raise IndexError(f"narrow(): start ({start}) out of range for dimension {d} of size {n}")
    start %= max(n, 1) if start < 0 else n + 1
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n}).")
    return x[(slice(None),) * d + (slice(start, start + length),)]


@register()
def narrow_copy(input, dim, start, length, *, out=None):
    """``narrow`` as a new tensor. Example: ``x.narrow_copy(0, 1, 2)``"""
    return out_(out, narrow(input, dim, start, length).clone(), "narrow_copy")


@register()
def select(input, dim, index):
    """``input[..., index, ...]`` along ``dim`` (the dimension removed; a view).

    Example: ``fastdl.zeros(2, 3).select(1, -1).shape == (2,)``"""
    x = as_tensor(input)
    a = arr(x)
    if a.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, a.ndim, "select")
    n = a.shape[d]
    i = int(index)
    if i < -n or i >= n:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{tuple(a.shape)} at dimension {d}")
    return x[(slice(None),) * d + (i % n,)]


@register()
def index_select(input, dim, index, *, out=None):
    """The slices of ``input`` at the 1-D ``index`` along ``dim`` (a copy).

    Example: ``fastdl.index_select(x, 0, fastdl.tensor([2, 0]))``"""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "index_select")
    idx = _index_1d(index, "index_select", a.shape[d] if a.ndim else 1)
    if a.ndim == 0:
        return out_(out, x.reshape(1)[wrap(idx)].reshape(-1 if idx.size != 1 else ()),
                    "index_select")
    if _no_graph(x):
        # nothing to record: one take into a pooled output (the indices are checked and
        # wrapped into [0, n) already, so mode="wrap" takes them as they are, unbuffered)
        shape = a.shape[:d] + idx.shape + a.shape[d + 1:]
        return out_(out, _wrap(a.take(idx, axis=d, out=_empty(shape, a.dtype), mode="wrap")),
                    "index_select")
    return out_(out, x[(slice(None),) * d + (wrap(idx),)], "index_select")


__all__ = ["gather", "take_along_dim", "scatter", "scatter_add", "scatter_reduce", "index_add",
           "index_copy", "index_fill", "index_put", "masked_fill", "masked_select",
           "masked_scatter", "nonzero", "argwhere", "take", "narrow", "narrow_copy", "select",
           "index_select"]
