"""Activation checkpointing: trade compute for memory by recomputing a block's forward pass
during backward instead of keeping its intermediate results.

``checkpoint(fn, *args)`` runs ``fn`` once, keeps only its inputs, its outputs and the RNG
state, and drops the graph (and every intermediate array) it recorded. The result joins the
outer graph through one node whose parents are the tensors ``fn`` read from outside — its
arguments, and also the parameters and other tensors it reached by closure. In backward that
node re-runs ``fn`` with grad enabled (and the RNG as it was, so dropout draws the same
masks), back-propagates through the recomputed graph, and hands the outer graph the
gradients of those outside tensors. Gradients equal the ones of the plain run.
"""
from __future__ import annotations

from ..autograd import function as _fn
from ..autograd.function import _Op, _run, enable_grad
from ..autograd.grad_mode import _state

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_state():
    from .. import random as _random
    gen = _random._state["gen"]
    return gen, gen.bit_generator.state


class _RestoreRng:
    """Run a block with the generator as it was at `saved`, then put the current one back."""

    def __init__(self, saved):
        self.saved = saved

    def __enter__(self):
        from .. import random as _random
        self.cur = _rng_state()
        gen, st = self.saved
        gen.bit_generator.state = st
        _random._state["gen"] = gen

    def __exit__(self, *exc):
        from .. import random as _random
        gen, st = self.cur
        gen.bit_generator.state = st
        _random._state["gen"] = gen
        return False


class _Frame:
    """Collect the nodes recorded by this thread while the block runs."""

    def __enter__(self):
        frames = _state.frames
        if frames is None:
            frames = _state.frames = []
        self.nodes = []
        frames.append(self.nodes)
        _fn._frames_open[0] += 1
        _fn._update_slow()
        return self.nodes

    def __exit__(self, *exc):
        _state.frames.pop()
        _fn._frames_open[0] -= 1
        _fn._update_slow()
        return False


def _flatten(out):
    from ..tensor import Tensor
    if isinstance(out, Tensor):
        return [out], True
    if isinstance(out, (tuple, list)):
        return list(out), False
    raise TypeError(f"checkpoint: the function must return a Tensor or a tuple/list of "
                    f"Tensors, got {type(out).__name__}")


class _Checkpoint(_Op):
    """The node standing for a checkpointed block: parents are the outside tensors the block
    read; backward recomputes the block and back-propagates through it."""

    @staticmethod
    def forward(ctx, state, *arrays):
        ctx.state = state
        arrs = state.out_arrays
        state.out_arrays = None
        return tuple(arrs)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.state.recompute(grads))


class _State:
    def __init__(self, function, args, kwargs, rng, boundary, out_pos, out_meta, check):
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.rng = rng
        self.boundary = boundary
        self.out_pos = out_pos      # positions of the differentiable outputs in the result
        self.out_meta = out_meta    # their (shape, dtype), for the determinism check
        self.check = check
        self.out_arrays = None

    def recompute(self, grads):
        from ..tensor import Tensor
        arg_copy = {}
        dargs = []
        for a in self.args:
            if isinstance(a, Tensor):
                d = Tensor._make(a._array, a.requires_grad)
                d._vc = a._vc
                arg_copy[id(a)] = d
                dargs.append(d)
            else:
                dargs.append(a)
        with enable_grad():
            if self.rng is not None:
                with _RestoreRng(self.rng):
                    out = self.function(*dargs, **self.kwargs)
            else:
                out = self.function(*dargs, **self.kwargs)
        items, _ = _flatten(out)
        roots, gs = [], []
        for k, pos in enumerate(self.out_pos):
            o = items[pos] if pos < len(items) else None
            if self.check and (not isinstance(o, Tensor) or
                               (o._array.shape, o._array.dtype) != self.out_meta[k]):
                raise RuntimeError(
                    f"checkpoint: the recomputed output {pos} differs from the one of the "
                    f"forward pass ({None if not isinstance(o, Tensor) else o._array.shape} vs "
                    f"{self.out_meta[k][0]}); the checkpointed function must be deterministic "
                    f"in shapes")
            g = grads[k] if k < len(grads) else None
            if g is not None and isinstance(o, Tensor) and o.requires_grad:
                roots.append(o)
                gs.append(g)
        want = [arg_copy.get(id(b), b) for b in self.boundary]
        if not roots:
            return [None] * len(want)
        return _run(roots, gs, False, inputs=want, terminal=True)


def checkpoint(function, *args, use_reentrant=False, preserve_rng_state=True,
               context_fn=None, determinism_check="default", debug=False, **kwargs):
    """Run ``function(*args, **kwargs)`` without keeping its intermediate results; they are
    recomputed in backward (see the module docstring). Gradients reach ``args`` and every
    tensor ``function`` uses from outside (e.g. a module's parameters).

    ``preserve_rng_state`` (default True) replays fastdl's random generator, so random ops
    (dropout) draw the same values in the recomputation. ``determinism_check="default"``
    checks that the recomputed outputs have the forward's shapes and dtypes ("none" skips
    it). ``use_reentrant`` is accepted for PyTorch compatibility; both values run this one
    implementation, which behaves like PyTorch's ``use_reentrant=False`` (the default here).
    ``context_fn`` and ``debug`` are not supported (a non-default value is a ValueError).

    Example::

        from fastdl.utils.checkpoint import checkpoint
        h = checkpoint(block, x)            # block's activations are not kept
        loss = head(h).sum(); loss.backward()
    """
    if context_fn is not None or debug:
        raise ValueError("checkpoint: context_fn and debug are not supported")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got "
                         f"{determinism_check!r}")
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if not _state.grad:
        return function(*args, **kwargs)
    rng = _rng_state() if preserve_rng_state else None
    with _Frame() as nodes:
        out = function(*args, **kwargs)
    created = {id(n) for n in nodes}
    boundary, seen = [], set()
    for n in nodes:
        for p in n.parents:
            if p is not None and id(p) not in seen and (p._node is None or
                                                        id(p._node) not in created):
                seen.add(id(p))
                boundary.append(p)
    items, single = _flatten(out)
    from ..tensor import Tensor
    pos = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o._node is not None
           and id(o._node) in created]
    del nodes, created
    if not boundary or not pos:
        return out
    meta = [(items[i]._array.shape, items[i]._array.dtype) for i in pos]
    state = _State(function, args, kwargs, rng, boundary, pos, meta,
                   determinism_check == "default")
    state.out_arrays = [items[i]._array for i in pos]
    new = _Checkpoint.apply(state, *boundary)
    for i, t in zip(pos, new):
        items[i] = t  # the block's own output tensors (and their graph) are dropped here
    del out
    if single:
        return items[0]
    return tuple(items)


def checkpoint_sequential(functions, segments, input, use_reentrant=False, **kwargs):
    """Run ``functions`` (a Sequential or a list of modules/functions) one after the other on
    ``input``, checkpointing all but the last of ``segments`` equal chunks. Keyword arguments
    go to ``checkpoint`` (e.g. ``preserve_rng_state``).

    Example: ``out = checkpoint_sequential(model, 4, x)`` for an ``nn.Sequential`` model.
    """
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not isinstance(segments, int) or isinstance(segments, bool) or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive int, got "
                         f"{segments!r}")
    if segments > len(fns):
        raise ValueError(f"checkpoint_sequential: {segments} segments for {len(fns)} "
                         f"functions")
    size = len(fns) // segments

    def run(start, end):
        def block(x):
            for f in fns[start:end]:
                x = f(x)
            return x
        return block

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(fns))(input)
