"""Small helpers shared by the op modules (math, scan, sort, select, shape_ext, linalg_ops):
reaching a tensor's array, wrapping results, dims, ``out=`` and in-place updates.

Every op module goes through these, so the details of the Tensor's storage live in one place.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

import sys

from ..tensor import Tensor
from ..autograd import function as _fn
from .promotion import default_float, result_type

_tensor_mod = sys.modules[Tensor.__module__]


def arr(x):
    """The NumPy array behind a Tensor (or ``np.asarray(x)`` for anything else)."""
    if isinstance(x, Tensor):
        return x._array
    return np.asarray(x)


def _set_arr(t, a):
    t._array = a


def wrap(a):
    """A Tensor around the array ``a`` (no copy)."""
    return Tensor._make(np.asarray(a))


def as_tensor(x, dtype=None):
    """``x`` if it is a Tensor, else a Tensor made from it as ``fastdl.tensor`` would."""
    if isinstance(x, Tensor):
        return x
    return Tensor._make(_tensor_mod._as_array(x, dtype=dtype, copy=False))


def operand(x):
    """A binary op's operand: Tensors pass, Python/NumPy scalars stay scalars (they do not
    widen the result, see ``promotion``), array-likes become Tensors."""
    if isinstance(x, Tensor) or (isinstance(x, numbers.Number) and not isinstance(x, np.ndarray)):
        return x
    return as_tensor(x)


def np_dtype(dtype, what="dtype"):
    """A NumPy dtype from whatever the user passed (``fastdl.float64``, ``np.float32``,
    ``float``, ``"int64"``), or None."""
    if dtype is None:
        return None
    conv = getattr(_tensor_mod, "_canon_dtype", None)
    inner = getattr(dtype, "_np", None) or getattr(dtype, "np_dtype", None)
    if inner is not None:
        return np.dtype(inner)
    if conv is not None:
        return conv(dtype, what)
    return np.dtype(dtype)


def float_dtype(dt):
    """``dt`` if floating, else the default float dtype (torch's int → float rule)."""
    dt = np.dtype(dt)
    return dt if dt.kind in "fc" or dt.kind == "V" else default_float[0]


def norm_dim(d, nd, what):
    """``d`` wrapped into [0, nd) (0-d tensors accept -1 and 0); an IndexError names the op."""
    if d.__class__ is int and nd:  # the common case: a Python int in range
        if 0 <= d < nd:
            return d
        if -nd <= d < 0:
            return d + nd
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{what}: dim must be an int, got {type(d).__name__}")
    n = builtins.max(nd, 1)
    if d < -n or d >= n:
        raise IndexError(f"{what}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return int(d) % n


def norm_dims(dim, nd, what):
    """A sorted tuple of dims, or None for "all"."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        return tuple(sorted({norm_dim(d, nd, what) for d in dim}))
    return (norm_dim(dim, nd, what),)


def recording(*xs):
    """True when an op on ``xs`` would record the graph."""
    return _fn._state.grad and builtins.any(isinstance(x, Tensor) and x.requires_grad
                                            for x in xs)


def out_(out, res, what):
    """Write ``res`` into ``out`` (torch's ``out=``) and return ``out``; ``out=None`` returns
    ``res``. ``out`` is resized when its shape differs; a dtype that ``res`` cannot be cast to
    is a RuntimeError, as is ``out=`` on an op that records the graph."""
    if out is None:
        return res
    if isinstance(res, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError(f"{what}: out= must be a tuple of {len(res)} tensors")
        vals = tuple(out_(o, r, what) for o, r in zip(out, res))
        return type(res)(*vals) if hasattr(res, "_fields") else vals
    if not isinstance(out, Tensor):
        raise TypeError(f"{what}: out= must be a Tensor, got {type(out).__name__}")
    if res.requires_grad and _fn._state.grad:
        raise RuntimeError(f"{what}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if out.requires_grad and _fn._state.grad:
        raise RuntimeError(f"{what}(): out= tensor requires grad; pass a tensor that does not")
    ra, oa = arr(res), arr(out)
    if not np.can_cast(ra.dtype, oa.dtype, casting="same_kind"):
        raise RuntimeError(f"{what}: result type {ra.dtype} can't be cast to the desired output "
                           f"type {oa.dtype}")
    if oa.shape == ra.shape:
        np.copyto(oa, ra, casting="unsafe")
    else:
        _set_arr(out, np.array(ra, dtype=oa.dtype, order="C"))
    out._vc[0] += 1
    return out


def inplace(self, fn, what, *others):
    """Run the out-of-place op ``fn(self)`` and write the result back into ``self`` (torch's
    ``op_``; ``others`` are the op's other tensor operands). The version counter is bumped and,
    when the graph is recorded, ``self`` takes over the result's history (its old value is
    kept for the backward). A result dtype that cannot be cast to ``self``'s is an error."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(self).__name__}")
    a = arr(self)
    track = recording(self, *others)
    if track and self.requires_grad and self._node is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. Wrap the update in `with fastdl.no_grad():` or work on "
                           "a clone.")
    if not track:
        with _fn.no_grad():
            res = fn(self)
    else:
        old = Tensor._make(a.copy(), self.requires_grad)
        old._node, old._out_idx = self._node, self._out_idx
        res = fn(old)
    r = arr(res)
    if not np.can_cast(r.dtype, a.dtype, casting="same_kind"):
        raise RuntimeError(f"{what}: result type {r.dtype} can't be cast to the desired "
                           f"output type {a.dtype}")
    if r.shape != a.shape:
        raise RuntimeError(f"{what}: output with shape {list(a.shape)} doesn't match the "
                           f"broadcast shape {list(r.shape)}")
    if r is not a:
        np.copyto(a, r, casting="unsafe")
    self._vc[0] += 1
    if track:
        node = res._node
        self._node, self._out_idx = node, res._out_idx
        self.requires_grad = node is not None
        if node is not None:
            node._nout = builtins.max(node._nout, 1)
            if node._versions:  # the node saved the result's array: check self's version
                node._versions = [(self._vc if vc is res._vc else vc,
                                   self._vc[0] if vc is res._vc else v, i)
                                  for vc, v, i in node._versions]
    return self


__all__ = ["Tensor", "arr", "wrap", "as_tensor", "operand", "np_dtype", "float_dtype",
           "norm_dim", "norm_dims", "recording", "out_", "inplace", "result_type"]
