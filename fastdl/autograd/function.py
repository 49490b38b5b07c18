"""``Function``: an op's forward and backward together, and the engine that runs backward.

Two flavours share one engine:

* ``Function`` (public, as in PyTorch): ``forward(ctx, *args)`` receives the Tensors it was
  called with and ``backward(ctx, *grads)`` receives and returns Tensors.
* ``_Op`` (fastdl's own ops): the same protocol on NumPy arrays: ``forward`` receives each
  Tensor argument's array and ``backward`` gets and returns arrays. This keeps the per-op cost
  of the thin Python layer low.

Gradients flow as NumPy arrays; they are not themselves differentiable (no double backward
yet: ``create_graph=True`` is refused with a clear error).

The engine (``_run``) sorts the nodes reachable from the roots topologically, sums the
gradients arriving at each node, calls its backward, and hands the results to its parents.
Along the way it applies tensor hooks, fires a leaf's post-accumulate hooks as soon as the
last node feeding that leaf has run, and (without ``retain_graph``) frees every node it ran:
a freed node keeps no saved arrays and no parents, only the mark that raises PyTorch's
"backward through the graph a second time" error.
"""
from __future__ import annotations

import traceback
import warnings

import numpy as np

from .. import _C
from .._dtype import FROM_NP as _FROM_NP
from . import grad_mode as _gm
from .grad_mode import (_state, enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                        is_inference_mode_enabled, no_grad, set_grad_enabled)

# the differentiable storage dtypes (bfloat16 from ml_dtypes has NumPy kind 'V')
_FLOATS = frozenset(np.dtype(d) for d in ("float16", "float32", "float64")) | frozenset(
    [np.dtype(__import__("ml_dtypes").bfloat16)])
_Tensor = None  # fastdl.tensor.Tensor, set by fastdl.tensor at import (breaks the cycle)

# Process-wide switches of the slow paths; each is one global read on the hot path.
_slow_link = False   # anomaly mode on, or a checkpoint frame open in some thread
_anomaly = [False, True]   # [enabled, check_nan]
_frames_open = [0]
_hooks_used = False  # a tensor hook / retain_grad was registered at some point
_inf_seen = False    # an inference tensor was made at some point (set by grad_mode)
_Deferred = None     # fastdl._deferred.DeferredTensor, set by fastdl._deferred at import
_leaf_hooks = {}     # id(leaf) -> _LeafHooks
# Backward fusion of a node into its input's producer (``_Op._fuse_up``); the switch is
# ``fastdl.nn.functional.normalization.set_norm_act_fusion``.
_fuse_backward = [True]
_SECOND_TIME = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward.")
_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `fastdl.no_grad()` instead "
    "of `fastdl.inference_mode()`.")


def _update_slow():
    global _slow_link
    _slow_link = _anomaly[0] or _frames_open[0] > 0


def _node_name(node):
    return type(node).__name__.lstrip("_") + "Backward"


class _Op:
    """Base of fastdl's own ops: forward/backward on NumPy arrays (see module docstring).

    The instance is the ``ctx``: ``ctx.save_for_backward(*arrays)``, ``ctx.saved_tensors``,
    ``ctx.needs_input_grad`` (one bool per positional argument), plus any attribute the op
    sets. ``backward`` returns one gradient (or None) per positional argument of forward.
    """

    __slots__ = ("parents", "needs_input_grad", "_saved", "_versions", "_nout", "__dict__")
    _raw = True
    _double = False     # backward runs on Tensors too (create_graph=True); see _call_backward_graph
    _saved_out = None   # {saved index: output index} for saved outputs (create_graph=True)
    # ``_fuse_up(node, g) -> object or None``: instead of running this node's backward, hand
    # the producer of its (single) input an object carrying the output gradient ``g``, which
    # the producer's backward knows how to finish (a ReLU after a batch norm: the mask is
    # applied inside the batch-norm kernel). The engine asks only when the result cannot be
    # observed: the producer's output feeds nothing else, has no hook and is not an input of
    # ``autograd.grad``, and no graph is being created. None: never.
    _fuse_up = None
    # ``_sum_up(node, a, b) -> tuple or None``: this node's backward result for the output
    # gradient a + b, asked when the second of exactly two gradients reaching its (single)
    # output arrives (a residual junction feeding an activation): the node may compute the
    # sum inside its own backward pass instead of the engine writing it first. None: the
    # engine sums. Asked under the same conditions as ``_fuse_up`` (no hook or retain_grad
    # on the node's output, not an input of ``autograd.grad``, no graph being created, not
    # in anomaly mode); the result is used at the node's turn in the order.
    _sum_up = None
    # True when backward returns a new array, shared with nothing (no view of g or of a saved
    # tensor, no array returned twice), for every input: a leaf's first gradient is then
    # adopted as its ``.grad`` rather than copied (PyTorch's AccumulateGrad steals such a
    # buffer too).
    _fresh_grads = False

    def save_for_backward(self, *items):
        self._saved = items

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_SECOND_TIME)
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

    @property
    def next_functions(self):
        """``((node, output index) or (None, 0), ...)`` per input, as PyTorch's (empty once
        the graph has been freed by a backward)."""
        return tuple((None, 0) if p is None else (p._node, p._out_idx)
                     for p in (self.parents if self._saved is not None else ()))

    def name(self):
        return _node_name(self)

    def __repr__(self):
        return f"<{_node_name(self)} object at {id(self):#x}>"

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
                if a.__class__ is T or isinstance(a, T):
                    if a.requires_grad:
                        return cls._apply_recording(args)
        ctx = cls.__new__(cls)
        ctx._saved = ()
        ctx._versions = None
        if not cls._raw:
            return _apply_function(cls, ctx, args, False)
        # a raw op's forward sees arrays (arrays in, arrays out): nothing can record, no mode
        # switch needed. One and two arguments (most ops) skip building a list.
        n = len(args)
        if n == 2:
            a, b = args
            out = cls.forward(ctx, a._array if a.__class__ is T or isinstance(a, T) else a,
                              b._array if b.__class__ is T or isinstance(b, T) else b)
        elif n == 1:
            a = args[0]
            out = cls.forward(ctx, a._array if isinstance(a, T) else a)
        elif n == 3:
            a, b, c = args
            out = cls.forward(ctx, a._array if isinstance(a, T) else a,
                              b._array if isinstance(b, T) else b,
                              c._array if isinstance(c, T) else c)
        else:
            out = cls.forward(ctx, *[a._array if isinstance(a, T) else a for a in args])
        if out.__class__ is np.ndarray and not _inf_seen:
            return _new_tensor(T, out)
        if out.__class__ is not tuple:
            return out if isinstance(out, T) else T._make(out)
        return tuple(o if isinstance(o, T) else T._make(o) for o in out)

    @classmethod
    def _apply_recording(cls, args):
        T = _Tensor
        ctx = cls.__new__(cls)
        ctx._saved = ()
        ctx._versions = None
        if not cls._raw:
            ctx.needs_input_grad = tuple(isinstance(a, T) and a.requires_grad for a in args)
            ctx.parents = tuple(a if (isinstance(a, T) and a.requires_grad) else None
                                for a in args)
            return _apply_function(cls, ctx, args, True)
        # A raw op's forward sees arrays only, so it cannot record: grad mode is left alone.
        if len(args) == 2:
            a, b = args
            ta = a.__class__ is T or isinstance(a, T)
            tb = b.__class__ is T or isinstance(b, T)
            ga = ta and a.requires_grad
            gb = tb and b.requires_grad
            ctx.needs_input_grad = (ga, gb)
            ctx.parents = (a if ga else None, b if gb else None)
            out = cls.forward(ctx, a._array if ta else a, b._array if tb else b)
        else:
            ctx.needs_input_grad = needs = tuple(isinstance(a, T) and a.requires_grad
                                                 for a in args)
            ctx.parents = tuple(a if g else None for a, g in zip(args, needs))
            out = cls.forward(ctx, *[a._array if isinstance(a, T) else a for a in args])
        if _inf_seen:
            _check_inference(ctx, args)
        if out.__class__ is not tuple:
            t = _new_tensor(T, out) if out.__class__ is np.ndarray and not _inf_seen else \
                out if isinstance(out, T) else T._make(out)
            if out.dtype in _FLOATS if out.__class__ is np.ndarray else \
                    _meta(t).dtype in _FLOATS:
                t.requires_grad = True
                t._node = ctx
                t._out_idx = 0
                ctx._nout = 1
            else:
                ctx._nout = 0
            if ctx._saved:
                _record_versions(ctx, ctx._saved, args, (t,), True)
            if _slow_link:
                _link_slow(ctx)
            return t
        wrapped = tuple(o if isinstance(o, T) else T._make(o) for o in out)
        _link(ctx, wrapped, args, True)
        return wrapped


def _meta(t):
    """``t._array``, or for a deferred tensor (``fastdl._deferred``) its recipe, which answers
    ``shape`` and ``dtype`` without computing the values."""
    return t._array if t.__class__ is not _Deferred else t._recipe


def _new_tensor(T, arr, requires_grad=False):
    """A Tensor of class ``T`` around the ndarray ``arr``: ``T._make`` without its checks, the
    hot path of every op's output (used only while no inference mode has ever been entered,
    since inference mode wraps ``T._make`` to mark the tensors it makes)."""
    t = object.__new__(T)
    t._array = arr
    t.requires_grad = requires_grad
    t.grad = None
    t._node = None
    t._out_idx = 0
    t._vc = [0]
    return t


def _check_inference(ctx, args):
    """Refuse an inference tensor that this recorded op saved for backward (PyTorch's rule)."""
    saved = ctx._saved or ()
    extra = tuple(ctx.__dict__.values())
    for a in args:
        if isinstance(a, _Tensor) and _gm._is_inference(a):
            if a.requires_grad:
                raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                                   "InferenceMode is not allowed.")
            arr = a._array
            if any(s is arr or s is a for s in saved) or any(s is arr or s is a
                                                              for s in extra):
                raise RuntimeError(_INFERENCE_SAVED)


def _link(ctx, outs, args, raw):
    """Make `ctx` the grad_fn of the floating outputs and pin saved tensors' versions."""
    nout = 0
    for i, t in enumerate(outs):
        if t._array.dtype in _FLOATS:
            t.requires_grad = True
            t._node = ctx
            t._out_idx = i
            nout = i + 1
    ctx._nout = nout
    saved = ctx._saved
    if saved:
        _record_versions(ctx, saved, args, outs, raw)
    if _slow_link:
        _link_slow(ctx)


def _link_slow(ctx):
    if _anomaly[0]:
        ctx._trace = "".join(traceback.format_stack()[:-3])
    frames = _state.frames
    if frames:
        frames[-1].append(ctx)


def _record_versions(ctx, saved, args, outs, raw):
    """Remember the version of every saved input/output, to catch in-place changes."""
    T = _Tensor
    vers = []
    for i, s in enumerate(saved):
        if s is None:
            continue
        for t in args:
            if isinstance(t, T) and (s is t or (raw and s is _meta(t))):
                vers.append((t._vc, t._vc[0], i))
                break
        else:
            for t in outs:
                if s is t or (raw and s is _meta(t)):
                    vers.append((t._vc, t._vc[0], i))
                    break
    ctx._versions = vers


# ---- Function (the public, Tensor-level protocol) -------------------------------------------
def _apply_function(cls, ctx, args, recording):
    """Run a ``Function``'s forward without recording and, when recording, link its outputs
    (honouring mark_dirty / mark_non_differentiable)."""
    T = _Tensor
    if not recording:
        ctx.needs_input_grad = (False,) * len(args)
    prev = _state.grad
    _state.grad = False
    try:
        if cls.setup_context is not Function.setup_context:
            out = cls.forward(*args)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args)
    finally:
        _state.grad = prev
    single = out.__class__ is not tuple
    outs = (out,) if single else out
    d = ctx.__dict__
    dirty = d.get("_dirty")
    if not recording:
        res = tuple(o if isinstance(o, T) or o is None else T._make(o) for o in outs)
        return res[0] if single else res
    if _inf_seen:
        _check_inference(ctx, args)
    wrapped = []
    parents = list(ctx.parents)
    for o in outs:
        if o is None or not isinstance(o, (T, np.ndarray)):
            wrapped.append(o)
            continue
        if not isinstance(o, T):
            o = T._make(o)
        else:
            hit = [k for k, a in enumerate(args) if a is o]
            if hit and dirty is not None and id(o) in dirty:
                if o.requires_grad and o._node is None:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                       "in-place operation.")
                for k in hit:  # the parent is the tensor as it was before the update
                    if parents[k] is not None:
                        old = T._make(o._array, True)
                        old._node, old._out_idx, old._vc = o._node, o._out_idx, o._vc
                        parents[k] = old
            elif hit:  # an input returned as is: a new tensor viewing it, as PyTorch does
                v = T._make(o._array)
                v._vc = o._vc
                o = v
        wrapped.append(o)
    ctx.parents = tuple(parents)
    nondiff = d.get("_non_diff")
    nout = 0
    meta = []
    for i, t in enumerate(wrapped):
        if not isinstance(t, T):
            meta.append(None)
            continue
        meta.append((t._array.shape, t._array.dtype))
        if t._array.dtype in _FLOATS and (nondiff is None or id(t) not in nondiff):
            t.requires_grad = True
            t._node = ctx
            t._out_idx = i
            nout = i + 1
        elif nondiff is not None and id(t) in nondiff:
            t.requires_grad = False
    ctx._nout = nout
    ctx._out_meta = meta
    if ctx._saved:
        _record_versions(ctx, ctx._saved, args, wrapped, False)
    if _slow_link:
        _link_slow(ctx)
    return wrapped[0] if single else tuple(wrapped)


class Function(_Op):
    """Base class of a user-defined differentiable op, with PyTorch's protocol.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` and
    call ``MyOp.apply(*args)`` (or define ``forward(*args)`` plus
    ``setup_context(ctx, inputs, output)``). ``forward`` receives Tensors (computed without
    recording a graph) and returns a Tensor or a tuple of Tensors; ``backward`` receives one
    gradient Tensor per output and returns one gradient (Tensor or None) per forward argument.

    On ``ctx``: ``save_for_backward(*tensors)`` / ``saved_tensors`` (refused if modified in
    place meanwhile), ``needs_input_grad``, ``mark_non_differentiable(*outputs)``,
    ``mark_dirty(*inputs)`` (inputs modified in place and returned),
    ``set_materialize_grads(False)`` (gradients of unused outputs arrive as None instead of
    zeros).

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

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override (with a ``forward`` that takes no ctx) to save state for backward."""
        raise NotImplementedError("setup_context is not overridden")

    def mark_non_differentiable(self, *outputs):
        """Mark outputs that get no gradient (e.g. indices): they do not require grad and
        their gradient in backward is zeros (or None without materialisation)."""
        self.__dict__.setdefault("_non_diff", set()).update(id(o) for o in outputs)

    def mark_dirty(self, *tensors):
        """Declare inputs that forward modified in place (and returns): each becomes the
        output, with this op as its grad_fn."""
        self.__dict__.setdefault("_dirty", set()).update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)


def once_differentiable(fn):
    """Decorator for a ``Function.backward`` that is not itself differentiable: it runs
    without recording, and when a ``create_graph=True`` pass uses its results, differentiating
    them again raises PyTorch's "trying to differentiate twice" error.

    Example: ``@staticmethod`` then ``@once_differentiable`` above ``def backward(ctx, g)``.
    """
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            out = fn(ctx, *args)
        if not _state.grad:
            return out
        T = _Tensor
        saved = ctx._saved or ()
        req = [a for a in tuple(args) + tuple(saved) if isinstance(a, T) and a.requires_grad]
        if not req:
            return out
        if isinstance(out, tuple):
            return tuple(_DelayedError.apply(o, *req) if isinstance(o, T) else o for o in out)
        return _DelayedError.apply(out, *req) if isinstance(out, T) else out

    return wrapper


class _DelayedError(_Op):
    """Identity on its first argument, recorded after the gradient-requiring Tensors a
    ``once_differentiable`` backward used; differentiating through it raises."""

    @staticmethod
    def forward(ctx, x, *rest):
        return x

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def _unwrap_grad(g):
    T = _Tensor
    if g is None:
        return None
    if isinstance(g, T):
        return g._array
    return np.asarray(g)


def _user_grads(node, grads):
    """The output gradients as a user ``Function.backward`` receives them: Tensors (arrays
    wrapped, Tensors of a create_graph backward kept), a missing one materialised as zeros of
    that output's shape unless ``ctx.set_materialize_grads(False)``."""
    T = _Tensor
    meta = node._out_meta
    mat = node.__dict__.get("_materialize", True)
    tg = []
    for i in range(len(meta)):
        g = grads[i] if i < len(grads) else None
        if g is None:
            tg.append(T._make(np.zeros(*meta[i])) if mat and meta[i] is not None else None)
        else:
            tg.append(g if g.__class__ is T else T._make(g))
    return tg


def _call_backward(node, grads):
    if node._raw:
        res = type(node).backward(node, *grads)
    else:
        tg = _user_grads(node, grads)
        with no_grad():
            res = type(node).backward(node, *tg)
        if isinstance(res, tuple):
            res = tuple(_unwrap_grad(r) for r in res)
        else:
            res = _unwrap_grad(res)
    if not isinstance(res, tuple):
        res = (res,)
    return res


def _double_error(node):
    name = type(node).__name__.lstrip("_")
    return RuntimeError(f"{name} does not support double backward (create_graph=True): its "
                        f"backward ({_node_name(node)}) is not recorded. Compute this part "
                        f"without create_graph, or express it with ops that support it (see "
                        f"docs/autograd.md)")


def _graph_saved(node):
    """The saved items of a raw op as Tensors connected to the graph: an array that is a
    parent's storage becomes that parent; one the op declares an output (``_saved_out``:
    saved index -> output index) becomes a Tensor whose grad_fn is `node` itself; any other
    array becomes a constant Tensor. Non-array items pass through."""
    T = _Tensor
    saved = node.saved_tensors
    parents = node.parents
    outmap = type(node)._saved_out
    if outmap is not None and not isinstance(outmap, dict):  # decided per instance
        outmap = outmap(node)
    res = []
    for i, s in enumerate(saved):
        if s.__class__ is not np.ndarray:
            if not isinstance(s, np.generic):  # shapes, flags, None
                res.append(s)
                continue
            s = np.asarray(s)  # a 0-d result that NumPy returned as a scalar
        t = None
        for p in parents:
            if p is not None and p._array is s:
                t = p
                break
        else:
            if outmap is not None and i in outmap and node._nout:
                t = _output_tensor(node, outmap[i], s)
            else:  # a contiguous (or cast) copy of a parent that the forward saved
                for p in parents:
                    if p is not None and p._array.shape == s.shape and \
                            p._array.dtype == s.dtype and np.array_equal(p._array, s):
                        t = p
                        break
                else:
                    t = T._make(s)
        res.append(t)
    return tuple(res)


def _output_tensor(node, idx, arr):
    """A Tensor holding output `idx` of `node` (``arr``, its value) with `node` as grad_fn:
    for a backward (create_graph=True) whose formula uses the op's own output."""
    t = _Tensor._make(arr)
    t.requires_grad = True
    t._node = node
    t._out_idx = idx
    return t


def _call_backward_graph(node, grads):
    """create_graph=True: run `node`'s backward on Tensors with grad mode on, so that every op
    it uses is recorded. A raw op opts in with ``_double = True`` (its backward body then works
    on arrays and Tensors alike: ``ops._util``'s helpers and operators dispatch on the type);
    ``ctx.saved_tensors`` are the graph-connected Tensors (``_graph_saved``)."""
    T = _Tensor
    cls = type(node)
    prev = _state.grad
    if node._raw:
        if not cls._double:
            raise _double_error(node)
        tsaved = _graph_saved(node)
        keep = node._saved
        tg = [None if g is None else (g if g.__class__ is T else T._make(g)) for g in grads]
        node._saved = tsaved
        _state.grad = True
        try:
            res = cls.backward(node, *tg)
        finally:
            node._saved = keep
            _state.grad = prev
    else:
        tg = _user_grads(node, grads)
        _state.grad = True
        try:
            res = cls.backward(node, *tg)
        finally:
            _state.grad = prev
    if not isinstance(res, tuple):
        res = (res,)
    return tuple(r if (r is None or r.__class__ is T) else
                 (r if isinstance(r, T) else T._make(np.asarray(r))) for r in res)


def _toposort(roots, stop=None):
    """Nodes reachable from `roots`, each after every node that consumes its output (not
    looking past a tensor whose id is in `stop`)."""
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
                if p is not None and (stop is None or id(p) not in stop):
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


# ---- hooks the engine runs ------------------------------------------------------------------
class _LeafHooks:
    """Hooks of one leaf tensor: ``pre`` (may replace the gradient, run once per backward on
    the leaf's summed gradient) and ``post`` (after it is accumulated into ``.grad``)."""

    __slots__ = ("pre", "post", "__weakref__")

    def __init__(self):
        from collections import OrderedDict
        self.pre = OrderedDict()
        self.post = OrderedDict()


def _apply_hooks(hooks, g, what):
    T = _Tensor
    if g.__class__ is T:  # create_graph: the hooks see (and may return) recorded Tensors
        for h in tuple(hooks.values()):
            r = h(g)
            if r is not None:
                if not isinstance(r, T):
                    r = T._make(np.asarray(r))
                if r._array.shape != g._array.shape:
                    raise RuntimeError(f"hook '{getattr(h, '__name__', h)}' has changed the "
                                       f"size of value: {what} gradient of shape "
                                       f"{g._array.shape} became {r._array.shape}")
                g = r
        return g
    for h in tuple(hooks.values()):
        r = h(T._make(g))
        if r is not None:
            r = _unwrap_grad(r)
            if r.shape != g.shape:
                raise RuntimeError(f"hook '{getattr(h, '__name__', h)}' has changed the size "
                                   f"of value: {what} gradient of shape {g.shape} became "
                                   f"{r.shape}")
            if r.dtype != g.dtype:
                r = r.astype(g.dtype)
            g = r
    return g


def _node_hooks(node, gs):
    """Run the tensor hooks (then retain_grad) registered on the outputs of `node`."""
    d = node.__dict__
    hooks = d.get("_tensor_hooks")
    if hooks:
        for i, hs in hooks.items():
            if i < len(gs) and gs[i] is not None and hs:
                gs[i] = _apply_hooks(hs, gs[i], "non-leaf")
    retain = d.get("_retain")
    if retain:
        T = _Tensor
        for i, ref in retain.items():
            t = ref()
            if t is None or i >= len(gs) or gs[i] is None:
                continue
            g = gs[i]
            if g.__class__ is T:
                _accumulate_graph(t, g)
            elif t.grad is None:
                t.grad = T._make(np.array(g, dtype=t._array.dtype, copy=True))
            else:
                t.grad = T._make(t.grad._array + g)
    return gs


def _nan_check(node, res):
    for i, g in enumerate(res):
        if g is not None and g.__class__ is _Tensor:
            g = g._array
        if g is not None and g.dtype.kind == "f" and np.isnan(g).any():
            trace = node.__dict__.get("_trace")
            where = ("\nTraceback of the forward call that created it:\n" + trace) if trace \
                else ("\n(the node was created before anomaly detection was enabled, so its "
                      "forward call was not recorded)")
            raise RuntimeError(f"Function '{_node_name(node)}' returned nan values in its "
                               f"{i}th output.{where}")


def _free(node):
    node._saved = None
    node.parents = ()
    node._versions = None
    d = node.__dict__
    if d:
        d.clear()


# ---- the engine -----------------------------------------------------------------------------
def _run(roots, root_grads, retain_graph, inputs=None, terminal=False, create=False):
    """Propagate `root_grads` from `roots` back to the leaves.

    With ``create`` (``create_graph=True``) the gradients are Tensors and every backward runs
    with grad mode on, so the backward pass is itself recorded (see ``_call_backward_graph``).

    * ``inputs=None``: accumulate into every leaf's ``.grad`` (running its hooks).
    * ``inputs=[...]``: return the gradients of those tensors instead (``autograd.grad``);
      only the nodes on a path to an input run. With ``terminal`` an input is a boundary:
      nothing past it runs (activation checkpointing's inner backward).
    """
    T = _Tensor
    grads = {}
    want = captured = want_nodes = None
    if inputs is not None:
        want = {}
        captured = [None] * len(inputs)
        for k, t in enumerate(inputs):
            want.setdefault(id(t), k)
        if not terminal:
            want_nodes = {}
            for k, t in enumerate(inputs):
                if t._node is not None:
                    want_nodes.setdefault(id(t._node), []).append((t._out_idx, k))
    # leaf hooks run in the outer backward only (not in a checkpoint's inner one)
    hooked = _leaf_hooks if (_leaf_hooks and not terminal) else None
    pending = {}
    leaf_seed = []
    for t, g in zip(roots, root_grads):
        node = t._node
        if node is None:
            leaf_seed.append((t, g))
            continue
        if node._saved is None:  # freed by an earlier backward
            raise RuntimeError(_SECOND_TIME)
        slot = grads.setdefault(id(node), [None] * node._nout)
        i = t._out_idx
        slot[i] = g if slot[i] is None else _sum_grad(slot[i], g)
    seeded = {id(t._node) for t in roots}  # nodes given a gradient before any node runs
    order = _toposort([t._node for t in roots], want if terminal else None)
    run_set = None
    if want is not None:
        run_set = set()
        for node in reversed(order):  # producers before consumers
            for p in node.parents:
                if p is None:
                    continue
                pn = p._node
                if id(p) in want or (pn is not None and (id(pn) in run_set or
                                                         (want_nodes and id(pn) in want_nodes))):
                    run_set.add(id(node))
                    break
    fire_at = None
    if hooked is not None:
        last = {}
        for i, node in enumerate(order):
            for p in node.parents:
                if p is not None and p._node is None and id(p) in hooked:
                    last[id(p)] = (i, p)
        fire_at = {}
        for i, p in last.values():
            fire_at.setdefault(i, []).append(p)
    anomaly = _anomaly[0] and _anomaly[1]
    tasks = _state.tasks
    if tasks is None:
        tasks = _state.tasks = []
    callbacks = []
    tasks.append(callbacks)
    try:
        for t, g in leaf_seed:
            if hooked is not None and id(t) in hooked:
                pending[id(t)] = g if id(t) not in pending else pending[id(t)] + g
            elif want is not None:
                k = want.get(id(t))
                if k is not None:
                    captured[k] = g if captured[k] is None else captured[k] + g
            else:
                _accumulate(t, g)
        if pending:
            waiting = {id(p) for ps in fire_at.values() for p in ps}
            for t, _ in leaf_seed:
                if id(t) in pending and id(t) not in waiting:
                    _fire_leaf(t, pending.pop(id(t)), want, captured)
        hooks_on = _hooks_used
        fuse = _fuse_backward[0] and not create and not _anomaly[0]
        # id(node) -> how many edges of the graph leave from its outputs (counted before any
        # node runs: a node that has run is freed and its edges are gone)
        uses = _use_counts(order) if fuse else None
        done = {}    # id(node) -> its backward's result, computed early by _sum_into
        for i, node in enumerate(order):
            gs = grads.pop(id(node), None)
            if gs is not None:
                if hooks_on and node.__dict__:
                    gs = _node_hooks(node, gs)
                if want_nodes is not None:
                    for idx, k in want_nodes.get(id(node), ()):
                        g = gs[idx] if idx < len(gs) else None
                        if g is not None:
                            captured[k] = g if captured[k] is None else captured[k] + g
                if run_set is None or id(node) in run_set:
                    if node._saved is None:
                        raise RuntimeError(_SECOND_TIME)
                    if done and id(node) in done:  # computed by _sum_into
                        res = done.pop(id(node))
                    elif fuse and node._fuse_up is not None:
                        if _fuse_into_parent(node, gs, grads, uses, want, want_nodes, run_set):
                            if not retain_graph:
                                _free(node)
                            continue
                        res = _call_backward(node, gs)
                    else:
                        res = _call_backward_graph(node, gs) if create else \
                            _call_backward(node, gs)
                    if anomaly:
                        _nan_check(node, res)
                    parents = node.parents
                    if len(res) < len(parents):
                        raise RuntimeError(f"{type(node).__name__}.backward returned {len(res)} "
                                           f"gradients but forward took {len(parents)} "
                                           f"arguments")
                    for p, g in zip(parents, res):
                        if p is None or g is None:
                            continue
                        if create:
                            g = _fit_grad_t(g, p, node)
                        else:
                            pa = _meta(p)
                            if g.shape != pa.shape:
                                g = _reduce_to(g, pa.shape, type(node).__name__)
                            if g.dtype != pa.dtype:  # a promoted op
                                g = g.astype(pa.dtype)
                        pn = p._node
                        if want is not None:
                            k = want.get(id(p))
                            if k is not None and (terminal or pn is None):
                                if hooked is not None and id(p) in hooked:
                                    pending[id(p)] = g if id(p) not in pending \
                                        else pending[id(p)] + g
                                else:
                                    captured[k] = g if captured[k] is None else captured[k] + g
                                continue
                        if pn is not None:
                            slot = grads.get(id(pn))
                            if slot is None:
                                slot = grads[id(pn)] = [None] * pn._nout
                            j = p._out_idx
                            if slot[j] is None:
                                slot[j] = g
                            elif fuse and pn._sum_up is not None and not create:
                                r = _sum_into(pn, slot[j], g, uses, seeded, want_nodes, run_set)
                                if r is None:
                                    slot[j] = _sum_grad(slot[j], g)
                                else:
                                    done[id(pn)] = r
                            else:
                                slot[j] = _sum_grad(slot[j], g)
                        elif want is None:
                            if hooked is not None and id(p) in hooked:
                                pending[id(p)] = g if id(p) not in pending \
                                    else pending[id(p)] + g
                            else:
                                _accumulate(p, g, node._fresh_grads and not create)
                    if not retain_graph:
                        _free(node)
            if fire_at:
                ps = fire_at.pop(i, None)
                if ps:
                    for p in ps:
                        g = pending.pop(id(p), None)
                        if g is not None:
                            _fire_leaf(p, g, want, captured)
        while callbacks:
            callbacks.pop(0)()
    finally:
        tasks.pop()
    return captured


def _sum_grad(a, b):
    """a + b for two gradients reaching one output (a residual junction): a large sum of two
    arrays of one shape and dtype goes into a buffer of the caching allocator (NumPy's own
    allocation of a fresh output costs its page faults, as much as the sum itself)."""
    if a.__class__ is np.ndarray and b.__class__ is np.ndarray and a.size >= (1 << 15) and \
            a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f":
        if not a.flags.c_contiguous and _channels_last(a):  # the sum keeps a's layout
            n, c, h, w = a.shape
            out = _C.empty((n, h, w, c), a.dtype).transpose(0, 3, 1, 2)
        else:
            out = _C.empty(a.shape, a.dtype)
        from ..ops._util import _add_into  # (ops._util imports this module)
        if _add_into(a, b, out) is None:  # (all threads when the layouts agree)
            np.add(a, b, out=out)
        return out
    return a + b


def _sum_into(node, a, b, uses, seeded, want_nodes, run_set):
    """`node`'s backward result for the output gradient a + b (``_Op._sum_up``) when b is the
    last of exactly two gradients reaching its single output (two edges of the graph leave it
    and it is not a root of the backward, whose gradient would be a third) and nothing can
    observe the sum (no hook, no retain_grad, not an ``autograd.grad`` input, on the path
    being run); else None."""
    if node._nout != 1 or uses.get(id(node), 0) != 2 or node._saved is None:
        return None
    if id(node) in seeded or not _unobserved(node, want_nodes, run_set):
        return None
    return type(node)._sum_up(node, a, b)


def _unobserved(node, want_nodes, run_set):
    """Whether nothing reads `node`'s output gradients but its own backward: no tensor hook
    or retain_grad on them, not an ``autograd.grad`` input, and the node on the path being
    run (a backward fusion may then skip or merge them)."""
    if want_nodes and id(node) in want_nodes:
        return False
    if run_set is not None and id(node) not in run_set:
        return False
    return not _grad_observed(node)


def _grad_observed(node):
    """Whether a tensor hook or retain_grad reads `node`'s output gradients (which a backward
    fusion must then leave as the plain path computes them)."""
    d = node.__dict__
    return bool(d.get("_tensor_hooks") or d.get("_retain"))


def _use_counts(order):
    """id(node) -> the number of (consumer, argument) edges reading its outputs in `order`."""
    uses = {}
    for node in order:
        for p in node.parents:
            if p is not None:
                pn = p._node
                if pn is not None:
                    uses[id(pn)] = uses.get(id(pn), 0) + 1
    return uses


def _fuse_into_parent(node, gs, grads, uses, want, want_nodes, run_set):
    """Hand `node`'s output gradient to the producer of its single input (``_Op._fuse_up``)
    when that cannot be observed; True if done (the node's own backward is then skipped)."""
    if len(gs) != 1 or gs[0] is None:
        return False
    parents = node.parents
    p = parents[0]
    if p is None or any(q is not None for q in parents[1:]):
        return False
    pn = p._node
    if pn is None or pn._nout != 1 or uses.get(id(pn), 0) != 1 or id(pn) in grads:
        return False
    if (want is not None and id(p) in want) or not _unobserved(pn, want_nodes, run_set):
        return False
    h = type(node)._fuse_up(node, gs[0])
    if h is None:
        return False
    grads[id(pn)] = [h]
    return True


def _fire_leaf(p, g, want, captured):
    """A leaf's summed gradient of this backward: pre hooks, then accumulate (or capture), then
    post-accumulate hooks."""
    rec = _leaf_hooks.get(id(p))
    if rec is not None and rec.pre:
        g = _apply_hooks(rec.pre, g, "leaf")
    if want is not None:
        k = want.get(id(p))
        if k is not None:
            captured[k] = g if captured[k] is None else captured[k] + g
        return
    _accumulate(p, g)
    if rec is not None and rec.post:
        for h in tuple(rec.post.values()):
            h(p)


def queue_callback(callback):
    """Run ``callback()`` (no arguments) once the backward pass running in this thread has
    finished with every node (after every gradient is accumulated and every hook has run).
    Only valid during backward (e.g. from a hook); otherwise a RuntimeError. Also spelled
    ``fastdl.autograd.Variable._execution_engine.queue_callback`` as in PyTorch.

    Example: ``p.register_post_accumulate_grad_hook(lambda p: queue_callback(sync))``
    """
    tasks = _state.tasks
    if not tasks:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    if not callable(callback):
        raise TypeError(f"queue_callback: callback must be callable, got "
                        f"{type(callback).__name__}")
    tasks[-1].append(callback)


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


def _channels_last(a):
    from ..tensor import _cl_only  # (fastdl.tensor imports this module)
    return _cl_only(a)


def _accumulate(leaf, g, fresh=False):
    """Add `g` into ``leaf.grad``: the first gradient becomes ``.grad`` itself when `fresh`
    (a new array no one else holds: ``_Op._fresh_grads``) and laid out like the leaf, else it
    is copied (the engine may hand one array to several inputs) into a buffer from the caching
    allocator when large; later ones are added in place, as PyTorch does."""
    if g.__class__ is not np.ndarray and isinstance(g, _Tensor):  # create_graph: with graph
        _accumulate_graph(leaf, g)
        return
    la = leaf._array
    dt = la.dtype
    old = leaf.grad
    if old is None:
        if fresh and g.__class__ is np.ndarray and g.dtype == dt and g.shape == la.shape and \
                g.strides == la.strides and g.flags.writeable:
            leaf.grad = _Tensor._make(g)
            return
        if not la.flags.c_contiguous and la.ndim == 4 and _channels_last(la):
            # torch's layout contract: the gradient of a channels-last leaf is channels-last
            n, c, h, w = la.shape
            buf = _C.empty((n, h, w, c), dt).transpose(0, 3, 1, 2)
            np.copyto(buf, g, casting="unsafe")
        elif g.size >= (1 << 15):
            buf = _C.empty(g.shape, dt)
            np.copyto(buf, g, casting="unsafe")
        else:
            buf = np.array(g, dtype=dt, copy=True, order="C")
        leaf.grad = _Tensor._make(buf)
    elif old._array.shape == g.shape and old._array.flags.writeable and old._array.dtype == dt:
        from ..ops._util import _ADD_MIN, _add_into
        oa = old._array
        if g.__class__ is not np.ndarray or g.size < _ADD_MIN or _add_into(oa, g, oa) is None:
            np.add(oa, g, out=oa, casting="unsafe")
    else:
        leaf.grad = _Tensor._make((old._array + g).astype(dt, copy=False))


def _accumulate_graph(leaf, g):
    """``create_graph=True``: ``.grad`` becomes a recorded clone of the first gradient, then
    ``grad + g`` out of place, so it can be differentiated again (PyTorch's rule)."""
    old = leaf.grad
    with enable_grad():
        if old is None:
            leaf.grad = g.clone()
        else:
            leaf.grad = old + g


def _fit_grad_t(g, p, node):
    """A create_graph gradient for parent `p`: a Tensor of p's shape and dtype."""
    T = _Tensor
    if g.__class__ is not T:
        g = T._make(np.asarray(g))
    a = p._array
    if g._array.shape != a.shape:
        g = _reduce_to_t(g, a.shape, type(node).__name__)
    if g._array.dtype != a.dtype:
        g = g.to(_FROM_NP[a.dtype])
    return g


def _reduce_to_t(g, shape, name):
    """``_reduce_to`` on a recorded Tensor."""
    gs = g._array.shape
    shape = tuple(shape)
    nd = len(gs) - len(shape)
    if nd < 0:
        raise RuntimeError(f"{name}.backward returned a gradient of shape {gs} for an "
                           f"input of shape {shape}")
    axes = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape)
                                    if s == 1 and gs[i + nd] != 1)
    if axes:
        g = g.sum(axes, keepdim=True)
    if g._array.shape != shape:
        if g._array.size != int(np.prod(shape)):
            raise RuntimeError(f"{name}.backward returned a gradient of shape {gs} for an "
                               f"input of shape {shape}")
        g = g.reshape(shape)
    return g


def _seed_grads(tensors, grad_tensors, what, create=False):
    T = _Tensor
    roots, gs = [], []
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"{what}: got {len(grad_tensors)} gradients for {len(tensors)} "
                           f"tensors; pass one gradient (or None) per tensor")
    for n, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, T):
            raise TypeError(f"{what}: expected Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"{what}: element {n} of tensors does not require grad and does not have a "
                f"grad_fn. Create the leaf with requires_grad=True (or call "
                f".requires_grad_()), and do not compute it under fastdl.no_grad().")
        if g is None:
            if t._array.size != 1:
                raise RuntimeError(
                    f"{what}: grad can be implicitly created only for scalar outputs; this "
                    f"tensor has shape {t._array.shape}: pass gradient= of the same shape")
            g = np.ones_like(t._array)
            if create:
                g = T._make(g)
        elif create and isinstance(g, T):  # the graph may reach a recorded grad_output
            if g._array.shape != t._array.shape:
                raise ValueError(f"{what}: gradient has shape {g._array.shape} but the tensor "
                                 f"has shape {t._array.shape}")
            if g._array.dtype != t._array.dtype:
                g = g.to(_FROM_NP[t._array.dtype])
        else:
            g = _unwrap_grad(g)
            if g.shape != t._array.shape:
                raise ValueError(f"{what}: gradient has shape {g.shape} but the tensor has "
                                 f"shape {t._array.shape}")
            g = g.astype(t._array.dtype, copy=False)
            if create:
                g = T._make(g)
        roots.append(t)
        gs.append(g)
    return roots, gs


def _as_list(x, what):
    T = _Tensor
    if isinstance(x, T):
        return [x]
    if isinstance(x, (list, tuple)):
        return list(x)
    raise TypeError(f"{what}: expected a Tensor or a sequence of Tensors, got "
                    f"{type(x).__name__}")


def _grad_list(grads, n):
    T = _Tensor
    if grads is None:
        return [None] * n
    if isinstance(grads, (T, np.ndarray)):
        return [grads]
    return list(grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate d(tensors)/d(leaf) · grad_tensors into every leaf's ``.grad`` (or, with
    ``inputs``, only into those tensors' ``.grad``, leaves or not). The graph is freed unless
    ``retain_graph=True``.

    Example: ``fastdl.autograd.backward([loss])``
    """
    if grad_variables is not None:
        grad_tensors = grad_variables
    create = bool(create_graph)
    tensors = _as_list(tensors, "backward")
    roots, gs = _seed_grads(tensors, _grad_list(grad_tensors, len(tensors)), "backward",
                            create)
    retain = create if retain_graph is None else bool(retain_graph)
    if inputs is None:
        if create:
            with enable_grad():
                _run(roots, gs, retain, create=True)
        else:
            _run(roots, gs, retain)
        return
    inputs = _as_list(inputs, "backward: inputs")
    if not inputs:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    for t in inputs:
        if not isinstance(t, _Tensor) or not t.requires_grad:
            raise RuntimeError("backward: every tensor in inputs must require grad")
    with set_grad_enabled(create or _state.grad):
        captured = _run(roots, gs, retain, inputs=inputs, create=create)
    for t, g in zip(inputs, captured):
        if g is None:
            continue
        if t._node is None:
            _accumulate(t, g)
            rec = _leaf_hooks.get(id(t))
            if rec is not None and rec.post:
                for h in tuple(rec.post.values()):
                    h(t)
        else:
            _accumulate(t, g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated into
    ``.grad``). Only the part of the graph between them runs. An input the outputs do not
    depend on is an error unless ``allow_unused=True`` (then its gradient is None, or zeros
    with ``materialize_grads=True``).

    Example: ``(gx,) = fastdl.autograd.grad(y.sum(), [x])``
    """
    T = _Tensor
    create = bool(create_graph)
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True requires allow_unused to be True "
                         "(or None)")
    outputs = _as_list(outputs, "grad: outputs")
    inputs = _as_list(inputs, "grad: inputs")
    for t in inputs:
        if not isinstance(t, T):
            raise TypeError(f"grad: inputs must be Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("grad: One of the differentiated Tensors does not require grad")
    roots, gs = _seed_grads(outputs, _grad_list(grad_outputs, len(outputs)), "grad", create)
    retain = create if retain_graph is None else bool(retain_graph)
    if create:
        with enable_grad():
            captured = _run(roots, gs, retain, inputs=inputs, create=True)
    else:
        captured = _run(roots, gs, retain, inputs=inputs)
    res = []
    for t, g in zip(inputs, captured):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: One of the differentiated Tensors appears to not "
                                   "have been used in the graph. Set allow_unused=True if "
                                   "this is the desired behavior.")
            res.append(T._make(np.zeros_like(t._array)) if materialize_grads else None)
        elif g.__class__ is T:
            res.append(g)
        else:
            res.append(T._make(np.array(g, dtype=t._array.dtype)))
    return tuple(res)


# ---- anomaly mode -----------------------------------------------------------------------------
def set_detect_anomaly(mode: bool, check_nan: bool = True):
    """Turn anomaly detection on or off (process-wide, as in PyTorch). While on, every
    recorded op remembers the traceback of its forward call, and a backward that produces NaN
    raises a RuntimeError naming the op and showing where it was created. Costs time: a
    debugging aid. Usable as a context manager. Example: ``fastdl.autograd.set_detect_anomaly(
    True)``"""
    return _AnomalyMode(mode, check_nan)


class _AnomalyMode:
    def __init__(self, mode, check_nan=True):
        self.prev = tuple(_anomaly)
        _anomaly[0], _anomaly[1] = bool(mode), bool(check_nan)
        _update_slow()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _anomaly[0], _anomaly[1] = self.prev
        _update_slow()
        return False


class detect_anomaly:
    """Context manager / decorator enabling anomaly detection inside it (see
    ``set_detect_anomaly``); warns, as PyTorch does, that it slows everything down.

    Example::

        with fastdl.autograd.detect_anomaly():
            loss.backward()   # a NaN gradient raises, naming the forward op that made it
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self.prev = None
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the "
                      "runtime and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = tuple(_anomaly)
        _anomaly[0], _anomaly[1] = True, self.check_nan
        _update_slow()
        return self

    def __exit__(self, *exc):
        _anomaly[0], _anomaly[1] = self.prev
        _update_slow()
        return False

    def __call__(self, fn):
        import functools

        check = self.check_nan

        @functools.wraps(fn)
        def wrapper2(*a, **k):
            prev = tuple(_anomaly)
            _anomaly[0], _anomaly[1] = True, check
            _update_slow()
            try:
                return fn(*a, **k)
            finally:
                _anomaly[0], _anomaly[1] = prev
                _update_slow()

        return wrapper2


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on (see ``set_detect_anomaly``)."""
    return _anomaly[0]


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection checks backward results for NaN."""
    return _anomaly[0] and _anomaly[1]
