"""Shape ops beyond reshape/permute: flip, fliplr, flipud, roll, rot90, repeat_interleave,
tile, broadcast_to/broadcast_tensors/broadcast_shapes, movedim/moveaxis, swapdims, unflatten,
tril/triu (and their index forms), diag, diag_embed, diagonal, diagflat, hstack/vstack/dstack/
column_stack, tensor_split/hsplit/vsplit/split, meshgrid, atleast_1d/2d/3d, flatten.

Primitives with their backward: ``_Flip``, ``_Roll``, ``_Diagonal``, ``_DiagEmbed``; the
rest are compositions of differentiable ops (slicing, reshape, permute, expand, cat, where).

Example::

    fastdl.triu(fastdl.ones(3, 3), diagonal=1)     # the strict upper triangle
    fastdl.roll(fastdl.arange(4), 1)               # [3, 0, 1, 2]
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import _C
from ..autograd import function as _fn
from ..autograd.function import _Op
from ._support import Tensor, arr, as_tensor, norm_dim, np_dtype, out_, wrap
from ._util import _empty, _wrap
from .table import register


def _dims_tuple(dims, nd, what):
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    ds = tuple([norm_dim(d, nd, what) for d in dims])
    if len(ds) > 1 and len(set(ds)) != len(ds):
        raise RuntimeError(f"{what}(): dims has duplicates: {tuple(dims)}")
    return ds


def _plain(a):
    """Whether the byte-copying kernels (``_C.tensorops_flip``/``_tri``/``_diag_embed``) take
    ``a``: a C-contiguous, aligned ndarray of a numeric or bool dtype."""
    return a.__class__ is np.ndarray and a.flags.c_contiguous and a.flags.aligned and \
        a.dtype.kind in "biufc"


def _flip_array(a, dims):
    """``a`` reversed along ``dims`` (normalised, distinct) as a new C-contiguous array: one
    pass of the C++ kernel for contiguous input, else NumPy's strided copy."""
    if not a.ndim:
        return a.copy()
    if _plain(a):
        return _C.tensorops_flip(a, dims)
    out = _empty(a.shape, a.dtype)  # from the caching pool when large: no page faults
    np.copyto(out, np.flip(a, dims))
    return out


class _Flip(_Op):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return _flip_array(a, dims)

    @staticmethod
    def backward(ctx, g):
        return (np.flip(g, ctx.dims) if g.ndim else g), None


@register()
def flip(input, dims):
    """Reverse the order of elements along each of ``dims`` (a copy, as torch).

    Example: ``fastdl.flip(fastdl.tensor([[1, 2], [3, 4]]), [0])`` gives ``[[3, 4], [1, 2]]``."""
    x = as_tensor(input)
    ds = _dims_tuple(dims, arr(x).ndim, "flip")
    if not (x.requires_grad and _fn._state.grad):  # nothing to record: no graph node
        return _wrap(_flip_array(x._array, ds))
    return _Flip.apply(x, ds)


@register()
def fliplr(input):
    """Flip the columns (dim 1); needs at least 2 dimensions.
    Example: ``fastdl.fliplr(fastdl.tensor([[1, 2]]))`` gives ``[[2, 1]]``."""
    x = as_tensor(input)
    if arr(x).ndim < 2:
        raise RuntimeError("fliplr(): Input must be >= 2-d.")
    return flip(x, (1,))


@register()
def flipud(input):
    """Flip the rows (dim 0); needs at least 1 dimension.
    Example: ``fastdl.flipud(fastdl.tensor([1, 2]))`` gives ``[2, 1]``."""
    x = as_tensor(input)
    if arr(x).ndim < 1:
        raise RuntimeError("flipud(): Input must be >= 1-d.")
    return flip(x, (0,))


def _roll_array(a, shifts, dims):
    """``np.roll(a, shifts, dims)`` into a pooled output: each rolled dimension is two slice
    copies (no index arrays, no temporaries beyond one intermediate per extra dimension)."""
    sh = shifts if isinstance(shifts, tuple) else (shifts,)
    ds = dims if isinstance(dims, tuple) else (dims,)
    if not a.ndim:
        return a.copy()
    total = {}
    for s, d in zip(sh, ds):  # a dimension named twice rolls by the sum
        total[d] = total.get(d, 0) + int(s)
    src = a
    for d, s in total.items():
        n = a.shape[d]
        out = _empty(a.shape, a.dtype)
        k = s % n if n else 0
        lead = (slice(None),) * d
        if k == 0:
            np.copyto(out, src)
        else:
            np.copyto(out[lead + (slice(k, None),)], src[lead + (slice(0, n - k),)])
            np.copyto(out[lead + (slice(0, k),)], src[lead + (slice(n - k, None),)])
        src = out
    if src is a:
        src = a.copy()
    return src


class _Roll(_Op):
    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return _roll_array(a, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return np.roll(g, neg, ctx.dims), None, None


@register()
def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (of the flattened tensor when
    ``dims`` is None, then restored to the shape).

    Example: ``fastdl.roll(fastdl.tensor([1, 2, 3, 4]), 1)`` gives ``[4, 1, 2, 3]``."""
    x = as_tensor(input)
    nd = arr(x).ndim
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: "
                                   f"{len(shifts)}, dims: 0")
            shifts = shifts[0]
        return _Roll.apply(x.reshape(-1), int(shifts), 0).reshape(*arr(x).shape)
    sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    ds = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(sh) != len(ds):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(sh)}, "
                           f"dims: {len(ds)}")
    ds = tuple(norm_dim(d, nd, "roll") for d in ds)
    sh = tuple(int(s) for s in sh)
    if not (x.requires_grad and _fn._state.grad):  # nothing to record: no graph node
        return _wrap(_roll_array(x._array, sh, ds))
    return _Roll.apply(x, sh, ds)


@register()
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90° ``k`` times in the plane of ``dims`` (from the first towards the second).

    Example: ``fastdl.rot90(fastdl.tensor([[1, 2], [3, 4]]))`` gives ``[[2, 4], [1, 3]]``."""
    x = as_tensor(input)
    nd = arr(x).ndim
    if len(dims) != 2:
        raise RuntimeError(f"rot90(): expected total rotation dims == 2, but got dims = "
                           f"{len(dims)}")
    if nd < 2:
        raise RuntimeError(f"rot90(): expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = norm_dim(dims[0], nd, "rot90"), norm_dim(dims[1], nd, "rot90")
    if d0 == d1:
        raise RuntimeError(f"rot90(): expected rotation dims to be different, but got dim0 = "
                           f"{d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return flip(x, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return flip(x, (d0,)).transpose(d0, d1)
    return x.clone()


@register()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times (an int, or a
    tensor with one count per element/slice); the flattened input when ``dim`` is None.
    ``repeat_interleave(counts)`` with one int tensor gives ``[0]*counts[0] + [1]*counts[1]...``.

    Example: ``fastdl.repeat_interleave(fastdl.tensor([1, 2]), 2)`` gives ``[1, 1, 2, 2]``."""
    if repeats is None:
        c = arr(as_tensor(input))
        if c.ndim != 1 or c.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave(): repeats must be a 1-d integer tensor")
        return wrap(np.repeat(np.arange(c.size, dtype=np.int64), c))
    x = as_tensor(input)
    if dim is None:
        x = x.reshape(-1)
        d = 0
    else:
        d = norm_dim(dim, arr(x).ndim, "repeat_interleave")
        if arr(x).ndim == 0:
            x = x.reshape(1)
    n = arr(x).shape[d]
    r = arr(repeats) if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.ndim > 1 or (r.ndim == 1 and r.size not in (1, n)):
        raise RuntimeError(f"repeat_interleave(): repeats must have the same size as input "
                           f"along dim, but got repeats.size(0) = {r.size} and input.size({d}) "
                           f"= {n}")
    if r.size and r.min() < 0:
        raise RuntimeError("repeat_interleave(): repeats can not be negative")
    reps = r.reshape(-1).astype(np.int64) if r.ndim else np.full(n, int(r), np.int64)
    return _RepeatInterleave.apply(x, reps, d)


class _RepeatInterleave(_Op):
    @staticmethod
    def forward(ctx, a, reps, d):
        ctx.reps, ctx.d = reps, d
        return np.repeat(a, reps if reps.size != 1 or a.shape[d] == 1 else int(reps[0]), axis=d)

    @staticmethod
    def backward(ctx, g):
        reps, d = ctx.reps, ctx.d
        n = reps.size
        out_shape = list(g.shape)
        out_shape[d] = n
        res = np.zeros(out_shape, g.dtype)
        keep = reps > 0
        if g.shape[d]:
            starts = np.concatenate([[0], np.cumsum(reps)[:-1]])[keep]
            sums = np.add.reduceat(g, starts, axis=d)
            idx = [slice(None)] * g.ndim
            idx[d] = np.flatnonzero(keep)
            res[tuple(idx)] = sums
        return res, None, None


@register()
def tile(input, dims):
    """Repeat the whole tensor ``dims[i]`` times along each dimension (fewer ``dims`` than
    dimensions are padded with 1s in front, as torch).

    Example: ``fastdl.tile(fastdl.tensor([1, 2]), (2,))`` gives ``[1, 2, 1, 2]``."""
    x = as_tensor(input)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    nd = arr(x).ndim
    if len(dims) < nd:
        dims = (1,) * (nd - len(dims)) + dims
    return x.repeat(*dims)


@register()
def broadcast_to(input, size):
    """``input`` expanded to ``size`` (a view; -1 keeps a dimension).
    Example: ``fastdl.broadcast_to(fastdl.tensor([1, 2]), (3, 2))``"""
    return as_tensor(input).expand(*tuple(size))


@register(method=False)
def broadcast_shapes(*shapes):
    """The shape all of ``shapes`` broadcast to; a RuntimeError names them when they do not.
    Example: ``fastdl.broadcast_shapes((2, 1), (3,))`` gives ``(2, 3)``."""
    try:
        s = np.broadcast_shapes(*[(sh,) if isinstance(sh, int) else tuple(sh) for sh in shapes])
    except ValueError:
        raise RuntimeError(f"broadcast_shapes(): shapes {list(shapes)} cannot be broadcast "
                           f"together") from None
    try:
        from .. import Size
        return Size(s)
    except ImportError:  # pragma: no cover
        return s


@register(method=False)
def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape (views).
    Example: ``a, b = fastdl.broadcast_tensors(fastdl.ones(2, 1), fastdl.ones(3))``"""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [as_tensor(t) for t in tensors]
    shape = tuple(broadcast_shapes(*[arr(t).shape for t in ts]))
    return tuple(t if arr(t).shape == shape else t.expand(*shape) for t in ts)


@register(aliases=("moveaxis",))
def movedim(input, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``, the others keeping their
    order (a view).

    Example: ``fastdl.movedim(fastdl.zeros(2, 3, 4), 0, -1).shape == (3, 4, 2)``"""
    x = as_tensor(input)
    nd = arr(x).ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim(): Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    s = _dims_tuple(src, nd, "movedim")
    d = _dims_tuple(dst, nd, "movedim")
    if nd == 0:
        return x
    perm = [None] * nd
    for si, di in zip(s, d):
        perm[di] = si
    rest = iter(i for i in range(nd) if i not in s)
    perm = [p if p is not None else next(rest) for p in perm]
    return x.permute(*perm)


@register(aliases=("swapaxes",))
def swapdims(input, dim0, dim1):
    """Swap two dimensions (``transpose``). Example: ``fastdl.swapdims(x, 0, 1)``"""
    return as_tensor(input).transpose(dim0, dim1)


@register(method=False)
def unflatten(input, dim, sizes):
    """Expand dimension ``dim`` into ``sizes`` (one may be -1).
    Example: ``fastdl.unflatten(fastdl.zeros(2, 6), 1, (2, 3)).shape == (2, 2, 3)``"""
    x = as_tensor(input)
    a = arr(x)
    d = norm_dim(dim, a.ndim, "unflatten")
    sizes = tuple(sizes)
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    n = a.shape[d]
    if (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten(): Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return x.reshape(*a.shape[:d], *sizes, *a.shape[d + 1:])


@register(method=False)
def flatten(input, start_dim=0, end_dim=-1):
    """Flatten dimensions ``start_dim`` … ``end_dim`` into one (a 0-d input gives shape (1,)).
    Example: ``fastdl.flatten(fastdl.zeros(2, 3, 4), 1).shape == (2, 12)``"""
    return as_tensor(input).flatten(start_dim, end_dim)


# ---- triangles and diagonals --------------------------------------------------------------


def _tri_mask(shape, diagonal, upper):
    r, c = shape[-2], shape[-1]
    i = np.arange(r)[:, None]
    j = np.arange(c)[None, :]
    return (j - i >= diagonal) if upper else (j - i <= diagonal)


def _tri(input, diagonal, upper, what):
    x = as_tensor(input)
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError(f"{what}: input tensor must have at least 2 dimensions")
    if not (x.requires_grad and _fn._state.grad):  # nothing to record: no graph node
        return _wrap(_tri_array(a, int(diagonal), upper))
    return _Tri.apply(x, int(diagonal), upper)


def _tri_array(a, k, upper):
    """``a`` with the other triangle zeroed: one pass of the C++ kernel for contiguous input
    (each row's kept run copied, the rest zeroed); otherwise a copy, then row-wise slices set
    to 0 (no mask pass over the whole matrix)."""
    if _plain(a):
        return _C.tensorops_tri(a, k, upper)
    out = _empty(a.shape, a.dtype)  # from the caching pool when large: no page faults
    np.copyto(out, a)
    r, c = a.shape[-2], a.shape[-1]
    for i in range(r):
        if upper:
            stop = builtins.min(builtins.max(i + k, 0), c)
            if stop:
                out[..., i, :stop] = 0
        else:
            start = builtins.max(i + k + 1, 0)
            if start < c:
                out[..., i, start:] = 0
    return out


class _Tri(_Op):
    @staticmethod
    def forward(ctx, a, k, upper):
        ctx.k, ctx.upper = k, upper
        return _tri_array(a, k, upper)

    @staticmethod
    def backward(ctx, g):
        return _tri_array(g, ctx.k, ctx.upper), None, None


@register()
def tril(input, diagonal=0, *, out=None):
    """The lower triangle of the last two dimensions (elements with ``j - i <= diagonal``),
    zeros elsewhere. Example: ``fastdl.tril(fastdl.ones(2, 2))`` gives ``[[1, 0], [1, 1]]``."""
    return out_(out, _tri(input, diagonal, False, "tril"), "tril")


@register()
def triu(input, diagonal=0, *, out=None):
    """The upper triangle of the last two dimensions (``j - i >= diagonal``), zeros elsewhere;
    ``triu(ones(T, T), 1)`` is the usual causal-attention mask.

    Example: ``fastdl.triu(fastdl.ones(2, 2), 1)`` gives ``[[0, 1], [0, 0]]``."""
    return out_(out, _tri(input, diagonal, True, "triu"), "triu")


@register(function=False)
def tril_(self, diagonal=0):
    """In place ``tril``. Example: ``m.tril_()``"""
    from ._support import inplace
    return inplace(self, lambda t: tril(t, diagonal), "tril_")


@register(function=False)
def triu_(self, diagonal=0):
    """In place ``triu``. Example: ``m.triu_(1)``"""
    from ._support import inplace
    return inplace(self, lambda t: triu(t, diagonal), "triu_")


def _tri_indices(row, col, offset, upper, dtype):
    m = _tri_mask((row, col), offset, upper)
    r, c = np.nonzero(m)
    return wrap(np.stack([r, c]).astype(np_dtype(dtype) if dtype is not None else np.int64)
                .reshape(2, -1))


@register(method=False)
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) coordinates of the lower triangle of a row × col matrix, row by row.
    Example: ``fastdl.tril_indices(3, 3)`` gives ``[[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]``."""
    return _tri_indices(row, col, offset, False, dtype)


@register(method=False)
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) coordinates of the upper triangle of a row × col matrix, row by row.
    Example: ``fastdl.triu_indices(2, 2)`` gives ``[[0, 0, 1], [0, 1, 1]]``."""
    return _tri_indices(row, col, offset, True, dtype)


class _Diagonal(_Op):
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return np.diagonal(a, offset, d1, d2).copy()

    @staticmethod
    def backward(ctx, g):
        offset, d1, d2 = ctx.args
        out = np.zeros(ctx.shape, g.dtype)
        n = g.shape[-1]
        i = np.arange(n) + builtins.max(-offset, 0)
        j = np.arange(n) + builtins.max(offset, 0)
        # np.diagonal puts the diagonal last: write through the same layout (a view)
        np.moveaxis(out, (d1, d2), (-2, -1))[..., i, j] = g
        return out, None, None, None


@register()
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, ``offset`` above (>0) or below (<0) the main
    one, as the last dimension. Example: ``fastdl.diagonal(fastdl.eye(3))`` gives ``[1, 1, 1]``."""
    x = as_tensor(input)
    nd = arr(x).ndim
    if nd < 2:
        raise RuntimeError(f"diagonal(): input must have at least 2 dimensions, got {nd}")
    d1, d2 = norm_dim(dim1, nd, "diagonal"), norm_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal(): dimensions cannot be identical {dim1}, {dim2}")
    return _Diagonal.apply(x, int(offset), d1, d2)


class _DiagEmbed(_Op):
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        n = a.shape[-1] + abs(offset)
        nd = a.ndim + 1
        i = np.arange(a.shape[-1]) + builtins.max(-offset, 0)
        j = np.arange(a.shape[-1]) + builtins.max(offset, 0)
        if a.dtype.kind in "biufc":  # zeros and the diagonal in one pass
            # (a strided input is made contiguous first: it is 1/n of the output)
            out = _C.tensorops_diag_embed(a if _plain(a) else np.ascontiguousarray(a), offset)
        else:
            out = np.zeros(a.shape[:-1] + (n, n), a.dtype)
            out[..., i, j] = a
        ctx.args = (offset, d1, d2, i, j)
        return np.moveaxis(out, (-2, -1), (d1, d2)) if (d1, d2) != (nd - 2, nd - 1) else out

    @staticmethod
    def backward(ctx, g):
        offset, d1, d2, i, j = ctx.args
        gm = np.moveaxis(g, (d1, d2), (-2, -1))
        return gm[..., i, j], None, None, None


@register()
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose (offset) diagonal in the (dim1, dim2) planes holds the last dimension
    of ``input``. Example: ``fastdl.diag_embed(fastdl.tensor([[1, 2]]))`` gives
    ``[[[1, 0], [0, 2]]]``."""
    x = as_tensor(input)
    nd = arr(x).ndim + 1
    d1, d2 = norm_dim(dim1, nd, "diag_embed"), norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, "
                           f"{dim2}")
    if arr(x).ndim == 0:
        x = x.reshape(1)
    a = x._array
    if (d1, d2) == (nd - 2, nd - 1) and a.dtype.kind in "biufc" and \
            not (x.requires_grad and _fn._state.grad):  # nothing to record: no graph node
        return _wrap(_C.tensorops_diag_embed(a if _plain(a) else np.ascontiguousarray(a),
                                             int(offset)))
    return _DiagEmbed.apply(x, int(offset), d1, d2)


@register()
def diag(input, diagonal=0, *, out=None):
    """For a 1-D input the square matrix with it on the ``diagonal``-th diagonal; for a 2-D
    input its ``diagonal``-th diagonal. Example: ``fastdl.diag(fastdl.tensor([1, 2]))`` gives
    ``[[1, 0], [0, 2]]``."""
    x = as_tensor(input)
    nd = arr(x).ndim
    if nd == 1:
        res = _DiagEmbed.apply(x, int(diagonal), 0, 1)
    elif nd == 2:
        res = _Diagonal.apply(x, int(diagonal), 0, 1)
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")
    return out_(out, res, "diag")


@register()
def diagflat(input, offset=0):
    """``diag(input.flatten(), offset)``. Example: ``fastdl.diagflat(fastdl.tensor([[1, 2]]))``
    gives ``[[1, 0], [0, 2]]``."""
    return _DiagEmbed.apply(as_tensor(input).reshape(-1), int(offset), 0, 1)


# ---- stacking and splitting ---------------------------------------------------------------


def _seq(tensors, what):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{what}(): expected a sequence of tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{what}(): expects a non-empty TensorList")
    return [as_tensor(t) for t in tensors]


def _atleast(t, n):
    a = arr(t)
    if a.ndim >= n:
        return t
    if n == 1:
        return t.reshape(1)
    if n == 2:
        return t.reshape(1, -1) if a.ndim == 1 else t.reshape(1, 1)
    if a.ndim == 0:
        return t.reshape(1, 1, 1)
    if a.ndim == 1:
        return t.reshape(1, -1, 1)
    return t.unsqueeze(-1)


def _atleast_fn(n):
    def fn(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
            return tuple(_atleast(as_tensor(t), n) for t in tensors[0])
        if len(tensors) == 1:
            return _atleast(as_tensor(tensors[0]), n)
        return tuple(_atleast(as_tensor(t), n) for t in tensors)

    fn.__name__ = fn.__qualname__ = f"atleast_{n}d"
    fn.__doc__ = (f"Each input viewed with at least {n} dimensions (one tensor in, one out; "
                  f"several or a list in, a tuple out).\n\nExample: ``fastdl.atleast_{n}d("
                  f"fastdl.tensor(1.0)).dim() == {n}``")
    return fn


for _n in (1, 2, 3):
    register(f"atleast_{_n}d")(_atleast_fn(_n))


@register(method=False)
def hstack(tensors, *, out=None):
    """Concatenate column-wise: along dim 1, or dim 0 for 1-D tensors.
    Example: ``fastdl.hstack([fastdl.ones(2), fastdl.zeros(1)])`` gives ``[1, 1, 0]``."""
    from ..tensor import cat
    ts = [_atleast(t, 1) for t in _seq(tensors, "hstack")]
    return out_(out, cat(ts, 0 if arr(ts[0]).ndim == 1 else 1), "hstack")


@register(method=False, aliases=("row_stack",))
def vstack(tensors, *, out=None):
    """Concatenate row-wise (along dim 0 of each input seen as at least 2-D).
    Example: ``fastdl.vstack([fastdl.ones(2), fastdl.zeros(2)]).shape == (2, 2)``"""
    from ..tensor import cat
    return out_(out, cat([_atleast(t, 2) for t in _seq(tensors, "vstack")], 0), "vstack")


@register(method=False)
def dstack(tensors, *, out=None):
    """Concatenate depth-wise (along dim 2 of each input seen as at least 3-D).
    Example: ``fastdl.dstack([fastdl.ones(2), fastdl.zeros(2)]).shape == (1, 2, 2)``"""
    from ..tensor import cat
    return out_(out, cat([_atleast(t, 3) for t in _seq(tensors, "dstack")], 2), "dstack")


@register(method=False)
def column_stack(tensors, *, out=None):
    """Stack 0-d/1-D inputs as columns (2-D inputs pass) and concatenate along dim 1.
    Example: ``fastdl.column_stack([fastdl.ones(2), fastdl.zeros(2)]).shape == (2, 2)``"""
    from ..tensor import cat
    ts = []
    for t in _seq(tensors, "column_stack"):
        nd = arr(t).ndim
        ts.append(t.reshape(-1, 1) if nd <= 1 else t)
    return out_(out, cat(ts, 1), "column_stack")


def _slices(x, d, bounds):
    n = arr(x).shape[d]
    out = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        s, e = builtins.min(builtins.max(s, 0), n), builtins.min(builtins.max(e, s, 0), n)
        out.append(x[(slice(None),) * d + (slice(s, e),)])
    return tuple(out)


@register()
def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``sections`` nearly equal parts (the first ``n % sections`` one longer), or
    at the given indices (a list/tuple/1-D tensor) along ``dim``; views.

    Example: ``[t.tolist() for t in fastdl.tensor_split(fastdl.arange(5), 2)]`` gives
    ``[[0, 1, 2], [3, 4]]``."""
    x = as_tensor(input)
    a = arr(x)
    if a.ndim == 0:
        raise RuntimeError("tensor_split(): expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = norm_dim(dim, a.ndim, "tensor_split")
    n = a.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ia = arr(ios)
        if ia.dtype.kind not in "iu" or ia.ndim > 1:
            raise RuntimeError("tensor_split(): tensor_indices_or_sections must be a zero-dim "
                               "or one-dim long tensor")
        ios = int(ia) if ia.ndim == 0 else [int(v) for v in ia]
    if isinstance(ios, numbers.Integral):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got "
                               f"{k}")
        q, r = divmod(n, k)
        bounds = [0]
        for i in range(k):
            bounds.append(bounds[-1] + q + (1 if i < r else 0))
    else:
        idx = [int(v) for v in ios]
        bounds = [0] + [v + n if v < 0 else v for v in idx] + [n]
    return _slices(x, d, bounds)


@register()
def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 for 1-D); an int must divide the size evenly.
    Example: ``fastdl.hsplit(fastdl.zeros(2, 4), 2)[0].shape == (2, 2)``"""
    x = as_tensor(input)
    nd = arr(x).ndim
    if nd < 1:
        raise RuntimeError("hsplit(): requires a tensor with at least 1 dimension, but got a "
                           "tensor with 0 dimensions!")
    d = 0 if nd == 1 else 1
    return _even_split(x, indices_or_sections, d, "hsplit")


@register()
def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of an at least 2-D tensor; an int must divide evenly.
    Example: ``fastdl.vsplit(fastdl.zeros(4, 2), 2)[1].shape == (2, 2)``"""
    x = as_tensor(input)
    if arr(x).ndim < 2:
        raise RuntimeError(f"vsplit(): requires a tensor with at least 2 dimension, but got a "
                           f"tensor with {arr(x).ndim} dimensions!")
    return _even_split(x, indices_or_sections, 0, "vsplit")


@register()
def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of an at least 3-D tensor.
    Example: ``fastdl.dsplit(fastdl.zeros(1, 1, 4), 2)[0].shape == (1, 1, 2)``"""
    x = as_tensor(input)
    if arr(x).ndim < 3:
        raise RuntimeError(f"dsplit(): requires a tensor with at least 3 dimension, but got a "
                           f"tensor with {arr(x).ndim} dimensions!")
    return _even_split(x, indices_or_sections, 2, "dsplit")


def _even_split(x, ios, d, what):
    if isinstance(ios, numbers.Integral):
        n = arr(x).shape[d]
        if ios <= 0 or n % ios:
            raise RuntimeError(f"{what}(): the size of dimension {d} ({n}) is not divisible by "
                               f"the split_size {ios}!")
    return tensor_split(x, ios, d)


@register(method=False)
def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of ``split_size`` (the last may be smaller), or of the listed sizes
    (which must add up to the dimension) along ``dim``; views.

    Example: ``[t.shape[0] for t in fastdl.split(fastdl.zeros(5), [2, 3])]`` gives ``[2, 3]``."""
    x = as_tensor(tensor)
    if isinstance(split_size_or_sections, Tensor):
        split_size_or_sections = arr(split_size_or_sections).tolist()
    return x.split(split_size_or_sections, dim)


@register(method=False)
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: ``indexing="ij"`` (torch's default, matrix
    indexing) or ``"xy"`` (Cartesian: the first two dimensions swapped).

    Example: ``gx, gy = fastdl.meshgrid(fastdl.arange(3), fastdl.arange(2), indexing="ij")``
    gives shapes (3, 2)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [as_tensor(t) for t in tensors]
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid(): indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in ts:
        if arr(t).ndim > 1:
            raise RuntimeError(f"meshgrid(): expects 0D or 1D tensors, got {arr(t).ndim}D")
    if len({arr(t).dtype for t in ts}) > 1:
        raise RuntimeError("meshgrid(): expects all tensors to have the same dtype, got "
                           f"{[str(arr(t).dtype) for t in ts]}")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(arr(t).shape[0] for t in ts)
    n = len(ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * n
        view[i] = -1
        out.append(t.reshape(*view).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


__all__ = ["flip", "fliplr", "flipud", "roll", "rot90", "repeat_interleave", "tile",
           "broadcast_to", "broadcast_shapes", "broadcast_tensors", "movedim", "swapdims",
           "unflatten", "flatten", "tril", "triu", "tril_indices", "triu_indices", "diagonal",
           "diag_embed", "diag", "diagflat", "hstack", "vstack", "dstack", "column_stack",
           "tensor_split", "hsplit", "vsplit", "dsplit", "split", "meshgrid", "atleast_1d",
           "atleast_2d", "atleast_3d"]
