"""fastdl.nn.functional: activations, softmax and log_softmax.

Each op is one pass of a fused SIMD kernel (``csrc/kernels/eltwise/``): forward writes a new
array from the caching allocator (or the input itself with ``inplace=True``), backward is
one more pass computed from whichever of the saved input or output is cheaper and exact (the
output for relu, relu6/hardtanh, leaky_relu, sigmoid, tanh, softmax, log_softmax; the input
otherwise -- elu/selu/celu too: their gradient alpha·exp(x) rebuilt from the output
y = alpha·(exp(x) − 1) loses every digit once exp(x) falls below y's rounding). float32 is the fast path, float64 is supported for gradcheck.
"""
from __future__ import annotations

import warnings

import numpy as np

from ... import _C
from ...autograd import function as _fn
from ...autograd.function import _Op
from ...tensor import Tensor, _inplace, as_tensor, where

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "selu",
    "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh", "softplus",
    "softsign", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "logsigmoid", "softmax",
    "log_softmax", "softmin", "hardshrink", "softshrink", "tanhshrink", "threshold",
]

def _c(a, dtype=None):
    """C-contiguous array of `a` (0-d stays 0-d, unlike np.ascontiguousarray)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else np.array(a, order="C")


_CODES = dict(_C.eltwise_acts)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _tensor(x, name):
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if t._array.dtype.kind != "f":
        raise TypeError(f"{name}: input must be float32 or float64, got {t._array.dtype}")
    return t


class _Act(_Op):
    """y = act(x); backward from the saved input or output (``from_output``)."""

    _double = True
    _saved_out = staticmethod(lambda ctx: {0: 0} if ctx.from_output else None)

    @staticmethod
    def forward(ctx, x, code, params, from_output):
        x = _c(x)
        y = _C.eltwise_forward(code, x, params)
        ctx.code = code
        ctx.params = params
        ctx.from_output = from_output
        ctx.save_for_backward(y if from_output else x)
        return y

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: g · act'(s) from recorded ops
            return g * _act_grad_graph(ctx.code, ctx.params, ctx.from_output, s), None, None, \
                None
        g = _c(g, dtype=s.dtype)
        return _C.eltwise_backward(ctx.code, ctx.from_output, s, g, ctx.params), None, None, None


def _act(x, name, code, params=(), from_output=False, inplace=False):
    t = _tensor(x, name)
    params = [float(p) for p in params]
    if not inplace:
        return _Act.apply(t, _CODES[code], params, from_output)
    if _fn._state.grad and t.requires_grad:
        # recorded in-place op: computed from a snapshot and written back (history rebase)
        return _inplace(t, _Act, _CODES[code], params, from_output)
    d = t._array
    if d.flags.c_contiguous and d.flags.writeable:
        _C.eltwise_forward(_CODES[code], d, params, out=d)
    else:
        d[...] = _C.eltwise_forward(_CODES[code], _c(d), params)
    t._vc[0] += 1
    return t


def relu(input, inplace=False):
    """max(x, 0), elementwise (NaN propagates).

    Example: ``F.relu(fastdl.tensor([-1.0, 2.0]))`` gives ``[0., 2.]``.
    """
    return _act(input, "relu", "relu", (), True, inplace)


def relu_(input):
    """In-place ``relu``."""
    return relu(input, inplace=True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val); the gradient is 1 strictly inside (min_val, max_val).

    Example: ``F.hardtanh(fastdl.tensor([-3.0, 0.5, 3.0]))`` gives ``[-1., 0.5, 1.]``.
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return _act(input, "hardtanh", "hardtanh", (min_val, max_val), True, inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6) (``hardtanh(x, 0, 6)``).

    Example: ``F.relu6(fastdl.tensor([-1.0, 7.0]))`` gives ``[0., 6.]``.
    """
    return _act(input, "relu6", "hardtanh", (0.0, 6.0), True, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x.

    Example: ``F.leaky_relu(fastdl.tensor([-2.0, 3.0]), 0.1)`` gives ``[-0.2, 3.]``.
    """
    return _act(input, "leaky_relu", "leaky_relu", (negative_slope,), negative_slope > 0,
                inplace)


def leaky_relu_(input, negative_slope=0.01):
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1).

    Example: ``F.elu(fastdl.tensor([-1.0, 1.0]))`` gives ``[-0.6321, 1.]``.
    """
    return _act(input, "elu", "elu", (alpha, 1.0, 1.0), False, inplace)


def elu_(input, alpha=1.0):
    """In-place ``elu``."""
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha = 1.6732632..., scale = 1.0507009...

    Example: ``F.selu(fastdl.tensor([1.0]))`` gives ``[1.0507]``.
    """
    return _act(input, "selu", "elu", (_SELU_ALPHA, _SELU_SCALE, 1.0), False, inplace)


def selu_(input):
    """In-place ``selu``."""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha must be nonzero.

    Example: ``F.celu(fastdl.tensor([-1.0]), alpha=2.0)`` gives ``[-0.7869]``.
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0")
    return _act(input, "celu", "elu", (alpha, 1.0, 1.0 / alpha), False, inplace)


def celu_(input, alpha=1.0):
    """In-place ``celu``."""
    return celu(input, alpha, inplace=True)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi the standard normal CDF, exact via erfc so the left tail keeps its
    relative accuracy), or with ``approximate='tanh'``
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Example: ``F.gelu(fastdl.tensor([1.0]))`` gives ``[0.8413]``.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act(input, "gelu", "gelu" if approximate == "none" else "gelu_tanh")


def silu(input, inplace=False):
    """x * sigmoid(x) (swish).

    Example: ``F.silu(fastdl.tensor([1.0]))`` gives ``[0.7311]``.
    """
    return _act(input, "silu", "silu", (), False, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x)).

    Example: ``F.mish(fastdl.tensor([1.0]))`` gives ``[0.8651]``.
    """
    return _act(input, "mish", "mish", (), False, inplace)


def sigmoid(input):
    """1 / (1 + exp(-x)), relative-accurate for very negative x as well.

    Example: ``F.sigmoid(fastdl.tensor([0.0]))`` gives ``[0.5]``.
    """
    return _act(input, "sigmoid", "sigmoid", (), True)


def tanh(input):
    """tanh(x).

    Example: ``F.tanh(fastdl.tensor([0.5]))`` gives ``[0.4621]``.
    """
    return _act(input, "tanh", "tanh", (), True)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    Example: ``F.softplus(fastdl.tensor([0.0]))`` gives ``[0.6931]``.
    """
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")
    return _act(input, "softplus", "softplus", (beta, threshold))


def softsign(input):
    """x / (1 + |x|) (NaN at +-inf, as PyTorch computes it).

    Example: ``F.softsign(fastdl.tensor([1.0]))`` gives ``[0.5]``.
    """
    return _act(input, "softsign", "softsign")


def hardsigmoid(input, inplace=False):
    """min(max(x + 3, 0), 6) / 6.

    Example: ``F.hardsigmoid(fastdl.tensor([0.0]))`` gives ``[0.5]``.
    """
    return _act(input, "hardsigmoid", "hardsigmoid", (), False, inplace)


def hardswish(input, inplace=False):
    """x * min(max(x + 3, 0), 6) / 6.

    Example: ``F.hardswish(fastdl.tensor([1.0]))`` gives ``[0.6667]``.
    """
    return _act(input, "hardswish", "hardswish", (), False, inplace)


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), without overflow.

    Example: ``F.logsigmoid(fastdl.tensor([0.0]))`` gives ``[-0.6931]``.
    """
    return _act(input, "logsigmoid", "logsigmoid")


class _PReLU(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, w):
        x = _c(x)
        w = _c(w, dtype=x.dtype)
        ctx.save_for_backward(x, w)
        return _C.prelu_forward(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        n = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph
            return _prelu_backward_graph(x, w, g, n)
        g = _c(g, dtype=x.dtype)
        gx, gw = _C.prelu_backward(x, w, g, bool(n[0]), bool(n[1]))
        return gx, gw


def prelu(input, weight):
    """x if x > 0 else weight[c] * x, c the channel (dim 1; inputs with fewer than 2 dims
    have one channel). ``weight`` has 1 or C elements.

    Example: ``F.prelu(fastdl.tensor([[-1.0, 2.0]]), fastdl.tensor([0.25]))`` gives
    ``[[-0.25, 2.]]``.
    """
    t = _tensor(input, "prelu")
    w = weight if isinstance(weight, Tensor) else as_tensor(weight)
    if w._array.dtype != t._array.dtype:
        raise TypeError(f"prelu: weight is {w._array.dtype} but input is {t._array.dtype}")
    return _PReLU.apply(t, w)


class _Softmax(_Op):
    _double = True
    _saved_out = {0: 0}

    @staticmethod
    def forward(ctx, x, dim, log):
        x = _c(x)
        y = _C.softmax_forward(x, dim, log)
        ctx.dim = dim
        ctx.log = log
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: the same formula from recorded ops
            d = ctx.dim
            if ctx.log:  # dx = g - softmax · Σg
                return g - y.exp() * g.sum(d, keepdim=True), None, None
            return y * (g - (g * y).sum(d, keepdim=True)), None, None  # dx = y (g - Σ g y)
        g = _c(g, dtype=y.dtype)
        return _C.softmax_backward(y, g, ctx.dim, ctx.log), None, None


def _softmax_dim(ndim, name):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim, dtype, name, log):
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if dtype is not None:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = None
        if kind != "f":
            raise TypeError(f"{name}: dtype must be a floating point type (float32 or "
                            f"float64), got {dtype}")
        t = t.to(dtype)
    if t._array.dtype.kind != "f":
        raise TypeError(f"{name}: input must be float32 or float64, got {t._array.dtype}")
    if dim is None:
        dim = _softmax_dim(t._array.ndim, name)
    return _Softmax.apply(t, int(dim), log)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x - max) / sum(exp(x - max)) along ``dim`` (max-shifted: logits of 1e4 are fine).
    ``dtype`` casts the input first.

    Example: ``F.softmax(fastdl.tensor([[1.0, 2.0]]), dim=1)`` gives ``[[0.2689, 0.7311]]``.
    """
    return _softmax(input, dim, dtype, "softmax", False)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """(x - max) - log(sum(exp(x - max))) along ``dim``.

    Example: ``F.log_softmax(fastdl.tensor([[0.0, 0.0]]), dim=1)`` gives
    ``[[-0.6931, -0.6931]]``.
    """
    return _softmax(input, dim, dtype, "log_softmax", True)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(−x) along ``dim``.

    Example: ``F.softmin(fastdl.tensor([[1.0, 2.0]]), dim=1)`` gives ``[[0.7311, 0.2689]]``.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    return _softmax(-t, dim, dtype, "softmin", False)


# The shrink/threshold activations are compositions of differentiable Tensor ops (a
# mask product, a clamp): one or two elementwise passes, no kernel of their own.
def _float_input(input, name):
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if t._array.dtype.kind != "f":
        raise TypeError(f"{name}: input must be float32 or float64, got {t._array.dtype}")
    return t


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (NaN propagates).

    Example: ``F.hardshrink(fastdl.tensor([-1.0, 0.2, 0.7]))`` gives ``[-1., 0., 0.7]``.
    """
    t = _float_input(input, "hardshrink")
    keep = ~((t._array >= -lambd) & (t._array <= lambd))
    return t * Tensor._make(keep.astype(t._array.dtype))


def softshrink(input, lambd=0.5):
    """x − lambd where x > lambd, x + lambd where x < −lambd, else 0 (lambd ≥ 0).

    Example: ``F.softshrink(fastdl.tensor([-1.0, 0.2, 0.7]))`` gives ``[-0.5, 0., 0.2]``.
    """
    if not lambd >= 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found to be "
                         f"{lambd}.")
    t = _float_input(input, "softshrink")
    return t - t.clamp(-lambd, lambd)


def tanhshrink(input):
    """x − tanh(x).

    Example: ``F.tanhshrink(fastdl.tensor([0.0, 1.0]))`` gives ``[0., 0.2384]``.
    """
    t = _float_input(input, "tanhshrink")
    return t - tanh(t)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``. ``inplace`` writes the result into the input
    (not allowed on a tensor that requires grad).

    Example: ``F.threshold(fastdl.tensor([0.5, 2.0]), 1.0, -1.0)`` gives ``[-1., 2.]``.
    """
    t = _float_input(input, "threshold")
    # torch's rule x <= threshold ? value : x, so a NaN input stays NaN
    out = where(Tensor._make(~(t._array <= threshold)), t, float(value))
    if not inplace:
        return out
    if t.requires_grad and _fn._state.grad:
        raise RuntimeError("threshold: in-place on a tensor that requires grad is not "
                           "supported; use inplace=False")
    t._array[...] = out._array
    t._vc[0] += 1
    return t


# ---- create_graph=True: the derivatives as recorded ops --------------------------------------
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_SQRT_2_PI = float(np.sqrt(2.0 / np.pi))


def _mask(cond, like):
    """A constant 0/1 Tensor of `like`'s dtype (the derivative of a mask is zero)."""
    return Tensor._make(cond.astype(like._array.dtype))


def _act_grad_graph(code, params, from_output, s):
    """act'(x) as a Tensor built from recorded ops, from the saved input x (or output y when
    ``from_output``), so a backward run with create_graph=True can be differentiated again.
    relu/leaky_relu/hardtanh/hardsigmoid are piecewise linear: their derivative is a constant
    mask and their double backward a mask multiply."""
    from ... import erf as _erf_t
    name = _CODE_NAMES[code]
    a = s._array
    if name == "relu":
        return _mask(a > 0, s)
    if name == "leaky_relu":
        return Tensor._make(np.where(a > 0, 1.0, params[0]).astype(a.dtype))
    if name == "hardtanh":
        return _mask((a > params[0]) & (a < params[1]), s)
    if name == "hardsigmoid":
        return Tensor._make(np.where((a > -3) & (a < 3), 1.0 / 6.0, 0.0).astype(a.dtype))
    if name == "sigmoid":
        return s * (1 - s)
    if name == "tanh":
        return 1 - s * s
    x = s
    if name == "elu":
        alpha, scale, in_scale = params
        pos = _mask(a > 0, x)
        return scale * (pos + (1 - pos) * (alpha * in_scale) * (x * in_scale).exp())
    if name == "gelu":
        cdf = 0.5 * (1 + _erf_t(x * float(1 / np.sqrt(2.0))))
        return cdf + x * (-0.5 * x * x).exp() / _SQRT_2PI
    if name == "gelu_tanh":
        t = (_SQRT_2_PI * (x + 0.044715 * x * x * x)).tanh()
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_PI * (1 + 3 * 0.044715 * x * x)
    if name == "silu":
        sg = x.sigmoid()
        return sg * (1 + x * (1 - sg))
    if name == "mish":
        sp = softplus(x)
        t = sp.tanh()
        return t + x * x.sigmoid() * (1 - t * t)
    if name == "softplus":
        beta, thr = params
        lin = _mask(a * beta > thr, x)
        return lin + (1 - lin) * (beta * x).sigmoid()
    if name == "softsign":
        d = 1 + x.abs()
        return 1 / (d * d)
    if name == "hardswish":
        mid = _mask((a > -3) & (a < 3), x)
        return mid * (2 * x + 3) / 6 + _mask(a >= 3, x)
    if name == "logsigmoid":
        return (-x).sigmoid()
    raise RuntimeError(f"{name} does not support double backward (create_graph=True)")


_CODE_NAMES = {v: k for k, v in _CODES.items()}


def _prelu_backward_graph(x, w, g, need):
    """``_PReLU``'s backward from recorded ops: dx = g·(1 if x > 0 else w),
    dw = Σ g·x·[x ≤ 0] over every dimension but the channel one."""
    a = x._array
    if w._array.size > 1 and a.ndim >= 2:
        wb = w.reshape((1, w._array.size) + (1,) * (a.ndim - 2))
    else:
        wb = w.reshape(())
    neg = _mask(a <= 0, x)
    gx = g * (1 - neg + neg * wb) if need[0] else None
    gw = None
    if need[1]:
        from ...ops._util import _sum_to
        gw = _sum_to(g * x * neg, wb._array.shape).reshape(w._array.shape)
    return gx, gw
