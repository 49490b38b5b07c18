"""The legacy typed constructors ``fastdl.FloatTensor``, ``DoubleTensor``, ``HalfTensor``,
``BFloat16Tensor``, ``LongTensor``, ``IntTensor``, ``ShortTensor``, ``CharTensor``,
``ByteTensor``, ``BoolTensor``, as torch keeps them for old scripts: called with sizes they
make an uninitialised tensor, called with data they copy it into their dtype;
``isinstance(x, fastdl.FloatTensor)`` checks the dtype; ``x.type(fastdl.LongTensor)`` casts.

Example: ``fastdl.LongTensor([1, 2])``, ``fastdl.FloatTensor(2, 3)``
"""
from __future__ import annotations

import numbers

import numpy as np

from .tensor import _LEGACY_DTYPE, Tensor, _as_array


class _LegacyType(type):
    def __call__(cls, *args, device=None):
        d = cls._legacy_dtype
        if device is not None:
            from ._device import check
            check(device, cls.__name__)
        if not args:
            return Tensor._make(np.empty((0,), d._np))
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return Tensor._make(np.zeros(tuple(int(a) for a in args), d._np))
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}: expected one data argument or integer sizes")
        return Tensor._make(_as_array(args[0], d._np))

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls._legacy_dtype

    def __repr__(cls):
        return f"<class 'fastdl.{cls.__name__}'>"


def _make(name, dt):
    return _LegacyType(name, (), {"_legacy_dtype": dt, "__module__": "fastdl",
                                  "__doc__": f"Legacy constructor of {dt!r} tensors."})


FloatTensor = _make("FloatTensor", _LEGACY_DTYPE["FloatTensor"])
DoubleTensor = _make("DoubleTensor", _LEGACY_DTYPE["DoubleTensor"])
HalfTensor = _make("HalfTensor", _LEGACY_DTYPE["HalfTensor"])
BFloat16Tensor = _make("BFloat16Tensor", _LEGACY_DTYPE["BFloat16Tensor"])
LongTensor = _make("LongTensor", _LEGACY_DTYPE["LongTensor"])
IntTensor = _make("IntTensor", _LEGACY_DTYPE["IntTensor"])
ShortTensor = _make("ShortTensor", _LEGACY_DTYPE["ShortTensor"])
CharTensor = _make("CharTensor", _LEGACY_DTYPE["CharTensor"])
ByteTensor = _make("ByteTensor", _LEGACY_DTYPE["ByteTensor"])
BoolTensor = _make("BoolTensor", _LEGACY_DTYPE["BoolTensor"])

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
           "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
