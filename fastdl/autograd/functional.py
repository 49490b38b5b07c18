"""Higher-level autograd on functions, with ``torch.autograd.functional``'s names, arguments and
return structures: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``vhp``, ``hvp``.

Every one is built from reverse mode (``autograd.grad``): ``jvp`` and ``hvp`` use the
double-backward trick — the vector-Jacobian product ``u ↦ uᵀJ`` is linear in ``u``, so
differentiating it with respect to ``u`` (a dummy that requires grad) against ``v`` gives
``J v`` — so they need ``create_graph=True`` support from every op on the path (see
docs/autograd.md). ``jacobian`` runs one backward per output element (``vectorize`` is
accepted; fastdl has no batched backward, so it loops either way).

Inputs are a Tensor or a tuple of Tensors; results mirror that (a Tensor for a Tensor, a tuple
for a tuple). Without ``create_graph`` the results are detached; with it they keep their graph,
so they can be differentiated again. With ``strict=True`` an output independent of an input is
a RuntimeError; otherwise its part of the result is zeros.

Example::

    from fastdl.autograd.functional import hessian
    H = hessian(lambda x: (x ** 3).sum(), fastdl.tensor([1.0, 2.0]))   # diag(6x)
"""
from __future__ import annotations

import numpy as np

from . import function as _fn
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _T():
    return _fn._Tensor


def _as_tuple(x, arg_name, fn_name):
    """(tuple of Tensors, whether x was a tuple)."""
    T = _T()
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, T):
            where = f"element {i} of " if is_tuple else ""
            raise TypeError(f"The {where}{arg_name} given to {fn_name} must be either a Tensor "
                            f"or a tuple of Tensors but the value at index {i} has type "
                            f"{type(t).__name__}.")
    return xs, is_tuple


def _prep_inputs(inputs, create_graph):
    """Fresh graph leaves for the inputs: with create_graph an input that requires grad stays
    connected (an identity view), as torch's ``_grad_preprocess``."""
    res = []
    for t in inputs:
        if create_graph and t.requires_grad:
            res.append(t.view_as(t))
        else:
            d = t.detach()
            if d._array.dtype.kind == "f" or d._array.dtype.kind == "V":
                d.requires_grad_(True)
            res.append(d)
    return tuple(res)


def _post(xs, create_graph, is_tuple):
    out = tuple(None if x is None else (x if create_graph else x.detach()) for x in xs)
    return out if is_tuple else out[0]


def _check_outputs(outs, fn_name):
    T = _T()
    for i, o in enumerate(outs):
        if not isinstance(o, T):
            raise TypeError(f"{fn_name}: the outputs of the user-provided function must be "
                            f"Tensors, but output {i} has type {type(o).__name__}")


def _grad(outs, ins, gouts, create_graph, strict, what, retain_graph=None):
    """``autograd.grad`` that gives None (later zeros) for inputs not reached, or raises under
    ``strict``."""
    T = _T()
    pairs = [(o, g) for o, g in zip(outs, gouts) if o.requires_grad]
    if not pairs:
        res = (None,) * len(ins)
    else:
        res = _fn.grad([o for o, _ in pairs], list(ins), [g for _, g in pairs],
                       retain_graph=True if retain_graph is None else retain_graph,
                       create_graph=create_graph, allow_unused=True)
    if strict:
        for i, r in enumerate(res):
            if r is None:
                raise RuntimeError(f"The output of the user-provided function is independent "
                                   f"of input {i}. This is not allowed in strict mode "
                                   f"({what}).")
    return tuple(T._make(np.zeros_like(t._array)) if r is None else r
                 for r, t in zip(res, ins))


def _check_v(v, outs, fn_name, arg="v"):
    T = _T()
    if v is None:
        if len(outs) != 1 or outs[0]._array.size != 1:
            raise RuntimeError(f"{fn_name}: the vector v can only be None if the user-provided "
                               f"function returns a single Tensor with a single element.")
        return (T._make(np.ones_like(outs[0]._array)),)
    vs, _ = _as_tuple(v, arg, fn_name)
    if len(vs) != len(outs):
        raise RuntimeError(f"{fn_name}: v has {len(vs)} elements but the function has "
                           f"{len(outs)} outputs; give one vector per output")
    for i, (a, o) in enumerate(zip(vs, outs)):
        if tuple(a._array.shape) != tuple(o._array.shape):
            raise RuntimeError(f"{fn_name}: entry {i} of v has shape {tuple(a._array.shape)} "
                               f"but the matching output has shape {tuple(o._array.shape)}")
    return vs


def _check_v_in(v, ins, fn_name):
    T = _T()
    if v is None:
        if len(ins) != 1 or ins[0]._array.size != 1:
            raise RuntimeError(f"{fn_name}: the vector v can only be None if the input to the "
                               f"user-provided function is a single Tensor with a single "
                               f"element.")
        return (T._make(np.ones_like(ins[0]._array)),)
    vs, _ = _as_tuple(v, "v", fn_name)
    if len(vs) != len(ins):
        raise RuntimeError(f"{fn_name}: v has {len(vs)} elements but there are {len(ins)} "
                           f"inputs; give one vector per input")
    for i, (a, t) in enumerate(zip(vs, ins)):
        if tuple(a._array.shape) != tuple(t._array.shape):
            raise RuntimeError(f"{fn_name}: entry {i} of v has shape {tuple(a._array.shape)} "
                               f"but input {i} has shape {tuple(t._array.shape)}")
    return vs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product at ``inputs`` (one backward).

    ``v`` has the shape of ``func``'s output (one per output for a tuple); it may be None for
    a single-element output. Example: ``out, g = vjp(lambda x: x ** 2, x, fastdl.ones(3))``
    """
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "vjp")
        ins = _prep_inputs(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        _check_outputs(outs, "vjp")
        vs = _check_v(v, outs, "vjp")
        res = _grad(outs, ins, vs, create_graph, strict, "vjp")
    return _post(outs, create_graph, out_tuple), _post(res, create_graph, in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J·v)``: the Jacobian-vector product, by the double-backward trick
    (``J v = ∂(uᵀJ)/∂u · v`` for a dummy ``u``). ``v`` has the inputs' shapes.

    Example: ``out, jv = jvp(lambda x: x ** 2, x, fastdl.ones(3))``   # 2x
    """
    T = _T()
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "jvp")
        ins = _prep_inputs(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        _check_outputs(outs, "jvp")
        vs = _check_v_in(v, ins, "jvp")
        us = tuple(T._make(np.zeros_like(o._array), requires_grad=True) for o in outs)
        g = [r for r in _grad(outs, ins, us, True, strict, "jvp")]
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if not pairs:
            res = (None,) * len(us)
        else:
            res = _fn.grad([a for a, _ in pairs], list(us), [b for _, b in pairs],
                           create_graph=create_graph, allow_unused=True)
        if strict and any(r is None for r in res):
            raise RuntimeError("The output of the user-provided function is independent of "
                               "the inputs. This is not allowed in strict mode (jvp).")
        res = tuple(T._make(np.zeros_like(o._array)) if r is None else r
                    for r, o in zip(res, outs))
    return _post(outs, create_graph, out_tuple), _post(res, create_graph, out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: ``J[i][j]`` of shape ``out_i.shape +
    in_j.shape`` (a Tensor for one input and one output; a tuple over inputs for one output;
    a tuple over outputs of tuples over inputs otherwise). One backward per output element.

    Example: ``jacobian(lambda x: x ** 2, fastdl.tensor([1.0, 2.0]))`` is ``diag(2x)``
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'jacobian: expected strategy to be either "forward-mode" or '
                         f'"reverse-mode", got {strategy!r}')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("jacobian: strategy='forward-mode' requires vectorize=True "
                                  "(as in torch)")
    T = _T()
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", "jacobian")
        ins = _prep_inputs(ins, create_graph)
        outs, out_tuple = _as_tuple(func(*ins), "outputs of the user-provided function",
                                    "jacobian")
        _check_outputs(outs, "jacobian")
        from .. import stack
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            per_in = [[] for _ in ins]
            for k in range(flat._array.size):
                if flat.requires_grad:
                    gk = _fn.grad([flat[k]], list(ins), retain_graph=True,
                                  create_graph=create_graph, allow_unused=True)
                else:
                    gk = (None,) * len(ins)
                for j, (g, t) in enumerate(zip(gk, ins)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {len(rows)} of the user-provided "
                                               f"function is independent of input {j}. This "
                                               f"is not allowed in strict mode.")
                        g = T._make(np.zeros_like(t._array))
                    per_in[j].append(g)
            row = []
            for j, t in enumerate(ins):
                shape = tuple(o._array.shape) + tuple(t._array.shape)
                if per_in[j]:
                    row.append(stack(per_in[j], 0).reshape(shape))
                else:
                    row.append(T._make(np.zeros(shape, t._array.dtype)))
            rows.append(_post(row, create_graph, True))
    res = tuple(r if in_tuple else r[0] for r in rows)
    return res if out_tuple else res[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: ``H[i][j]`` of shape ``in_i.shape +
    in_j.shape`` (a Tensor for one input), the Jacobian of the gradient (double backward).

    Example: ``hessian(lambda x: (x ** 3).sum(), fastdl.tensor([1.0, 2.0]))`` is ``diag(6x)``
    """
    ins, in_tuple = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = func(*xs)
        outs, _ = _as_tuple(out, "outputs of the user-provided function", "hessian")
        if len(outs) != 1 or outs[0]._array.size != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element")
        return _grad(outs, xs, (_T()._make(np.ones_like(outs[0]._array)),), True, strict,
                     "hessian")

    res = jacobian(gradient, ins, create_graph=create_graph, strict=strict,
                   vectorize=vectorize)
    if not in_tuple:
        return res[0][0]
    return res


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·H)`` for a scalar ``func``: the gradient's vector-Jacobian product
    (two backward passes). Example: ``val, r = vhp(f, x, v)``"""
    return _vhp(func, inputs, v, create_graph, strict, "vhp")


def _vhp(func, inputs, v, create_graph, strict, name):
    with enable_grad():
        ins, in_tuple = _as_tuple(inputs, "inputs", name)
        ins = _prep_inputs(ins, create_graph)
        outs, _ = _as_tuple(func(*ins), "outputs of the user-provided function", name)
        _check_outputs(outs, name)
        if len(outs) != 1 or outs[0]._array.size != 1:
            raise RuntimeError(f"The function given to {name} should return a single Tensor "
                               f"with a single element")
        vs = _check_v_in(v, ins, name)
        ones = (_T()._make(np.ones_like(outs[0]._array)),)
        g = _grad(outs, ins, ones, True, strict, name)
        res = _grad(g, ins, vs, create_graph, strict, name)
    return _post(outs, create_graph, False), _post(res, create_graph, in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H·v)`` for a scalar ``func``. The Hessian of a twice-differentiable
    function is symmetric, so this is ``vhp`` (torch computes it with the double-backward trick;
    the values agree). Example: ``val, r = hvp(f, x, v)``"""
    return _vhp(func, inputs, v, create_graph, strict, "hvp")
