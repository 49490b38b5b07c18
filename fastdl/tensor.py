"""``fastdl.Tensor``: a NumPy array plus what reverse-mode autograd needs.

A Tensor wraps a NumPy array (``t._array``) of float32 or float64 (differentiable), int64 or
bool. Ops build the graph as they run (see ``fastdl.autograd``); each primitive op below is
one ``_Op`` with its forward and backward side by side, composite ops are built from them.
Large outputs come from fastdl's caching allocator, so a big elementwise op does not pay for
fresh pages on every call.

Differences from PyTorch, on purpose: gradients are not themselves differentiable (no
double backward); views (``transpose``, ``permute``, slicing) share memory and the version
counter as in PyTorch, and kernels make their inputs contiguous once at the entry.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import _C
from . import _dtype as _dt
from ._dtype import (bfloat16, bool, double, float, float16, float32, float64, half,  # noqa
                     int8, int16, int32, int64, long, uint8)
from .autograd import function as _fn
from .autograd.function import _Op, no_grad
from .random import default_generator

from . import _device as _devmod
from . import return_types as _rt
from ._size import Size
from .ops import promotion as _promo

_SUPPORTED = _dt.SUPPORTED_NP
_FROM_NP = _dt.FROM_NP
_FLOATS = frozenset(d._np for d in _dt.ALL if d.is_floating_point)  # differentiable storage
_LOWP = _dt.LOW_PRECISION
_F32 = np.dtype(np.float32)
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


def _canon_dtype(dtype, what="dtype"):
    """The NumPy storage dtype for a dtype argument (None stays None)."""
    if dtype is None:
        return None
    return _dt.to_np(dtype, what)


def _default_float():
    return _promo.default_float[0]


class memory_format:
    """A memory-format tag (``fastdl.contiguous_format``, ``preserve_format``,
    ``channels_last``, ``channels_last_3d``). fastdl stores every tensor C-contiguous; the tags
    are accepted where torch takes them and change no value (kernels pick their own layout).
    """

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"fastdl.{self._name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def _check_memory_format(mf, where):
    if mf is not None and not isinstance(mf, memory_format):
        raise TypeError(f"{where}: memory_format must be a fastdl.memory_format, got {mf!r}")


# legacy tensor-type names (torch.FloatTensor ...) and their dtypes
_LEGACY_DTYPE = {"FloatTensor": float32, "DoubleTensor": float64, "HalfTensor": float16,
                 "BFloat16Tensor": bfloat16, "ByteTensor": uint8, "CharTensor": int8,
                 "ShortTensor": int16, "IntTensor": int32, "LongTensor": int64,
                 "BoolTensor": bool}
_LEGACY_NAME = {d: n for n, d in _LEGACY_DTYPE.items()}


def _as_array(data, dtype=None, copy=True):
    """Convert array-likes the way ``torch.tensor`` does: Python floats -> the default float
    dtype, ints -> int64, bools -> bool; NumPy arrays keep a supported dtype (float16,
    bfloat16, float32, float64, int8/16/32/64, uint8, bool); other NumPy dtypes map to the
    nearest supported one (other unsigned ints -> int64)."""
    dt = _canon_dtype(dtype)
    if isinstance(data, Tensor):
        a = data._array
    elif isinstance(data, np.ndarray):
        a = data
    elif isinstance(data, np.generic):
        a = np.asarray(data)
    else:
        a = np.array(data)
        if a.dtype == np.float64 and dt is None:
            a = a.astype(_default_float())  # Python floats take the default dtype
    if a.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(data).__name__} of mixed objects")
    if dt is None:
        k = a.dtype.kind
        if a.dtype in _SUPPORTED:
            dt = a.dtype
        elif k == "f" or k == "c":
            if k == "c":
                raise TypeError("complex tensors are not supported")
            dt = _F32
        elif k in "iu":
            dt = _I64
        elif k == "b":
            dt = _BOOL
        else:
            raise TypeError(f"cannot make a tensor of dtype {a.dtype}")
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return np.array(a, dtype=dt, copy=True, order="C") if copy else \
        np.asarray(a, dtype=dt, order="C")


def _arr(x):
    """Array of a Tensor or array-like operand (scalars stay Python scalars)."""
    if isinstance(x, Tensor):
        return x._array
    return x


def _wrap_operand(x, like):
    """Make a binary op's other operand: Tensors pass, Python numbers stay scalars,
    array-likes become Tensors of the natural dtype."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Number) and not isinstance(x, np.generic):
        return x
    return Tensor._make(_as_array(x, copy=False))


class Tensor:
    """A multi-dimensional array with reverse-mode autograd.

    Example::

        x = fastdl.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        x.grad            # tensor([[2., 4.], [6., 8.]])
    """

    __slots__ = ("_array", "requires_grad", "grad", "_node", "_out_idx", "_vc", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor

    def __init__(self, *args, dtype=None, requires_grad=False, device=None):
        """``Tensor(data)`` copies ``data`` (as ``fastdl.tensor``, but lists and numbers take
        the default float dtype, as the legacy ``torch.Tensor`` constructor);
        ``Tensor(*sizes)`` is an uninitialised float tensor; ``Tensor()`` is empty."""
        if device is not None:
            _devmod.check(device, "Tensor")
        if not args:
            arr = np.empty((0,), _canon_dtype(dtype) or _default_float())
        elif builtins.all(isinstance(a, numbers.Integral) and not isinstance(a, builtins.bool)
                          and not isinstance(a, np.generic) for a in args) and \
                (len(args) > 1 or type(self) is Tensor and dtype is None):
            arr = np.empty(tuple(builtins.int(a) for a in args),
                           _canon_dtype(dtype) or _default_float())
        elif len(args) == 1 and isinstance(args[0], Size):
            arr = np.empty(tuple(args[0]), _canon_dtype(dtype) or _default_float())
        else:
            if len(args) != 1:
                raise TypeError(f"Tensor: expected one data argument or integer sizes, got "
                                f"{args!r}")
            data = args[0]
            if dtype is None and type(self) is Tensor and isinstance(data, (list, tuple)):
                dtype = _default_float()
            arr = _as_array(data, dtype)
        self._array = arr
        self.grad = None
        self._node = None
        self._out_idx = 0
        self._vc = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, arr, requires_grad=False):
        """Wrap an array without copying (internal)."""
        t = object.__new__(cls)
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        t._array = arr
        t.requires_grad = requires_grad
        t.grad = None
        t._node = None
        t._out_idx = 0
        t._vc = [0]
        return t

    # ---- properties -------------------------------------------------------------------
    @property
    def data(self):
        """This tensor's storage as a new Tensor outside the graph (as torch's ``x.data``):
        it shares memory with ``x`` but not its version counter and never requires grad, so
        ``p.data.mul_(0.5)`` changes ``p`` without being recorded or seen by autograd's
        in-place check (use ``detach()`` for a checked view). Assigning ``p.data = other``
        replaces ``p``'s storage by ``other``'s (shapes may differ). The NumPy array is
        ``x.numpy()``. Example: ``p.data.copy_(fastdl.zeros(3))``"""
        return Tensor._make(self._array)

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            arr = value._array
        elif isinstance(value, np.ndarray):
            arr = value
        else:
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        if self.requires_grad and arr.dtype not in _FLOATS:
            raise RuntimeError(f"data: a tensor that requires grad cannot take {arr.dtype} "
                               f"storage")
        self._array = arr

    @property
    def shape(self):
        """The sizes of the dimensions, a ``fastdl.Size``."""
        return Size(self._array.shape)

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def dtype(self):
        """The element type, a ``fastdl.dtype`` (equal to the NumPy dtype of the storage)."""
        return _FROM_NP[self._array.dtype]

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def T(self):
        return self.permute(*range(self._array.ndim - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    @property
    def _version(self):
        return self._vc[0]

    def size(self, dim=None):
        """The shape (a ``fastdl.Size``), or the size of dimension ``dim``.
        Example: ``x.size(-1)``"""
        if dim is None:
            return Size(self._array.shape)
        return self._array.shape[_norm_dim(dim, self._array.ndim, "size")] \
            if self._array.ndim else _norm_dim(dim, 0, "size") and 1

    def dim(self):
        return self._array.ndim

    ndimension = dim

    def numel(self):
        return int(self._array.size)

    nelement = numel

    def element_size(self):
        """Bytes per element. Example: ``fastdl.ones(2).half().element_size() == 2``"""
        return self._array.itemsize

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dimension (a tuple), or along
        ``dim``; 0 along an expanded dimension. Example: ``fastdl.zeros(2, 3).stride()``"""
        st = tuple(s // self._array.itemsize for s in self._array.strides)
        if dim is None:
            return st
        return st[_norm_dim(dim, self._array.ndim, "stride")]

    def data_ptr(self):
        """The address of the first element (shared by tensors sharing storage)."""
        return self._array.__array_interface__["data"][0]

    def storage_offset(self):
        """The offset, in elements, of the first element from the start of the storage it
        views (0 for a tensor that owns its memory). Example: ``x[1:].storage_offset()``"""
        base = self._array
        while isinstance(base.base, np.ndarray):
            base = base.base
        return (self.data_ptr() - base.__array_interface__["data"][0]) // self._array.itemsize

    def is_floating_point(self):
        """True for float16, bfloat16, float32 and float64 tensors."""
        return self._array.dtype in _FLOATS

    def is_complex(self):
        return False

    def is_signed(self):
        return self._array.dtype.kind != "u" and self._array.dtype != _BOOL

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new tensor copying ``data``, with this tensor's dtype unless ``dtype``."""
        _devmod.check(device, "new_tensor")
        t = Tensor._make(_as_array(data, dtype or self._array.dtype))
        return t.requires_grad_(True) if requires_grad else t

    def _new(self, size, fill, dtype, device, requires_grad, who):
        from .ops.factories import _size as _fsize
        _devmod.check(device, who)
        a = _empty(_fsize(size, None, who), _canon_dtype(dtype, who) or self._array.dtype)
        if fill is not None:
            a.fill(fill)
        t = Tensor._make(a)
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        """Zeros of ``size`` with this tensor's dtype (unless ``dtype``)."""
        return self._new(size or (kw.pop("size"),), 0, dtype, device, requires_grad,
                         "new_zeros")

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        """Ones of ``size`` with this tensor's dtype (unless ``dtype``)."""
        return self._new(size or (kw.pop("size"),), 1, dtype, device, requires_grad,
                         "new_ones")

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        """An uninitialised tensor of ``size`` with this tensor's dtype (unless ``dtype``)."""
        return self._new(size or (kw.pop("size"),), None, dtype, device, requires_grad,
                         "new_empty")

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in ``size`` with this tensor's dtype (unless ``dtype``)."""
        return self._new((size,), fill_value, dtype, device, requires_grad, "new_full")

    def item(self):
        if self._array.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a "
                             f"Python scalar, this one has shape {self._array.shape}")
        return self._array.reshape(()).item()

    def tolist(self):
        return self._array.tolist()

    def numpy(self, *, force=False):
        """The underlying NumPy array (shared memory). Refuses tensors that require grad,
        as PyTorch does: call ``.detach().numpy()`` (or pass ``force=True``)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a Tensor that requires grad; use "
                               "tensor.detach().numpy() instead")
        return self._array

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._array.dtype:
            return self._array.astype(dtype)
        if copy:
            return self._array.copy()
        return self._array

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    def __bool__(self):
        if self._array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with shape {self._array.shape} is "
                               f"ambiguous")
        return builtins.bool(self._array.reshape(())[()])

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._array.dtype.kind not in "iu" or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        if self._array.size == 1 and self._array.ndim == 0 or spec and self._array.size == 1:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def __repr__(self):
        from ._print import format_body
        body = format_body(self._array)
        extra = ""
        if self._array.size == 0 and self._array.ndim != 1:
            extra += f", size={tuple(self._array.shape)}"
        if self._array.dtype not in (_default_float(), _I64, _BOOL):
            extra += f", dtype={self.dtype!r}"
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__.lstrip('_')}Backward0>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- autograd ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._array.dtype not in _FLOATS:
            raise RuntimeError(f"requires_grad_: only floating point tensors can require "
                               f"gradients, this one is {self._array.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_: can only change the flag of leaf tensors; use "
                               ".detach() for a non-leaf")
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf.

        ``gradient`` is d(loss)/d(self) (needed unless self has one element).
        Example: ``loss.backward()``
        """
        _fn.backward([self], [gradient], retain_graph=retain_graph)

    def detach(self):
        """A tensor sharing this one's data (and version counter) outside the graph."""
        t = Tensor._make(self._array)
        t._vc = self._vc
        return t

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def clone(self):
        return _Clone.apply(self)

    def contiguous(self):
        if self._array.flags.c_contiguous:
            return self
        return _Clone.apply(self)

    def is_contiguous(self):
        return self._array.flags.c_contiguous

    def to(self, *args, **kwargs):
        """This tensor with another dtype and/or device, as ``torch.Tensor.to``:
        ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's dtype),
        keywords ``dtype=``, ``device=``, ``non_blocking=`` (ignored), ``copy=``,
        ``memory_format=``. Returns ``self`` when nothing changes (unless ``copy=True``);
        differentiable between floating dtypes. Any device but the CPU is a RuntimeError.
        Example: ``t.to("cpu", fastdl.float64)``"""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        _check_memory_format(kwargs.pop("memory_format", None), "to")
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        flags = []
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, builtins.bool):
                flags.append(a)
            elif _devmod.is_device_like(a) or isinstance(a, int):
                dev = a
            elif a is not None:
                dtype = a
        if len(flags) > 1:
            copy = flags[1]
        if dev is not None:
            _devmod.check(dev, "to")
        if dtype is None:
            return self.clone() if copy else self
        dt = _canon_dtype(dtype, "to")
        if dt == self._array.dtype:
            return self.clone() if copy else self
        return _Cast.apply(self, dt)

    def cpu(self, memory_format=None):
        """This tensor (it is on the CPU already). Example: ``t.cpu().numpy()``"""
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """Always a RuntimeError: fastdl runs on the CPU only."""
        _devmod._refuse("cuda", "cuda")

    def pin_memory(self, device=None):
        """This tensor (pinned memory only matters for accelerators)."""
        return self

    def is_pinned(self, device=None):
        return False

    @property
    def device(self):
        """Always ``device(type='cpu')``."""
        return _devmod.CPU

    is_cuda = is_xpu = is_mps = is_meta = is_sparse = is_quantized = False
    is_mkldnn = is_nested = False

    def get_device(self):
        """-1, the index torch gives a CPU tensor."""
        return -1

    def half(self):
        """Convert to float16 (storage; arithmetic runs in float32 and rounds)."""
        return self.to(float16)

    def bfloat16(self):
        """Convert to bfloat16 (storage; arithmetic runs in float32 and rounds)."""
        return self.to(bfloat16)

    def float(self):
        """Convert to float32."""
        return self.to(float32)

    def double(self):
        """Convert to float64."""
        return self.to(float64)

    def int(self):
        """Convert to int32 (floats truncate toward zero)."""
        return self.to(int32)

    def long(self):
        """Convert to int64 (floats truncate toward zero)."""
        return self.to(int64)

    def short(self):
        """Convert to int16."""
        return self.to(int16)

    def char(self):
        """Convert to int8."""
        return self.to(int8)

    def byte(self):
        """Convert to uint8."""
        return self.to(uint8)

    def bool(self):
        """Convert to bool (nonzero is True)."""
        return self.to(bool)

    def type(self, dtype=None, non_blocking=False):
        """Without an argument, the legacy type name (``'torch.FloatTensor'``, as torch
        prints it, so string checks in existing scripts hold); with a dtype or such a name,
        ``self.to(dtype)``. Example: ``t.type(fastdl.int64)``"""
        if dtype is None:
            return "torch." + _LEGACY_NAME[_FROM_NP[self._array.dtype]]
        if isinstance(dtype, str) and dtype.split(".")[-1] in _LEGACY_DTYPE:
            dtype = _LEGACY_DTYPE[dtype.split(".")[-1]]
        elif getattr(dtype, "_legacy_dtype", None) is not None:  # fastdl.FloatTensor ...
            dtype = dtype._legacy_dtype
        return self.to(dtype)

    def type_as(self, other):
        """``self.to(other.dtype)``. Example: ``idx.type_as(x)``"""
        return self.to(other.dtype)

    # ---- arithmetic -------------------------------------------------------------------
    def __add__(self, o):
        return _Add.apply(self, _wrap_operand(o, self))

    def __radd__(self, o):
        return _Add.apply(_wrap_operand(o, self), self)

    def __sub__(self, o):
        return _Sub.apply(self, _wrap_operand(o, self))

    def __rsub__(self, o):
        return _Sub.apply(_wrap_operand(o, self), self)

    def __mul__(self, o):
        return _Mul.apply(self, _wrap_operand(o, self))

    def __rmul__(self, o):
        return _Mul.apply(_wrap_operand(o, self), self)

    def __truediv__(self, o):
        return _Div.apply(self, _wrap_operand(o, self))

    def __rtruediv__(self, o):
        return _Div.apply(_wrap_operand(o, self), self)

    def __pow__(self, e):
        if isinstance(e, numbers.Number) and not isinstance(e, Tensor):
            return _PowScalar.apply(self, e)
        return _Pow.apply(self, _wrap_operand(e, self))

    def __rpow__(self, b):
        return _Pow.apply(_wrap_operand(b, self), self)

    def __neg__(self):
        return _Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _Abs.apply(self)

    def __matmul__(self, o):
        return _linalg.matmul(self, o)

    def __rmatmul__(self, o):
        return _linalg.matmul(o, self)

    def add(self, o, alpha=1):
        return self + (o if alpha == 1 else o * alpha)

    def sub(self, o, alpha=1):
        return self - (o if alpha == 1 else o * alpha)

    def mul(self, o):
        return self * o

    def div(self, o):
        return self / o

    def pow(self, e):
        return self ** e

    def neg(self):
        return -self

    def matmul(self, o):
        return self @ o

    def exp(self):
        return _Exp.apply(self)

    def log(self):
        return _Log.apply(self)

    def sqrt(self):
        return _Sqrt.apply(self)

    def rsqrt(self):
        return 1.0 / _Sqrt.apply(self)

    def abs(self):
        return _Abs.apply(self)

    def square(self):
        return _Mul.apply(self, self)

    def sign(self):
        return Tensor._make(np.sign(self._array))

    def reciprocal(self):
        return 1.0 / self

    def clamp(self, min=None, max=None):  # noqa: A002
        """Limit every element to [min, max]; the gradient passes where the input is inside.
        Example: ``t.clamp(min=0)``"""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        return _Clamp.apply(self, min, max)

    clip = clamp

    def clamp_min(self, m):
        return self.clamp(min=m)

    def clamp_max(self, m):
        return self.clamp(max=m)

    def maximum(self, o):
        return _Maximum.apply(self, _wrap_operand(o, self))

    def minimum(self, o):
        return _Minimum.apply(self, _wrap_operand(o, self))

    # ---- comparisons (not differentiable) ----------------------------------------------
    def _cmp(self, o, uf):
        """A comparison in torch's promoted dtype of the operands; the result is bool."""
        o = _wrap_operand(o, self)
        return Tensor._make(_compare(uf, self._array, _arr(o)))

    def __eq__(self, o):
        return self._cmp(o, np.equal)

    def __ne__(self, o):
        return self._cmp(o, np.not_equal)

    def __lt__(self, o):
        return self._cmp(o, np.less)

    def __le__(self, o):
        return self._cmp(o, np.less_equal)

    def __gt__(self, o):
        return self._cmp(o, np.greater)

    def __ge__(self, o):
        return self._cmp(o, np.greater_equal)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __invert__(self):
        return Tensor._make(~self._array)

    def __and__(self, o):
        return Tensor._make(_binary(np.bitwise_and, self._array, _arr(_wrap_operand(o, self))))

    def __or__(self, o):
        return Tensor._make(_binary(np.bitwise_or, self._array, _arr(_wrap_operand(o, self))))

    def __xor__(self, o):
        return Tensor._make(_binary(np.bitwise_xor, self._array, _arr(_wrap_operand(o, self))))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __floordiv__(self, o):
        return _FloorDiv.apply(self, _wrap_operand(o, self))

    def __rfloordiv__(self, o):
        return _FloorDiv.apply(_wrap_operand(o, self), self)

    def __mod__(self, o):
        return _Remainder.apply(self, _wrap_operand(o, self))

    def __rmod__(self, o):
        return _Remainder.apply(_wrap_operand(o, self), self)

    def logical_not(self):
        return Tensor._make(np.logical_not(self._array))

    def isnan(self):
        return Tensor._make(np.isnan(self._array))

    def isinf(self):
        return Tensor._make(np.isinf(self._array))

    def isfinite(self):
        return Tensor._make(np.isfinite(self._array))

    def all(self):
        return Tensor._make(np.asarray(self._array.all()))

    def any(self):
        return Tensor._make(np.asarray(self._array.any()))

    def equal(self, o):
        return builtins.bool(np.array_equal(self._array, _arr(o)))

    def allclose(self, o, rtol=1e-5, atol=1e-8):
        return builtins.bool(np.allclose(self._array, _arr(o), rtol=rtol, atol=atol))

    # ---- reductions -------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        """Sum over ``dim`` (int, tuple or None for all). Example: ``t.sum(dim=1)``"""
        t = self if dtype is None else self.to(dtype)
        return _Sum.apply(t, _norm_dims(dim, t._array.ndim, "sum"), keepdim)

    def mean(self, dim=None, keepdim=False):
        """Mean over ``dim``. Example: ``t.mean(0, keepdim=True)``"""
        if self._array.dtype not in _FLOATS:
            raise TypeError(f"mean: input dtype should be floating point, got {self.dtype}")
        return _Mean.apply(self, _norm_dims(dim, self._array.ndim, "mean"), keepdim)

    def var(self, dim=None, keepdim=False, unbiased=True, correction=None):
        """Variance; ``correction`` (default 1, i.e. unbiased) as in PyTorch. Composite."""
        dims = _norm_dims(dim, self._array.ndim, "var")
        n = 1
        for d in (dims if dims is not None else range(self._array.ndim)):
            n *= self._array.shape[d]
        c = (1 if unbiased else 0) if correction is None else correction
        d = self - self.mean(dims, keepdim=True)
        return (d * d).sum(dims, keepdim=keepdim) / builtins.max(n - c, 0)

    def std(self, dim=None, keepdim=False, unbiased=True, correction=None):
        return self.var(dim, keepdim, unbiased, correction).sqrt()

    def max(self, dim=None, keepdim=False):
        """Largest element; with ``dim`` a pair ``(values, indices)`` as in PyTorch.
        Example: ``values, idx = t.max(dim=1)``"""
        return _minmax(self, dim, keepdim, True)

    def min(self, dim=None, keepdim=False):
        """Smallest element; with ``dim`` a pair ``(values, indices)``."""
        return _minmax(self, dim, keepdim, False)

    def amax(self, dim=None, keepdim=False):
        return _AMax.apply(self, _norm_dims(dim, self._array.ndim, "amax"), keepdim, True)

    def amin(self, dim=None, keepdim=False):
        return _AMax.apply(self, _norm_dims(dim, self._array.ndim, "amin"), keepdim, False)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest element (of the flattened tensor when dim is None)."""
        return _argext(self, dim, keepdim, np.argmax)

    def argmin(self, dim=None, keepdim=False):
        return _argext(self, dim, keepdim, np.argmin)

    def prod(self, dim=None, keepdim=False):
        """Product; composite of exp/log would lose zeros, so it is its own op."""
        return _Prod.apply(self, _norm_dims(dim, self._array.ndim, "prod"), keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim)
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    # ---- shape ------------------------------------------------------------------------
    def reshape(self, *shape):
        """A tensor with the same elements in ``shape`` (-1 infers one dimension).
        Example: ``t.reshape(2, -1)``"""
        shape = _shape_arg(shape)
        return _Reshape.apply(self, _resolve_shape(shape, self._array.size, self._array.shape))

    def view(self, *shape):
        """As ``reshape``; a view needs a contiguous tensor, as in PyTorch."""
        shape = _shape_arg(shape)
        if not self._array.flags.c_contiguous:
            raise RuntimeError("view: the tensor is not contiguous; use .reshape(...) or "
                               ".contiguous().view(...)")
        return _Reshape.apply(self, _resolve_shape(shape, self._array.size, self._array.shape))

    def view_as(self, other):
        return self.view(*other.shape)

    def reshape_as(self, other):
        return self.reshape(*other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self._array.ndim
        if nd == 0:
            return self.reshape(1)
        s = _norm_dim(start_dim, nd, "flatten")
        e = _norm_dim(end_dim, nd, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        sh = self._array.shape
        n = 1
        for d in sh[s:e + 1]:
            n *= d
        return self.reshape(*sh[:s], n, *sh[e + 1:])

    def unflatten(self, dim, sizes):
        d = _norm_dim(dim, self._array.ndim, "unflatten")
        sh = self._array.shape
        return self.reshape(*sh[:d], *sizes, *sh[d + 1:])

    def transpose(self, dim0, dim1):
        """Swap two dimensions (a view). Example: ``t.transpose(0, 1)``"""
        nd = self._array.ndim
        if nd == 0:
            return self
        perm = list(range(nd))
        a, b = _norm_dim(dim0, nd, "transpose"), _norm_dim(dim1, nd, "transpose")
        perm[a], perm[b] = perm[b], perm[a]
        return _Permute.apply(self, tuple(perm))

    swapaxes = transpose

    def t(self):
        if self._array.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {self._array.ndim}")
        return self.transpose(0, 1) if self._array.ndim == 2 else self

    def permute(self, *dims):
        """Reorder the dimensions (a view). Example: ``t.permute(0, 2, 3, 1)``"""
        dims = _shape_arg(dims)
        nd = self._array.ndim
        if len(dims) != nd:
            raise ValueError(f"permute: got {len(dims)} dims for a tensor of {nd} dimensions")
        perm = tuple(_norm_dim(d, nd, "permute") for d in dims)
        if sorted(perm) != list(range(nd)):
            raise ValueError(f"permute: {dims} is not a permutation of the dimensions")
        return _Permute.apply(self, perm)

    def unsqueeze(self, dim):
        d = _norm_dim(dim, self._array.ndim + 1, "unsqueeze")
        sh = self._array.shape
        return _Reshape.apply(self, sh[:d] + (1,) + sh[d:])

    def squeeze(self, dim=None):
        sh = self._array.shape
        if dim is None:
            new = tuple(s for s in sh if s != 1)
        else:
            dims = (dim,) if isinstance(dim, int) else tuple(dim)
            ds = {_norm_dim(d, self._array.ndim, "squeeze") for d in dims}
            new = tuple(s for i, s in enumerate(sh) if not (i in ds and s == 1))
        return _Reshape.apply(self, new)

    def expand(self, *shape):
        shape = _shape_arg(shape)
        nd = len(shape)
        if nd < self._array.ndim:
            raise ValueError(f"expand: the number of sizes ({nd}) must be >= the tensor's "
                             f"dimensions ({self._array.ndim})")
        src = (1,) * (nd - self._array.ndim) + self._array.shape
        tgt = tuple(s if n == -1 else n for s, n in zip(src, shape))
        for s, n in zip(src, tgt):
            if s != 1 and s != n:
                raise ValueError(f"expand: cannot expand shape {self._array.shape} to {shape}")
        return _Expand.apply(self, tgt)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def repeat(self, *reps):
        reps = _shape_arg(reps)
        return _Repeat.apply(self, tuple(reps))

    def split(self, split_size, dim=0):
        d = _norm_dim(dim, self._array.ndim, "split")
        n = self._array.shape[d]
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
            out.append(self[idx])
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces along ``dim``, each of ``ceil(n / chunks)`` elements
        but the last. Example: ``a, b = x.chunk(2)``"""
        if isinstance(chunks, builtins.bool) or not isinstance(chunks, (int, np.integer)):
            raise TypeError(f"chunk: chunks must be an int, got {type(chunks).__name__}")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self._array.shape[_norm_dim(dim, self._array.ndim, "chunk")]
        size = -(-n // chunks) if n else 1
        return self.split(builtins.max(size, 1), dim)

    def unbind(self, dim=0):
        d = _norm_dim(dim, self._array.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self._array.shape[d]))

    def __getitem__(self, idx):
        """Indexing with ints, slices, None, Ellipsis, and integer/bool arrays (a copy for
        advanced indexing, a view otherwise). Gradients scatter-add back."""
        idx = _index_arg(idx)
        return _GetItem.apply(self, idx)

    def __setitem__(self, idx, value):
        idx = _index_arg(idx)
        v = value._array if isinstance(value, Tensor) else value
        track = _fn._state.grad and (self.requires_grad or
                                        (isinstance(value, Tensor) and value.requires_grad))
        if track:
            _inplace(self, _IndexPut, idx, _wrap_operand(value, self))
        else:
            self._array[idx] = v
            self._vc[0] += 1

    def masked_fill(self, mask, value):
        return where(mask, value, self)

    def index_select(self, dim, index):
        d = _norm_dim(dim, self._array.ndim, "index_select")
        return self[(slice(None),) * d + (_arr(index),)]

    def gather(self, dim, index):
        return _Gather.apply(self, _norm_dim(dim, self._array.ndim, "gather"),
                             np.asarray(_arr(index), dtype=np.int64))

    # ---- in place ---------------------------------------------------------------------
    def add_(self, o, alpha=1):
        """In place ``self += alpha * o`` (bumps the version counter)."""
        o = o if alpha == 1 else (o * alpha)
        return _inplace(self, _Add, _wrap_operand(o, self), ufunc=np.add)

    def sub_(self, o, alpha=1):
        o = o if alpha == 1 else (o * alpha)
        return _inplace(self, _Sub, _wrap_operand(o, self), ufunc=np.subtract)

    def mul_(self, o):
        """In place ``self *= o`` (bumps the version counter)."""
        return _inplace(self, _Mul, _wrap_operand(o, self), ufunc=np.multiply)

    def div_(self, o):
        return _inplace(self, _Div, _wrap_operand(o, self), ufunc=np.divide)

    def clamp_(self, min=None, max=None):  # noqa: A002
        if _needs_track(self):
            return _inplace(self, _Clamp, min, max)
        np.clip(self._array, min, max, out=self._array)
        self._vc[0] += 1
        return self

    def zero_(self):
        """Set every element to 0 in place."""
        return self.fill_(0)

    def fill_(self, value):
        """Set every element to ``value`` in place."""
        if _needs_track(self):
            return _inplace(self, _Fill, _arr(value))
        self._array[...] = _arr(value)
        self._vc[0] += 1
        return self

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape) into this tensor in place."""
        src = _wrap_operand(src, self)
        if _needs_track(self) or (isinstance(src, Tensor) and src.requires_grad and
                                  _fn._state.grad):
            return _inplace(self, _CopyFrom, src)
        np.copyto(self._array, _arr(src), casting="unsafe")
        self._vc[0] += 1
        return self

    def normal_(self, mean=0.0, std=1.0):
        with no_grad():
            self.copy_(default_generator().normal(mean, std, self._array.shape))
        return self

    def uniform_(self, a=0.0, b=1.0):
        with no_grad():
            self.copy_(default_generator().uniform(a, b, self._array.shape))
        return self

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


# ----------------------------------------------------------------------------------------
# helpers


def _needs_track(t):
    return _fn._state.grad and t.requires_grad


def _inplace(self, op, *args, ufunc=None):
    """Run ``op(self, *args)`` in place. Without grad tracking a plain ufunc writes into
    self; with it, the result is computed out of place from a snapshot of self, written back,
    and self takes over the new node (PyTorch's history rebase)."""
    track = _fn._state.grad and (self.requires_grad or builtins.any(
        isinstance(a, Tensor) and a.requires_grad for a in args))
    if not track:
        if ufunc is None:
            raise RuntimeError("internal: in-place op without a ufunc")
        ufunc(self._array, _arr(args[0]), out=self._array, casting="same_kind")
        self._vc[0] += 1
        return self
    if self.requires_grad and self._node is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. Wrap the update in `with fastdl.no_grad():` or work on "
                           "a clone.")
    old = Tensor._make(self._array.copy(), self.requires_grad)
    old._node, old._out_idx = self._node, self._out_idx
    out = op.apply(old, *args)
    if out._array.shape != self._array.shape:
        raise ValueError(f"in-place op: result shape {out._array.shape} does not match the "
                         f"tensor's shape {self._array.shape}")
    np.copyto(self._array, out._array, casting="same_kind")
    self._vc[0] += 1
    self._node, self._out_idx = out._node, out._out_idx
    if out._node is not None:
        out._node._nout = builtins.max(out._node._nout, 1)
        self.requires_grad = True
        # the node saved `out`'s array as its output: point the version check at self
        if out._node._versions:
            out._node._versions = [(self._vc if vc is out._vc else vc,
                                    self._vc[0] if vc is out._vc else v, i)
                                   for vc, v, i in out._node._versions]
    return self


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
    if isinstance(dim, (tuple, list)):
        return tuple(sorted({_norm_dim(d, nd, what) for d in dim}))
    return (_norm_dim(dim, nd, what),)


def _index_arg(idx):
    if isinstance(idx, Tensor):
        return idx._array
    if isinstance(idx, tuple):
        return tuple(i._array if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def _minmax(t, dim, keepdim, is_max):
    if dim is None:
        if t._array.size == 0:
            raise ValueError(f"{'max' if is_max else 'min'}: empty tensor has no extremum; "
                             f"pass dim")
        return _AMax.apply(t, None, False, is_max)
    d = _norm_dim(dim, t._array.ndim, "max" if is_max else "min")
    # NaN wins, as in PyTorch: argmax/argmin return the first NaN
    fn = np.argmax if is_max else np.argmin
    idx = fn(t._array, axis=d, keepdims=True)
    vals = _TakeAlong.apply(t, d, idx)
    if not keepdim:
        vals = vals.squeeze(d)
        idx = idx.squeeze(d)
    ret = _rt.max if is_max else _rt.min
    return ret(vals, Tensor._make(idx.astype(np.int64, copy=False)))


def _argext(t, dim, keepdim, fn):
    if dim is None:
        r = fn(t._array.reshape(-1))
        out = np.asarray(r, dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * t._array.ndim)
        return Tensor._make(out)
    d = _norm_dim(dim, t._array.ndim, "argmax")
    return Tensor._make(fn(t._array, axis=d, keepdims=keepdim).astype(np.int64, copy=False))


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
        dt = _result_dtype(a, b)
    cdt = _F32 if dt in _LOWP else dt
    if a.__class__ is np.ndarray and a.dtype != cdt:
        a = a.astype(cdt)
    if b.__class__ is np.ndarray and b.dtype != cdt:
        b = b.astype(cdt)
    if (a.__class__ is np.ndarray and a.size >= _POOL_MIN) or \
            (b.__class__ is np.ndarray and b.size >= _POOL_MIN):
        out = _C.empty(np.broadcast_shapes(np.shape(a), np.shape(b)), cdt)
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
    """``uf(a)``; float16/bfloat16 compute in float32 and round once."""
    dt = a.dtype
    if dt in _LOWP:
        return uf(a.astype(_F32)).astype(dt)
    if a.size >= _POOL_MIN:
        return uf(a, out=_C.empty(a.shape, dt))
    return uf(a)


def _sum_to(g, shape):
    return _fn._reduce_to(g, shape, "broadcast")


# ----------------------------------------------------------------------------------------
# primitive ops: forward and backward side by side


class _Add(_Op):
    @staticmethod
    def forward(ctx, a, b):
        return _binary(np.add, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class _Sub(_Op):
    @staticmethod
    def forward(ctx, a, b):
        return _binary(np.subtract, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class _Mul(_Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(np.multiply, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        return (_binary(np.multiply, g, b) if n[0] else None,
                _binary(np.multiply, g, a) if n[1] else None)


class _Div(_Op):
    """True division: integer operands give the default float dtype, as in torch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        dt = _result_dtype(a, b)
        if dt not in _FLOATS:
            dt = _default_float()
        return _binary(np.true_divide, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = _binary(np.true_divide, g, b) if n[0] else None
        gb = -_binary(np.true_divide, _binary(np.multiply, g, a), _binary(np.multiply, b, b)) \
            if n[1] else None
        return ga, gb


class _FloorDiv(_Op):
    """``a // b`` (torch's floor_divide: rounds toward minus infinity; integers stay
    integers); not differentiable (its gradient is zero almost everywhere)."""

    @staticmethod
    def forward(ctx, a, b):
        dt = _result_dtype(a, b)
        if dt not in _FLOATS and b.__class__ is np.ndarray and b.size and not b.all() or \
                (dt not in _FLOATS and b.__class__ is not np.ndarray and b == 0):
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        return _binary(np.floor_divide, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None


class _Remainder(_Op):
    """``a % b`` with the sign of ``b`` (Python's and torch's ``remainder``); gradient
    ``g`` for ``a`` and ``-g * floor(a / b)`` for ``b``."""

    @staticmethod
    def forward(ctx, a, b):
        dt = _result_dtype(a, b)
        if dt not in _FLOATS and (b.__class__ is np.ndarray and b.size and not b.all() or
                                  b.__class__ is not np.ndarray and b == 0):
            raise RuntimeError("ZeroDivisionError: integer modulo by zero")
        ctx.save_for_backward(a, b)
        return _binary(np.remainder, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        gb = -_binary(np.multiply, g, _binary(np.floor_divide, a, b)) if n[1] else None
        return (g if n[0] else None), gb


class _PowScalar(_Op):
    @staticmethod
    def forward(ctx, a, e):
        ctx.save_for_backward(a)
        ctx.e = e
        if e == 2:
            return _binary(np.multiply, a, a)
        return _binary(np.power, a, e)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        e = ctx.e
        if e == 0:
            return np.zeros_like(a), None
        if e == 2:
            return g * (2 * a), None
        return g * (e * np.power(a, np.asarray(e - 1, dtype=a.dtype))), None


class _Pow(_Op):
    @staticmethod
    def forward(ctx, a, b):
        out = _binary(np.power, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = g * b * np.power(a, b - 1) if n[0] else None
        gb = None
        if n[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                la = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
            gb = g * out * la
        return ga, gb


class _Neg(_Op):
    @staticmethod
    def forward(ctx, a):
        return _unary(np.negative, a)

    @staticmethod
    def backward(ctx, g):
        return -g


class _Exp(_Op):
    @staticmethod
    def forward(ctx, a):
        out = _unary(np.exp, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class _Log(_Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _unary(np.log, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class _Sqrt(_Op):
    @staticmethod
    def forward(ctx, a):
        out = _unary(np.sqrt, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class _Abs(_Op):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _unary(np.abs, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.sign(a)


class _Clamp(_Op):
    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        m = np.ones(a.shape, dtype=np.bool_)
        if ctx.lo is not None:
            m &= a >= ctx.lo
        if ctx.hi is not None:
            m &= a <= ctx.hi
        return np.where(m, g, 0).astype(g.dtype, copy=False), None, None


class _Maximum(_Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        # ties split the gradient evenly, as PyTorch does
        ga = g * ((a > b) + 0.5 * (a == b))
        gb = g * ((b > a) + 0.5 * (a == b))
        return ga.astype(g.dtype, copy=False), gb.astype(g.dtype, copy=False)


class _Minimum(_Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g * ((a < b) + 0.5 * (a == b))
        gb = g * ((b < a) + 0.5 * (a == b))
        return ga.astype(g.dtype, copy=False), gb.astype(g.dtype, copy=False)


class _Clone(_Op):
    @staticmethod
    def forward(ctx, a):
        out = _empty(a.shape, a.dtype)
        np.copyto(out, a)
        return out

    @staticmethod
    def backward(ctx, g):
        return g


class _Cast(_Op):
    @staticmethod
    def forward(ctx, a, dt):
        ctx.src = a.dtype
        return a.astype(dt)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src), None


class _Sum(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        if a.dtype in _LOWP:  # accumulate float16/bfloat16 in float32, round once
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        if a.dtype.kind in "biu":  # integers and bools sum to int64, as torch
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=_I64))
        return a.sum(axis=dims, keepdims=keepdim)  # a NumPy scalar is wrapped by _make

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return np.broadcast_to(g, ctx.shape), None, None


class _Mean(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape = a.shape
        ctx.dims, ctx.keepdim = dims, keepdim
        n = a.size if dims is None else int(np.prod([a.shape[d] for d in dims]))
        ctx.n = n
        if a.dtype in _LOWP:
            return np.asarray(np.mean(a, axis=dims, keepdims=keepdim, dtype=_F32)).astype(a.dtype)
        return np.asarray(np.mean(a, axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        if ctx.dims is not None and not ctx.keepdim:
            g = np.expand_dims(g, ctx.dims)
        return np.broadcast_to(g / builtins.max(ctx.n, 1), ctx.shape), None, None


class _AMax(_Op):
    """max/min over dims; the gradient is shared evenly among tied extrema (PyTorch's amax)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, is_max):
        fn = np.max if is_max else np.min
        out = np.asarray(fn(a, axis=dims, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        if keepdim:
            return out
        return out.reshape(()) if dims is None else np.squeeze(out, axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = (a == out) | (np.isnan(a) & np.isnan(out))
        cnt = mask.sum(axis=ctx.dims, keepdims=True)
        g = g.reshape(out.shape)
        return (mask * (g / cnt)).astype(a.dtype, copy=False), None, None, None


class _TakeAlong(_Op):
    @staticmethod
    def forward(ctx, a, d, idx):
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        return np.take_along_axis(a, idx, axis=d)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.d)
        return out, None, None


class _Gather(_Op):
    @staticmethod
    def forward(ctx, a, d, idx):
        if idx.ndim != a.ndim:
            raise ValueError(f"gather: index has {idx.ndim} dimensions, input has {a.ndim}")
        n = a.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"gather: index out of range for dimension {d} of size {n}")
        ctx.shape, ctx.d, ctx.idx = a.shape, d, idx
        return np.take_along_axis(a, idx, axis=d)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, tuple(ctx.idx if i == ctx.d else np.arange(s).reshape(
            [-1 if j == i else 1 for j in range(g.ndim)])
            for i, s in enumerate(ctx.idx.shape)), g)
        return out, None, None


class _Prod(_Op):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = np.asarray(np.prod(a, axis=dims, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        if keepdim:
            return out
        return out.reshape(()) if dims is None else np.squeeze(out, axis=dims)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        g = g.reshape(out.shape)
        # product of the others, exact also where a == 0
        axes = ctx.dims if ctx.dims is not None else tuple(range(a.ndim))
        moved = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
        flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        others = (left * right).reshape(moved.shape)
        others = np.moveaxis(others, tuple(range(-len(axes), 0)), axes)
        return g * others, None, None


class _Reshape(_Op):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class _Permute(_Op):
    @staticmethod
    def forward(ctx, a, perm):
        ctx.perm = perm
        return a.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.perm)), None


class _Expand(_Op):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return _sum_to(g, ctx.shape), None


class _Repeat(_Op):
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
        g = g.reshape(sh).sum(axis=tuple(range(0, len(sh), 2)))
        return g.reshape(ctx.orig), None


class _GetItem(_Op):
    @staticmethod
    def forward(ctx, a, idx):
        ctx.shape, ctx.idx = a.shape, idx
        try:
            out = a[idx]
        except IndexError as e:
            raise IndexError(f"index {idx!r} is out of bounds for a tensor of shape "
                             f"{a.shape}: {e}") from None
        return np.asarray(out)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, ctx.idx, g)
        return out, None


class _IndexPut(_Op):
    @staticmethod
    def forward(ctx, a, idx, v):
        ctx.idx = idx
        ctx.vshape = np.shape(v)
        out = a.copy()
        out[idx] = v
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga[ctx.idx] = 0
        gv = None
        if ctx.needs_input_grad[2]:
            gv = _sum_to(np.asarray(g[ctx.idx]), ctx.vshape)
        return ga, None, gv


class _Fill(_Op):
    @staticmethod
    def forward(ctx, a, v):
        return np.full_like(a, v)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), None


class _CopyFrom(_Op):
    @staticmethod
    def forward(ctx, a, src):
        ctx.sshape = np.shape(src)
        out = np.empty_like(a)
        np.copyto(out, src, casting="unsafe")
        return out

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g), _sum_to(g, ctx.sshape) if ctx.needs_input_grad[1] else None


class _Where(_Op):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.sa, ctx.sb = np.shape(a), np.shape(b)
        return np.asarray(np.where(cond, a, b))

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        z = np.zeros((), dtype=g.dtype)
        ga = _sum_to(np.where(ctx.cond, g, z), ctx.sa) if n[1] else None
        gb = _sum_to(np.where(ctx.cond, z, g), ctx.sb) if n[2] else None
        return None, ga, gb


class _Cat(_Op):
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
    @staticmethod
    def forward(ctx, d, *arrays):
        ctx.d = d
        return np.stack(arrays, axis=d)

    @staticmethod
    def backward(ctx, g):
        n = g.shape[ctx.d]
        return (None,) + tuple(np.take(g, i, axis=ctx.d) for i in range(n))


# ----------------------------------------------------------------------------------------
# functions


def where(condition, input, other):  # noqa: A002
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcast).
    Example: ``fastdl.where(x > 0, x, 0.0)``"""
    cond = np.asarray(_arr(condition))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got {cond.dtype}")
    a = _wrap_operand(input, None)
    b = _wrap_operand(other, None)
    return _Where.apply(cond, a, b)


def cat(tensors, dim=0):
    """Concatenate along an existing dimension. Example: ``fastdl.cat([a, b], dim=1)``"""
    ts = [t if isinstance(t, Tensor) else Tensor._make(_as_array(t)) for t in tensors]
    if not ts:
        raise ValueError("cat: expected a non-empty list of tensors")
    nd = ts[0]._array.ndim
    d = _norm_dim(dim, nd, "cat")
    for i, t in enumerate(ts):
        if t._array.ndim != nd or t._array.shape[:d] + t._array.shape[d + 1:] != \
                ts[0]._array.shape[:d] + ts[0]._array.shape[d + 1:]:
            raise ValueError(f"cat: tensor {i} has shape {t._array.shape}, incompatible with "
                             f"{ts[0]._array.shape} along dim {dim}")
    return _Cat.apply(d, *ts)


concatenate = cat


def stack(tensors, dim=0):
    """Join along a new dimension. Example: ``fastdl.stack([a, b])``"""
    ts = [t if isinstance(t, Tensor) else Tensor._make(_as_array(t)) for t in tensors]
    if not ts:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(ts):
        if t._array.shape != ts[0]._array.shape:
            raise ValueError(f"stack: tensor {i} has shape {t._array.shape}, expected "
                             f"{ts[0]._array.shape}")
    d = _norm_dim(dim, ts[0]._array.ndim + 1, "stack")
    return _Stack.apply(d, *ts)


# Tensor methods that live in fastdl.nn.functional (activations, softmax, ...), looked up
# when called so this module does not depend on nn.
def _delegate(name):
    def method(self, *args, **kwargs):
        from .nn import functional as F
        return getattr(F, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Same as ``fastdl.nn.functional.{name}(self, ...)``."
    return method


for _name in ("relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu", "silu", "softplus"):
    setattr(Tensor, _name, _delegate(_name))



def _delegate_inplace(name):
    def method(self, *args, **kwargs):
        from .nn import functional as F
        return getattr(F, name)(self, *args, inplace=True, **kwargs)

    method.__name__ = name + "_"
    method.__doc__ = f"In place: ``fastdl.nn.functional.{name}(self, inplace=True)``."
    return method


for _name in ("relu", "leaky_relu", "elu", "hardtanh"):
    setattr(Tensor, _name + "_", _delegate_inplace(_name))

_fn._Tensor = Tensor
from . import linalg as _linalg  # noqa: E402  (linalg imports Tensor from here)
from .ops.factories import *  # noqa: E402,F401,F403  (the factories, importable from here)
from .ops.factories import _size  # noqa: E402,F401
