"""Tensor methods of the autograd surface: gradient hooks, ``retain_grad``, inference marks.

They join ``Tensor`` through the op table (``@register(function=False)``). Hooks of a leaf live
in the engine's table (``function._leaf_hooks``, dropped with the tensor); hooks of a non-leaf
live on its ``grad_fn`` node, keyed by output index, and are freed with the graph.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict

from ..ops.table import register
from ..utils.hooks import RemovableHandle
from . import function as _fn
from . import grad_mode as _gm

__all__ = ["register_hook", "register_post_accumulate_grad_hook", "retain_grad",
           "retains_grad", "is_inference"]


def _leaf_record(t):
    rec = _fn._leaf_hooks.get(id(t))
    if rec is None:
        rec = _fn._leaf_hooks[id(t)] = _fn._LeafHooks()
        weakref.finalize(t, _fn._leaf_hooks.pop, id(t), None)
    return rec


def _node_dict(t, key):
    d = t._node.__dict__
    per = d.get(key)
    if per is None:
        per = d[key] = {}
    return per


@register(function=False)
def register_hook(self, hook):
    """Register ``hook(grad) -> Tensor or None``, called with this tensor's gradient each
    time it is computed in a backward (for a leaf: once per backward, on the summed gradient,
    before it is accumulated into ``.grad``). A returned Tensor replaces the gradient for the
    rest of the backward. Hooks run in registration order. Returns a ``RemovableHandle``.

    Example::

        h = x.register_hook(lambda g: g * 2)   # doubles x's gradient
        h.remove()
    """
    if not callable(hook):
        raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    _fn._hooks_used = True
    if self._node is None:
        hooks = _leaf_record(self).pre
    else:
        per = _node_dict(self, "_tensor_hooks")
        hooks = per.get(self._out_idx)
        if hooks is None:
            hooks = per[self._out_idx] = OrderedDict()
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


@register(function=False)
def register_post_accumulate_grad_hook(self, hook):
    """Register ``hook(tensor) -> None`` on a leaf: called once per backward, right after the
    leaf's gradient from that backward is fully summed into ``.grad`` — as soon as the last
    node feeding the leaf has run, while the rest of the backward still goes on (so, e.g., a
    data-parallel all-reduce of ``.grad`` can start early). Returns a ``RemovableHandle``.

    Example: ``w.register_post_accumulate_grad_hook(lambda p: opt_step(p))``
    """
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: hook must be callable, got "
                        f"{type(hook).__name__}")
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self._node is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                           "tensors")
    _fn._hooks_used = True
    hooks = _leaf_record(self).post
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


@register(function=False)
def retain_grad(self):
    """Make a non-leaf tensor keep its gradient in ``.grad`` after backward (accumulated
    across backwards, as for leaves); a no-op on leaves. Applied after the tensor's other
    hooks. Example: ``h = x * 2; h.retain_grad(); h.sum().backward(); h.grad``"""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if self._node is None:
        return None
    _fn._hooks_used = True
    _node_dict(self, "_retain")[self._out_idx] = weakref.ref(self)
    return None


def _retains_grad(self):
    """True if ``retain_grad()`` was called on this non-leaf tensor (False for leaves)."""
    node = self._node
    if node is None:
        return False
    ref = node.__dict__.get("_retain", {}).get(self._out_idx)
    return ref is not None and ref() is self


register("retains_grad", function=False)(property(_retains_grad, doc=_retains_grad.__doc__))


@register(function=False)
def is_inference(self) -> bool:
    """True if this tensor was made inside ``fastdl.inference_mode()`` (see there).

    Example: ``with fastdl.inference_mode(): t = fastdl.ones(2)``; then ``t.is_inference()``
    """
    return _gm._is_inference(self)
