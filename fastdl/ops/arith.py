"""Elementwise arithmetic: each primitive with its backward (``_Add`` … ``_Extremum``), and
the public ops generated from the op table as ``fastdl.<name>`` and ``Tensor.<name>``:
add, sub, mul, div, true_divide, pow, clamp_min, clamp_max, maximum, minimum; and the
methods ``Tensor.neg/exp/log/sqrt/abs/clamp`` (their ``fastdl.<name>`` functions are
``ops.math``'s wrappers of these; the other unary math lives in ``ops.math``).

Every binary op takes its result dtype from ``promotion.result_type`` (through
``_util._binary``): a Python number does not widen a tensor of its category, integer true
division gives the default float dtype, float16/bfloat16 compute in float32 and round once.
"""
from __future__ import annotations

import builtins
import numbers

import numpy as np

from ..autograd.function import _Op
from ..tensor import Tensor, _arr, _as_array, _wrap_operand
from ._util import (_BOOL, _F32, _FLOATS, _I64, _LOWP, _binary, _cast, _compare,
                    _default_float, _empty, _is_t, _like, _nd, _norm_dim, _norm_dims, _out,
                    _result_dtype, _sum_to, _unary)
from ._util import _F64, _fmod_array
from .table import register


# ---- primitives: forward and backward side by side ---------------------------------------

class _Add(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, b):
        return _binary(np.add, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class _Sub(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, b):
        return _binary(np.subtract, a, b)

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class _Mul(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(np.multiply, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        if g.__class__ is not np.ndarray and isinstance(g, np.generic):
            g = np.asarray(g)  # a 0-d gradient NumPy made a scalar: keep its dtype (not weak)
        return (_binary(np.multiply, g, b) if n[0] else None,
                _binary(np.multiply, g, a) if n[1] else None)


class _Div(_Op):
    """True division: integer operands give the default float dtype, as in torch."""

    _double = True
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        dt = _result_dtype(a, b)
        if dt not in _FLOATS:
            dt = _default_float()
        return _binary(np.true_divide, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        if g.__class__ is not np.ndarray and isinstance(g, np.generic):
            g = np.asarray(g)  # a 0-d gradient NumPy made a scalar: keep its dtype (not weak)
        ga = _binary(np.true_divide, g, b) if n[0] else None
        gb = -_binary(np.true_divide, _binary(np.multiply, g, a), _binary(np.multiply, b, b)) \
            if n[1] else None
        return ga, gb


class _FloorDiv(_Op):
    """``a // b`` (torch's floor_divide: rounds toward minus infinity; integers stay
    integers); not differentiable (its gradient is zero almost everywhere)."""

    _double = True
    @staticmethod
    def forward(ctx, a, b):
        dt = _result_dtype(a, b)
        if dt not in _FLOATS and b.__class__ is np.ndarray and b.size and not b.all() or \
                (dt not in _FLOATS and b.__class__ is not np.ndarray and b == 0):
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        return _binary(np.floor_divide, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        return _like(np.zeros_like(_nd(g)), g), None


class _Remainder(_Op):
    """``a % b`` with the sign of ``b`` (Python's and torch's ``remainder``); gradient
    ``g`` for ``a`` and ``-g * floor(a / b)`` for ``b``."""

    _double = True
    @staticmethod
    def forward(ctx, a, b):
        dt = _result_dtype(a, b)
        if dt not in _FLOATS and (b.__class__ is np.ndarray and b.size and not b.all() or
                                  b.__class__ is not np.ndarray and b == 0):
            raise RuntimeError("ZeroDivisionError: integer modulo by zero")
        ctx.save_for_backward(a, b)
        if (dt is _F32 or dt is _F64) and a.__class__ is np.ndarray and a.dtype is dt and \
                (b.__class__ is not np.ndarray or b.dtype is dt):
            return _fmod_array(a, b, True)
        return _binary(np.remainder, a, b, dt)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        gb = -_binary(np.multiply, g, _binary(np.floor_divide, a, b)) if n[1] else None
        return (g if n[0] else None), gb


class _PowScalar(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, e):
        ctx.save_for_backward(a)
        ctx.e = e
        if e == 2:
            return _binary(np.multiply, a, a)
        return _binary(np.power, a, e)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        e = ctx.e
        if e == 0:
            return _like(np.zeros_like(_nd(a)), a), None
        if e == 2:
            return g * (2 * a), None
        if _is_t(a):
            return g * (e * a ** (e - 1)), None
        return g * (e * np.power(a, np.asarray(e - 1, dtype=a.dtype))), None


class _Pow(_Op):
    _double = True
    _saved_out = {2: 0}

    @staticmethod
    def forward(ctx, a, b):
        out = _binary(np.power, a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        n = ctx.needs_input_grad
        ga = g * b * _binary(np.power, a, b - 1) if n[0] else None
        gb = None
        if n[1]:
            pos = _nd(a) > 0
            if _is_t(a):
                from .index import where
                la = where(_like(pos, a), where(_like(pos, a), a, 1.0).log(), 0.0)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    la = np.where(pos, np.log(np.where(pos, a, 1)), 0)
            gb = g * out * la
        return ga, gb


class _Neg(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a):
        return _unary(np.negative, a)

    @staticmethod
    def backward(ctx, g):
        return -g


def _from_output(name, fn, grad):
    """A unary primitive ``fn`` whose gradient is ``grad(g, out)``, from its saved output."""

    def forward(ctx, a):
        out = _unary(fn, a)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return grad(g, out)

    return type(name, (_Op,), {"_double": True, "_saved_out": {0: 0}, "__module__": __name__,
                               "forward": staticmethod(forward),
                               "backward": staticmethod(backward)})


_Exp = _from_output("_Exp", np.exp, lambda g, out: g * out)
_Sqrt = _from_output("_Sqrt", np.sqrt, lambda g, out: g / (2 * out))


class _Log(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _unary(np.log, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class _Abs(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _unary(np.abs, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _like(np.sign(_nd(a)), a)


class _Clamp(_Op):
    _double = True

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        a = _nd(a)
        m = np.ones(a.shape, dtype=np.bool_)
        if ctx.lo is not None:
            m &= a >= ctx.lo
        if ctx.hi is not None:
            m &= a <= ctx.hi
        if _is_t(g):
            return g * _like(m.astype(g._array.dtype), g), None, None
        return np.where(m, g, 0).astype(g.dtype, copy=False), None, None


class _Extremum(_Op):
    """Elementwise ``maximum`` (``is_max``) or ``minimum``; a tie splits the gradient evenly
    between the two inputs, as PyTorch does."""

    _double = True

    @staticmethod
    def forward(ctx, a, b, is_max):
        ctx.save_for_backward(a, b)
        ctx.is_max = is_max
        return np.maximum(a, b) if is_max else np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a, b = _nd(a), _nd(b)
        hi, lo = (a, b) if ctx.is_max else (b, a)
        tie = 0.5 * (a == b)
        ga = g * _like((hi > lo) + tie, g)   # a wins
        gb = g * _like((lo > hi) + tie, g)   # b wins
        return _cast(ga, _nd(g).dtype), _cast(gb, _nd(g).dtype), None


# ---- the public ops ------------------------------------------------------------------------

def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


@register()
def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` (broadcast; torch's result dtype).
    Example: ``fastdl.add(x, y, alpha=2)``"""
    return _out(_Add.apply(input, _wrap_operand(_scaled(other, alpha), input)), out, "add")


@register(aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``. Example: ``x.sub(1)``"""
    return _out(_Sub.apply(input, _wrap_operand(_scaled(other, alpha), input)), out, "sub")


@register(aliases=("multiply",))
def mul(input, other, *, out=None):
    """``input * other`` (broadcast). Example: ``fastdl.mul(x, 2)``"""
    return _out(_Mul.apply(input, _wrap_operand(other, input)), out, "mul")


@register(aliases=("divide",))
def div(input, other, *, rounding_mode=None, out=None):
    """``input / other``: true division (integers give the default float dtype), or with
    ``rounding_mode='trunc'``/``'floor'`` rounded toward zero / down (integers stay integers;
    not differentiable). Example: ``fastdl.div(a, b, rounding_mode='floor')``"""
    if rounding_mode is None:
        r = _Div.apply(input, _wrap_operand(other, input))
    elif rounding_mode == "floor":
        r = _FloorDiv.apply(input, _wrap_operand(other, input))
    elif rounding_mode == "trunc":
        q = _Div.apply(input, _wrap_operand(other, input)).detach()
        a = np.trunc(q._array)
        dt = _result_dtype(input._array, _arr(_wrap_operand(other, input)))
        r = Tensor._make(a.astype(dt if dt not in _FLOATS else q._array.dtype, copy=False))
    else:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    return _out(r, out, "div")


@register(method=False)
def true_divide(input, other, *, out=None):
    """Same as ``div(input, other)``."""
    return div(input, other, out=out)


@register()
def pow(input, exponent, *, out=None):  # noqa: A001
    """``input ** exponent`` (either may be a number). Example: ``fastdl.pow(x, 2)``"""
    if not isinstance(input, Tensor):
        return _out(_Pow.apply(_wrap_operand(input, exponent), exponent), out, "pow")
    if isinstance(exponent, numbers.Number) and not isinstance(exponent, np.generic):
        return _out(_PowScalar.apply(input, exponent), out, "pow")
    return _out(_Pow.apply(input, _wrap_operand(exponent, input)), out, "pow")


@register(aliases=("clip",))
def clamp(input, min=None, max=None, *, out=None):  # noqa: A002
    """Limit every element to [min, max] (numbers or tensors); the gradient passes where the
    input is inside. At least one bound must be given.
    Example: ``fastdl.clamp(fastdl.tensor([-2.0, 0.5, 3.0]), min=0, max=1)`` gives
    ``[0., 0.5, 1.]``"""
    input = _tensor(input)
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        r = input
        if min is not None:
            r = maximum(r, min)
        if max is not None:
            r = minimum(r, max)
        return _out(r, out, "clamp")
    return _out(_Clamp.apply(input, min, max), out, "clamp")


@register()
def clamp_min(input, min):  # noqa: A002
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


@register()
def clamp_max(input, max):  # noqa: A002
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


@register()
def maximum(input, other, *, out=None):
    """Elementwise larger of the two (ties share the gradient). ``fastdl.maximum(a, b)``"""
    return _out(_Extremum.apply(input, _wrap_operand(other, input), True), out, "maximum")


@register()
def minimum(input, other, *, out=None):
    """Elementwise smaller of the two (ties share the gradient). ``fastdl.minimum(a, b)``"""
    return _out(_Extremum.apply(input, _wrap_operand(other, input), False), out, "minimum")


# Unary primitives as ops: fastdl.<name> and Tensor.<name> (one table row each).

def _tensor(x):
    """``x`` as a Tensor (array-likes and numbers as ``fastdl.tensor`` makes them)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._make(_as_array(x, copy=False))


def _floating(x):
    """``x`` as a floating Tensor: integer and bool inputs take the default float dtype, as
    torch's floating ops do."""
    x = _tensor(x)
    if x._array.dtype.kind in "biu":
        return x.to(_default_float())
    return x


@register()
def neg(input, *, out=None):
    """``-input``. Example: ``fastdl.neg(fastdl.tensor([1.0]))`` gives ``[-1.]``"""
    return _out(_Neg.apply(_tensor(input)), out, "neg")


@register()
def exp(input, *, out=None):
    """``e ** input``; gradient ``exp(input)``; an integer input gives the default float
    dtype. Example: ``fastdl.exp(fastdl.zeros(2))`` gives ``[1., 1.]``"""
    return _out(_Exp.apply(_floating(input)), out, "exp")


@register()
def log(input, *, out=None):
    """Natural logarithm; gradient ``1 / input``; an integer input gives the default float
    dtype. Example: ``fastdl.log(fastdl.ones(2))`` gives ``[0., 0.]``"""
    return _out(_Log.apply(_floating(input)), out, "log")


@register()
def sqrt(input, *, out=None):
    """Square root; gradient ``1 / (2 sqrt(input))``; an integer input gives the default
    float dtype. Example: ``fastdl.sqrt(fastdl.tensor([4.0]))`` gives ``[2.]``"""
    return _out(_Sqrt.apply(_floating(input)), out, "sqrt")


@register(aliases=("absolute",))
def abs(input, *, out=None):  # noqa: A001
    """``|input|``; gradient ``sign(input)``. Example: ``fastdl.abs(fastdl.tensor([-1.0]))``
    gives ``[1.]``"""
    return _out(_Abs.apply(_tensor(input)), out, "abs")
