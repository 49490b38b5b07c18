"""In-place ops (``add_``, ``sub_``, ``mul_``, ``div_``, ``clamp_``, ``fill_``,
``zero_``, ``copy_``) on the Tensor methods only, as in torch. Without grad tracking they
write into the storage and bump the version counter; with it (``_inplace``) the result is
computed out of place from a snapshot, written back, and the tensor takes over the new
graph node (torch's history rebase).
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..autograd.function import _Op
from ..tensor import Tensor, _arr, _wrap_operand
from ._util import (_BOOL, _F32, _FLOATS, _I64, _LOWP, _binary, _compare, _default_float,
                    _empty, _norm_dim, _norm_dims, _out, _result_dtype, _sum_to, _unary)
from .table import register

from ..autograd import function as _fn
from .arith import _Add, _Clamp, _Div, _Mul, _Sub


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



@register(function=False)
def add_(input, other, *, alpha=1):
    """In place ``input += alpha * other`` (bumps the version counter)."""
    if input.__class__ is _fn._Deferred and alpha == 1:  # a batch norm's deferred output
        from .._deferred import fold_add_
        if fold_add_(input, other):
            return input
    o = other if alpha == 1 else (other * alpha)
    return _inplace(input, _Add, _wrap_operand(o, input), ufunc=np.add)


@register(function=False)
def sub_(input, other, *, alpha=1):
    """In place ``input -= alpha * other``."""
    o = other if alpha == 1 else (other * alpha)
    return _inplace(input, _Sub, _wrap_operand(o, input), ufunc=np.subtract)


@register(function=False)
def mul_(input, other):
    """In place ``input *= other`` (bumps the version counter)."""
    return _inplace(input, _Mul, _wrap_operand(other, input), ufunc=np.multiply)


@register(function=False)
def div_(input, other):
    """In place ``input /= other`` (a floating tensor)."""
    return _inplace(input, _Div, _wrap_operand(other, input), ufunc=np.divide)


@register(function=False)
def clamp_(input, min=None, max=None):  # noqa: A002
    """In place ``clamp``."""
    if _needs_track(input):
        return _inplace(input, _Clamp, min, max)
    np.clip(input._array, min, max, out=input._array)
    input._vc[0] += 1
    return input


@register(function=False)
def fill_(input, value):
    """Set every element to ``value`` in place."""
    if _needs_track(input):
        return _inplace(input, _Fill, _arr(value))
    input._array[...] = _arr(value)
    input._vc[0] += 1
    return input


@register(function=False)
def zero_(input):
    """Set every element to 0 in place."""
    return fill_(input, 0)


@register(function=False)
def copy_(input, src, non_blocking=False):
    """Copy ``src`` (broadcast to this shape, cast to this dtype) into ``input`` in place."""
    src = _wrap_operand(src, input)
    if _needs_track(input) or (isinstance(src, Tensor) and src.requires_grad and
                               _fn._state.grad):
        return _inplace(input, _CopyFrom, src)
    np.copyto(input._array, _arr(src), casting="unsafe")
    input._vc[0] += 1
    return input
