"""Type promotion as PyTorch does it, written once: every binary op asks ``result_type``.

The rule (torch's ``ResultTypeState``): operands fall into three groups — tensors with at
least one dimension, zero-dimensional tensors, and Python (or NumPy) scalars. Within a
group dtypes promote by ``promote_types``. Across groups a lower-priority group only matters
when its *category* (bool < integer < floating < complex) is higher: ``float32 tensor * 2.5``
stays float32, ``int64 tensor * 2.5`` becomes the default float dtype, ``int32 tensor +
float64 0-d tensor`` becomes float64, ``float32 tensor + float64 0-d tensor`` stays float32.

Dtypes here are NumPy dtypes (the storage fastdl uses); the public ``fastdl.result_type`` and
``fastdl.promote_types`` wrap these with fastdl's dtype objects.
"""
from __future__ import annotations

import numbers

import numpy as np

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3
_F16 = np.dtype(np.float16)
try:  # bfloat16 storage comes from ml_dtypes when it is installed
    import ml_dtypes as _mld

    _BF16 = np.dtype(_mld.bfloat16)
except ImportError:  # pragma: no cover
    _BF16 = None

# The default float dtype for Python floats and int → float promotions; fastdl's
# set_default_dtype changes it.
default_float = [np.dtype(np.float32)]


def category(dt: np.dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex. Example: ``category(np.dtype('f4')) == 2``"""
    k = dt.kind
    if k == "b":
        return _BOOL
    if k in "iu":
        return _INT
    if k == "c":
        return _COMPLEX
    return _FLOAT  # 'f' and ml_dtypes' bfloat16 ('V' kind with a float name)


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The smallest dtype both ``a`` and ``b`` convert to without leaving their category, as
    ``torch.promote_types``: bool < any; across categories the higher category's dtype wins
    (``int64, float16 → float16``); float16 with bfloat16 gives float32; integers promote as
    NumPy does (``uint8, int8 → int16``). Example: ``promote_types(i4, f4) == f4``"""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if max(ca, cb) == _COMPLEX and min(ca, cb) == _FLOAT:
            return np.promote_types(hi, np.float32 if lo.itemsize <= 4 else lo)
        return hi
    if ca == _FLOAT and _BF16 is not None and {a, b} == {_F16, _BF16}:
        return np.dtype(np.float32)
    if ca == _FLOAT and (a == _BF16 or b == _BF16):
        other = b if a == _BF16 else a
        return other if other.itemsize > 2 else np.dtype(np.float32)
    return np.promote_types(a, b)


def _scalar_dtype(x) -> np.dtype:
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(x, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(x, numbers.Real):
        return default_float[0]
    if isinstance(x, numbers.Complex):
        return np.dtype(np.complex128 if default_float[0] == np.float64 else np.complex64)
    raise TypeError(f"result_type: unsupported operand type {type(x).__name__}")


def _combine(higher, lower):
    """torch's combine_categories: ``lower`` (a lower-priority group) counts only when its
    category is above ``higher``'s."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = category(higher), category(lower)
    if ch >= _FLOAT and ch >= cl:
        return higher
    if ch == _BOOL or cl > ch:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> np.dtype:
    """The dtype of ``op(*operands)`` under PyTorch's promotion. Operands are fastdl Tensors
    or arrays (grouped by whether they have dimensions) and Python/NumPy scalars.

    Example: ``result_type(fastdl.ones(3), 2.5) == float32``;
    ``result_type(fastdl.arange(3), 2.5) == float32`` (the default float dtype)."""
    dim = zero = wrapped = None
    for x in operands:
        if isinstance(x, np.ndarray):
            arr = x
        elif isinstance(x, np.generic) or isinstance(x, numbers.Number):
            arr = None
        else:  # a fastdl Tensor: its private array
            arr = getattr(x, "_array", None)
            if arr is None:
                raise TypeError(f"result_type: unsupported operand type {type(x).__name__}")
        if arr is not None:
            if arr.ndim:
                dim = arr.dtype if dim is None else promote_types(dim, arr.dtype)
            else:
                zero = arr.dtype if zero is None else promote_types(zero, arr.dtype)
        else:
            d = _scalar_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    out = _combine(dim, _combine(zero, wrapped))
    if out is None:
        raise TypeError("result_type: needs at least one operand")
    return out
