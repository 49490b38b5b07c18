"""Pointwise math: trigonometric, hyperbolic, exponential/log, error functions, rounding,
``fmod``/``remainder``/``//``/``%``, ``lerp``, ``addcmul``/``addcdiv``, ``nan_to_num``,
``hypot``, ``logaddexp``, ``atan2``, and the in-place ``op_`` forms.

Two table-driven primitives carry every op here: ``_Unary`` (one row per op: the NumPy
forward and the derivative, from the input ``x`` and the output ``y``) and ``_Binary``
(forward and the two partial derivatives). Dtypes follow torch: an integer or bool input of
a floating op gives the default float dtype; a binary op's dtype is
``promotion.result_type`` of its operands. Values outside an op's domain give NaN/inf as in
torch, with no warning.

Example::

    x = fastdl.tensor([0.0, 0.5], requires_grad=True)
    fastdl.sin(x).sum().backward()          # x.grad == cos(x)
"""
from __future__ import annotations

import math as _math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _C
from ..autograd.function import _Op, _meta
from ._support import (Tensor, arr, as_tensor, float_dtype, inplace, operand, out_,
                       recording, result_type, wrap)
from ..autograd import function as _fn
from ._util import _F32, _F64, _empty, _wrap
from ._util import _cast as _gcast, _like, _nd, _no_graph
from ._util import _unary as _u
from .promotion import default_float
from ._util import _fmod_array
from .table import register

# ------------------------------------------------------------------------------------------
# large elementwise passes run on the kernel threads (NumPy ufuncs release the GIL)

_PAR_MIN = 1 << 17
_pool = [None]


def _threads():
    return _C.get_num_threads()


def par_ufunc(uf, *args, dtype=None, out=None):
    """``uf(*args)`` for NumPy ufunc ``uf``; when the (single, contiguous) array argument is
    large the work is split into one chunk per kernel thread. ``dtype`` is the output dtype
    (default: the first array's)."""
    a = args[0]
    n = a.size
    nt = _threads()
    if n < _PAR_MIN or nt < 2 or not a.flags.c_contiguous or \
            any(isinstance(x, np.ndarray) and x.shape != a.shape and x.ndim for x in args[1:]):
        return uf(*args) if out is None else uf(*args, out=out)
    dt = np.dtype(dtype or a.dtype)
    if out is None:
        out = _C.empty(a.shape, dt)
    elif not out.flags.c_contiguous or out.shape != a.shape:
        return uf(*args, out=out)
    fo = out.reshape(-1)
    flat = [x.reshape(-1) if isinstance(x, np.ndarray) and x.ndim else x for x in args]
    if any(isinstance(x, np.ndarray) and x.ndim and not x.flags.c_contiguous for x in args):
        return uf(*args, out=out)
    if _pool[0] is None:
        _pool[0] = ThreadPoolExecutor(max_workers=max(nt - 1, 1),
                                      thread_name_prefix="fastdl-eltwise")
    step = -(-n // nt)
    step = -(-step // 1024) * 1024

    def run(s):
        e = min(s + step, n)
        uf(*[x[s:e] if isinstance(x, np.ndarray) and x.ndim else x for x in flat], out=fo[s:e])

    futs = [_pool[0].submit(run, s) for s in range(step, n, step)]
    run(0)
    for f in futs:
        f.result()
    return out


def _frac(x):
    """x - trunc(x), written into one output (from the caching pool when large)."""
    if x.__class__ is not np.ndarray or x.size < (1 << 15) or x.dtype.kind != "f":
        return x - np.trunc(x)
    out = np.trunc(x, out=_C.empty(x.shape, x.dtype))
    return np.subtract(x, out, out=out)


# ------------------------------------------------------------------------------------------
# error functions: SciPy's when it is installed, else exact but slower Python fallbacks

_verf = np.frompyfunc(_math.erf, 1, 1)
_verfc = np.frompyfunc(_math.erfc, 1, 1)


def erf_fallback(x):
    """erf without SciPy (exact, via ``math.erf``; slower)."""
    return _verf(x).astype(x.dtype)


def erfc_fallback(x):
    """erfc without SciPy (exact, via ``math.erfc``; slower)."""
    return _verfc(x).astype(x.dtype)


def erfinv_fallback(y):
    """erfinv without SciPy: Giles' single-precision approximation refined by three Newton
    steps on ``math.erf`` (float64 accurate)."""
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y64) * (1.0 + y64))
        small = w < 5.0
        ws = w - 2.5
        p = np.full_like(y64, 2.81022636e-08)
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * ws
        wl = np.sqrt(np.where(small, 5.0, w)) - 3.0
        q = np.full_like(y64, -0.000200214257)
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            q = c + q * wl
        x = np.where(small, p, q) * y64
        x = np.where(np.abs(y64) == 1, np.sign(y64) * np.inf, x)
        for _ in range(3):
            fin = np.isfinite(x)
            xf = np.where(fin, x, 0.0)
            err = _verf(xf).astype(np.float64) - y64
            x = np.where(fin, xf - err / (2.0 / np.sqrt(np.pi) * np.exp(-xf * xf)), x)
    return x.astype(np.asarray(y).dtype)


_SPECIAL = {}  # name -> scipy.special's ufunc, or the fallback without SciPy


def _special(name, fallback):
    """A forward calling ``scipy.special.<name>`` (fast, vectorised) when SciPy is installed,
    else ``fallback``. SciPy is imported at the first call, not with fastdl (importing it
    costs more than a hundred milliseconds)."""

    def fwd(x):
        f = _SPECIAL.get(name)
        if f is None:
            try:
                from scipy import special
                f = getattr(special, name)
            except ImportError:  # pragma: no cover - depends on the environment
                f = fallback
            _SPECIAL[name] = f
        return par_ufunc(f, x) if isinstance(f, np.ufunc) else f(x)

    fwd.__name__ = name
    return fwd


_erf_any = _special("erf", erf_fallback)
_erfc_any = _special("erfc", erfc_fallback)


def _on_kernel(fn, other):
    """A forward on fastdl's vectorised kernel ``_C._vm_eval(fn, x)`` (``common/simd.h``)
    for C-contiguous, aligned float arrays, and on ``other`` (SciPy or the fallback) for
    anything else."""

    def fwd(x):
        if x.__class__ is np.ndarray and x.dtype in _KERNEL_DTYPES and x.flags.c_contiguous \
                and x.flags.aligned:
            return _C._vm_eval(fn, x)
        return other(x)

    return fwd


# float32 within 1.1e-7 relative (erf) and 3.4e-7 down to 1e-37 (erfc); float64 through libm
_erf = _on_kernel(5, _erf_any)
_erfc = _on_kernel(6, _erfc_any)


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_erfinv_any = _special("erfinv", erfinv_fallback)


def _kernel_ok2(a, b):
    """``_kernel_ok(a, b)`` for exactly two arrays, without the generic loop (the per-call
    cost of a small op)."""
    return a.__class__ is np.ndarray and b.__class__ is np.ndarray and \
        (a.dtype is _F32 or a.dtype is _F64) and b.dtype is a.dtype and a.shape == b.shape \
        and a.size > 0 and a.flags.c_contiguous and b.flags.c_contiguous and \
        a.flags.aligned and b.flags.aligned


def _kernel_ok(*arrays):
    """Whether every array is a C-contiguous, aligned float32/float64 ndarray of one dtype and
    shape (what the ``_C.tensorops_*`` elementwise kernels take)."""
    a0 = arrays[0]
    return all(isinstance(a, np.ndarray) and a.dtype == a0.dtype and a.shape == a0.shape
               and a.flags.c_contiguous and a.flags.aligned for a in arrays) \
        and a0.dtype in (np.float32, np.float64) and a0.size > 0


def _erfinv(x):
    """erfinv: float32 on the C++ kernel (Giles' approximation, within 2.7e-7 relative, about
    2 ulp), other dtypes by SciPy (or the fallback)."""
    if _kernel_ok(x) and x.dtype == np.float32:
        return _C.tensorops_erfinv(x)
    return _erfinv_any(x)

_LN2 = _math.log(2.0)
_LN10 = _math.log(10.0)
_2_SQRTPI = 2.0 / _math.sqrt(_math.pi)
_SQRTPI_2 = _math.sqrt(_math.pi) / 2.0


# ------------------------------------------------------------------------------------------
# unary ops: one table row per op


class _Spec:
    """A unary op's row: forward ``fwd(x)``, derivative ``grad(x, y)`` (None: zero
    gradient), whether integer inputs keep their dtype (``keep_int``), and the code of its
    one-pass C++ kernel (``_C.tensorops_unary``) for float32/float64, or None."""

    __slots__ = ("name", "fwd", "grad", "keep_int", "ufunc", "op", "kernel")

    def __init__(self, name, fwd, grad, keep_int=False, kernel=None):
        self.name, self.fwd, self.grad, self.keep_int = name, fwd, grad, keep_int
        self.kernel = kernel
        self.ufunc = isinstance(fwd, np.ufunc)
        # one _Op subclass per op, so grad_fn names the op (SinBackward as in torch)
        self.op = _op_class(name, _Unary)


def _op_class(name, base):
    return type("".join(p.capitalize() for p in name.split("_")), (base,), {})


class _Unary(_Op):
    _double = True       # the derivative rows below work on arrays and on Tensors
    _saved_out = {1: 0}

    @staticmethod
    def forward(ctx, x, spec):
        if x.dtype.kind in "biu" and not spec.keep_int:
            x = x.astype(default_float[0])
        if spec.kernel is not None and _kernel_one(x):
            y = _C.tensorops_unary(x, spec.kernel)
        else:
            with np.errstate(all="ignore"):
                y = par_ufunc(spec.fwd, x) if spec.ufunc else spec.fwd(x)
            y = np.asarray(y)
        ctx.spec = spec
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        spec = ctx.spec
        if spec.grad is None:
            return _like(np.zeros_like(_nd(g)), g), None
        with np.errstate(all="ignore"):
            d = spec.grad(x, y)
        return _gcast(g * d, _nd(x).dtype), None


_SPECS = {}


def _sign(x):
    """torch's sign: -1, 0 or 1, and 0 for NaN (NumPy's sign gives NaN). The sum of the
    signs is NaN exactly when one is, so inputs without NaN pay one summing pass."""
    s = np.sign(x)
    if s.dtype.kind == "f" and s.size and np.isnan(s.sum()):
        s = np.where(np.isnan(s), 0, s).astype(s.dtype, copy=False)
    return s


def _spec(name, fwd, grad, keep_int=False, kernel=None):
    _SPECS[name] = _Spec(name, fwd, grad, keep_int, kernel)


def _kernel_one(x):
    """Whether ``x`` is what ``_C.tensorops_unary`` takes: a C-contiguous, aligned
    float32/float64 ndarray (other layouts and dtypes keep the NumPy forward, which gives the
    same values)."""
    return x.__class__ is np.ndarray and (x.dtype is _F32 or x.dtype is _F64) and \
        x.flags.c_contiguous and x.flags.aligned


# The derivative rows use ``_u(ufunc, x)`` (``_util._unary``): NumPy on arrays, the recorded
# op on Tensors, so the same row is the backward of the backward (create_graph=True).
_spec("sin", np.sin, lambda x, y: _u(np.cos, x))
_spec("cos", np.cos, lambda x, y: -_u(np.sin, x))
_spec("tan", np.tan, lambda x, y: 1 + y * y)
_spec("asin", np.arcsin, lambda x, y: 1 / _u(np.sqrt, 1 - x * x))
_spec("acos", np.arccos, lambda x, y: -1 / _u(np.sqrt, 1 - x * x))
_spec("atan", np.arctan, lambda x, y: 1 / (1 + x * x))
_spec("sinh", np.sinh, lambda x, y: _u(np.cosh, x))
_spec("cosh", np.cosh, lambda x, y: _u(np.sinh, x))
_spec("asinh", np.arcsinh, lambda x, y: 1 / _u(np.sqrt, x * x + 1))
_spec("acosh", np.arccosh, lambda x, y: 1 / _u(np.sqrt, (x - 1) * (x + 1)))
_spec("atanh", np.arctanh, lambda x, y: 1 / (1 - x * x))
_spec("log2", np.log2, lambda x, y: 1 / (x * _LN2))
_spec("log10", np.log10, lambda x, y: 1 / (x * _LN10))
_spec("log1p", np.log1p, lambda x, y: 1 / (1 + x))
_spec("expm1", np.expm1, lambda x, y: y + 1)
_spec("exp2", np.exp2, lambda x, y: y * _LN2)
_spec("erf", _erf, lambda x, y: _2_SQRTPI * _u(np.exp, -x * x))
_spec("erfc", _erfc, lambda x, y: -_2_SQRTPI * _u(np.exp, -x * x))
_spec("erfinv", _erfinv, lambda x, y: _SQRTPI_2 * _u(np.exp, y * y))
_spec("reciprocal", np.reciprocal, lambda x, y: -y * y, kernel=2)
_spec("rsqrt", lambda x: np.reciprocal(np.sqrt(x)), lambda x, y: -0.5 * y * y * y, kernel=1)
_spec("square", np.square, lambda x, y: 2 * x, keep_int=True)
_spec("floor", np.floor, None, keep_int=True)
_spec("ceil", np.ceil, None, keep_int=True)
_spec("trunc", np.trunc, None, keep_int=True)
_spec("frac", lambda x: _frac(x), lambda x, y: _like(np.ones_like(_nd(x)), x), kernel=3)
_spec("sign", lambda x: _sign(x), None, keep_int=True, kernel=0)


def _unary(name, input, out=None):
    spec = _SPECS[name]
    if spec.kernel is not None and input.__class__ is Tensor and out is None:
        # nothing to record: the forward's kernel without building a graph node
        a = input._array
        if (a.dtype is _F32 or a.dtype is _F64) and not (input.requires_grad and _grad_on()) \
                and a.flags.c_contiguous and a.flags.aligned:
            return _wrap(_C.tensorops_unary(a, spec.kernel))
    x = as_tensor(input)
    if spec.keep_int and name in ("floor", "ceil", "trunc") and arr(x).dtype.kind in "biu":
        res = x.clone() if out is None else x  # torch: integer floor/ceil/trunc are copies
    else:
        res = spec.op.apply(x, spec)
    return out_(out, res, name)


_DOC = {
    "sin": "sin(x); derivative cos(x)",
    "cos": "cos(x); derivative -sin(x)",
    "tan": "tan(x); derivative 1 + tan²(x)",
    "asin": "arcsin(x), NaN outside [-1, 1]; derivative 1/√(1 - x²)",
    "acos": "arccos(x), NaN outside [-1, 1]; derivative -1/√(1 - x²)",
    "atan": "arctan(x); derivative 1/(1 + x²)",
    "sinh": "sinh(x); derivative cosh(x)",
    "cosh": "cosh(x); derivative sinh(x)",
    "asinh": "arsinh(x); derivative 1/√(x² + 1)",
    "acosh": "arcosh(x), NaN below 1; derivative 1/√((x - 1)(x + 1))",
    "atanh": "artanh(x), ±inf at ±1; derivative 1/(1 - x²)",
    "log2": "log₂(x); derivative 1/(x ln 2)",
    "log10": "log₁₀(x); derivative 1/(x ln 10)",
    "log1p": "log(1 + x), accurate for small x; derivative 1/(1 + x)",
    "expm1": "exp(x) - 1, accurate for small x; derivative exp(x)",
    "exp2": "2ˣ; derivative 2ˣ ln 2",
    "erf": "the error function 2/√π ∫₀ˣ exp(-t²) dt; derivative 2/√π exp(-x²)",
    "erfc": "1 - erf(x), accurate for large x; derivative -2/√π exp(-x²)",
    "erfinv": "the inverse of erf on (-1, 1) (±inf at ±1; float32 within 2.7e-7 relative, "
              "about 2 ulp); derivative √π/2 exp(erfinv(x)²)",
    "reciprocal": "1/x (an integer input gives the default float dtype); derivative -1/x²",
    "rsqrt": "1/√x; derivative -1/(2 x^(3/2))",
    "square": "x²; derivative 2x (integers stay integers)",
    "floor": "the largest integer ≤ x (integer inputs are returned as a copy); gradient 0",
    "ceil": "the smallest integer ≥ x; gradient 0",
    "trunc": "x rounded toward zero; gradient 0",
    "frac": "x - trunc(x) (sign of x); derivative 1",
    "sign": "-1, 0 or 1 by the sign of x (0 for 0 and, as torch, for NaN); gradient 0",
}


def _make_unary(name):
    def fn(input, *, out=None):
        return _unary(name, input, out)

    spec = _SPECS[name]

    def fn_(self):
        a = arr(self) if isinstance(self, Tensor) else None
        if spec.ufunc and a is not None and a.dtype.kind == "f" and not recording(self) \
                and a.flags.writeable:
            with np.errstate(all="ignore"):  # straight into self's storage
                par_ufunc(spec.fwd, a, out=a)
            self._vc[0] += 1
            return self
        return inplace(self, lambda t: _unary(name, t), name + "_")

    fn.__name__, fn_.__name__ = name, name + "_"
    fn.__qualname__, fn_.__qualname__ = name, name + "_"
    fn.__doc__ = (f"Elementwise {_DOC[name]}.\n\n"
                  f"Example: ``fastdl.{name}(fastdl.tensor([0.5, 1.0]))``")
    fn_.__doc__ = f"In place: ``self = {name}(self)``. Example: ``x.{name}_()``"
    register()(fn)
    register()(fn_)
    return fn


for _n in _DOC:
    globals()[_n] = _make_unary(_n)

register("arcsin")(lambda input, *, out=None: _unary("asin", input, out))
register("arccos")(lambda input, *, out=None: _unary("acos", input, out))
register("arctan")(lambda input, *, out=None: _unary("atan", input, out))
register("arcsinh")(lambda input, *, out=None: _unary("asinh", input, out))
register("arccosh")(lambda input, *, out=None: _unary("acosh", input, out))
register("arctanh")(lambda input, *, out=None: _unary("atanh", input, out))
register("fix")(lambda input, *, out=None: _unary("trunc", input, out))
register("negative")(lambda input, *, out=None: out_(out, -as_tensor(input), "negative"))
for _f, _a in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
               ("arccosh", "acosh"), ("arctanh", "atanh"), ("fix", "trunc")):
    from .table import ROWS as _ROWS

    _ROWS[_f].fn.__doc__ = f"Alias of ``fastdl.{_a}``."
    _ROWS[_f].fn.__name__ = _f
_ROWS["negative"].fn.__doc__ = "Alias of ``fastdl.neg``: -x."


@register()
def sgn(input, *, out=None):
    """The sign of each element: for real tensors the same as ``sign`` (-1, 0, 1).

    Example: ``fastdl.sgn(fastdl.tensor([-2.0, 0.0, 3.0]))`` gives ``[-1., 0., 1.]``."""
    return _unary("sign", input, out)


@register()
def sgn_(self):
    """In place ``sgn``. Example: ``x.sgn_()``"""
    return inplace(self, lambda t: _unary("sign", t), "sgn_")


@register()
def round(input, *, decimals=0, out=None):  # noqa: A001
    """Round half to even (as torch and NumPy); with ``decimals`` d, round(x·10ᵈ)/10ᵈ
    (negative d rounds to tens, hundreds, ...). Gradient 0.

    Example: ``fastdl.round(fastdl.tensor([0.5, 1.5, 1.234]), decimals=0)`` gives
    ``[0., 2., 1.]``."""
    x = as_tensor(input)
    if not isinstance(decimals, int):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if arr(x).dtype.kind in "biu" and decimals >= 0:
        res = x.clone()  # integers are already round
    elif decimals == 0:
        res = _ROUND0.op.apply(x, _ROUND0)
    else:
        sp = _Spec("round", lambda a: np.round(a, decimals), None, keep_int=True)
        res = sp.op.apply(x, sp)
    return out_(out, res, "round")


_ROUND0 = _Spec("round", np.rint, None, keep_int=True)


def _grad_on():
    """Whether grad mode is on in this thread (ops on tensors that need grad record)."""
    return _fn._state.grad


@register()
def round_(self, *, decimals=0):
    """In place ``round``. Example: ``x.round_(decimals=2)``"""
    return inplace(self, lambda t: round(t, decimals=decimals), "round_")


# ------------------------------------------------------------------------------------------
# existing primitives as functions, and their in-place forms


def _inplace_of(name):
    def fn_(self):
        return inplace(self, lambda t: getattr(t, name)(), name + "_")

    fn_.__name__ = fn_.__qualname__ = name + "_"
    fn_.__doc__ = f"In place ``{name}``: ``self = {name}(self)``. Example: ``x.{name}_()``"
    return fn_


for _n in ("exp", "log", "sqrt", "abs", "neg", "sigmoid", "tanh"):
    register()(_inplace_of(_n))


@register()
def sigmoid(input, *, out=None):
    """1 / (1 + e⁻ˣ) (the same kernel as ``fastdl.nn.functional.sigmoid``).

    Example: ``fastdl.sigmoid(fastdl.zeros(1))`` gives ``[0.5]``."""
    from ..nn import functional as F
    return out_(out, F.sigmoid(_float(input, "sigmoid")), "sigmoid")


@register()
def tanh(input, *, out=None):
    """tanh(x) (the kernel of ``fastdl.nn.functional.tanh``).

    Example: ``fastdl.tanh(fastdl.zeros(1))`` gives ``[0.]``."""
    from ..nn import functional as F
    return out_(out, F.tanh(_float(input, "tanh")), "tanh")


@register()
def relu(input):
    """max(x, 0) (the kernel of ``fastdl.nn.functional.relu``).

    Example: ``fastdl.relu(fastdl.tensor([-1.0, 2.0]))`` gives ``[0., 2.]``."""
    from ..nn import functional as F
    x = as_tensor(input)
    if _meta(x).dtype.kind in "iu":  # (_meta: a deferred tensor is not computed for this)
        return wrap(np.maximum(arr(x), 0))
    return F.relu(x)


@register()
def softmax(input, dim=None, dtype=None):
    """exp(x - max) / Σ exp(x - max) along ``dim`` (as ``fastdl.nn.functional.softmax``);
    ``dtype`` casts the input first.

    Example: ``fastdl.softmax(fastdl.tensor([[1.0, 2.0]]), dim=1)`` gives
    ``[[0.2689, 0.7311]]``."""
    from ..nn import functional as F
    return F.softmax(_float(input, "softmax", dtype), dim=dim)


@register()
def log_softmax(input, dim=None, dtype=None):
    """(x - max) - log Σ exp(x - max) along ``dim`` (as ``fastdl.nn.functional.log_softmax``).

    Example: ``fastdl.log_softmax(fastdl.zeros(1, 2), dim=1)`` gives
    ``[[-0.6931, -0.6931]]``."""
    from ..nn import functional as F
    return F.log_softmax(_float(input, "log_softmax", dtype), dim=dim)


def _activation_method(name, inplace=False):
    def method(self, *args, **kwargs):
        from ..nn import functional as F
        if inplace:
            kwargs["inplace"] = True
        return getattr(F, name)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name + ("_" if inplace else "")
    method.__doc__ = (f"``fastdl.nn.functional.{name}(self, ...{', inplace=True' if inplace else ''})``."
                      f" Example: ``x.{method.__name__}()``")
    return method


# activations torch offers only in nn.functional, kept as Tensor methods (fastdl extras)
for _n in ("gelu", "silu", "softplus"):
    register(function=False)(_activation_method(_n))
for _n in ("leaky_relu", "elu", "hardtanh"):
    register(function=False)(_activation_method(_n, inplace=True))


@register()
def relu_(input):
    """In place ``relu``: ``input = max(input, 0)``. Example: ``x.relu_()``"""
    from ..nn import functional as F
    return F.relu_(input)


def _float(input, what, dtype=None):
    from ._support import np_dtype
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(np_dtype(dtype, what))
    if arr(x).dtype.kind != "f":
        x = x.to(float_dtype(arr(x).dtype))
    return x


@register()
def clamp_min_(self, min):  # noqa: A002
    """In place ``clamp(min=min)``. Example: ``x.clamp_min_(0)``"""
    return inplace(self, lambda t: t.clamp(min=min), "clamp_min_")


@register()
def clamp_max_(self, max):  # noqa: A002
    """In place ``clamp(max=max)``. Example: ``x.clamp_max_(1)``"""
    return inplace(self, lambda t: t.clamp(max=max), "clamp_max_")


@register()
def clip_(self, min=None, max=None):  # noqa: A002
    """Alias of ``clamp_``. Example: ``x.clip_(0, 1)``"""
    return self.clamp_(min, max)


@register()
def pow_(self, exponent):
    """In place ``self = self ** exponent``. Example: ``x.pow_(2)``"""
    return inplace(self, lambda t: t ** exponent, "pow_",
                   *([exponent] if isinstance(exponent, Tensor) else []))


# ------------------------------------------------------------------------------------------
# binary ops


class _BSpec:
    """A binary op's row: forward ``fwd(a, b)``, the partial derivatives ``ga``/``gb`` from
    (a, b, y), whether integer operands compute in the default float dtype, whether an integer
    zero divisor is an error, and ``kernel(a, b)``: the C++ kernel ``fwd`` runs on for two
    float32/float64 arrays of one dtype and shape (None: no kernel)."""

    __slots__ = ("name", "fwd", "ga", "gb", "float_only", "int_zero_check", "op", "kernel")

    def __init__(self, name, fwd, ga, gb, float_only, int_zero_check=False, kernel=None):
        self.name, self.fwd, self.ga, self.gb = name, fwd, ga, gb
        self.float_only, self.int_zero_check = float_only, int_zero_check
        self.kernel = kernel
        self.op = None  # set below, once _Binary exists


def _cast(x, dt):
    if isinstance(x, np.ndarray):
        return x if x.dtype == dt else x.astype(dt)
    return np.asarray(x, dtype=dt)


class _Binary(_Op):
    @staticmethod
    def forward(ctx, a, b, spec):
        dt = result_type(a, b)
        if spec.float_only:
            dt = float_dtype(dt)
        ctx.da = a.dtype if isinstance(a, np.ndarray) else None
        ctx.db = b.dtype if isinstance(b, np.ndarray) else None
        a, b = _cast(a, dt), _cast(b, dt)
        if spec.int_zero_check and dt.kind in "biu" and (b == 0).any():
            raise RuntimeError(f"{spec.name}: ZeroDivisionError (integer division by zero)")
        with np.errstate(all="ignore"):
            if a.shape == b.shape and isinstance(spec.fwd, np.ufunc):
                y = par_ufunc(spec.fwd, a, b)
            else:
                y = np.asarray(spec.fwd(a, b))
        ctx.spec = spec
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        s = ctx.spec
        n = ctx.needs_input_grad
        ga = gb = None
        with np.errstate(all="ignore"):
            if n[0]:
                ga = np.asarray(g * s.ga(a, b, y)).astype(ctx.da, copy=False)
            if n[1]:
                gb = np.asarray(g * s.gb(a, b, y)).astype(ctx.db, copy=False)
        return ga, gb, None


def _logaddexp(a, b):
    """log(eᵃ + eᵇ) = max(a, b) + log1p(exp(-|a - b|)) in one pass of the C++ kernel (the
    vectorised exp and log1p of ``common/simd.h`` for float32) for two float32/float64 arrays
    of one shape; equal infinities give themselves, as torch; other inputs: NumPy."""
    if not _kernel_ok(a, b):
        return np.logaddexp(a, b)
    return _C.tensorops_logaddexp(a, b)


_BSPECS = {
    "atan2": _BSpec("atan2", np.arctan2, lambda a, b, y: b / (a * a + b * b),
                    lambda a, b, y: -a / (a * a + b * b), True),
    "hypot": _BSpec("hypot", lambda a, b: _C.tensorops_hypot(a, b) if _kernel_ok(a, b)
                    else np.hypot(a, b), lambda a, b, y: a / y, lambda a, b, y: b / y, True,
                    kernel=_C.tensorops_hypot),
    "logaddexp": _BSpec("logaddexp", lambda a, b: _logaddexp(a, b), lambda a, b, y: np.exp(a - y),
                        lambda a, b, y: np.exp(b - y), True, kernel=_C.tensorops_logaddexp),
    "logaddexp2": _BSpec("logaddexp2", np.logaddexp2, lambda a, b, y: np.exp2(a - y),
                         lambda a, b, y: np.exp2(b - y), True),
    "fmod": _BSpec("fmod", lambda a, b: _fmod_array(a, b, False), lambda a, b, y: np.ones_like(y),
                   lambda a, b, y: -np.trunc(a / b), False, True,
                   kernel=lambda a, b: _C.tensorops_fmod(a, b, False)),
    "copysign": _BSpec("copysign", np.copysign,
                       lambda a, b, y: np.where(a == 0, 0, np.sign(a) * np.sign(y)),
                       lambda a, b, y: np.zeros_like(y), True),
}


for _s in _BSPECS.values():
    _s.op = _op_class(_s.name, _Binary)


def _binary(name, input, other, out=None):
    spec = _BSPECS[name]
    if spec.kernel is not None and out is None and input.__class__ is Tensor and \
            other.__class__ is Tensor and not ((input.requires_grad or other.requires_grad)
                                               and _grad_on()):
        x, y = input._array, other._array
        if _kernel_ok2(x, y):  # nothing to record: the forward's kernel, no graph node
            return _wrap(spec.kernel(x, y))
    a, b = operand(input), operand(other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    spec = _BSPECS[name]
    return out_(out, spec.op.apply(a, b, spec), name)


_BDOC = {
    "atan2": ("atan2(input, other): the angle of the point (other, input), in (-π, π]; "
              "d/dinput = other/(input² + other²), d/dother = -input/(input² + other²)",
              "fastdl.atan2(fastdl.tensor([1.0]), fastdl.tensor([1.0]))  # [0.7854]"),
    "hypot": ("√(input² + other²) without overflow; d/dinput = input/out",
              "fastdl.hypot(fastdl.tensor([3.0]), fastdl.tensor([4.0]))  # [5.]"),
    "logaddexp": ("log(eᵃ + eᵇ) computed stably; d/da = eᵃ⁻ᵒᵘᵗ",
                  "fastdl.logaddexp(fastdl.tensor([0.0]), fastdl.tensor([0.0]))  # [0.6931]"),
    "logaddexp2": ("log₂(2ᵃ + 2ᵇ) computed stably",
                   "fastdl.logaddexp2(fastdl.tensor([0.0]), fastdl.tensor([0.0]))  # [1.]"),
    "fmod": ("C's fmod: input - trunc(input/other)·other, the sign of the dividend; "
             "integer division by zero is a RuntimeError; d/dother = -trunc(input/other)",
             "fastdl.fmod(fastdl.tensor([-3.0, 3.0]), 2)  # [-1., 1.]"),
    "copysign": ("|input| with the sign of other; gradient to other is 0",
                 "fastdl.copysign(fastdl.tensor([1.0]), -2.0)  # [-1.]"),
}


def _make_binary(name):
    doc, ex = _BDOC[name]

    def fn(input, other, *, out=None):
        return _binary(name, input, other, out)

    def fn_(self, other):
        return inplace(self, lambda t: _binary(name, t, other), name + "_",
                       *([other] if isinstance(other, Tensor) else []))

    fn.__name__ = fn.__qualname__ = name
    fn_.__name__ = fn_.__qualname__ = name + "_"
    fn.__doc__ = f"Elementwise {doc}; the dtype is torch's ``result_type``.\n\nExample: ``{ex}``"
    fn_.__doc__ = f"In place ``{name}``. Example: ``x.{name}_(y)``"
    register()(fn)
    register()(fn_)
    return fn


for _n in _BSPECS:
    globals()[_n] = _make_binary(_n)
register("arctan2")(lambda input, other, *, out=None: _binary("atan2", input, other, out))
_ROWS["arctan2"].fn.__doc__ = "Alias of ``fastdl.atan2``."


def _op_binary(name, sym):
    """``remainder``/``floor_divide`` are the Tensor's ``%``/``//`` (one implementation, in
    tensor.py, with torch's dtype and integer-division-by-zero rules)."""

    def apply(a, b):
        a, b = operand(a), operand(b)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            a = as_tensor(a)
        return a % b if sym == "%" else a // b

    def fn(input, other, *, out=None):
        if sym == "%" and out is None and input.__class__ is Tensor and \
                other.__class__ is Tensor and not ((input.requires_grad or other.requires_grad)
                                                   and _grad_on()):
            x, y = input._array, other._array
            if _kernel_ok2(x, y):  # nothing to record: the forward's kernel, no graph node
                return _wrap(_C.tensorops_fmod(x, y, True))
        return out_(out, apply(input, other), name)

    def fn_(self, other):
        return inplace(self, lambda t: apply(t, other), name + "_",
                       *([other] if isinstance(other, Tensor) else []))

    fn.__name__ = fn.__qualname__ = name
    fn_.__name__ = fn_.__qualname__ = name + "_"
    return fn, fn_


remainder, remainder_ = _op_binary("remainder", "%")
remainder.__doc__ = ("Python's modulus ``input - floor(input/other)·other`` (the sign of the "
                     "divisor), the same as ``input % other``; d/dother = -floor(input/other)."
                     "\n\nExample: ``fastdl.remainder(fastdl.tensor([-3.0, 3.0]), 2)`` gives "
                     "``[1., 1.]``")
remainder_.__doc__ = "In place ``remainder`` (``x %= y``). Example: ``x.remainder_(2)``"
floor_divide, floor_divide_ = _op_binary("floor_divide", "//")
floor_divide.__doc__ = ("``floor(input / other)``, the same as ``input // other`` (integers stay "
                        "integers); gradient 0.\n\nExample: ``fastdl.floor_divide("
                        "fastdl.tensor([-3, 3]), 2)`` gives ``[-2, 1]``")
floor_divide_.__doc__ = "In place ``floor_divide`` (``x //= y``). Example: ``x.floor_divide_(2)``"
for _f in (remainder, remainder_, floor_divide, floor_divide_):
    register()(_f)
register("__imod__", function=False)(remainder_)
register("__ifloordiv__", function=False)(floor_divide_)


# ------------------------------------------------------------------------------------------
# compositions of differentiable ops (no backward of their own)


@register()
def lerp(input, end, weight, *, out=None):
    """Linear interpolation ``input + weight·(end - input)``; ``weight`` a number or a
    tensor (broadcast). A number as weight with two float tensors of one shape runs torch's
    two-sided formula (``end - (end - input)·(1 - weight)`` for ``|weight| >= 0.5``, exact at
    weight 1) on one kernel pass. Gradients: 1 - weight, weight, end - input.

    Example: ``fastdl.lerp(fastdl.zeros(2), fastdl.ones(2), 0.25)`` gives ``[0.25, 0.25]``."""
    x, e = as_tensor(input), as_tensor(end)
    if arr(x).dtype != arr(e).dtype:
        raise RuntimeError(f"lerp: expected dtype {arr(x).dtype} for `end` but got dtype "
                           f"{arr(e).dtype}")
    w = operand(weight)
    a, b = x._array, e._array
    if w.__class__ in (float, int) and _kernel_ok2(a, b):
        # a number as weight: one pass of the C++ kernel (torch's two-sided formula)
        if _no_graph(x) and _no_graph(e):
            return out_(out, _wrap(_C.tensorops_lerp(a, b, w)), "lerp")
        return out_(out, _Lerp.apply(x, e, float(w)), "lerp")
    return out_(out, x + w * (e - x), "lerp")


class _Lerp(_Op):
    """lerp with a number as weight on the C++ kernel; gradients (1 - w)·g and w·g."""

    _double = True

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.w = w
        return _C.tensorops_lerp(a, b, w)

    @staticmethod
    def backward(ctx, g):
        n = ctx.needs_input_grad
        w = ctx.w
        return (g * (1.0 - w) if n[0] else None), (g * w if n[1] else None), None


@register()
def lerp_(self, end, weight):
    """In place ``lerp``. Example: ``avg.lerp_(x, 0.1)`` (an exponential moving average)."""
    return inplace(self, lambda t: lerp(t, end, weight), "lerp_",
                   *[v for v in (end, weight) if isinstance(v, Tensor)])


@register()
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value·tensor1·tensor2`` (broadcast).

    Example: ``fastdl.addcmul(fastdl.zeros(2), fastdl.ones(2), fastdl.ones(2), value=3)``
    gives ``[3., 3.]``."""
    fast = _fused3(input, tensor1, tensor2, value, np.multiply)
    if fast is not None:
        return out_(out, fast, "addcmul")
    prod = operand(tensor1) * operand(tensor2)
    res = as_tensor(input) + (prod if value == 1 else prod * value)
    return out_(out, res, "addcmul")


def _fused3(input, t1, t2, value, uf):
    """``input + value·uf(t1, t2)`` in one pooled output when nothing is recorded and all
    three are large float tensors of one dtype and shape (the same steps, in the same
    order, as the recorded path, without its two temporaries); else None."""
    if not (isinstance(input, Tensor) and isinstance(t1, Tensor) and isinstance(t2, Tensor)):
        return None
    a, b, c = arr(input), arr(t1), arr(t2)
    if not (a.dtype == np.float32 or a.dtype == np.float64) or \
            not (a.dtype == b.dtype == c.dtype and a.shape == b.shape == c.shape) or \
            value.__class__ not in (int, float) or \
            not (_no_graph(input) and _no_graph(t1) and _no_graph(t2)):
        return None
    r = uf(b, c, out=_empty(a.shape, a.dtype))  # pooled when large
    if value != 1:
        r *= value
    r += a
    return wrap(r)


@register()
def addcmul_(self, tensor1, tensor2, *, value=1):
    """In place ``addcmul``. Example: ``v.addcmul_(g, g, value=0.001)``"""
    return inplace(self, lambda t: addcmul(t, tensor1, tensor2, value=value), "addcmul_",
                   *[v for v in (tensor1, tensor2) if isinstance(v, Tensor)])


@register()
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value·tensor1/tensor2`` (broadcast); integer tensor1 and tensor2 are a
    RuntimeError, as in torch.

    Example: ``fastdl.addcdiv(fastdl.zeros(2), fastdl.ones(2), fastdl.full((2,), 4.0))``
    gives ``[0.25, 0.25]``."""
    t1, t2 = operand(tensor1), operand(tensor2)
    k1 = arr(t1).dtype.kind if isinstance(t1, Tensor) else "f"
    k2 = arr(t2).dtype.kind if isinstance(t2, Tensor) else "f"
    if k1 in "biu" and k2 in "biu":
        raise RuntimeError("addcdiv: Integer division with addcdiv is no longer supported; "
                           "divide with fastdl.div(a, b, rounding_mode='trunc')")
    fast = _fused3(input, t1, t2, value, np.divide)
    if fast is not None:
        return out_(out, fast, "addcdiv")
    q = t1 / t2 if isinstance(t1, Tensor) else as_tensor(t1) / t2
    res = as_tensor(input) + (q if value == 1 else q * value)
    return out_(out, res, "addcdiv")


@register()
def addcdiv_(self, tensor1, tensor2, *, value=1):
    """In place ``addcdiv``. Example: ``p.addcdiv_(m, v.sqrt().add(1e-8), value=-lr)``"""
    return inplace(self, lambda t: addcdiv(t, tensor1, tensor2, value=value), "addcdiv_",
                   *[v for v in (tensor1, tensor2) if isinstance(v, Tensor)])


_FMAX = {_F32: float(np.finfo(np.float32).max), _F64: float(np.finfo(np.float64).max)}


class _NanToNum(_Op):
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        if x.dtype.kind != "f":
            return x.copy()
        if _kernel_one(x) and x.size:  # one pass on the C++ kernel
            big = _FMAX[x.dtype]
            return _C.tensorops_nan_to_num(x, nan, big if posinf is None else posinf,
                                           -big if neginf is None else neginf)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return np.where(np.isfinite(x), g, 0).astype(g.dtype, copy=False), None, None, None


@register()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (default: the
    largest / lowest finite value of the dtype). Gradient 1 where finite, 0 elsewhere.

    Example: ``fastdl.nan_to_num(fastdl.tensor([float('nan'), float('inf')]))`` gives
    ``[0., 3.4028e+38]``."""
    if input.__class__ is Tensor and out is None and not (input.requires_grad and _grad_on()):
        a = input._array
        if _kernel_one(a) and a.size:  # nothing to record: the forward's kernel, no graph node
            big = _FMAX[a.dtype]
            return _wrap(_C.tensorops_nan_to_num(a, nan, big if posinf is None else posinf,
                                                 -big if neginf is None else neginf))
    return out_(out, _NanToNum.apply(as_tensor(input), nan, posinf, neginf), "nan_to_num")


@register()
def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
    """In place ``nan_to_num``. Example: ``x.nan_to_num_(0.0)``"""
    return inplace(self, lambda t: nan_to_num(t, nan, posinf, neginf), "nan_to_num_")


__all__ = sorted(list(_DOC) + list(_BSPECS) + [
    "sgn", "round", "lerp", "addcmul", "addcdiv", "nan_to_num", "sigmoid", "tanh", "relu",
    "softmax", "log_softmax", "clamp"])
