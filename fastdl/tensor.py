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
from .autograd import function as _fn
from .autograd.function import _Op, no_grad
from .random import default_generator

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001  (fastdl.bool, as torch.bool)
long = int64
float = float32  # noqa: A001
double = float64

_SUPPORTED = (float32, float64, int64, bool)
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
    if dtype is None:
        return None
    if isinstance(dtype, str):
        dtype = {"float": "float32", "long": "int64", "double": "float64"}.get(dtype, dtype)
    if dtype is builtins.float:
        return float32
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what}: {dtype!r} is not a dtype") from None
    if dt not in _SUPPORTED:
        raise TypeError(f"{what}: {dt} is not supported; use float32, float64, int64 or bool")
    return dt


def _as_array(data, dtype=None, copy=True):
    """Convert array-likes the way ``torch.tensor`` does: Python floats -> float32, ints ->
    int64; NumPy arrays keep float32/float64/int64/bool; other NumPy dtypes map to the
    nearest supported one."""
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
            a = a.astype(np.float32)  # Python floats are float32, as in PyTorch
    if a.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(data).__name__} of mixed objects")
    if dt is None:
        k = a.dtype.kind
        if a.dtype in _SUPPORTED:
            dt = a.dtype
        elif k == "f" or k == "c":
            if k == "c":
                raise TypeError("complex tensors are not supported")
            dt = float32
        elif k in "iu":
            dt = int64
        elif k == "b":
            dt = bool
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

    def __init__(self, data, dtype=None, requires_grad=False):
        self._array = _as_array(data, dtype)
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
        if self.requires_grad and arr.dtype.kind != "f" and arr.dtype != self._array.dtype:
            raise RuntimeError(f"data: a tensor that requires grad cannot take {arr.dtype} "
                               f"storage")
        self._array = arr

    @property
    def shape(self):
        return self._array.shape

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def dtype(self):
        return self._array.dtype

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
        return self._array.shape if dim is None else self._array.shape[dim]

    def dim(self):
        return self._array.ndim

    def numel(self):
        return int(self._array.size)

    def element_size(self):
        return self._array.itemsize

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

    def __repr__(self):
        body = np.array2string(self._array, separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self._array.dtype not in (float32, int64) or self._array.size == 0:
            extra += f", dtype=fastdl.{self._array.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- autograd ---------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._array.dtype.kind != "f":
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

    def to(self, dtype):
        """Convert to ``dtype`` (float32/float64/int64/bool); differentiable between floats.
        Example: ``t.to(fastdl.float64)``"""
        dt = _canon_dtype(dtype, "to")
        if dt == self._array.dtype:
            return self
        return _Cast.apply(self, dt)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def bool(self):
        return self.to(bool)

    def type(self, dtype):
        return self.to(dtype)

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
        return Tensor._make(uf(self._array, _arr(o)))

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
        return Tensor._make(self._array & _arr(o))

    def __or__(self, o):
        return Tensor._make(self._array | _arr(o))

    def __xor__(self, o):
        return Tensor._make(self._array ^ _arr(o))

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
        if self._array.dtype.kind != "f":
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
    return vals, Tensor._make(idx.astype(np.int64, copy=False))


def _argext(t, dim, keepdim, fn):
    if dim is None:
        r = fn(t._array.reshape(-1))
        out = np.asarray(r, dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * t._array.ndim)
        return Tensor._make(out)
    d = _norm_dim(dim, t._array.ndim, "argmax")
    return Tensor._make(fn(t._array, axis=d, keepdims=keepdim).astype(np.int64, copy=False))


def _binary(uf, a, b):
    if (type(a) is np.ndarray and a.size >= _POOL_MIN) or \
            (type(b) is np.ndarray and b.size >= _POOL_MIN):
        out = _C.empty(np.broadcast_shapes(np.shape(a), np.shape(b)), np.result_type(a, b))
        return uf(a, b, out=out)
    return uf(a, b)


def _unary(uf, a):
    if a.size >= _POOL_MIN:
        return uf(a, out=_C.empty(a.shape, a.dtype))
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
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(np.true_divide, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = g / b if n[0] else None
        gb = -g * a / (np.multiply(b, b)) if n[1] else None
        return ga, gb


class _PowScalar(_Op):
    @staticmethod
    def forward(ctx, a, e):
        ctx.save_for_backward(a)
        ctx.e = e
        if e == 2:
            return _binary(np.multiply, a, a)
        return _binary(np.power, a, np.asarray(e, dtype=a.dtype) if a.dtype.kind == "f" else e)

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


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor copying ``data`` (lists, scalars, NumPy arrays of any layout, Tensors).
    Python floats become float32 and ints int64, as in PyTorch; a NumPy array keeps its
    float32/float64/int64/bool dtype.

    Example: ``fastdl.tensor([[1, 2], [3, 4]], dtype=fastdl.float32, requires_grad=True)``
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(a):
    """A tensor sharing memory with the C-contiguous NumPy array ``a`` (float32, float64,
    int64 or bool); any other dtype or layout is a TypeError.
    Example: ``t = fastdl.from_numpy(np.zeros(3, np.float32))``"""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(a).__name__}")
    if a.dtype not in _SUPPORTED:
        raise TypeError(f"from_numpy: dtype {a.dtype} is not supported; use float32, float64, "
                        f"int64 or bool (or fastdl.tensor to convert)")
    if not a.flags.c_contiguous:
        raise TypeError(f"from_numpy: the array (shape {a.shape}) is not C-contiguous; pass "
                        f"np.ascontiguousarray(a) or use fastdl.tensor to copy")
    return Tensor._make(a)


def as_tensor(data, dtype=None):
    """Like ``tensor`` but without a copy when ``data`` already fits."""
    if isinstance(data, Tensor) and (dtype is None or _canon_dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and data.dtype in _SUPPORTED and \
            data.flags.c_contiguous and (dtype is None or _canon_dtype(dtype) == data.dtype):
        return Tensor._make(data)
    return Tensor(data, dtype=dtype)


def _size(shape):
    return _shape_arg(shape)


def _factory(arr, requires_grad):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def empty(*shape, dtype=None, requires_grad=False):
    """Uninitialised tensor (memory from the caching allocator). ``fastdl.empty(2, 3)``"""
    return _factory(_empty(_size(shape), _canon_dtype(dtype) or float32), requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    """Tensor of zeros, float32 by default. Example: ``fastdl.zeros(2, 3)``"""
    a = _empty(_size(shape), _canon_dtype(dtype) or float32)
    a.fill(0)
    return _factory(a, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    """Tensor of ones. Example: ``fastdl.ones(2, 3, dtype=fastdl.float64)``"""
    a = _empty(_size(shape), _canon_dtype(dtype) or float32)
    a.fill(1)
    return _factory(a, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    """Tensor filled with ``fill_value`` (dtype inferred from it as in PyTorch).
    Example: ``fastdl.full((2, 2), 7.0)``"""
    if dtype is None:
        dtype = bool if isinstance(fill_value, builtins.bool) else \
            int64 if isinstance(fill_value, (int, np.integer)) else float32
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    a = _empty(shape, _canon_dtype(dtype))
    a.fill(fill_value)
    return _factory(a, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(*np.shape(_arr(t)), dtype=dtype or np.asarray(_arr(t)).dtype,
                 requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(*np.shape(_arr(t)), dtype=dtype or np.asarray(_arr(t)).dtype,
                requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(np.shape(_arr(t)), fill_value, dtype=dtype or np.asarray(_arr(t)).dtype,
                requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return empty(*np.shape(_arr(t)), dtype=dtype or np.asarray(_arr(t)).dtype,
                 requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from start (default 0) up to end, step apart; int64 when all are ints.
    Example: ``fastdl.arange(5)``"""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else float32
    return _factory(np.arange(start, end, step, dtype=_canon_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _factory(np.linspace(start, end, steps, dtype=_canon_dtype(dtype) or float32),
                    requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _factory(np.eye(n, m, dtype=_canon_dtype(dtype) or float32), requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples from fastdl's seeded generator. ``fastdl.randn(2, 3)``"""
    dt = _canon_dtype(dtype) or float32
    a = default_generator().standard_normal(_size(shape), dtype=dt)
    return _factory(a, requires_grad)


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) from fastdl's seeded generator. ``fastdl.rand(4)``"""
    dt = _canon_dtype(dtype) or float32
    a = default_generator().random(_size(shape), dtype=dt)
    return _factory(a, requires_grad)


def randint(low, high=None, size=(), dtype=None):
    """Random integers in [low, high). Example: ``fastdl.randint(0, 10, (3,))``"""
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor._make(default_generator().integers(low, high, size, dtype=np.int64)
                        .astype(_canon_dtype(dtype) or int64, copy=False))


def randn_like(t, dtype=None):
    return randn(*np.shape(_arr(t)), dtype=dtype or np.asarray(_arr(t)).dtype)


def rand_like(t, dtype=None):
    return rand(*np.shape(_arr(t)), dtype=dtype or np.asarray(_arr(t)).dtype)


def randperm(n):
    return Tensor._make(default_generator().permutation(n).astype(np.int64))


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
