"""``default_collate`` and ``default_convert``: PyTorch's rules for turning samples into
batches.

========================  ==============================================================
sample element            batch (``default_collate``)
========================  ==============================================================
Tensor                    Tensors stacked on a new first dimension
NumPy array               as a Tensor, stacked (dtypes fastdl cannot hold map as
                          ``fastdl.as_tensor`` does); string/object arrays: TypeError
NumPy scalar              a 1-d Tensor of its dtype
Python float              float64 Tensor
Python int (bool)         int64 (bool) Tensor
str / bytes               the list of them
dict (Mapping)            the same mapping type, collated key by key
named tuple               the same named tuple, collated field by field
tuple / list (Sequence)   a **list** of collated fields (all samples equally long, else
                          RuntimeError)
========================  ==============================================================

Inside a DataLoader worker process the stacked arrays are written straight into shared
memory (see ``_shm``), so a batch crosses to the main process without being pickled.
"""
from __future__ import annotations

import collections.abc
import copy
import numbers

import numpy as np

from ...tensor import Tensor, _as_array

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")

# Where stacked batches are allocated: np.empty in the main process; shared memory in a
# worker (set by the worker loop).
_alloc = {"fn": None}


def _empty(shape, dtype):
    fn = _alloc["fn"]
    if fn is not None:
        return fn(shape, dtype)
    return np.empty(shape, dtype)


def _stack(arrs):
    first = arrs[0]
    shape = first.shape
    for k, a in enumerate(arrs):
        if a.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(a.shape)} at entry {k}")
    dt = np.result_type(*[a.dtype for a in arrs]) if len({a.dtype for a in arrs}) > 1 \
        else first.dtype
    out = _empty((len(arrs),) + shape, dt)
    for k, a in enumerate(arrs):  # one copy per sample straight into the batch buffer
        out[k] = a
    return out


_DTYPES = {}


def _tensor_dtype(dt):
    """The dtype a Tensor made from an array of dtype ``dt`` has."""
    out = _DTYPES.get(dt)
    if out is None:
        out = _DTYPES[dt] = _as_array(np.empty(0, dt), copy=False).dtype
    return out


def _is_string_array(a):
    return a.dtype.kind in "SUOaV"


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _collate(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._make(_stack([t._array if isinstance(t, Tensor) else np.asarray(t)
                                    for t in batch]))
    if isinstance(elem, np.ndarray) or (isinstance(elem, np.generic) and
                                        type(elem).__module__ == "numpy"):
        if isinstance(elem, (np.str_, np.bytes_)):
            return list(batch)
        arrs = [np.asarray(b) for b in batch]
        for a in arrs:
            if _is_string_array(a):
                raise TypeError(_ERR.format(a.dtype))
        # fastdl's dtypes: map the others as fastdl.as_tensor does (uint8 -> int64, ...)
        arrs = [a if _tensor_dtype(a.dtype) == a.dtype else a.astype(_tensor_dtype(a.dtype))
                for a in arrs]
        return Tensor._make(_stack(arrs))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor._make(np.array(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor._make(np.array(batch, dtype=np.float64))
    if isinstance(elem, numbers.Integral):
        return Tensor._make(np.array([int(b) for b in batch], dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: _collate([d[key] for d in batch]) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)  # keeps the mapping's type and attributes
                clone.update(fields)
                return clone
            return type(elem)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(elem):
        return type(elem)(*(_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(s) != n for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_ERR.format(type(elem)))


def default_collate(batch):
    """Stack a list of samples into a batch, field by field, with PyTorch's rules (the
    table in the module docstring): ``[(x0, y0), (x1, y1)]`` gives ``[X, Y]`` (a list)
    with a new first dimension; Python floats become float64, ints int64.

    Example::

        xb, yb = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
        xb.shape, yb.tolist()      # ((2, 3), [1, 0])
    """
    if isinstance(batch, (str, bytes)) or not isinstance(batch, collections.abc.Sequence):
        raise TypeError(f"default_collate: expected a list of samples, got "
                        f"{type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate: expected a non-empty list of samples")
    return _collate(list(batch))


def default_convert(data):
    """Turn NumPy arrays (and NumPy scalars) into Tensors, inside dicts, named tuples,
    tuples (which become lists) and lists; everything else is returned as is. The
    DataLoader applies it to samples when automatic batching is off (``batch_size=None``).

    Example: ``default_convert({'x': np.zeros(2)})`` -> ``{'x': tensor([0., 0.])}``
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) or (isinstance(data, np.generic) and
                                        not isinstance(data, (np.str_, np.bytes_))):
        if _is_string_array(np.asarray(data)):
            return data
        return Tensor._make(_as_array(data, copy=False))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
