"""``fastdl.dtype``: the element types a Tensor can hold, with torch's names and attributes.

Each ``fastdl.dtype`` wraps the NumPy dtype that stores it (bfloat16 comes from the
``ml_dtypes`` package, which NumPy understands). A fastdl dtype compares equal to the same
NumPy dtype (``fastdl.float32 == np.float32``) and NumPy accepts it wherever a dtype is
expected (``np.zeros(3, fastdl.float32)``), so code written against NumPy dtypes keeps working.

The default floating dtype (``get_default_dtype``/``set_default_dtype``) is what Python floats
become in ``fastdl.tensor``, what the factories make, and what integer operands promote to
when they meet a float scalar or are divided (``fastdl.ops.promotion.default_float``).

Example::

    x = fastdl.ones(3, dtype=fastdl.bfloat16)
    x.dtype                      # fastdl.bfloat16
    x.dtype.itemsize             # 2
    fastdl.finfo(x.dtype).eps    # 0.0078125
"""
from __future__ import annotations

import builtins

import ml_dtypes as _mld
import numpy as np


def _category(nd):
    """0 bool, 1 integer, 2 floating (bfloat16 included), 3 complex."""
    k = nd.kind
    return 0 if k == "b" else 1 if k in "iu" else 3 if k == "c" else 2


class _Promotion:
    """``fastdl.ops.promotion``, imported on first use: the ops package imports the Tensor
    class, which needs this module first."""

    def __getattr__(self, name):
        from .ops import promotion
        return getattr(promotion, name)


_promo = _Promotion()


class dtype:
    """An element type, as ``torch.dtype``: ``is_floating_point``, ``is_complex``,
    ``is_signed``, ``itemsize`` (bytes), repr ``fastdl.float32``. Equal to the NumPy dtype that
    stores it. Example: ``fastdl.float16.itemsize == 2``"""

    __slots__ = ("_name", "_np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name, np_dtype):
        self._name = name
        self._np = np.dtype(np_dtype)
        cat = _category(self._np)
        self.is_floating_point = cat == 2
        self.is_complex = cat == 3
        self.is_signed = self._np.kind in "fci" or cat == 2
        self.itemsize = self._np.itemsize

    @property
    def dtype(self):
        """The NumPy dtype storing this type (so ``np.dtype(fastdl.float32)`` works)."""
        return self._np

    @property
    def kind(self):
        """NumPy's kind character ('f' float, 'i'/'u' integer, 'b' bool), for code written
        against NumPy dtypes; bfloat16 reports 'f'."""
        return "f" if self.is_floating_point else self._np.kind

    def __repr__(self):
        return f"fastdl.{self._name}"

    __str__ = __repr__

    def __eq__(self, other):
        if other.__class__ is dtype:
            return other is self
        if isinstance(other, (np.dtype, type)) and other is not builtins.float:
            try:
                return np.dtype(other) == self._np
            except TypeError:
                return False
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return hash(self._np)

    def __reduce__(self):
        return (_by_name, (self._name,))

    def to_real(self):
        """Itself (complex dtypes are not supported)."""
        return self

    def to_complex(self):
        raise TypeError(f"{self!r}: complex dtypes are not supported by fastdl")


def _by_name(name):
    return _NAMES[name]


float16 = dtype("float16", np.float16)
bfloat16 = dtype("bfloat16", _mld.bfloat16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001  (fastdl.bool, as torch.bool)
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

ALL = (float16, bfloat16, float32, float64, int8, uint8, int16, int32, int64, bool)
_NAMES = {d._name: d for d in ALL}
_NAMES.update(half=half, float=float, double=double, short=short, int=int, long=long)
FROM_NP = {d._np: d for d in ALL}           # NumPy dtype -> fastdl dtype
SUPPORTED_NP = frozenset(FROM_NP)
LOW_PRECISION = frozenset((float16._np, bfloat16._np))  # computed in float32, then rounded


def to_np(d, what="dtype"):
    """The NumPy dtype for anything naming a dtype: a fastdl dtype, a NumPy dtype or type,
    Python ``float``/``int``/``bool``, or a name ("float32", "long", "torch.half"). An
    unsupported type is a TypeError naming ``what``."""
    if d.__class__ is dtype:
        return d._np
    if d is builtins.float:
        return _promo.default_float[0]
    if d is builtins.int:
        return int64._np
    if d is builtins.bool:
        return bool._np
    if isinstance(d, str):
        key = d.split(".", 1)[1] if d.startswith(("torch.", "fastdl.")) else d
        if key in _NAMES:
            return _NAMES[key]._np
    try:
        nd = np.dtype(d)
    except TypeError:
        raise TypeError(f"{what}: {d!r} is not a dtype") from None
    if nd not in SUPPORTED_NP:
        raise TypeError(f"{what}: {nd} is not supported; fastdl stores "
                        f"{', '.join(x._name for x in ALL)}")
    return nd


def as_dtype(d, what="dtype"):
    """The fastdl dtype for anything ``to_np`` accepts. Example: ``as_dtype(np.int32)``"""
    return FROM_NP[to_np(d, what)]


def get_default_dtype():
    """The floating dtype Python floats and the factories use (float32 unless changed).
    Example: ``fastdl.get_default_dtype()  # fastdl.float32``"""
    return FROM_NP[_promo.default_float[0]]


def set_default_dtype(d):
    """Make ``d`` (a floating dtype) the default: ``fastdl.tensor([1.0])``, ``fastdl.zeros``,
    ``fastdl.rand`` and int→float promotion then give ``d``. A non-floating ``d`` is a
    TypeError, as in torch. Example: ``fastdl.set_default_dtype(fastdl.float64)``"""
    nd = to_np(d, "set_default_dtype")
    if _promo.category(nd) != 2:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {FROM_NP[nd]!r}")
    _promo.default_float[0] = nd


def promote_types(type1, type2):
    """The smallest dtype both convert to without leaving the higher category (torch's
    lattice, not NumPy's: ``promote_types(int64, float16) == float16``).
    Example: ``fastdl.promote_types(fastdl.int32, fastdl.float32)  # fastdl.float32``"""
    return FROM_NP[_promo.promote_types(to_np(type1, "promote_types"),
                                        to_np(type2, "promote_types"))]


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic op on the two operands (tensors or Python numbers), with
    torch's rule that Python scalars and 0-d tensors do not widen a tensor of the same
    category. Example: ``fastdl.result_type(fastdl.ones(2), 2.5)  # fastdl.float32``"""
    return FROM_NP[_promo.result_type(tensor1, tensor2)]


_CATEGORY_ORDER = {0: 0, 1: 1, 2: 2, 3: 3}


def can_cast(from_, to):
    """Whether torch's casting rule allows ``from_`` → ``to`` in an in-place op: never to a
    lower category (float→int, int→bool), any size within or above a category.
    Example: ``fastdl.can_cast(fastdl.float64, fastdl.int32)  # False``"""
    a, b = to_np(from_, "can_cast"), to_np(to, "can_cast")
    return _promo.category(a) <= _promo.category(b)


class finfo:
    """Machine limits of a floating dtype, as ``torch.finfo``: ``bits``, ``eps``, ``max``,
    ``min``, ``tiny``/``smallest_normal``, ``resolution``, ``dtype``.
    Example: ``fastdl.finfo(fastdl.float16).max  # 65504.0``"""

    def __init__(self, type=None):  # noqa: A002
        d = get_default_dtype() if type is None else as_dtype(type, "finfo")
        if not d.is_floating_point:
            raise TypeError(f"finfo: {d!r} is not a floating point dtype; use fastdl.iinfo")
        fi = _mld.finfo(d._np) if d is bfloat16 else np.finfo(d._np)
        self.bits = d.itemsize * 8
        self.eps = builtins.float(fi.eps)
        self.max = builtins.float(fi.max)
        self.min = builtins.float(fi.min)
        self.tiny = self.smallest_normal = builtins.float(fi.smallest_normal)
        self.resolution = 10.0 ** -builtins.int(fi.precision)
        self.dtype = d._name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer (or bool) dtype, as ``torch.iinfo``: ``bits``, ``min``, ``max``,
    ``dtype``. Example: ``fastdl.iinfo(fastdl.uint8).max  # 255``"""

    def __init__(self, type):  # noqa: A002
        d = as_dtype(type, "iinfo")
        if d.is_floating_point:
            raise TypeError(f"iinfo: {d!r} is a floating point dtype; use fastdl.finfo")
        if d is bool:
            self.bits, self.min, self.max = 8, 0, 1
        else:
            ii = np.iinfo(d._np)
            self.bits, self.min, self.max = ii.bits, builtins.int(ii.min), builtins.int(ii.max)
        self.dtype = d._name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
