"""``Function``: an op's forward and backward together, and the engine that runs backward.

Two flavours share one engine:

* ``Function`` (public, as in PyTorch): ``forward(ctx, *args)`` receives the Tensors it was
  called with and ``backward(ctx, *grads)`` receives and returns Tensors.
* ``_Op`` (fastdl's own ops): the same protocol on NumPy arrays: ``forward`` receives each
  Tensor argument's array and ``backward`` gets and returns arrays. This keeps the per-op cost
  of the thin Python layer low.

Gradients flow as NumPy arrays; they are not themselves differentiable (no double backward).
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from .. import _C


class _GradState(threading.local):
    """Grad mode of the calling thread. Every thread starts with grad enabled (as in
    PyTorch); a ``no_grad`` in one thread never changes what another thread records."""

    grad = True


_state = _GradState()
_Tensor = None  # fastdl.tensor.Tensor, set by fastdl.tensor at import (breaks the cycle)


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default; see ``no_grad``)."""
    return _state.grad


class set_grad_enabled:
    """Context manager / decorator setting grad mode on or off.

    Example: ``with fastdl.set_grad_enabled(False): y = model(x)``
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _state.grad
        _state.grad = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode
        _state.grad = self.prev  # used as a decorator: do not change the mode now

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with set_grad_enabled(mode):
                return fn(*a, **k)

        return wrapper


class no_grad:
    """Context manager / decorator: ops run inside it record no graph.

    Example::

        with fastdl.no_grad():
            y = model(x)          # y.requires_grad is False
    """

    def __enter__(self):
        self.prev = _state.grad
        _state.grad = False
        return self

    def __exit__(self, *exc):
        _state.grad = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with no_grad():
                return fn(*a, **k)

        return wrapper


class enable_grad(no_grad):
    """Context manager / decorator turning grad mode back on inside ``no_grad``."""

    def __enter__(self):
        self.prev = _state.grad
        _state.grad = True
        return self

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with enable_grad():
                return fn(*a, **k)

        return wrapper


class _Op:
    """Base of fastdl's own ops: forward/backward on NumPy arrays (see module docstring).

    The instance is the ``ctx``: ``ctx.save_for_backward(*arrays)``, ``ctx.saved_tensors``,
    ``ctx.needs_input_grad`` (one bool per positional argument), plus any attribute the op
    sets. ``backward`` returns one gradient (or None) per positional argument of forward.
    """

    __slots__ = ("parents", "needs_input_grad", "_saved", "_versions", "_nout", "__dict__")
    _raw = True

    def save_for_backward(self, *items):
        self._saved = items

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward(). Specify retain_graph=True if you "
                "need to backward through the graph a second time.")
        vers = self._versions
        if vers:
            for vc, v, i in vers:
                if vc[0] != v:
                    raise RuntimeError(
                        f"one of the variables needed for gradient computation has been "
                        f"modified by an inplace operation: {type(self).__name__} saved "
                        f"argument {i} at version {v}, it is now at version {vc[0]}. Do not "
                        f"modify in place a tensor that a recorded op still needs, or clone it "
                        f"first.")
        return saved

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        T = _Tensor
        if _state.grad:
            for a in args:
                if isinstance(a, T) and a.requires_grad:
                    return cls._apply_recording(args)
        ctx = cls.__new__(cls)
        ctx._saved = ()
        ctx._versions = None
        if cls._raw:  # arrays in, arrays out: nothing can record, no mode switch needed
            out = cls.forward(ctx, *[a._array if isinstance(a, T) else a for a in args])
        else:
            prev = _state.grad
            _state.grad = False
            try:
                out = cls.forward(ctx, *args)
            finally:
                _state.grad = prev
        if out.__class__ is not tuple:
            return out if isinstance(out, T) else T._make(out)
        return tuple(o if isinstance(o, T) else T._make(o) for o in out)

    @classmethod
    def _apply_recording(cls, args):
        T = _Tensor
        ctx = cls.__new__(cls)
        ctx._saved = ()
        ctx._versions = None
        raw = cls._raw
        ctx.needs_input_grad = tuple(isinstance(a, T) and a.requires_grad for a in args)
        ctx.parents = tuple(a if (isinstance(a, T) and a.requires_grad) else None
                            for a in args)
        _state.grad = False
        try:
            if raw:
                out = cls.forward(ctx, *[a._array if isinstance(a, T) else a for a in args])
            else:
                out = cls.forward(ctx, *args)
        finally:
            _state.grad = True
        if out.__class__ is not tuple:
            t = out if isinstance(out, T) else T._make(out)
            _link(ctx, (t,), args, raw)
            return t
        wrapped = tuple(o if isinstance(o, T) else T._make(o) for o in out)
        _link(ctx, wrapped, args, raw)
        return wrapped


def _link(ctx, outs, args, raw):
    """Make `ctx` the grad_fn of the floating outputs and pin saved tensors' versions."""
    nout = 0
    for i, t in enumerate(outs):
        if t._array.dtype.kind == "f":
            t.requires_grad = True
            t._node = ctx
            t._out_idx = i
            nout = i + 1
    ctx._nout = nout
    if not raw:  # PyTorch materialises the gradient of an unused output as zeros
        ctx._out_meta = [(t._array.shape, t._array.dtype) for t in outs]
    saved = ctx._saved
    if saved:
        _record_versions(ctx, saved, args, outs, raw)


def _record_versions(ctx, saved, args, outs, raw):
    """Remember the version of every saved input/output, to catch in-place changes."""
    T = _Tensor
    vers = []
    for i, s in enumerate(saved):
        if s is None:
            continue
        for t in args:
            if isinstance(t, T) and (s is t or (raw and s is t._array)):
                vers.append((t._vc, t._vc[0], i))
                break
        else:
            for t in outs:
                if s is t or (raw and s is t._array):
                    vers.append((t._vc, t._vc[0], i))
                    break
    ctx._versions = vers


class Function(_Op):
    """Base class of a user-defined differentiable op, with PyTorch's protocol.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` and
    call ``MyOp.apply(*args)``. ``forward`` receives Tensors (computed without recording a
    graph) and returns a Tensor or a tuple of Tensors; ``backward`` receives one gradient
    Tensor per output and returns one gradient (Tensor or None) per forward argument.
    ``ctx.save_for_backward(*tensors)`` / ``ctx.saved_tensors`` keep tensors for backward and
    refuse them if they were modified in place meanwhile.

    Example::

        class Square(fastdl.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        y = Square.apply(fastdl.tensor([3.0], requires_grad=True))
    """

    _raw = False


def _unwrap_grad(g):
    T = _Tensor
    if g is None:
        return None
    if isinstance(g, T):
        return g._array
    return np.asarray(g)


def _call_backward(node, grads):
    if node._raw:
        res = type(node).backward(node, *grads)
    else:
        T = _Tensor
        meta = node._out_meta
        tg = [T._make(np.zeros(*meta[i]) if g is None else g) for i, g in enumerate(grads)]
        with no_grad():
            res = type(node).backward(node, *tg)
        if isinstance(res, tuple):
            res = tuple(_unwrap_grad(r) for r in res)
        else:
            res = _unwrap_grad(res)
    if not isinstance(res, tuple):
        res = (res,)
    return res


def _toposort(roots):
    """Nodes reachable from `roots`, each after every node that consumes its output."""
    order = []
    seen = set()
    for root in roots:
        if root is None or id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.parents))]
        while stack:
            node, it = stack[-1]
            for p in it:
                if p is not None:
                    pn = p._node
                    if pn is not None and id(pn) not in seen:
                        seen.add(id(pn))
                        stack.append((pn, iter(pn.parents)))
                        break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _run(roots, root_grads, retain_graph, inputs=None):
    """The engine: propagate `root_grads` from `roots` back to the leaves.

    With `inputs` (autograd.grad) the gradients of those tensors are returned instead of being
    accumulated into leaves' ``.grad``.
    """
    grads = {}
    for t, g in zip(roots, root_grads):
        node = t._node
        if node is None:
            continue
        slot = grads.setdefault(id(node), [None] * node._nout)
        i = t._out_idx
        slot[i] = g if slot[i] is None else slot[i] + g
    want = None
    captured = None
    if inputs is not None:
        want = {id(t): k for k, t in enumerate(inputs)}
        captured = [None] * len(inputs)
        for t, g in zip(roots, root_grads):
            k = want.get(id(t))
            if k is not None:
                captured[k] = g if captured[k] is None else captured[k] + g
    order = _toposort([t._node for t in roots])
    for node in order:
        gs = grads.pop(id(node), None)
        if gs is None:
            continue
        if node._saved is None:
            node.saved_tensors  # raises the "backward a second time" error
        res = _call_backward(node, gs)
        parents = node.parents
        if len(res) < len(parents):
            raise RuntimeError(f"{type(node).__name__}.backward returned {len(res)} gradients "
                               f"but forward took {len(parents)} arguments")
        for p, g in zip(parents, res):
            if p is None or g is None:
                continue
            if g.shape != p._array.shape:
                g = _reduce_to(g, p._array.shape, type(node).__name__)
            if want is not None:
                k = want.get(id(p))
                if k is not None:
                    captured[k] = g if captured[k] is None else captured[k] + g
            pn = p._node
            if pn is not None:
                slot = grads.get(id(pn))
                if slot is None:
                    slot = grads[id(pn)] = [None] * pn._nout
                i = p._out_idx
                slot[i] = g if slot[i] is None else slot[i] + g
            elif want is None:
                _accumulate(p, g)
        if not retain_graph:
            node._saved = None
    return captured


def _reduce_to(g, shape, name):
    """Sum a broadcast gradient back to `shape`."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    nd = g.ndim - len(shape)
    if nd < 0:
        raise RuntimeError(f"{name}.backward returned a gradient of shape {g.shape} for an "
                           f"input of shape {tuple(shape)}")
    axes = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape)
                                    if s == 1 and g.shape[i + nd] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if nd:
        g = g.reshape(shape)
    if g.shape != tuple(shape):
        raise RuntimeError(f"{name}.backward returned a gradient of shape {g.shape} for an "
                           f"input of shape {tuple(shape)}")
    return g


def _accumulate(leaf, g):
    """Add `g` into ``leaf.grad``: the first gradient is copied (the engine may hand one array
    to several inputs) into a buffer from the caching allocator when large; later ones are
    added in place, as PyTorch does."""
    dt = leaf._array.dtype
    old = leaf.grad
    if old is None:
        if g.size >= (1 << 15):
            buf = _C.empty(g.shape, dt)
            np.copyto(buf, g, casting="unsafe")
        else:
            buf = np.array(g, dtype=dt, copy=True, order="C")
        leaf.grad = _Tensor._make(buf)
    elif old._array.shape == g.shape and old._array.flags.writeable and old._array.dtype == dt:
        np.add(old._array, g, out=old._array, casting="unsafe")
    else:
        leaf.grad = _Tensor._make((old._array + g).astype(dt, copy=False))


def _seed_grads(tensors, grad_tensors, what):
    T = _Tensor
    roots, gs = [], []
    for t, g in zip(tensors, grad_tensors):
        if not isinstance(t, T):
            raise TypeError(f"{what}: expected Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"{what}: element 0 of tensors does not require grad and does not have a "
                f"grad_fn. Create the leaf with requires_grad=True (or call "
                f".requires_grad_()), and do not compute it under fastdl.no_grad().")
        if g is None:
            if t._array.size != 1:
                raise RuntimeError(
                    f"{what}: grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {t._array.shape}: pass gradient= of the same shape")
            g = np.ones_like(t._array)
        else:
            g = _unwrap_grad(g)
            if g.shape != t._array.shape:
                raise ValueError(f"{what}: gradient has shape {g.shape} but the tensor has "
                                 f"shape {t._array.shape}")
            g = g.astype(t._array.dtype, copy=False)
        roots.append(t)
        gs.append(g)
    return roots, gs


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Accumulate d(tensors)/d(leaf) · grad_tensors into every leaf's ``.grad``.

    Example: ``fastdl.autograd.backward([loss])``
    """
    T = _Tensor
    if isinstance(tensors, T):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, (T, np.ndarray)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    roots, gs = _seed_grads(tensors, grad_tensors, "backward")
    leaves = [t for t in roots if t._node is None]
    for t, g in zip(roots, gs):
        if t._node is None:
            _accumulate(t, g)
    rest = [(t, g) for t, g in zip(roots, gs) if t._node is not None]
    if rest:
        _run([t for t, _ in rest], [g for _, g in rest], retain_graph)
    del leaves


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Example: ``(gx,) = fastdl.autograd.grad(y.sum(), [x])``
    """
    T = _Tensor
    if isinstance(outputs, T):
        outputs = [outputs]
    single = isinstance(inputs, T)
    if single:
        inputs = [inputs]
    if grad_outputs is None or isinstance(grad_outputs, (T, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    roots, gs = _seed_grads(outputs, grad_outputs, "grad")
    captured = _run(roots, gs, retain_graph, inputs=list(inputs))
    res = []
    for t, g in zip(inputs, captured):
        if g is None and not allow_unused:
            raise RuntimeError("grad: one of the differentiated tensors appears to not have "
                               "been used in the graph; set allow_unused=True if this is "
                               "intended")
        res.append(None if g is None else T._make(np.array(g, dtype=t._array.dtype)))
    return tuple(res)
