"""Deferred batch-norm outputs: the output of a training batch norm is written by the first
op that reads it, so that a residual add and a ReLU right after it run in the same pass.

In a ResNet block, ``relu(bn(conv(x)) + identity)`` run eagerly streams the activation
through memory three times after the batch norm's statistics: the normalisation writes y,
the add reads y and writes the sum, the ReLU reads the sum and writes its output. Autograd
needs none of these intermediates (batch norm's backward reads x and its statistics, the
add's backward nothing, the ReLU's backward its output), so a training batch norm whose
input requires grad returns a ``DeferredTensor``: a Tensor holding the recipe
``act(x·scale + shift [+ residual])`` instead of an array. ``deferred + tensor`` folds the
residual into the recipe, and ReLU / ReLU6 / Hardtanh on it run the whole recipe as one
kernel pass (``_C.batch_norm_apply``) into their output; the graph recorded is the eager
one (``BatchNormBackward``, ``AddBackward``, ``ReluBackward``), and every value is bitwise
the eager one, because the kernel performs the eager ops' arithmetic in the same order.

Anything else that reads the tensor's data (any other op, printing, ``.numpy()``, a hook)
computes the recipe once, at that moment, into an array of the caching allocator; the
tensor then is an ordinary ``Tensor``. Shape and dtype are answered without computing.
The recipe reads its sources (the batch norm's input, the residual) when it runs: if
either has been modified in place since (its version moved on), it raises RuntimeError
rather than return values of the modified data, as autograd does for saved tensors.

``fastdl.nn.functional.normalization.set_norm_act_fusion(forward=False)`` turns deferral off
(with the ``nn.Sequential`` fusion of batch norm and activation); results are the same either
way. docs/autograd.md has the design.
"""
from __future__ import annotations

import numpy as np

from . import _C
from .autograd import function as _fn
from .autograd.grad_mode import _state
from ._dtype import FROM_NP as _FROM_NP
from ._size import Size
from .tensor import Tensor, _cl_only, _from_rows, _rows

_SLOT = Tensor.__dict__["_array"]  # the storage slot itself (member descriptor)
_get_slot = _SLOT.__get__
_set_slot = _SLOT.__set__
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


class _Recipe:
    """What a ``DeferredTensor`` will hold: ``act(x·ss[0] + ss[1] [+ r])`` per channel, the
    residual itself ``r·rss[0] + rss[1]`` when it is another batch norm's deferred output.

    ``x`` and ``r`` are in the kernel's form (C-contiguous NCHW, or the (N·H·W, C) rows of a
    channels-last tensor, ``cl`` then its logical shape); ``srcs`` lists (version counter,
    version, name) of the tensors it reads."""

    __slots__ = ("x", "ss", "r", "rss", "act", "cl", "shape", "dtype", "srcs")

    def __init__(self, x, ss, r, act, cl, shape, srcs, rss=None):
        self.x, self.ss, self.r, self.rss, self.act, self.cl = x, ss, r, rss, act, cl
        self.shape, self.dtype, self.srcs = shape, x.dtype, srcs

    @property
    def ndim(self):
        return len(self.shape)

    def compute(self, act=None):
        """The values as an array of the tensor's layout (``act`` overrides the recipe's)."""
        for vc, v, name in self.srcs:
            if vc[0] != v:
                raise RuntimeError(
                    f"the {name} of a batch norm's deferred output (shape {self.shape}) was "
                    f"modified in place (version {v} -> {vc[0]}) before the output was read; "
                    f"read the output first, or clone the {name} before modifying it")
        kind, lo, hi = self.act if act is None else act
        y = _C.batch_norm_apply(self.x, self.ss, self.r, kind, lo, hi, self.rss)
        return y if self.cl is None else _from_rows(y, self.cl)


def _materialize(t):
    rec = _get_slot(t)
    arr = rec.compute()
    _set_slot(t, arr)
    t.__class__ = Tensor
    return arr


def _store(t, value):
    _set_slot(t, value)
    if value.__class__ is not _Recipe:
        t.__class__ = Tensor


class DeferredTensor(Tensor):
    """A Tensor whose values are computed on first read (see the module docstring). It is a
    Tensor in every respect; reading its data turns it into a plain one.

    Example::

        bn = fastdl.nn.BatchNorm2d(4)
        x = fastdl.randn(2, 4, 3, 3, requires_grad=True)
        y = fastdl.relu(bn(x) + x)     # one pass writes y
    """

    __slots__ = ()
    _array = property(_materialize, _store)

    @property
    def _recipe(self):
        return _get_slot(self)

    # shape and dtype from the recipe, without computing
    @property
    def shape(self):
        """The sizes of the dimensions, a ``fastdl.Size``."""
        return Size(_get_slot(self).shape)

    @property
    def ndim(self):
        return len(_get_slot(self).shape)

    @property
    def dtype(self):
        """The element type, a ``fastdl.dtype``."""
        return _FROM_NP[_get_slot(self).dtype]

    def dim(self):
        """The number of dimensions. Example: ``x.dim()``"""
        return len(_get_slot(self).shape)

    def size(self, dim=None):
        """The shape (a ``fastdl.Size``), or the size of dimension ``dim``.
        Example: ``x.size(-1)``"""
        shape = _get_slot(self).shape
        if dim is None:
            return Size(shape)
        from .ops._util import _norm_dim
        return shape[_norm_dim(dim, len(shape), "size")]

    def __add__(self, o):
        r = _fold_add(self, o, False)
        return r if r is not None else Tensor.__add__(self, o)

    def __radd__(self, o):
        r = _fold_add(self, o, True)
        return r if r is not None else Tensor.__radd__(self, o)


_fn._Deferred = DeferredTensor


def _new(rec):
    return _fn._new_tensor(DeferredTensor, rec)  # (its `_array =` stores the recipe)


def defer_batch_norm(x, ss, cl, shape, src):
    """The deferred output ``x·ss[0] + ss[1]`` of a training batch norm (called from its
    forward, which has computed the statistics alone): ``x`` the kernel's input array,
    ``cl`` the logical shape when channels last, ``src`` (version counter, version) of the
    input tensor."""
    return _new(_Recipe(x, ss, None, ("none", 0.0, 0.0), cl, tuple(shape),
                        ((src[0], src[1], "input"),)))


def can_defer(x):
    """True when a training batch norm of the Tensor ``x`` may defer its output: grad mode
    on (so not in inference mode), x requires grad, float32/float64, no anomaly mode or
    checkpoint frame in play, and the fusion switch on."""
    from .nn.functional import normalization as _norm
    return _norm._FUSE_FORWARD[0] and _state.grad and x.requires_grad and \
        not _fn._slow_link and x._array.dtype in (_F32, _F64)


def _with_residual(d, o):
    """The recipe of the deferred ``d`` with the Tensor ``o`` as its residual, or None when it
    cannot take it (a residual or activation already, ``o`` is ``d``, grad mode off, another
    shape, dtype or layout)."""
    rec = _get_slot(d)
    if rec.r is not None or rec.act[0] != "none" or not _state.grad or _fn._slow_link or \
            o is d or not isinstance(o, Tensor):
        return None
    if o.__class__ is DeferredTensor:  # two batch norms' outputs (a downsample branch)
        orec = _get_slot(o)
        if orec.r is None and orec.act[0] == "none" and orec.cl == rec.cl and \
                orec.shape == rec.shape and orec.dtype == rec.dtype:
            return _Recipe(rec.x, rec.ss, orec.x, rec.act, rec.cl, rec.shape,
                           rec.srcs + orec.srcs, orec.ss)
    a = o._array  # (another deferred o is computed here; d stays deferred)
    if a.__class__ is not np.ndarray or a.dtype != rec.dtype or a.shape != rec.shape:
        return None
    if rec.cl is None:
        if not a.flags.c_contiguous:
            return None
        rk = a
    else:
        if a.flags.c_contiguous or not _cl_only(a):
            return None
        rk = _rows(a)
    return _Recipe(rec.x, rec.ss, rk, rec.act, rec.cl, rec.shape,
                   rec.srcs + ((o._vc, o._vc[0], "residual"),))


def _node(cls, parents, **attrs):
    """A recorded node of the raw op ``cls`` for the Tensors (or None) ``parents``, made as
    ``_Op.apply`` makes it, without running the op's forward."""
    ctx = cls.__new__(cls)
    ctx._saved = ()
    ctx._versions = None
    ctx.needs_input_grad = tuple(p is not None and p.requires_grad for p in parents)
    ctx.parents = tuple(p if p is not None and p.requires_grad else None for p in parents)
    ctx._nout = 1
    for k, v in attrs.items():
        setattr(ctx, k, v)
    return ctx


def _old_self(t):
    """A deferred stand-in for ``t``'s value before an in-place op (PyTorch's history
    rebase): the parent of the op's node, with t's recipe and node."""
    old = _new(_get_slot(t))
    old.requires_grad = True
    old._node, old._out_idx = t._node, t._out_idx
    return old


def _fold_add(d, o, reflected):
    """``d + o`` (``o + d`` when reflected) as a deferred tensor with ``o`` as the recipe's
    residual, recorded as the eager add; None when it cannot be folded (the caller then
    computes d and adds as usual)."""
    rec = _with_residual(d, o)
    if rec is None:
        return None
    from .ops.arith import _Add
    t = _new(rec)
    t.requires_grad = True
    t._node = _node(_Add, (o, d) if reflected else (d, o))
    return t


def fold_add_(d, o):
    """In place ``d += o`` on a deferred ``d`` (torchvision's ``out += identity``): ``o``
    becomes the recipe's residual and ``d`` takes over the add's node, as the eager in-place
    add records it; False when it cannot be folded."""
    rec = _with_residual(d, o)
    if rec is None:
        return False
    from .ops.arith import _Add
    ctx = _node(_Add, (_old_self(d), o))
    _set_slot(d, rec)
    d._vc[0] += 1
    d._node, d._out_idx = ctx, 0
    return True


def fold_act(t, code, params, kind):
    """``act(t)`` of a deferred ``t`` (ReLU / ReLU6 / Hardtanh, ``kind`` the batch-norm
    kernel's form of it) computed in one pass and recorded as the eager activation (its
    backward from the saved output); None when it cannot be (the caller runs the plain
    activation on the computed t)."""
    rec = _get_slot(t)
    if rec.act[0] != "none" or not _state.grad or _fn._slow_link:
        return None
    from .nn.functional.activation import _Act
    y = rec.compute(kind)
    ctx = _node(_Act, (t, None, None, None), code=code, params=params, from_output=True)
    ctx.save_for_backward(y)
    out = _fn._new_tensor(Tensor, y)
    out.requires_grad = True
    out._node = ctx
    ctx._versions = [(out._vc, 0, 0)]
    return out


def fold_act_(t, code, params, kind):
    """In place ``act(t)`` on a deferred ``t`` (``ReLU(inplace=True)``): the recipe with the
    activation computed into t's new storage, t taking over the activation's node as the
    eager in-place activation records it (its saved output is t); False when it cannot be."""
    rec = _get_slot(t)
    if rec.act[0] != "none" or not _state.grad or _fn._slow_link:
        return False
    from .nn.functional.activation import _ActInplace
    y = rec.compute(kind)
    ctx = _node(_ActInplace, (_old_self(t), None, None, None), code=code, params=params,
                from_output=True)
    ctx.save_for_backward(y)
    _store(t, y)
    t._vc[0] += 1
    t._node, t._out_idx = ctx, 0
    ctx._versions = [(t._vc, t._vc[0], 0)]
    return True

