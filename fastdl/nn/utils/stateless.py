"""``fastdl.nn.utils.stateless.functional_call``: call a module with some of its
parameters and buffers replaced by given tensors, for that one call (e.g. gradients with
respect to a dict of tensors, model ensembling, meta-learning).
"""
from __future__ import annotations

import contextlib

from ...tensor import Tensor

__all__ = ["functional_call"]


def _owner(module, dotted):
    """(submodule, attribute name) of a dotted parameter/buffer name."""
    *path, leaf = dotted.split(".")
    m = module
    for p in path:
        sub = m._modules.get(p) if hasattr(m, "_modules") else None
        if sub is None:
            raise AttributeError(f"functional_call: {type(m).__name__} has no submodule "
                                 f"'{p}' (in '{dotted}')")
        m = sub
    return m, leaf


@contextlib.contextmanager
def _swapped(module, tensors, tie_weights, strict):
    own_params = dict(module.named_parameters())
    own_bufs = dict(module.named_buffers())
    known = set(module.state_dict(keep_vars=True)) | set(own_params) | set(own_bufs)
    if strict:
        missing = sorted(known - set(tensors))
        unexpected = sorted(set(tensors) - known)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: "
                               f"missing keys {missing}, unexpected keys {unexpected}")
    todo = dict(tensors)
    if tie_weights:
        # a tensor shared by several names (tied weights) follows any one of its names
        by_id = {}
        for n, t in list(own_params.items()) + list(own_bufs.items()):
            by_id.setdefault(id(t), []).append(n)
        for names in by_id.values():
            given = [n for n in names if n in tensors]
            if given:
                vals = {id(tensors[n]) for n in given}
                if len(vals) > 1:
                    raise ValueError(f"functional_call: got different values for the tied "
                                     f"weights {given}")
                for n in names:
                    todo.setdefault(n, tensors[given[0]])
    saved = []
    try:
        for name, value in todo.items():
            m, leaf = _owner(module, name)
            if leaf in m._parameters:
                saved.append((m._parameters, leaf, m._parameters[leaf]))
                m._parameters[leaf] = value
            elif leaf in m._buffers:
                saved.append((m._buffers, leaf, m._buffers[leaf]))
                m._buffers[leaf] = value
            elif not strict and name not in known:
                raise AttributeError(f"functional_call: '{name}' is not a parameter or buffer "
                                     f"of {type(module).__name__}")
        yield
    finally:
        for store, leaf, old in reversed(saved):
            store[leaf] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the parameters and buffers named in
    ``parameter_and_buffer_dicts`` (a dict, or a sequence of dicts, of dotted names →
    Tensors) used in place of the module's own for this call only; the module is unchanged
    afterwards. Gradients flow to the given tensors. With ``strict`` every parameter and
    buffer must be given; with ``tie_weights`` a tied weight follows any of its names.

    Example::

        params = {k: v.detach().requires_grad_() for k, v in model.named_parameters()}
        loss = functional_call(model, params, (x,)).sum()
        loss.backward()                       # gradients in params[...].grad
    """
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        tensors = dict(dicts)
    else:
        tensors = {}
        for d in dicts:
            overlap = set(tensors) & set(d)
            if overlap:
                raise ValueError(f"functional_call: {sorted(overlap)} appeared in multiple "
                                 f"dictionaries")
            tensors.update(d)
    for k, v in tensors.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"functional_call: '{k}' must map to a Tensor, got "
                            f"{type(v).__name__}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = {} if kwargs is None else kwargs
    with _swapped(module, tensors, tie_weights, strict):
        return module(*args, **kwargs)
