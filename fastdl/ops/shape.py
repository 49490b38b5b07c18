"""Shape and view ops, each primitive with its backward (``_Reshape``, ``_Permute``,
``_Expand``, ``_Repeat``, ``_Cat``, ``_Stack``, ``_Clone``, ``_Cast``), and the public ops:
reshape, view, view_as, reshape_as, flatten, unflatten, transpose (swapaxes), t, permute,
unsqueeze, squeeze, expand, expand_as, repeat, split, chunk, unbind, cat (concatenate,
concat), stack, clone, contiguous. Views share memory and the version counter with their
base, as in torch.
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

from ..tensor import (_as_array, _check_memory_format, _format_rank, _in_format,  # noqa: E402
                      _is_channels_last, contiguous_format, preserve_format)
from ._util import _cast, _is_t, _resolve_shape, _shape_arg, _transpose


def _promoted(ts):
    """cat/stack operands cast to their common dtype (torch promotes them)."""
    dts = {t._array.dtype for t in ts}
    if len(dts) == 1:
        return ts
    from . import promotion
    dt = ts[0]._array.dtype
    for t in ts[1:]:
        dt = promotion.promote_types(dt, t._array.dtype)
    return [t if t._array.dtype == dt else t.to(dt) for t in ts]


class _Reshape(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class _Permute(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return _transpose(g, np.argsort(ctx.perm)), None


class _Expand(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return _sum_to(g, ctx.shape), None


class _Repeat(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, reps):
        if len(reps) < a.ndim:
            raise ValueError(f"repeat: {len(reps)} repeats for a tensor of {a.ndim} dimensions")
        ctx.shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.reps = reps
        ctx.orig = a.shape
        return np.tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        sh = []
        for r, s in zip(ctx.reps, ctx.shape):
            sh += [r, s]
        if _is_t(g):
            g = g.reshape(tuple(sh)).sum(tuple(range(0, len(sh), 2)))
        else:
            g = g.reshape(sh).sum(axis=tuple(range(0, len(sh), 2)))
        return g.reshape(ctx.orig), None


class _Cat(_Op):
    _double = True

    @staticmethod
    def forward(ctx, d, *arrays):
        ctx.d = d
        ctx.sizes = [x.shape[d] for x in arrays]
        return np.concatenate(arrays, axis=d)

    @staticmethod
    def backward(ctx, g):
        out, start = [None], 0
        for s in ctx.sizes:
            idx = (slice(None),) * ctx.d + (slice(start, start + s),)
            out.append(g[idx])
            start += s
        return tuple(out)


class _Stack(_Op):
    _double = True

    @staticmethod
    def forward(ctx, d, *arrays):
        ctx.d = d
        return np.stack(arrays, axis=d)

    @staticmethod
    def backward(ctx, g):
        n = g.shape[ctx.d]
        if _is_t(g):
            return (None,) + tuple(g.select(ctx.d, i) for i in range(n))
        return (None,) + tuple(np.take(g, i, axis=ctx.d) for i in range(n))


class _Clone(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a):
        out = _empty(a.shape, a.dtype)
        np.copyto(out, a)
        return out

    @staticmethod
    def backward(ctx, g):
        return g


class _Cast(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, dt):
        ctx.src = a.dtype
        return a.astype(dt)

    @staticmethod
    def backward(ctx, g):
        if _is_t(g):
            return _cast(g, ctx.src), None
        return g.astype(ctx.src), None



@register()
def reshape(input, *shape):
    """A tensor with the same elements in ``shape`` (-1 infers one dimension).
    Example: ``t.reshape(2, -1)``"""
    shape = _shape_arg(shape)
    return _Reshape.apply(input, _resolve_shape(shape, input._array.size, input._array.shape))

@register(function=False)
def view(input, *shape):
    """As ``reshape``; a view needs a contiguous tensor, as in PyTorch."""
    shape = _shape_arg(shape)
    if not input._array.flags.c_contiguous:
        raise RuntimeError("view: the tensor is not contiguous; use .reshape(...) or "
                           ".contiguous().view(...)")
    return _Reshape.apply(input, _resolve_shape(shape, input._array.size, input._array.shape))

@register(function=False)
def view_as(input, other):
    return input.view(*other.shape)

@register(function=False)
def reshape_as(input, other):
    return input.reshape(*other.shape)

@register(function=False)
def flatten(input, start_dim=0, end_dim=-1):
    nd = input._array.ndim
    if nd == 0:
        return input.reshape(1)
    s = _norm_dim(start_dim, nd, "flatten")
    e = _norm_dim(end_dim, nd, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    sh = input._array.shape
    n = 1
    for d in sh[s:e + 1]:
        n *= d
    return input.reshape(*sh[:s], n, *sh[e + 1:])

@register(function=False)
def unflatten(input, dim, sizes):
    d = _norm_dim(dim, input._array.ndim, "unflatten")
    sh = input._array.shape
    return input.reshape(*sh[:d], *sizes, *sh[d + 1:])

@register()
def transpose(input, dim0, dim1):
    """Swap two dimensions (a view). Example: ``t.transpose(0, 1)``"""
    nd = input._array.ndim
    if nd == 0:
        return input
    perm = list(range(nd))
    a, b = _norm_dim(dim0, nd, "transpose"), _norm_dim(dim1, nd, "transpose")
    perm[a], perm[b] = perm[b], perm[a]
    return _Permute.apply(input, tuple(perm))


@register()
def t(input):
    if input._array.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {input._array.ndim}")
    return input.transpose(0, 1) if input._array.ndim == 2 else input

@register()
def permute(input, *dims):
    """Reorder the dimensions (a view). Example: ``t.permute(0, 2, 3, 1)``"""
    dims = _shape_arg(dims)
    nd = input._array.ndim
    if len(dims) != nd:
        raise ValueError(f"permute: got {len(dims)} dims for a tensor of {nd} dimensions")
    perm = tuple(_norm_dim(d, nd, "permute") for d in dims)
    if sorted(perm) != list(range(nd)):
        raise ValueError(f"permute: {dims} is not a permutation of the dimensions")
    return _Permute.apply(input, perm)

@register()
def unsqueeze(input, dim):
    d = _norm_dim(dim, input._array.ndim + 1, "unsqueeze")
    sh = input._array.shape
    return _Reshape.apply(input, sh[:d] + (1,) + sh[d:])

@register()
def squeeze(input, dim=None):
    sh = input._array.shape
    if dim is None:
        new = tuple(s for s in sh if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        ds = {_norm_dim(d, input._array.ndim, "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(sh) if not (i in ds and s == 1))
    return _Reshape.apply(input, new)

@register(function=False)
def expand(input, *shape):
    shape = _shape_arg(shape)
    nd = len(shape)
    if nd < input._array.ndim:
        raise ValueError(f"expand: the number of sizes ({nd}) must be >= the tensor's "
                         f"dimensions ({input._array.ndim})")
    src = (1,) * (nd - input._array.ndim) + input._array.shape
    tgt = tuple(s if n == -1 else n for s, n in zip(src, shape))
    for s, n in zip(src, tgt):
        if s != 1 and s != n:
            raise ValueError(f"expand: cannot expand shape {input._array.shape} to {shape}")
    return _Expand.apply(input, tgt)

@register(function=False)
def expand_as(input, other):
    return input.expand(*other.shape)

@register(function=False)
def repeat(input, *reps):
    reps = _shape_arg(reps)
    return _Repeat.apply(input, tuple(reps))

@register(function=False)
def split(input, split_size, dim=0):
    d = _norm_dim(dim, input._array.ndim, "split")
    n = input._array.shape[d]
    if isinstance(split_size, int):
        if split_size <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size}")
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size
                                                     else [])
    else:
        sizes = list(split_size)
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
    out, start = [], 0
    for s in sizes:
        idx = (slice(None),) * d + (slice(start, start + s),)
        out.append(input[idx])
        start += s
    return tuple(out)

@register()
def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces along ``dim``, each of ``ceil(n / chunks)`` elements
    but the last. Example: ``a, b = x.chunk(2)``"""
    if isinstance(chunks, builtins.bool) or not isinstance(chunks, (int, np.integer)):
        raise TypeError(f"chunk: chunks must be an int, got {type(chunks).__name__}")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _norm_dim(dim, input._array.ndim, "chunk")
    n = input._array.shape[d]
    if n == 0:  # torch gives `chunks` empty pieces
        return tuple(input[(slice(None),) * d + (slice(0, 0),)] for _ in range(chunks))
    return input.split(-(-n // chunks), dim)

@register()
def unbind(input, dim=0):
    d = _norm_dim(dim, input._array.ndim, "unbind")
    return tuple(input[(slice(None),) * d + (i,)] for i in range(input._array.shape[d]))


class _ToFormat(_Op):
    """A copy of ``a`` laid out in memory format ``mf`` (values unchanged; the gradient
    passes through)."""

    @staticmethod
    def forward(ctx, a, mf):
        return _in_format(a, mf, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g, None


@register()
def clone(input, *, memory_format=None):
    """A copy of ``input`` with its own memory (differentiable), laid out in
    ``memory_format``: by default (``preserve_format``) a channels-last input stays channels
    last and anything else is C-contiguous. Example: ``x.clone()``"""
    _check_memory_format(memory_format, "clone")
    if memory_format is None or memory_format is preserve_format:
        a = input._array
        if a.flags.c_contiguous or a.ndim not in (4, 5):
            return _Clone.apply(input)
        memory_format = preserve_format
    return _ToFormat.apply(input, memory_format)


@register(function=False)
def contiguous(input, memory_format=contiguous_format):
    """``input`` when it is laid out in ``memory_format`` already, else a copy that is:
    C order by default, NHWC storage under the NCHW shape with ``channels_last`` (4-D only),
    NDHWC with ``channels_last_3d`` (5-D only). Differentiable.
    Example: ``x.t().contiguous()``; ``img.contiguous(memory_format=fastdl.channels_last)``"""
    if memory_format is None or memory_format is contiguous_format:
        if input._array.flags.c_contiguous:
            return input
        return _Clone.apply(input)
    _check_memory_format(memory_format, "contiguous")
    if memory_format is preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if input._array.ndim != _format_rank(memory_format):
        raise RuntimeError(f"required rank {_format_rank(memory_format)} tensor to use "
                           f"{memory_format._name} format")
    if _is_channels_last(input._array, memory_format):
        return input
    return _ToFormat.apply(input, memory_format)


@register(method=False, aliases=("concatenate", "concat"))
def cat(tensors, dim=0, *, out=None):
    """Concatenate along an existing dimension. Example: ``fastdl.cat([a, b], dim=1)``"""
    ts = [t if isinstance(t, Tensor) else Tensor._make(_as_array(t)) for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty list of tensors")
    ts = _promoted(ts)
    nd = ts[0]._array.ndim
    d = _norm_dim(dim, nd, "cat")
    for i, t in enumerate(ts):
        if t._array.ndim != nd or t._array.shape[:d] + t._array.shape[d + 1:] != \
                ts[0]._array.shape[:d] + ts[0]._array.shape[d + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {t._array.shape}, incompatible with "
                             f"{ts[0]._array.shape} along dim {dim}")
    return _out(_Cat.apply(d, *ts), out, "cat")


@register(method=False)
def stack(tensors, dim=0, *, out=None):
    """Join along a new dimension. Example: ``fastdl.stack([a, b])``"""
    ts = [t if isinstance(t, Tensor) else Tensor._make(_as_array(t)) for t in tensors]
    ts = _promoted(ts)
    if not ts:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(ts):
        if t._array.shape != ts[0]._array.shape:
            raise ValueError(f"stack: tensor {i} has shape {t._array.shape}, expected "
                             f"{ts[0]._array.shape}")
    d = _norm_dim(dim, ts[0]._array.ndim + 1, "stack")
    return _out(_Stack.apply(d, *ts), out, "stack")


# Tensor methods that live in fastdl.nn.functional (activations, softmax, ...), looked up
# when called so this module does not depend on nn.


concatenate = concat = cat


@register()
def numel(input):
    """The number of elements. Example: ``fastdl.numel(fastdl.zeros(2, 3)) == 6``"""
    return int(input._array.size)


@register(function=False)
def nelement(input):
    """Same as ``numel``."""
    return int(input._array.size)


@register()
def is_floating_point(input):
    """True for float16, bfloat16, float32 and float64 tensors."""
    return input._array.dtype in _FLOATS


@register(method=False)
def is_tensor(obj):
    """True when ``obj`` is a fastdl Tensor (or Parameter). ``fastdl.is_tensor(x)``"""
    return isinstance(obj, Tensor)
