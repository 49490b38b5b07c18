"""``RemovableHandle``: what every ``register_*hook`` returns (PyTorch's name and API)."""
from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict

import numpy as np

__all__ = ["RemovableHandle", "BackwardHook", "register_module_forward_pre_hook",
           "register_module_forward_hook", "register_module_full_backward_pre_hook",
           "register_module_full_backward_hook"]


class RemovableHandle:
    """A handle to a registered hook: ``handle.remove()`` unregisters it (removing twice, or
    after the owner is gone, does nothing). Also a context manager that removes the hook on
    exit. ``hooks_dict`` is the ordered dict the hook was stored in under ``handle.id``;
    ``extra_dict`` (a dict or a list of dicts) holds per-hook flags to drop with it.

    Example::

        h = model.register_forward_hook(lambda m, args, out: print(out.shape))
        model(x)      # prints
        h.remove()
    """

    _ids = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._ids)
        if extra_dict is None:
            extra = ()
        elif isinstance(extra_dict, (list, tuple)):
            extra = tuple(extra_dict)
        else:
            extra = (extra_dict,)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self) -> None:
        """Unregister the hook (no-op if already removed)."""
        d = self.hooks_dict_ref()
        if d is not None:
            d.pop(self.id, None)
        for ref in self.extra_dict_ref:
            e = ref()
            if e is not None:
                e.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle id={self.id}>"


# ---- module hooks ---------------------------------------------------------------------------
# The process-wide hooks of ``fastdl.nn.modules.module.register_module_*_hook`` (run before a
# module's own hooks, on every module call).
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_with_kwargs = OrderedDict()
_global_forward_hooks_always_called = OrderedDict()
_global_backward_pre_hooks = OrderedDict()
_global_backward_hooks = OrderedDict()
_any_global = [False]  # set once a global hook is registered: Module.__call__ takes the slow path


def _hook_dict(module, name):
    d = module.__dict__.get(name)
    if d is None:
        d = OrderedDict()
        object.__setattr__(module, name, d)
    return d


def _add(hooks, hook, prepend=False, extra=()):
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, extra_dict=list(extra))
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook):
    """Register ``hook(module, args) -> None or new args`` run before the forward of every
    module (before the module's own pre-hooks). Returns a ``RemovableHandle``.

    Example: ``h = register_module_forward_pre_hook(lambda m, args: print(type(m)))``
    """
    _any_global[0] = True
    return _add(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """Register ``hook(module, args, output) -> None or new output`` (with ``with_kwargs``:
    ``hook(module, args, kwargs, output)``) run after the forward of every module, before the
    module's own forward hooks; ``always_call`` runs it even when forward raised.

    Example: ``h = register_module_forward_hook(lambda m, args, out: print(out.shape))``
    """
    _any_global[0] = True
    h = _add(_global_forward_hooks, hook, extra=(_global_forward_hooks_with_kwargs,
                                                  _global_forward_hooks_always_called))
    if with_kwargs:
        _global_forward_hooks_with_kwargs[h.id] = True
    if always_call:
        _global_forward_hooks_always_called[h.id] = True
    return h


def register_module_full_backward_pre_hook(hook):
    """Register ``hook(module, grad_output) -> None or new grad_output`` for every module (see
    ``Module.register_full_backward_pre_hook``)."""
    _any_global[0] = True
    return _add(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """Register ``hook(module, grad_input, grad_output) -> None or new grad_input`` for every
    module (see ``Module.register_full_backward_hook``)."""
    _any_global[0] = True
    return _add(_global_backward_hooks, hook)


def _identity_op():
    from ..autograd.function import _Op

    class _BackwardHook(_Op):
        """Identity on a module's input (or output) tensors whose backward hands the gradients
        to the module's backward hooks (and takes back their replacements)."""

        @staticmethod
        def forward(ctx, state, *arrays):
            ctx.state = state
            return arrays

        @staticmethod
        def backward(ctx, *grads):
            return (None,) + tuple(ctx.state(list(grads)))

    return _BackwardHook


_OP = []


def _op():
    if not _OP:
        _OP.append(_identity_op())
    return _OP[0]


def _check_grads(new, old, what, module):
    from ..tensor import Tensor
    if not isinstance(new, (tuple, list)):
        new = (new,)
    if len(new) != len(old):
        raise RuntimeError(f"Backward hook returned an invalid number of {what}, got "
                           f"{len(new)}, but expected {len(old)}")
    out = []
    for n, o in zip(new, old):
        if n is None:
            out.append(None)
            continue
        arr = n._array if isinstance(n, Tensor) else np.asarray(n)
        if o is not None and arr.shape != o.shape:
            raise RuntimeError(f"Backward hook of {type(module).__name__} returned a {what} "
                               f"of shape {arr.shape}, expected {o.shape}")
        out.append(arr)
    return out


class BackwardHook:
    """One module call's full backward hooks: the inputs and outputs pass through an identity
    op; the outputs' backward runs the pre-hooks on grad_output (which may replace it), the
    inputs' backward runs the hooks on (grad_input, grad_output) (which may replace
    grad_input). When no input requires grad the hooks run from the outputs' backward with
    grad_input all None, as in PyTorch."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_hooked = False

    def _wrap(self, items, state):
        """Pass the Tensors among `items` through the identity op; returns (items, indices of
        the Tensors, whether anything was wrapped)."""
        from ..tensor import Tensor
        idx = [i for i, t in enumerate(items) if isinstance(t, Tensor)]
        if not any(items[i].requires_grad for i in idx):
            return list(items), idx, False
        new = _op().apply(state, *[items[i] for i in idx])
        out = list(items)
        for i, t in zip(idx, new):
            out[i] = t
        return out, idx, True

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        out, self._in_idx, self.input_hooked = self._wrap(args, self._on_input_grads)
        return tuple(out)

    def setup_output_hook(self, result):
        from ..tensor import Tensor
        single = isinstance(result, Tensor)
        if not single and type(result) not in (tuple, list):
            return result
        out, idx, hooked = self._wrap([result] if single else result, self._on_output_grads)
        self._n_out = len(idx)
        if not hooked:
            return result
        return out[0] if single else type(result)(out)

    def _tensors(self, grads):
        from ..tensor import Tensor
        return tuple(None if g is None else Tensor._make(g) for g in grads)

    def _on_output_grads(self, grads):
        gs = list(grads) + [None] * (self._n_out - len(grads))
        for hook in tuple(_global_backward_pre_hooks.values()) + tuple(self.pre_hooks.values()):
            r = hook(self.module, self._tensors(gs))
            if r is not None:
                gs = _check_grads(r, gs, "grad_output", self.module)
        self.grad_outputs = gs
        if not self.input_hooked:
            hooks = tuple(_global_backward_hooks.values()) + tuple(self.hooks.values())
            if hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients.",
                              stacklevel=2)
            for hook in hooks:
                r = hook(self.module, (None,) * self.n_inputs, self._tensors(gs))
                if r is not None and not (isinstance(r, tuple) and
                                          all(e is None for e in r)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
        return gs

    def _on_input_grads(self, grads):
        n = len(self._in_idx)
        grads = list(grads) + [None] * (n - len(grads))
        full = [None] * self.n_inputs
        for i, g in zip(self._in_idx, grads):
            full[i] = g
        hooks = tuple(_global_backward_hooks.values()) + tuple(self.hooks.values())
        go = self._tensors(self.grad_outputs or ())
        for hook in hooks:
            r = hook(self.module, self._tensors(full), go)
            if r is not None:
                full = _check_grads(r, full, "grad_input", self.module)
        return [full[i] for i in self._in_idx]


def call_module(module, args, kwargs):
    """``Module.__call__`` when hooks are registered: PyTorch's order — global then module
    forward pre-hooks, backward-hook set-up on the inputs, forward, global then module forward
    hooks, backward-hook set-up on the outputs; ``always_call`` forward hooks run even when
    something before them raised."""
    md = module.__dict__
    empty = {}
    pre = md.get("_forward_pre_hooks") or empty
    pre_kw = md.get("_forward_pre_hooks_with_kwargs") or empty
    fwd = md.get("_forward_hooks") or empty
    fwd_kw = md.get("_forward_hooks_with_kwargs") or empty
    always = md.get("_forward_hooks_always_called") or empty
    bw = md.get("_backward_hooks") or empty
    bw_pre = md.get("_backward_pre_hooks") or empty
    called = set()
    result = None
    try:
        for hid, hook in tuple(_global_forward_pre_hooks.items()) + tuple(pre.items()):
            if hid in pre_kw:
                r = hook(module, args, kwargs)
                if r is not None:
                    if isinstance(r, tuple) and len(r) == 2:
                        args, kwargs = r
                        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
                    else:
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {r}.")
            else:
                r = hook(module, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        bw_hook = None
        from ..autograd.grad_mode import _state
        if (bw or bw_pre or _global_backward_hooks or _global_backward_pre_hooks) and \
                _state.grad:
            bw_hook = BackwardHook(module, bw, bw_pre)
            args = bw_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        for hid, hook in tuple(_global_forward_hooks.items()) + tuple(fwd.items()):
            if hid in always or hid in _global_forward_hooks_always_called:
                called.add(hid)
            if hid in fwd_kw or hid in _global_forward_hooks_with_kwargs:
                r = hook(module, args, kwargs, result)
            else:
                r = hook(module, args, result)
            if r is not None:
                result = r
        if bw_hook is not None:
            result = bw_hook.setup_output_hook(result)
        return result
    except Exception:
        for hid, hook in tuple(_global_forward_hooks.items()) + tuple(fwd.items()):
            if (hid in always or hid in _global_forward_hooks_always_called) and \
                    hid not in called:
                try:
                    if hid in fwd_kw or hid in _global_forward_hooks_with_kwargs:
                        hook(module, args, kwargs, result)
                    else:
                        hook(module, args, result)
                except Exception as e:  # noqa: BLE001 - the forward's error wins
                    warnings.warn(f"forward hook with ``always_call=True`` raised an exception "
                                  f"that was silenced as another error was raised in "
                                  f"forward: {e}", stacklevel=2)
        raise
