"""Grad mode and inference mode, per thread.

Each thread has its own mode (``_state``, a ``threading.local``): every thread starts with grad
enabled and inference mode off, as in PyTorch, and a ``no_grad`` in one thread never changes
what another thread records. Ops read ``_state.grad`` once per call; nothing here is written
while an op records its graph.

Inference mode (``fastdl.inference_mode()``) is ``no_grad`` plus a promise: the tensors made
inside it never join a graph later. They are marked (``Tensor.is_inference()``), a recorded op
that would save one for backward raises PyTorch's error, and updating one in place outside
inference mode raises too.
"""
from __future__ import annotations

import functools
import inspect
import threading


class _GradState(threading.local):
    """Grad mode of the calling thread (see the module docstring)."""

    grad = True
    inference = False
    tasks = None    # the backward passes running in this thread (their queued callbacks)
    frames = None   # checkpoint frames collecting the nodes recorded in this thread


_state = _GradState()



def is_grad_enabled() -> bool:
    """True when ops record the graph in the calling thread (the default; see ``no_grad``).

    Example: ``with fastdl.no_grad(): assert not fastdl.is_grad_enabled()``
    """
    return _state.grad


def is_inference_mode_enabled() -> bool:
    """True inside ``fastdl.inference_mode()`` in the calling thread.

    Example: ``with fastdl.inference_mode(): assert fastdl.is_inference_mode_enabled()``
    """
    return _state.inference


def _wrap(cm_factory, fn):
    """Decorate ``fn`` (or a generator function) so each call runs inside ``cm_factory()``."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*a, **k):
            gen = fn(*a, **k)
            with cm_factory():
                value = next(gen)
            while True:  # the mode holds while the generator runs, not while it is suspended
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as e:  # noqa: BLE001 - re-thrown into the generator
                    with cm_factory():
                        try:
                            value = gen.throw(e)
                        except StopIteration as stop:
                            return stop.value
                else:
                    with cm_factory():
                        try:
                            value = gen.send(sent)
                        except StopIteration as stop:
                            return stop.value
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*a, **k):
        with cm_factory():
            return fn(*a, **k)

    return wrapper


class set_grad_enabled:
    """Set grad mode on or off (in the calling thread): as a function call, a context manager
    (restoring the previous mode on exit) or a decorator.

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
        return _wrap(lambda: set_grad_enabled(mode), fn)

    def clone(self):
        return set_grad_enabled(self.mode)


class no_grad:
    """Context manager / decorator (with or without parentheses): ops run inside it record no
    graph, in the calling thread only.

    Example::

        with fastdl.no_grad():
            y = model(x)          # y.requires_grad is False
    """

    _mode = False

    def __new__(cls, orig_func=None):
        if orig_func is not None:  # @fastdl.no_grad without parentheses
            if not callable(orig_func):
                raise TypeError(f"{cls.__name__}() takes no arguments, got {orig_func!r}")
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        self.prev = None

    def __enter__(self):
        self.prev = _state.grad
        _state.grad = self._mode
        return self

    def __exit__(self, *exc):
        _state.grad = self.prev
        return False

    def __call__(self, fn):
        return _wrap(type(self), fn)

    def clone(self):
        return type(self)()


class enable_grad(no_grad):
    """Context manager / decorator turning grad mode back on (e.g. inside ``no_grad``), in the
    calling thread. Example: ``with fastdl.no_grad(), fastdl.enable_grad(): y = x * 2``"""

    _mode = True


# ---- inference mode ------------------------------------------------------------------------
class _InferenceVersion(list):
    """The version counter of an inference tensor: one element, like every tensor's, whose
    type marks the tensor; bumping it (any in-place update) outside inference mode raises."""

    __slots__ = ()

    def __setitem__(self, i, v):
        if not _state.inference:
            raise RuntimeError(
                "Inplace update to inference tensor outside InferenceMode is not allowed. You "
                "can make a clone to get a normal tensor before doing inplace update.")
        list.__setitem__(self, i, v)


_active = [0]        # threads currently inside inference_mode(True)
_lock = threading.Lock()
_orig = {}


def _mark(t):
    t._vc = _InferenceVersion((t._vc[0],))


def _install():
    """While some thread is in inference mode, tensor construction marks the tensors made by
    threads in inference mode; outside it, construction runs unchanged (no cost)."""
    from .function import _Tensor as T
    make = T.__dict__["_make"].__func__
    init = T.__dict__["__init__"]
    _orig["_make"], _orig["__init__"] = T.__dict__["_make"], init

    def _make(cls, arr, requires_grad=False):
        t = make(cls, arr, requires_grad)
        if _state.inference:
            _mark(t)
        return t

    def __init__(self, *a, **k):
        init(self, *a, **k)
        if _state.inference:
            _mark(self)

    functools.update_wrapper(_make, make)
    functools.update_wrapper(__init__, init)
    T._make = classmethod(_make)
    T.__init__ = __init__


def _uninstall():
    from .function import _Tensor as T
    T._make = _orig.pop("_make")
    T.__init__ = _orig.pop("__init__")


class inference_mode:
    """Context manager / decorator (with or without parentheses) for inference: like
    ``no_grad`` (nothing is recorded), and every tensor made inside is an *inference tensor*
    (``t.is_inference()``): it cannot be saved for backward by an op recorded later, cannot be
    given ``requires_grad``, and cannot be updated in place outside inference mode (each is a
    RuntimeError with PyTorch's text). ``inference_mode(False)`` turns it off inside an
    enclosing one (and, as in PyTorch, turns grad mode on). Per thread.

    Example::

        with fastdl.inference_mode():
            y = model(x)          # y.requires_grad is False, y.is_inference() is True
    """

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # @fastdl.inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        st = _state
        self.prev = (st.grad, st.inference)
        if self.mode:
            with _lock:
                _active[0] += 1
                if _active[0] == 1:
                    _install()
            from . import function
            function._inf_seen = True  # from now on recorded ops check for inference tensors
        st.grad = not self.mode
        st.inference = self.mode
        return self

    def __exit__(self, *exc):
        _state.grad, _state.inference = self.prev
        if self.mode:
            with _lock:
                _active[0] -= 1
                if _active[0] == 0:
                    _uninstall()
        return False

    def __call__(self, fn):
        mode = self.mode
        return _wrap(lambda: inference_mode(mode), fn)

    def clone(self):
        return inference_mode(self.mode)


def _is_inference(t) -> bool:
    return type(t._vc) is _InferenceVersion
