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
from .autograd.function import _Op, _new_tensor

from . import _device as _devmod
from . import return_types as _rt
from ._size import Size

_SUPPORTED = _dt.SUPPORTED_NP
_FROM_NP = _dt.FROM_NP
_FLOATS = frozenset(d._np for d in _dt.ALL if d.is_floating_point)  # differentiable storage
_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)


class memory_format:
    """A memory-format tag, as torch's: ``fastdl.contiguous_format`` (C order),
    ``channels_last`` (a 4-D tensor keeps its logical NCHW shape over storage in NHWC order:
    ``stride() == (H·W·C, 1, W·C, C)``), ``channels_last_3d`` (5-D, NDHWC storage) and
    ``preserve_format`` (keep the input's layout). Taken by ``Tensor.contiguous``,
    ``Tensor.to``, ``Tensor.clone``, ``Tensor.is_contiguous`` and ``Module.to``. A
    channels-last input keeps its layout through the layer ops as in torch on the CPU:
    conv2d (channels last when its input or its weight is), batch norm, the activations,
    max/avg/adaptive pooling and elementwise ops (the first full-size operand's layout wins)
    return channels-last results, and their input gradients are channels last too
    (``tests/test_channels_last.py`` holds the table). Activations and batch norm run on the
    NHWC storage as it is; convolution and pooling kernels are NCHW, so they compute on an
    NCHW copy and transpose the result back.

    Example: ``fastdl.randn(2, 3, 4, 5).contiguous(memory_format=fastdl.channels_last)``
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


class layout:
    """A storage layout tag, as torch's: ``fastdl.strided`` (a dense tensor) and
    ``fastdl.sparse_coo`` (a ``fastdl.sparse.SparseTensor``). Example:
    ``fastdl.eye(2).to_sparse().layout == fastdl.sparse_coo``"""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"fastdl.{self._name}"


strided = layout("strided")
sparse_coo = layout("sparse_coo")


def _check_memory_format(mf, where):
    if mf is not None and not isinstance(mf, memory_format):
        raise TypeError(f"{where}: memory_format must be a fastdl.memory_format, got {mf!r}")


_CL_ORDER = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}  # innermost (C) to outermost (N)


def _format_rank(mf):
    return 4 if mf is channels_last else 5


def _is_channels_last(a, mf=channels_last):
    """torch's test of a channels-last layout: walking C, W, H, N (C, W, H, D, N in 3-D),
    each dimension of size > 1 has the stride of the product of the sizes before it."""
    nd = _format_rank(mf)
    if a.ndim != nd:
        return False
    expected = a.itemsize
    shape, strides = a.shape, a.strides
    for d in _CL_ORDER[nd]:
        s = shape[d]
        if s != 1:
            if strides[d] != expected:
                return False
            expected *= s
    return True


def _cl_only(a):
    """True when the array ``a`` is a 4-D channels-last array that is not C-contiguous: the
    layout test the layer ops run at their entry (an NCHW-contiguous array costs one flag
    read). An array that is both (C = 1, or H = W = 1) counts as NCHW, as torch's suggested
    memory format does."""
    return not a.flags.c_contiguous and a.ndim == 4 and _is_channels_last(a)


def _nhwc(a):
    """The NHWC view (C-contiguous, no copy) of a channels-last array ``a`` (``_cl_only``)."""
    return a.transpose(0, 2, 3, 1)


def _rows(a):
    """``a`` (N, C, H, W) as the (N·H·W, C) matrix of its NHWC storage: a view of a
    channels-last array, a transposed copy of any other."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _from_rows(m, shape):
    """Inverse of ``_rows``: the (N·H·W, C) matrix ``m`` as the channels-last (N, C, H, W)
    array of logical ``shape`` (a view)."""
    n, c, h, w = shape
    return m.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def _to_cl(a):
    """The 4-D array ``a`` laid out channels-last (``a`` itself when it is; else a transposed
    copy into NHWC storage, viewed with the NCHW shape)."""
    return _in_format(a, channels_last)


# dtypes the layout copies run in C++ (_C.tensorops_transpose, threaded 16×16 blocks; NumPy's
# own copy between NCHW and NHWC runs at 0.3–4 GB/s)
_LAYOUT_KINDS = frozenset("biufc")


def _nchw(a):
    """``a`` itself when C-contiguous, else its contiguous copy (a channels-last 4-D/5-D array
    through the C++ layout copy)."""
    return a if a.flags.c_contiguous else _in_format(a, contiguous_format)


def _to_last(nd):
    """The axis order of an nd-D array's channels-last storage: (0, 2, ..., nd − 1, 1)."""
    return (0,) + tuple(range(2, nd)) + (1,)


def _empty_in_format(shape, dtype, mf):
    """Uninitialised storage of ``shape`` laid out in memory format ``mf`` (contiguous, or
    channels-last storage viewed with the NCHW shape; no copy). A channels-last format of the
    wrong rank is torch's RuntimeError."""
    if mf is None or mf is contiguous_format:
        return _empty(shape, dtype)
    nd = _format_rank(mf)
    if len(shape) != nd:
        raise RuntimeError(f"required rank {nd} tensor to use {mf._name} format")
    to = _to_last(nd)
    back = (0, nd - 1) + tuple(range(1, nd - 1))    # NHWC -> NCHW
    return _empty(tuple(shape[i] for i in to), dtype).transpose(back)


def _in_format(a, mf, copy=False):
    """The array ``a``'s values laid out in memory format ``mf`` (``a`` itself when it already
    is, unless ``copy``). channels_last of a tensor that is not 4-D (5-D for
    channels_last_3d) is torch's RuntimeError; ``preserve_format`` keeps ``a``'s layout."""
    if mf is None or mf is contiguous_format:
        if a.flags.c_contiguous and not copy:
            return a
        out = _empty(a.shape, a.dtype)
        if a.ndim in _CL_ORDER and a.size and a.dtype.kind in _LAYOUT_KINDS:
            v = a.transpose(_to_last(a.ndim))  # its NHWC storage
            if v.flags.c_contiguous and v.flags.aligned:
                n, c = a.shape[0], a.shape[1]
                _C.tensorops_transpose(v.reshape(n, -1, c), out.reshape(n, c, -1))
                return out
        np.copyto(out, a)
        return out
    if mf is preserve_format:
        if not copy:
            return a
        if a.ndim in _CL_ORDER and not a.flags.c_contiguous:
            for f in (channels_last, channels_last_3d):
                if _is_channels_last(a, f):
                    return _in_format(a, f, True)
        return _in_format(a, contiguous_format, True)
    if _is_channels_last(a, mf) and not copy:  # (False for a wrong rank)
        return a
    out = _empty_in_format(a.shape, a.dtype, mf)  # torch's RuntimeError for a wrong rank
    store = out.transpose(_to_last(a.ndim))  # C-contiguous NHWC storage
    if a.flags.c_contiguous and a.flags.aligned and a.size and a.dtype.kind in _LAYOUT_KINDS:
        n, c = a.shape[0], a.shape[1]
        _C.tensorops_transpose(a.reshape(n, c, -1), store.reshape(n, -1, c))
    else:
        np.copyto(out, a)
    return out


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
    if copy and a.ndim and a.dtype == dt and a.nbytes >= _POOL_COPY_MIN:
        # a large copy goes to the caching pool's 64-byte-aligned storage (NumPy aligns to 16,
        # and a row gather such as embedding_bag's then straddles one cache line more per row)
        out = _C.empty(a.shape, dt)
        np.copyto(out, a)
        return out
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    return np.array(a, dtype=dt, copy=True, order="C") if copy else \
        np.asarray(a, dtype=dt, order="C")


_POOL_COPY_MIN = 1 << 16  # bytes


_SIZES = {}  # shape tuple -> its fastdl.Size (building a tuple subclass costs ~1 us)


def _new_size(shape):
    r = Size(shape)
    if len(_SIZES) < 4096:
        _SIZES[shape] = r
    return r


def _arr(x):
    """Array of a Tensor or array-like operand (scalars stay Python scalars)."""
    if isinstance(x, Tensor):
        return x._array
    return x


def _wrap_operand(x, like):
    """Make a binary op's other operand: Tensors pass, Python numbers stay scalars,
    array-likes become Tensors of the natural dtype."""
    c = x.__class__
    if c is Tensor or c is builtins.float or c is builtins.int:  # the common cases first
        return x
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
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        return _new_tensor(cls, arr, requires_grad)

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
        s = self._array.shape
        r = _SIZES.get(s)
        return r if r is not None else _new_size(s)

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
            return self.shape
        return self._array.shape[_norm_dim(dim, self._array.ndim, "size")] \
            if self._array.ndim else _norm_dim(dim, 0, "size") and 1

    def dim(self):
        return self._array.ndim

    ndimension = dim


    def element_size(self):
        """Bytes per element. Example: ``fastdl.ones(2).half().element_size() == 2``"""
        return self._array.itemsize

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dimension (a tuple), or along
        ``dim``; 0 along an expanded dimension. Example: ``fastdl.zeros(2, 3).stride()``"""
        a = self._array
        if a.size == 0:  # NumPy may give an empty array zero strides: torch's C-order ones
            st, n = [], 1
            for s in reversed(a.shape):
                st.append(n)
                n *= builtins.max(s, 1)
            st = tuple(reversed(st))
        else:
            st = tuple(s // a.itemsize for s in a.strides)
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
        a = self._array.reshape(())
        return builtins.float(a) if a.dtype.kind == "V" else a.item()

    def tolist(self):
        """Nested Python lists of Python numbers (bfloat16 elements as floats)."""
        a = self._array
        return (a.astype(np.float32) if a.dtype.kind == "V" else a).tolist()

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

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf (or only of
        ``inputs``); see ``fastdl.autograd.backward``.

        ``gradient`` is d(loss)/d(self) (needed unless self has one element).
        Example: ``loss.backward()``
        """
        _fn.backward([self], [gradient], retain_graph, create_graph, inputs=inputs)

    def detach(self):
        """A tensor sharing this one's data (and version counter) outside the graph."""
        t = Tensor._make(self._array)
        t._vc = self._vc
        return t

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def is_contiguous(self, memory_format=None):
        """True when the elements are laid out in ``memory_format`` without gaps: C order
        (the default, ``contiguous_format``), or with ``channels_last`` (4-D) /
        ``channels_last_3d`` (5-D) the channels-last order by torch's rule (dimensions of size
        1 do not count; another rank gives False).
        Example: ``x.t().is_contiguous()  # False``"""
        _check_memory_format(memory_format, "is_contiguous")
        if memory_format is channels_last or memory_format is channels_last_3d:
            return _is_channels_last(self._array, memory_format)
        if memory_format is preserve_format:
            raise RuntimeError("is_contiguous: preserve_format is not a layout to test "
                               "(use contiguous_format, channels_last or channels_last_3d)")
        return self._array.flags.c_contiguous

    def to(self, *args, **kwargs):
        """This tensor with another dtype and/or device, as ``torch.Tensor.to``:
        ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (other's dtype),
        keywords ``dtype=``, ``device=``, ``non_blocking=`` (ignored), ``copy=``,
        ``memory_format=`` (the result laid out in that format, see ``contiguous``).
        Returns ``self`` when nothing changes (unless ``copy=True``);
        differentiable between floating dtypes. Any device but the CPU is a RuntimeError.
        Example: ``t.to("cpu", fastdl.float64)``"""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        mf = kwargs.pop("memory_format", None)
        _check_memory_format(mf, "to")
        if mf is not None and mf is not preserve_format:
            t = self.to(*args, **kwargs, dtype=dtype, device=dev, copy=copy)
            return t.contiguous(memory_format=mf)
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
    layout = strided
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
        if o.__class__ is not Tensor:
            o = _wrap_operand(o, self)
        return _Add.apply(self, o)

    def __radd__(self, o):
        return _Add.apply(_wrap_operand(o, self), self)

    def __sub__(self, o):
        if o.__class__ is not Tensor:
            o = _wrap_operand(o, self)
        return _Sub.apply(self, o)

    def __rsub__(self, o):
        return _Sub.apply(_wrap_operand(o, self), self)

    def __mul__(self, o):
        if o.__class__ is not Tensor:
            o = _wrap_operand(o, self)
        return _Mul.apply(self, o)

    def __rmul__(self, o):
        return _Mul.apply(_wrap_operand(o, self), self)

    def __truediv__(self, o):
        if o.__class__ is not Tensor:
            o = _wrap_operand(o, self)
        return _Div.apply(self, o)

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
        if o.__class__ is Tensor:
            return _linalg._MatMul.apply(self, o)
        return _linalg.matmul(self, o)

    def __rmatmul__(self, o):
        return _linalg.matmul(o, self)

    def matmul(self, other):
        """``fastdl.matmul(self, other)`` (the GEMM kernel; see ``fastdl.linalg``)."""
        return _linalg.matmul(self, other)

    # ---- comparisons (not differentiable) ----------------------------------------------
    def __eq__(self, o):
        return eq(self, o)

    def __ne__(self, o):
        return ne(self, o)

    def __lt__(self, o):
        return lt(self, o)

    def __le__(self, o):
        return le(self, o)

    def __gt__(self, o):
        return gt(self, o)

    def __ge__(self, o):
        return ge(self, o)

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

    def __iadd__(self, o):
        return add_(self, o)

    def __isub__(self, o):
        return sub_(self, o)

    def __imul__(self, o):
        return mul_(self, o)

    def __itruediv__(self, o):
        return div_(self, o)


_fn._Tensor = Tensor

# The ops package is imported only now that Tensor exists (its modules import it): the
# dunder methods above call these primitives, and ``fastdl/__init__.py`` installs the
# registered ops as Tensor methods. Names other modules import from here stay importable.
from .ops import promotion as _promo  # noqa: E402
from .ops._util import (_BOOL, _F32, _LOWP, _POOL_MIN, _binary, _canon_dtype,  # noqa: E402,F401
                        _compare, _default_float, _empty, _norm_dim, _norm_dims,
                        _resolve_shape, _shape_arg, _sum_to, _unary)
from .ops.arith import (_Abs, _Add, _Div, _FloorDiv, _Mul, _Neg, _Pow,  # noqa: E402,F401
                        _PowScalar, _Remainder, _Sub)
from .ops.compare import eq, ge, gt, le, lt, ne  # noqa: E402
from .ops.index import _GetItem, _IndexPut, _index_arg, where  # noqa: E402,F401
from .ops.inplace import _inplace, add_, div_, mul_, sub_  # noqa: E402,F401
from .ops.shape import _Cast, cat, concatenate, stack  # noqa: E402,F401
from .ops.factories import *  # noqa: E402,F401,F403  (the factories, importable from here)
from . import linalg as _linalg  # noqa: E402  (linalg imports Tensor from here)
