"""Argument helpers shared by every ``nn.functional`` module: one spelling of each check.

- ``_tensor(x)``: ``x`` as a Tensor (array-likes converted, ``None`` passes through).
- ``_float(x, fn, name)``: ``x`` as a Tensor (array-likes converted) of a floating dtype, else
  ``TypeError("<fn>: <name> must be float32 or float64, got <dtype> (shape ...)")``.
- ``_contig(a, dtype=None)``: the C-contiguous NumPy array a kernel takes, cast to ``dtype``
  and copied only when needed (``None`` passes through; 0-d stays 0-d).
- ``_tuple(v, n, fn, name)``: an int, or a sequence of 1 or n ints, as a tuple of n ints (as
  PyTorch's convolution and pooling arguments), else ``ValueError`` naming the argument.

Example: ``_tuple(3, 2, "conv2d", "stride")`` gives ``(3, 3)``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...autograd.function import _meta
from ...tensor import Tensor, _nchw, as_tensor

__all__ = []  # private: imported by name from the sibling modules


def _tensor(x):
    """``x`` itself when it is a Tensor or ``None``, else ``as_tensor(x)``.

    Example: ``_tensor([1.0, 2.0])`` is a float32 Tensor.
    """
    return x if x is None or isinstance(x, Tensor) else as_tensor(x)


def _float(x, fn, name="input"):
    """``x`` as a Tensor whose dtype is floating point (TypeError naming ``fn`` and ``name``
    otherwise).

    Example: ``_float(fastdl.ones(2), "relu")`` returns the tensor itself.
    """
    t = x if isinstance(x, Tensor) else as_tensor(x)
    a = _meta(t)  # (shape and dtype: a deferred tensor is not computed for them)
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {a.dtype} "
                        f"(shape {tuple(a.shape)})")
    return t


def _contig(a, dtype=None):
    """``a`` as a C-contiguous ndarray of ``dtype`` (default: its own), copied only when it is
    not one already; ``None`` stays ``None`` and a 0-d array stays 0-d (unlike
    ``np.ascontiguousarray``, which makes it 1-d).

    Example: ``_contig(np.ones((3, 2)).T).flags.c_contiguous`` is True.
    """
    if a is None:
        return None
    if a.__class__ is not np.ndarray:
        a = np.asarray(a)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a if a.flags.c_contiguous else _nchw(a)  # (channels-last: the C++ layout copy)


def _is_int(e):
    if e.__class__ is int:  # the common case, without the abstract-class checks
        return True
    return isinstance(e, (numbers.Integral, np.integer)) and not isinstance(e, (bool, np.bool_))


def _tuple(v, n, fn, name):
    """An int, or a sequence of 1 or ``n`` ints, as a tuple of ``n`` Python ints; anything
    else (a bool, a float, another length) is a ValueError naming ``fn`` and ``name``.

    Example: ``_tuple((2,), 3, "max_pool3d", "kernel_size")`` gives ``(2, 2, 2)``.
    """
    if _is_int(v):
        return (int(v),) * n
    if v.__class__ is tuple and len(v) == n and all(e.__class__ is int for e in v):
        return v
    try:
        t = tuple(v)
    except TypeError:
        t = None
    if t is not None and len(t) == 1:
        t = t * n
    if t is None or len(t) != n or not all(_is_int(e) for e in t):
        raise ValueError(f"{fn}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return tuple(int(e) for e in t)
