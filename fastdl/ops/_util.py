"""Array-level helpers shared by the op modules: the caching-pool allocation, dtype
arguments, dimension arguments, broadcasting-gradient reduction, and the one place binary
ops get their result dtype (``_result_dtype`` → ``promotion.result_type``) and 16-bit floats
are computed in float32 (``_binary``, ``_compare``, ``_unary``).

Nothing here knows the Tensor class; ``fastdl/tensor.py`` and ``fastdl/ops/*`` import it.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import _C
from .. import _dtype as _dt
from ..autograd import function as _fn
from . import promotion as _promo

_SUPPORTED = _dt.SUPPORTED_NP
_FROM_NP = _dt.FROM_NP
_FLOATS = frozenset(d._np for d in _dt.ALL if d.is_floating_point)  # differentiable storage
_LOWP = _dt.LOW_PRECISION  # float16, bfloat16: computed in float32, rounded once
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)
_POOL_MIN = 1 << 15  # outputs with at least this many elements come from the caching pool


def _empty(shape, dtype):
    """An uninitialised array: from the caching pool when large, NumPy's allocator when small."""
    n = 1
    for s in shape:
        n *= s
    if n >= _POOL_MIN:
        return _C.empty(tuple(shape), np.dtype(dtype))
    return np.empty(shape, dtype)


def _pool_out(shape, dtype, like):
    """An output of ``shape`` from the caching pool for an elementwise op whose first operand
    is ``like``: channels-last (NHWC storage, NCHW shape) when ``like`` is a channels-last
    4-D array of that shape, as torch's elementwise ops keep that layout; else C order."""
    if like.__class__ is np.ndarray and like.ndim == 4 and not like.flags.c_contiguous and \
            like.shape == tuple(shape) and like.strides[1] == like.itemsize:
        n, c, h, w = shape
        return _C.empty((n, h, w, c), np.dtype(dtype)).transpose(0, 3, 1, 2)
    return _C.empty(tuple(shape), np.dtype(dtype))


_ADD_MIN = 1 << 16  # sums of at least this many elements run on all threads (_add_into)


def _dense_flat(a):
    """The 1-D view of ``a``'s storage when it is dense in C order or channels-last (NHWC)
    order, else None."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    if a.ndim == 4:
        v = a.transpose(0, 2, 3, 1)
        if v.flags.c_contiguous:
            return v.reshape(-1)
    return None


def _add_into(a, b, out):
    """``out = a + b`` through ``_C.eltwise_add`` (all threads; bitwise NumPy's add) when the
    three are float32/float64 arrays of one shape, dtype and dense layout; returns ``out``,
    or None (nothing done) otherwise."""
    dt = a.dtype
    if (dt is not _F32 and dt is not _F64) or b.dtype is not dt or out.dtype is not dt or \
            a.shape != b.shape or a.shape != out.shape or a.strides != b.strides or \
            a.strides != out.strides:
        return None
    fa = _dense_flat(a)
    if fa is None:
        return None
    _C.eltwise_add(fa, b.reshape(-1) if b.flags.c_contiguous else _dense_flat(b),
                   out.reshape(-1) if out.flags.c_contiguous else _dense_flat(out))
    return out


def _canon_dtype(dtype, what="dtype"):
    """The NumPy storage dtype for a dtype argument (None stays None)."""
    if dtype is None:
        return None
    return _dt.to_np(dtype, what)


def _default_float():
    return _promo.default_float[0]


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _resolve_shape(shape, n, old):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise ValueError(f"reshape: invalid shape {shape}")
            known *= s
    if neg:
        if known == 0 or n % known:
            raise ValueError(f"reshape: shape {shape} is invalid for input of size {n} "
                             f"(shape {old})")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ValueError(f"reshape: shape {shape} is invalid for input of size {n} "
                         f"(shape {old})")
    return shape


def _norm_dim(d, nd, what):
    if d.__class__ is int and nd:  # the common case: a Python int in range
        if 0 <= d < nd:
            return d
        if -nd <= d < 0:
            return d + nd
    if not isinstance(d, (int, np.integer)):
        raise TypeError(f"{what}: dim must be an int, got {type(d).__name__}")
    lo = -builtins.max(nd, 1)
    hi = builtins.max(nd, 1) - 1
    if d < lo or d > hi:
        raise IndexError(f"{what}: dimension {d} out of range for a tensor of {nd} "
                         f"dimensions (expected [{lo}, {hi}])")
    return int(d) % builtins.max(nd, 1)


def _norm_dims(dim, nd, what):
    if dim is None:
        return None
    if dim.__class__ is int or not isinstance(dim, (tuple, list)):
        return (_norm_dim(dim, nd, what),)
    return tuple(sorted({_norm_dim(d, nd, what) for d in dim}))


def _result_dtype(a, b):
    """torch's result dtype of a binary op on arrays / Python scalars (fast paths first:
    two arrays of one dtype, an array with a Python number of its category or lower)."""
    ta = a.__class__
    if ta is np.ndarray:
        da = a.dtype
        tb = b.__class__
        if tb is np.ndarray:
            if b.dtype == da:
                return da
        elif tb is builtins.float:
            if da in _FLOATS:
                return da
        elif tb is builtins.int:
            if da is not _BOOL and da != _BOOL:
                return da
    return _promo.result_type(a, b)


def _binary(uf, a, b, dt=None):
    """``uf(a, b)`` in torch's result dtype ``dt`` (default: ``_result_dtype``): operands of
    another dtype are cast first; float16/bfloat16 compute in float32 and round once."""
    if dt is None:
        # fast path: a float32/float64 array with an array of its dtype or a Python number
        # (NumPy's own result is then torch's): no promotion work, no casts
        if a.__class__ is np.ndarray:
            da = a.dtype
            if da is _F32 or da is _F64:
                tb = b.__class__
                if (tb is np.ndarray and b.dtype is da) or tb is builtins.float or \
                        tb is builtins.int:
                    # (a non-C-contiguous first operand takes _pool_out: its layout wins,
                    # as torch's, where NumPy's order='K' may pick the second's)
                    if a.size < _POOL_MIN and a.flags.c_contiguous and \
                            (tb is not np.ndarray or b.size < _POOL_MIN) \
                            and (tb is not np.ndarray or a.size * b.size < _POOL_MIN or
                                 a.shape == b.shape):
                        return _array_of(uf(a, b))
                    if uf is np.add and tb is np.ndarray and a.size >= _ADD_MIN and \
                            a.shape == b.shape and a.strides == b.strides:
                        out = _pool_out(a.shape, da, a)
                        if _add_into(a, b, out) is not None:
                            return out
                    return uf(a, b, out=_pool_out(np.broadcast_shapes(a.shape, np.shape(b)),
                                                  da, a))
        if _fn._Tensor in (a.__class__, b.__class__):
            return _tensor_binary(uf, a, b)
        dt = _result_dtype(a, b)
    elif _fn._Tensor in (a.__class__, b.__class__):
        return _tensor_binary(uf, a, b).to(_FROM_NP[np.dtype(dt)])
    cdt = _F32 if dt in _LOWP else dt
    if a.__class__ is np.ndarray and a.dtype != cdt:
        a = a.astype(cdt)
    if b.__class__ is np.ndarray and b.dtype != cdt:
        b = b.astype(cdt)
    if (a.__class__ is np.ndarray and a.size >= _POOL_MIN) or \
            (b.__class__ is np.ndarray and b.size >= _POOL_MIN):
        out = _pool_out(np.broadcast_shapes(np.shape(a), np.shape(b)), cdt, a)
        out = uf(a, b, out=out)
    else:
        out = uf(a, b)
        if out.__class__ is not np.ndarray:
            out = np.asarray(out)
        if out.dtype != cdt and out.dtype != _BOOL:
            out = out.astype(cdt)
    return out if cdt is dt else out.astype(dt)


def _compare(uf, a, b):
    """A comparison (or logical/bitwise op) in the operands' promoted dtype."""
    dt = _result_dtype(a, b)
    if dt in _LOWP:
        dt = _F32
    if a.__class__ is np.ndarray and a.dtype != dt:
        a = a.astype(dt)
    if b.__class__ is np.ndarray and b.dtype != dt:
        b = b.astype(dt)
    return np.asarray(uf(a, b))


def _unary(uf, a):
    """``uf(a)``; float16/bfloat16 compute in float32 and round once. On a Tensor (a backward
    running with create_graph=True) the matching recorded op."""
    if a.__class__ is not np.ndarray and a.__class__ is _fn._Tensor:
        return _tensor_unary(uf, a)
    dt = a.dtype
    if dt in _LOWP:
        return np.asarray(uf(a.astype(_F32))).astype(dt)
    if a.size >= _POOL_MIN:
        return uf(a, out=_pool_out(a.shape, dt, a))
    return _array_of(uf(a))


def _sum_to(g, shape):
    """Sum a broadcast gradient back to ``shape`` (array or recorded Tensor)."""
    if g.__class__ is not np.ndarray and g.__class__ is _fn._Tensor:
        return _fn._reduce_to_t(g, shape, "broadcast")
    return _fn._reduce_to(g, shape, "broadcast")


# ---- the Tensor branch: a backward running with create_graph=True ----------------------------
# The backward bodies of the primitives are written on arrays with these helpers and Python
# operators. With create_graph=True the engine hands them Tensors; the helpers then call the
# recorded op of the same ufunc, so the body builds a differentiable graph unchanged.
_TOPS = {}


def _tops():
    if not _TOPS:
        import fastdl as F
        _TOPS.update({
            np.add: F.add, np.subtract: F.sub, np.multiply: F.mul, np.true_divide: F.div,
            np.power: F.pow, np.maximum: F.maximum, np.minimum: F.minimum,
            np.negative: F.neg, np.exp: F.exp, np.log: F.log, np.sqrt: F.sqrt,
            np.abs: F.abs, np.tanh: F.tanh, np.sin: F.sin, np.cos: F.cos,
            np.reciprocal: F.reciprocal, np.square: F.square, np.log1p: F.log1p,
            np.expm1: F.expm1, np.cosh: F.cosh, np.sinh: F.sinh, np.exp2: F.exp2,
            np.sign: F.sign,
        })
    return _TOPS


def _as_t(x):
    T = _fn._Tensor
    if x.__class__ is T or isinstance(x, T):
        return x
    return T._make(np.asarray(x))


def _tensor_binary(uf, a, b):
    op = _tops().get(uf)
    T = _fn._Tensor
    if op is None:  # not differentiable (floor_divide, comparisons...): a constant
        return T._make(np.asarray(uf(_nd(a), _nd(b))))
    if not isinstance(a, T):
        if isinstance(a, np.ndarray):
            a = T._make(a)
        else:  # a Python number on the left
            if uf is np.add or uf is np.multiply:
                return op(b, a)
            a = T._make(np.asarray(a, dtype=b._array.dtype))
    return op(a, b if isinstance(b, (T, int, float)) else _as_t(b))


def _tensor_unary(uf, a):
    op = _tops().get(uf)
    if op is None:
        return _fn._Tensor._make(np.asarray(uf(a._array)))
    return op(a)


def _nd(x):
    """The array behind ``x`` (a Tensor or array): for values whose derivative is zero
    (masks, signs, indices) computed from a saved input on either path."""
    return x._array if isinstance(x, _fn._Tensor) else x


def _like(arr, ref):
    """``arr`` (an array) as the same kind as ``ref``: a constant Tensor when ``ref`` is one."""
    if ref.__class__ is not np.ndarray and isinstance(ref, _fn._Tensor):
        return _fn._Tensor._make(np.asarray(arr))
    return arr


def _cast(x, dt):
    """``x.astype(dt, copy=False)`` for an array, ``x.to(dt)`` for a Tensor (dt a NumPy
    dtype; None leaves x as is)."""
    if dt is None:
        return x
    if x.__class__ is np.ndarray:
        return x.astype(dt, copy=False)
    if isinstance(x, _fn._Tensor):
        return x if x._array.dtype == dt else x.to(_FROM_NP[np.dtype(dt)])
    return np.asarray(x).astype(dt, copy=False)


def _is_t(x):
    return x.__class__ is not np.ndarray and isinstance(x, _fn._Tensor)


def _no_graph(t):
    """True when an op on the Tensor ``t`` records nothing (``t`` needs no gradient or grad
    mode is off): a reduction may then compute its result directly, without a graph node."""
    return not (t.requires_grad and _fn._state.grad)


def _wrap(arr):
    """The ndarray ``arr`` (a fresh result) as a Tensor: the hot path of ``_Op.apply``'s
    output, or ``Tensor._make`` once an inference mode was entered (it marks its tensors)."""
    T = _fn._Tensor
    if _fn._inf_seen:
        return T._make(arr)
    return _fn._new_tensor(T, arr)


def _array_of(r):
    """A NumPy result as an ndarray: a full reduction or a 0-d operation gives a NumPy scalar,
    which a later op would promote as a Python number (float64 -> float32)."""
    return r if r.__class__ is np.ndarray else np.asarray(r)


def _count(a, dims):
    """How many elements of ``a`` each slice reduced over ``dims`` holds: all of them when
    ``dims`` is None or ``a`` is 0-d."""
    if dims is None or not a.ndim:
        return a.size
    n = 1
    for d in dims:
        n *= a.shape[d]
    return n


def _squeeze(a, dims, keepdim):
    """A reduction's result computed with ``keepdims=True``, as the caller asked: unchanged
    with ``keepdim``, else without the reduced ``dims`` (all of them when ``dims`` is None)."""
    if keepdim:
        return a
    return a.reshape(()) if dims is None else np.squeeze(a, axis=dims)


def _expand_dims(g, dims):
    """``np.expand_dims`` for an array or a recorded Tensor."""
    if not _is_t(g):
        return np.expand_dims(g, dims)
    sh = list(g._array.shape)
    for d in sorted(dims):
        sh.insert(d, 1)
    return g.reshape(tuple(sh))


def _broadcast_to(g, shape):
    """``np.broadcast_to`` for an array or a recorded Tensor (``expand``)."""
    if not _is_t(g):
        return np.broadcast_to(g, shape)
    if g._array.ndim < len(shape):
        g = g.reshape((1,) * (len(shape) - g._array.ndim) + g._array.shape)
    return g.expand(*shape)


def _transpose(g, perm):
    """``ndarray.transpose(perm)`` for an array or a recorded Tensor (``permute``)."""
    if not _is_t(g):
        return g.transpose(perm)
    return g.permute(*[int(i) for i in perm])


def _out(result, out, who):
    """Write ``result`` into the Tensor ``out`` (torch's ``out=``: resized when its shape
    differs, cast to its dtype) and return ``out``; without ``out``, ``result``."""
    if out is None:
        return result
    from ..tensor import Tensor
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: out must be a Tensor, got {type(out).__name__}")
    if _fn._state.grad and (out.requires_grad or result.requires_grad):
        raise RuntimeError(f"{who}(): functions with out=... arguments don't support "
                           f"automatic differentiation, but one of the arguments requires grad.")
    if out._array.shape != result._array.shape:
        out._array = np.empty(result._array.shape, out._array.dtype)
    np.copyto(out._array, result._array, casting="unsafe")
    out._vc[0] += 1
    return out


_MOD_MIN = 1  # fmod/remainder of float32/float64 run on the C++ kernel at every size


def _fmod_array(a, b, python_mod):
    """``np.fmod(a, b)`` (``np.remainder`` with ``python_mod``) for arrays/numbers already in
    the result dtype: float32/float64 operands of one shape (or a one-element ``b``) run on the
    C++ kernel (``csrc/kernels/tensorops``), anything else on NumPy."""
    if a.__class__ is np.ndarray and a.size >= _MOD_MIN and (a.dtype is _F32 or a.dtype is _F64):
        bb = b if b.__class__ is np.ndarray else np.asarray(b, a.dtype)
        if bb.dtype == a.dtype and (bb.shape == a.shape or bb.size == 1):
            return _C.tensorops_fmod(np.ascontiguousarray(a), np.ascontiguousarray(bb),
                                     python_mod)
    return (np.remainder if python_mod else np.fmod)(a, b)
