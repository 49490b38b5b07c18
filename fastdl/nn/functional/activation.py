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
from typing import NamedTuple

import numpy as np

from ... import _C, _deferred
from ...autograd import function as _fn
from ...autograd.function import _Op
from ...tensor import Tensor, _cl_only, _inplace, _nhwc, _to_cl, as_tensor, where
from ._args import _contig as _c, _float

# the ACT_TABLE rows' functions are added to __all__ where they are generated
__all__ = ["prelu", "softmax", "log_softmax", "softmin", "hardshrink", "softshrink",
           "tanhshrink", "threshold"]

_CODES = dict(_C.eltwise_acts)
_INPUT_LAYOUT_GRAD = frozenset((_CODES["relu"], _CODES["leaky_relu"]))
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _Act(_Op):
    """y = act(x); backward from the saved input or output (``from_output``)."""

    _double = True
    _saved_out = staticmethod(lambda ctx: {0: 0} if ctx.from_output else None)

    @staticmethod
    def forward(ctx, x, code, params, from_output):
        if x.flags.c_contiguous:
            y = _C.eltwise_forward(code, x, params)
        elif _cl_only(x):  # channels last: the kernel runs on the NHWC storage as it is
            y = _C.eltwise_forward(code, _nhwc(x), params).transpose(0, 3, 1, 2)
        else:
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
        return _act_grad(ctx, s, g), None, None, None


def _act_grad(ctx, s, g, g2=None):
    """act'(s)·g on arrays, or act'(s)·(g + g2) in the same pass when g2 (an array of g's
    layout, shape and dtype) is given, laid out as torch lays out the input gradient."""
    if not s.flags.c_contiguous:  # channels last (the only other layout saved)
        # torch's layout of the input gradient: ReLU's and LeakyReLU's follow the input,
        # the others' follow the output gradient (NCHW g: an NCHW gradient)
        if ctx.code in _INPUT_LAYOUT_GRAD or not g.flags.c_contiguous:
            g = _nhwc(_to_cl(g.astype(s.dtype, copy=False)))
            return _C.eltwise_backward(ctx.code, ctx.from_output, _nhwc(s), g, ctx.params,
                                       grad2=None if g2 is None else _nhwc(g2)
                                       ).transpose(0, 3, 1, 2)
        s = np.ascontiguousarray(s)
    return _C.eltwise_backward(ctx.code, ctx.from_output, s, _c(g, dtype=s.dtype), ctx.params,
                               grad2=g2)


def _act_backward_sum(node, a, b):
    """``_Op._sum_up`` of an activation: act'(s)·(a + b) in one kernel pass for an output
    that reached two consumers (the block output of a residual network, read by the next
    block's convolution and by its identity branch), bitwise the engine's sum followed by the
    backward, which wrote and read the sum once more. None (the engine sums) unless a, b and
    the saved array are plain arrays of one shape and dtype, all C-contiguous or all
    channels-last (the layout the eager backward would give), or when a batch norm before the
    activation is to finish its backward (``_fuse_up``)."""
    if a.__class__ is not np.ndarray or b.__class__ is not np.ndarray:
        return None
    if node._fuse_up is not None and node._fuse_up(node, a) is not None:
        return None
    (s,) = node.saved_tensors
    if s.__class__ is not np.ndarray or a.shape != s.shape or b.shape != s.shape or \
            a.dtype != s.dtype or b.dtype != s.dtype:
        return None
    if not ((s.flags.c_contiguous and a.flags.c_contiguous and b.flags.c_contiguous) or
            (_cl_only(s) and _cl_only(a) and _cl_only(b))):
        return None
    g = _Act._sum_bn(node, s, a, b) if _Act._sum_bn is not None else None
    return (_act_grad(node, s, a, b) if g is None else g), None, None, None


_Act._sum_up = staticmethod(_act_backward_sum)
# (node, s, a, b) -> the gradient array with the sums of the batch norms before the activation
# taken in the same sweep, or None (normalization.py: _act_sum_bn)
_Act._sum_bn = None


class _ActInplace(_Act):
    """A recorded in-place activation whose backward needs only its output: the kernel
    writes into the input's storage (no snapshot) and saves it as the output."""

    _saved_out = None  # the saved array is the parent's storage (see _act_inplace)

    @staticmethod
    def forward(ctx, x, code, params, from_output):
        v = x if x.flags.c_contiguous else _nhwc(x)  # channels last: its NHWC storage
        _C.eltwise_forward(code, v, params, out=v)
        ctx.code = code
        ctx.params = params
        ctx.from_output = True
        ctx.save_for_backward(x)
        return x


def _act_inplace(t, code, params):
    """``t`` = act(t) recorded, written straight into t's storage (torch's in-place ReLU):
    the backward of a from-output activation needs only the result, so no snapshot of the
    old values is kept. t takes over the new node (history rebase) and its version moves on,
    so a recorded op that saved t's old values refuses to run its backward."""
    T = type(t)
    old = T._make(t._array, True)
    old._node, old._out_idx = t._node, t._out_idx
    out = _ActInplace.apply(old, code, params, True)
    t._vc[0] += 1
    t._node, t._out_idx = out._node, 0
    t.requires_grad = True
    node = out._node
    node._nout = 1
    if node._versions:  # the saved output is t's storage: check t's version
        node._versions = [(t._vc, t._vc[0], i) for _, _, i in node._versions]
    return t


def _act(t, code, params, from_output, inplace=False):
    """Kernel ``code`` with ``params`` (floats) on the float Tensor ``t``; backward from the
    saved output when ``from_output``. The ``ACT_TABLE`` functions below call this."""
    if t.__class__ is _deferred.DeferredTensor and from_output:
        # a batch norm's deferred output (and residual): one pass computes this result
        from .normalization import _act_kind
        kind = _act_kind(code, params)
        if kind is not None:
            if not inplace:
                out = _deferred.fold_act(t, code, params, kind)
                if out is not None:
                    return out
            elif _deferred.fold_act_(t, code, params, kind):
                return t
    if not inplace:
        return _Act.apply(t, code, params, from_output)
    if _fn._state.grad and t.requires_grad:
        d = t._array
        if from_output and t._node is not None and \
                (d.flags.c_contiguous or _cl_only(d)) and d.flags.writeable and d.dtype.kind == "f" and d.dtype.itemsize >= 4 and \
                not _fn._slow_link:
            return _act_inplace(t, code, params)
        # recorded in-place op: computed from a snapshot and written back (history rebase)
        return _inplace(t, _Act, code, params, from_output)
    d = t._array
    if d.flags.c_contiguous and d.flags.writeable:
        _C.eltwise_forward(code, d, params, out=d)
    elif d.flags.writeable and _cl_only(d):
        v = _nhwc(d)
        _C.eltwise_forward(code, v, params, out=v)
    else:
        d[...] = _C.eltwise_forward(code, _c(d), params)
    t._vc[0] += 1
    return t


# ---- the activation table ----------------------------------------------------------------------
# One row per pointwise activation on the eltwise kernel. Each row generates ``F.<name>`` (and
# ``F.<name>_`` where torch has one) below, ``nn.<module>`` in ``nn/modules/activation.py``,
# and names its float64 NumPy reference, ``fastdl.testing.reference.ACTIVATIONS[name]``, which
# takes the same arguments after x. CONTRIBUTING.md has the recipe for adding one.
class ActRow(NamedTuple):
    name: str            # F.<name>; the reference's key
    module: str          # nn.<module>
    params: tuple        # ((argument, default), ...) after `input`, in torch's order
    inplace: int         # 0; 1: takes inplace=False; 2: that, and F.<name>_ (as torch has it)
    kernel: object       # its name in _C.eltwise_acts, or fn(*args) -> that name
    kernel_params: object  # None: the arguments as they are; else fn(*args) -> kernel params
    from_output: object  # backward from the saved output (exact there): bool or fn(*args)
    check: object        # None, or fn(*args) raising ValueError for a bad argument
    doc: str             # the formula
    example: str         # ``F.<name>(...)`` gives ...



def _check_hardtanh(min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")


def _check_celu(alpha=1.0):
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0")


def _check_gelu(approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _check_softplus(beta=1.0, threshold=20.0):
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")


_R = ActRow
ACT_TABLE = (
    _R("relu", "ReLU", (), 2, "relu", None, True, None,
       "max(x, 0), elementwise (NaN propagates).",
       "``F.relu(fastdl.tensor([-1.0, 2.0]))`` gives ``[0., 2.]``"),
    _R("relu6", "ReLU6", (), 1, "hardtanh", lambda: (0.0, 6.0), True, None,
       "min(max(x, 0), 6) (``hardtanh(x, 0, 6)``).",
       "``F.relu6(fastdl.tensor([-1.0, 7.0]))`` gives ``[0., 6.]``"),
    _R("hardtanh", "Hardtanh", (("min_val", -1.0), ("max_val", 1.0)), 2, "hardtanh", None,
       True, _check_hardtanh,
       "min(max(x, min_val), max_val); the gradient is 1 strictly inside (min_val, max_val).",
       "``F.hardtanh(fastdl.tensor([-3.0, 0.5, 3.0]))`` gives ``[-1., 0.5, 1.]``"),
    _R("leaky_relu", "LeakyReLU", (("negative_slope", 0.01),), 2, "leaky_relu", None,
       lambda negative_slope=0.01: negative_slope > 0, None,
       "x if x > 0 else negative_slope * x.",
       "``F.leaky_relu(fastdl.tensor([-2.0, 3.0]), 0.1)`` gives ``[-0.2, 3.]``"),
    _R("elu", "ELU", (("alpha", 1.0),), 2, "elu", lambda alpha=1.0: (alpha, 1.0, 1.0),
       False, None,
       "x if x > 0 else alpha * (exp(x) - 1).",
       "``F.elu(fastdl.tensor([-1.0, 1.0]))`` gives ``[-0.6321, 1.]``"),
    _R("selu", "SELU", (), 2, "elu", lambda: (_SELU_ALPHA, _SELU_SCALE, 1.0), False, None,
       "scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha = 1.6732632..., "
       "scale = 1.0507009...",
       "``F.selu(fastdl.tensor([1.0]))`` gives ``[1.0507]``"),
    _R("celu", "CELU", (("alpha", 1.0),), 2, "elu",
       lambda alpha=1.0: (alpha, 1.0, 1.0 / alpha), False, _check_celu,
       "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)); alpha must be nonzero.",
       "``F.celu(fastdl.tensor([-1.0]), alpha=2.0)`` gives ``[-0.7869]``"),
    _R("gelu", "GELU", (("approximate", "none"),), 0,
       lambda approximate="none": "gelu" if approximate == "none" else "gelu_tanh",
       lambda approximate="none": (), False, _check_gelu,
       "x * Phi(x) (Phi the standard normal CDF, exact via erfc so the left tail keeps its "
       "relative accuracy), or with ``approximate='tanh'`` "
       "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).",
       "``F.gelu(fastdl.tensor([1.0]))`` gives ``[0.8413]``"),
    _R("silu", "SiLU", (), 1, "silu", None, False, None,
       "x * sigmoid(x) (swish).",
       "``F.silu(fastdl.tensor([1.0]))`` gives ``[0.7311]``"),
    _R("mish", "Mish", (), 1, "mish", None, False, None,
       "x * tanh(softplus(x)).",
       "``F.mish(fastdl.tensor([1.0]))`` gives ``[0.8651]``"),
    _R("sigmoid", "Sigmoid", (), 0, "sigmoid", None, True, None,
       "1 / (1 + exp(-x)), relative-accurate for very negative x as well.",
       "``F.sigmoid(fastdl.tensor([0.0]))`` gives ``[0.5]``"),
    _R("tanh", "Tanh", (), 0, "tanh", None, True, None,
       "tanh(x).",
       "``F.tanh(fastdl.tensor([0.5]))`` gives ``[0.4621]``"),
    _R("softplus", "Softplus", (("beta", 1.0), ("threshold", 20.0)), 0, "softplus", None,
       False, _check_softplus,
       "log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.",
       "``F.softplus(fastdl.tensor([0.0]))`` gives ``[0.6931]``"),
    _R("softsign", "Softsign", (), 0, "softsign", None, False, None,
       "x / (1 + |x|) (NaN at +-inf, as PyTorch computes it).",
       "``F.softsign(fastdl.tensor([1.0]))`` gives ``[0.5]``"),
    _R("hardsigmoid", "Hardsigmoid", (), 1, "hardsigmoid", None, False, None,
       "min(max(x + 3, 0), 6) / 6.",
       "``F.hardsigmoid(fastdl.tensor([0.0]))`` gives ``[0.5]``"),
    _R("hardswish", "Hardswish", (), 1, "hardswish", None, False, None,
       "x * min(max(x + 3, 0), 6) / 6.",
       "``F.hardswish(fastdl.tensor([1.0]))`` gives ``[0.6667]``"),
    _R("logsigmoid", "LogSigmoid", (), 0, "logsigmoid", None, False, None,
       "log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), without overflow.",
       "``F.logsigmoid(fastdl.tensor([0.0]))`` gives ``[-0.6931]``"),
)
del _R


def _make_functions(row):
    """``F.<name>`` with torch's signature (``input``, the row's arguments, ``inplace``), and
    ``F.<name>_`` where torch has one: written as source so that the signature, defaults and
    argument errors are Python's own, and what is constant in the row (the kernel code, the
    kernel parameters of a row without arguments, the from-output rule) is bound once."""
    names = [p for p, _ in row.params]
    sig = "".join(f", {p}={d!r}" for p, d in row.params)
    call = ", ".join(names)
    ns = {"_act": _act, "_float": _float, "_CODES": _CODES, "_row": row}
    body = [f"    t = _float(input, {row.name!r})\n"]
    if row.check is not None:
        body.append(f"    _row.check({call})\n")
    if isinstance(row.kernel, str):
        ns["_code"] = _CODES[row.kernel]
        code = "_code"
    else:
        code = f"_CODES[_row.kernel({call})]"
    if row.kernel_params is None:
        params = f"[{''.join(f'float({p}), ' for p in names)}]"
    elif not names:
        ns["_params"] = [float(p) for p in row.kernel_params()]
        params = "_params"
    else:
        params = f"[float(p) for p in _row.kernel_params({call})]"
    fo = repr(row.from_output) if isinstance(row.from_output, bool) else \
        f"_row.from_output({call})"
    body.append(f"    return _act(t, {code}, {params}, {fo}"
                f"{', inplace' if row.inplace else ''})\n")
    src = f"def {row.name}(input{sig}{', inplace=False' if row.inplace else ''}):\n" + \
        "".join(body)
    if row.inplace == 2:
        src += f"def {row.name}_(input{sig}):\n" \
               f"    return {row.name}(input{', ' if call else ''}{call}, inplace=True)\n"
    exec(compile(src, f"<fastdl.nn.functional.{row.name}>", "exec"), ns)
    fn = ns[row.name]
    fn.__module__ = __name__
    fn.__doc__ = f"{row.doc}\n\nExample: {row.example}."
    out = {row.name: fn}
    if row.inplace == 2:
        fn_ = ns[row.name + "_"]
        fn_.__module__ = __name__
        fn_.__doc__ = f"In-place ``{row.name}``."
        out[row.name + "_"] = fn_
    return out


for _row in ACT_TABLE:
    _made = _make_functions(_row)
    globals().update(_made)
    __all__ += list(_made)
del _row, _made


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
    t = _float(input, "prelu")
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
    t = _float(t, name)
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
def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (NaN propagates).

    Example: ``F.hardshrink(fastdl.tensor([-1.0, 0.2, 0.7]))`` gives ``[-1., 0., 0.7]``.
    """
    t = _float(input, "hardshrink")
    keep = ~((t._array >= -lambd) & (t._array <= lambd))
    return t * Tensor._make(keep.astype(t._array.dtype))


def softshrink(input, lambd=0.5):
    """x − lambd where x > lambd, x + lambd where x < −lambd, else 0 (lambd ≥ 0).

    Example: ``F.softshrink(fastdl.tensor([-1.0, 0.2, 0.7]))`` gives ``[-0.5, 0., 0.2]``.
    """
    if not lambd >= 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found to be "
                         f"{lambd}.")
    t = _float(input, "softshrink")
    return t - t.clamp(-lambd, lambd)


def tanhshrink(input):
    """x − tanh(x).

    Example: ``F.tanhshrink(fastdl.tensor([0.0, 1.0]))`` gives ``[0., 0.2384]``.
    """
    t = _float(input, "tanhshrink")
    return t - tanh(t)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``. ``inplace`` writes the result into the input
    (not allowed on a tensor that requires grad).

    Example: ``F.threshold(fastdl.tensor([0.5, 2.0]), 1.0, -1.0)`` gives ``[-1., 2.]``.
    """
    t = _float(input, "threshold")
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
