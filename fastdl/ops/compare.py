"""Comparisons and logical tests (not differentiable): eq, ne, lt, le, gt, ge (and torch's
long names), logical_not/and/or/xor, isnan, isinf, isfinite, all, any, equal, allclose,
isclose. Comparisons run in the operands' promoted dtype (``promotion.result_type``) and
give bool tensors, as torch.
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



def _cmp(uf, name):
    def op(input, other, *, out=None):
        o = _wrap_operand(other, input)
        return _out(Tensor._make(_compare(uf, input._array, _arr(o))), out, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"Elementwise ``{name}`` of ``input`` and ``other`` (broadcast, compared in "
                  f"their promoted dtype), a bool tensor. Example: ``fastdl.{name}(x, 0)``")
    return op


eq = register()(_cmp(np.equal, "eq"))
ne = register(aliases=("not_equal",))(_cmp(np.not_equal, "ne"))
lt = register(aliases=("less",))(_cmp(np.less, "lt"))
le = register(aliases=("less_equal",))(_cmp(np.less_equal, "le"))
gt = register(aliases=("greater",))(_cmp(np.greater, "gt"))
ge = register(aliases=("greater_equal",))(_cmp(np.greater_equal, "ge"))
logical_and = register()(_cmp(np.logical_and, "logical_and"))
logical_or = register()(_cmp(np.logical_or, "logical_or"))
logical_xor = register()(_cmp(np.logical_xor, "logical_xor"))


@register()
def logical_not(input, *, out=None):
    """Elementwise ``not`` (nonzero is True), a bool tensor. ``fastdl.logical_not(m)``"""
    return _out(Tensor._make(np.logical_not(input._array)), out, "logical_not")


@register()
def isnan(input):
    """True where ``input`` is NaN. Example: ``x.isnan().any()``"""
    return Tensor._make(np.isnan(input._array))


@register()
def isinf(input):
    """True where ``input`` is +-inf."""
    return Tensor._make(np.isinf(input._array))


@register()
def isfinite(input):
    """True where ``input`` is neither NaN nor infinite."""
    return Tensor._make(np.isfinite(input._array))


@register()
def equal(input, other):
    """True when both have the same shape and elements (a Python bool)."""
    o = _arr(_wrap_operand(other, input))
    return builtins.bool(np.shape(o) == input._array.shape and
                         np.array_equal(input._array, o))


@register()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise, a bool tensor."""
    return Tensor._make(np.isclose(input._array, _arr(_wrap_operand(other, input)),
                                   rtol=rtol, atol=atol, equal_nan=equal_nan))


@register()
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``isclose(...).all()`` as a Python bool. Example: ``fastdl.allclose(a, b)``"""
    return builtins.bool(np.allclose(input._array, _arr(_wrap_operand(other, input)),
                                     rtol=rtol, atol=atol, equal_nan=equal_nan))
