"""Tensor factories with torch's signatures: ``tensor``, ``as_tensor``, ``from_numpy``,
``zeros``/``ones``/``empty``/``full`` (and ``*_like``), ``arange``, ``linspace``,
``logspace``, ``eye``, ``rand``/``randn``/``randint``/``randperm`` (and ``*_like``).

Every factory takes ``dtype=`` (default: the default float dtype for floating results,
``fastdl.get_default_dtype()``), ``device=`` (only the CPU; anything else is a RuntimeError),
``requires_grad=``, and where torch has them ``out=``, ``layout=``, ``pin_memory=``,
``memory_format=`` and ``generator=``. Sizes are given as ``zeros(2, 3)``, ``zeros((2, 3))``
or ``zeros(size=(2, 3))``. Large outputs come from fastdl's caching allocator.

Example::

    x = fastdl.zeros(2, 3, device="cpu", dtype=fastdl.float64)
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import _device as _devmod
from .. import _dtype as _dt
from ..random import default_generator
from ..tensor import Tensor, _as_array, _empty_in_format, _in_format, _is_channels_last
from ..tensor import channels_last, channels_last_3d, contiguous_format, preserve_format
from ._util import _SUPPORTED, _canon_dtype, _default_float, _empty

_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)


def _size(shape, size, who):
    """The shape from ``*shape`` or ``size=`` (one of the two), validated."""
    if size is not None:
        if shape:
            raise TypeError(f"{who}: pass the size either positionally or as size=, not both")
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, builtins.bool) or not isinstance(s, (numbers.Integral,)):
            raise TypeError(f"{who}: size must be a sequence of ints, got {shape!r}")
        if s < 0:
            raise RuntimeError(f"{who}: Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
        out.append(int(s))
    return tuple(out)


def _finish(arr, who, device, requires_grad, out=None):
    _devmod.check(device, who)
    if out is not None:
        if not isinstance(out, Tensor):
            raise TypeError(f"{who}: out must be a Tensor, got {type(out).__name__}")
        if out._array.shape != arr.shape:
            out._array = np.empty(arr.shape, out._array.dtype)
        np.copyto(out._array, arr, casting="unsafe")
        out._vc[0] += 1
        return out
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rng(generator):
    """The NumPy generator behind ``generator`` (None: fastdl's default one)."""
    if generator is None:
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    g = getattr(generator, "_rng", None)
    if isinstance(g, np.random.Generator):
        return g
    raise TypeError(f"generator must be a fastdl.Generator, got {type(generator).__name__}")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying ``data`` (lists, scalars, NumPy arrays of any layout, Tensors).
    Python floats take the default float dtype, ints int64, bools bool, as in torch; a NumPy
    array keeps a supported dtype.
    Example: ``fastdl.tensor([[1, 2], [3, 4]], dtype=fastdl.float32, requires_grad=True)``"""
    _devmod.check(device, "tensor")
    t = Tensor._make(_as_array(data, dtype))
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(a):
    """A tensor sharing memory with the C-contiguous NumPy array ``a`` of a supported dtype
    (float16, bfloat16, float32, float64, int8/16/32/64, uint8, bool); another dtype or
    layout is a TypeError. Example: ``t = fastdl.from_numpy(np.zeros(3, np.float32))``"""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(a).__name__}")
    if a.dtype not in _SUPPORTED:
        raise TypeError(f"from_numpy: dtype {a.dtype} is not supported; use one of "
                        f"{', '.join(d._name for d in _dt.ALL)} (or fastdl.tensor to convert)")
    if not a.flags.c_contiguous:
        raise TypeError(f"from_numpy: the array (shape {a.shape}) is not C-contiguous; pass "
                        f"np.ascontiguousarray(a) or use fastdl.tensor to copy")
    return Tensor._make(a)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but without a copy when ``data`` (a Tensor, or a C-contiguous array
    of a supported dtype) already has ``dtype``. Example: ``fastdl.as_tensor(np.ones(3))``"""
    _devmod.check(device, "as_tensor")
    if isinstance(data, Tensor):
        if dtype is None or _canon_dtype(dtype) == data._array.dtype:
            return data
        return data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype in _SUPPORTED and \
            data.flags.c_contiguous and (dtype is None or _canon_dtype(dtype) == data.dtype):
        return Tensor._make(data)
    return Tensor._make(_as_array(data, dtype))


def _filled(shape, size, value, dtype, who):
    a = _empty(_size(shape, size, who), _canon_dtype(dtype, who) or _default_float())
    a.fill(value)
    return a


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None, **kw):
    """An uninitialised tensor (memory from the caching allocator). Example:
    ``fastdl.empty(2, 3)``"""
    a = _empty(_size(size, kw.pop("size", None), "empty"),
               _canon_dtype(dtype, "empty") or _default_float())
    _no_extra(kw, "empty")
    return _finish(a, "empty", device, requires_grad, out)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, **kw):
    """A tensor of zeros (default float dtype unless ``dtype``). Example: ``fastdl.zeros(2, 3)``"""
    a = _filled(size, kw.pop("size", None), 0, dtype, "zeros")
    _no_extra(kw, "zeros")
    return _finish(a, "zeros", device, requires_grad, out)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, **kw):
    """A tensor of ones. Example: ``fastdl.ones(2, 3, dtype=fastdl.float64)``"""
    a = _filled(size, kw.pop("size", None), 1, dtype, "ones")
    _no_extra(kw, "ones")
    return _finish(a, "ones", device, requires_grad, out)


def _no_extra(kw, who):
    if kw:
        raise TypeError(f"{who}() got an unexpected keyword argument '{next(iter(kw))}'")


def _fill_dtype(fill_value):
    if isinstance(fill_value, (builtins.bool, np.bool_)):
        return _BOOL
    if isinstance(fill_value, (numbers.Integral,)):
        return _I64
    if isinstance(fill_value, Tensor):
        return fill_value._array.dtype
    return _default_float()


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False):
    """A tensor of ``fill_value``; its dtype follows the value (bool, int64 or the default
    float) unless ``dtype`` is given, as in torch. Example: ``fastdl.full((2, 2), 7.0)``"""
    shape = _size((size,), None, "full")
    dt = _canon_dtype(dtype, "full") or _fill_dtype(fill_value)
    a = _empty(shape, dt)
    a.fill(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _finish(a, "full", device, requires_grad, out)


def _like(input, dtype, who, memory_format=None):
    """(shape, dtype, memory format) of a ``*_like`` result: torch's ``preserve_format``
    default keeps a channels-last input's layout (else C-contiguous)."""
    if not isinstance(input, Tensor):
        input = as_tensor(input)
    a = input._array
    mf = memory_format
    if mf is None or mf is preserve_format:
        mf = contiguous_format
        if not a.flags.c_contiguous:
            for f in (channels_last, channels_last_3d):
                if _is_channels_last(a, f):
                    mf = f
    return a.shape, (_canon_dtype(dtype, who) or a.dtype), mf


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    """Zeros of ``input``'s shape (and dtype unless given); ``memory_format``
    (``preserve_format`` by default: a channels-last input gives a channels-last result).
    ``fastdl.zeros_like(x)``"""
    shape, dt, mf = _like(input, dtype, "zeros_like", memory_format)
    a = _empty_in_format(shape, dt, mf)
    a.fill(0)
    return _finish(a, "zeros_like", device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    """Ones of ``input``'s shape (and dtype unless given); ``memory_format`` as
    ``zeros_like``. ``fastdl.ones_like(x)``"""
    shape, dt, mf = _like(input, dtype, "ones_like", memory_format)
    a = _empty_in_format(shape, dt, mf)
    a.fill(1)
    return _finish(a, "ones_like", device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    """Uninitialised, of ``input``'s shape (and dtype); ``memory_format`` as ``zeros_like``.
    ``fastdl.empty_like(x)``"""
    shape, dt, mf = _like(input, dtype, "empty_like", memory_format)
    return _finish(_empty_in_format(shape, dt, mf), "empty_like", device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad=False, memory_format=None):
    """``fill_value`` in ``input``'s shape (and dtype); ``memory_format`` as ``zeros_like``.
    ``fastdl.full_like(x, 2.0)``"""
    shape, dt, mf = _like(input, dtype, "full_like", memory_format)
    a = _empty_in_format(shape, dt, mf)
    a.fill(fill_value)
    return _finish(a, "full_like", device, requires_grad)


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Values from ``start`` (default 0) up to ``end``, ``step`` apart: int64 when all are
    ints, else the default float dtype. Example: ``fastdl.arange(5)``"""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        ints = builtins.all(isinstance(v, (numbers.Integral,)) for v in (start, end, step))
        dt = _I64 if ints else _default_float()
    else:
        dt = _canon_dtype(dtype, "arange")
    return _finish(np.arange(start, end, step).astype(dt, copy=False), "arange", device,
                   requires_grad, out)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.
    Example: ``fastdl.linspace(0, 1, 5)``"""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps!r}")
    dt = _canon_dtype(dtype, "linspace") or _default_float()
    a = np.linspace(float(start), float(end), int(steps)).astype(dt)
    return _finish(a, "linspace", device, requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``base ** linspace(start, end, steps)``. Example: ``fastdl.logspace(0, 2, 3)``"""
    dt = _canon_dtype(dtype, "logspace") or _default_float()
    a = np.logspace(float(start), float(end), int(steps), base=base).astype(dt)
    return _finish(a, "logspace", device, requires_grad, out)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The ``n × m`` identity (``m = n`` by default). Example: ``fastdl.eye(3)``"""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    dt = _canon_dtype(dtype, "eye") or _default_float()
    return _finish(np.eye(n, m, dtype=dt), "eye", device, requires_grad, out)


def _float_dtype(dtype, who):
    dt = _canon_dtype(dtype, who) or _default_float()
    if dt not in (np.float32, np.float64) and dt.itemsize != 2:
        raise RuntimeError(f"{who}: expected a floating dtype, got {_dt.FROM_NP[dt]!r}")
    return dt


def _sample_float(draw, shape, dt):
    """Draw in float32/float64 (NumPy's generators), then round to a 16-bit dtype."""
    if dt.itemsize == 2:
        return draw(shape, np.float32).astype(dt)
    return draw(shape, dt)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False, **kw):
    """Standard normal samples from fastdl's seeded generator. ``fastdl.randn(2, 3)``"""
    shape = _size(size, kw.pop("size", None), "randn")
    _no_extra(kw, "randn")
    g = _rng(generator)
    a = _sample_float(lambda s, d: g.standard_normal(s, dtype=d), shape,
                      _float_dtype(dtype, "randn"))
    return _finish(a, "randn", device, requires_grad, out)


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False, **kw):
    """Uniform samples in [0, 1) from fastdl's seeded generator. ``fastdl.rand(4)``"""
    shape = _size(size, kw.pop("size", None), "rand")
    _no_extra(kw, "rand")
    g = _rng(generator)
    a = _sample_float(lambda s, d: g.random(s, dtype=d), shape, _float_dtype(dtype, "rand"))
    return _finish(a, "rand", device, requires_grad, out)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad=False):
    """Random integers in ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)``, as torch. Example: ``fastdl.randint(0, 10, (3,))``"""
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint: missing the size argument")
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint: missing the high argument")
    shape = _size((size,), None, "randint")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    a = _rng(generator).integers(low, high, shape, dtype=np.int64)
    return _finish(a.astype(_canon_dtype(dtype, "randint") or _I64, copy=False), "randint",
                   device, requires_grad, out)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad=False, memory_format=None):
    """Standard normal samples of ``input``'s shape (and dtype). ``fastdl.randn_like(x)``"""
    shape, dt, mf = _like(input, dtype, "randn_like", memory_format)
    t = randn(shape, generator=generator, dtype=dt, device=device)
    return _finish(_in_format(t._array, mf), "randn_like", device, requires_grad)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad=False, memory_format=None):
    """Uniform [0, 1) samples of ``input``'s shape (and dtype). ``fastdl.rand_like(x)``"""
    shape, dt, mf = _like(input, dtype, "rand_like", memory_format)
    t = rand(shape, generator=generator, dtype=dt, device=device)
    return _finish(_in_format(t._array, mf), "rand_like", device, requires_grad)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    """A random permutation of ``0 .. n-1`` (int64). ``n < 0`` is a RuntimeError, as torch.
    Example: ``fastdl.randperm(5)``"""
    if isinstance(n, builtins.bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"randperm: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    a = _rng(generator).permutation(int(n)).astype(_canon_dtype(dtype, "randperm") or _I64)
    return _finish(a, "randperm", device, requires_grad, out)


__all__ = ["tensor", "from_numpy", "as_tensor", "empty", "zeros", "ones", "full",
           "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace",
           "logspace", "eye", "randn", "rand", "randint", "randn_like", "rand_like", "randperm"]
