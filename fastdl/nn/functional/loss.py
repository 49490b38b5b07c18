"""fastdl.nn.functional: losses.

Cross entropy is one fused kernel forward (log-softmax + NLL, with weights, ignore_index and
label smoothing) and one fused kernel backward; the pointwise losses are one kernel each way.
Kernels live in ``csrc/kernels/loss/``, bound in ``csrc/bindings/bind_loss.cpp``. Semantics
follow PyTorch, including the mean of a class-weighted loss (divided by the summed weights of
the non-ignored targets) and label smoothing. Differences: no warnings are emitted (PyTorch
warns about broadcasting targets and about ``kl_div(reduction='mean')``); gradients with
respect to the class weights are not computed (PyTorch does not either).
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_RED = {"none": 0, "mean": 1, "sum": 2}
# kinds of the pointwise kernel (csrc/kernels/loss/loss.h)
_MSE, _L1, _SMOOTH_L1, _HUBER, _BCE, _BCE_LOGITS, _KL, _KL_LOG = range(8)


def _t(x):
    return x if isinstance(x, Tensor) or x is None else as_tensor(x)


def _c(a):
    return None if a is None else np.ascontiguousarray(a)


def _legacy(size_average, reduce, reduction):
    """PyTorch's mapping of the deprecated size_average/reduce arguments."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _red(reduction, fn, extra=()):
    if reduction not in _RED and reduction not in extra:
        allowed = ", ".join(repr(r) for r in list(_RED) + list(extra))
        raise ValueError(f"{fn}: reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def _float_input(x, fn, name="input"):
    x = _t(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {x.dtype} "
                        f"(shape {tuple(x.shape)})")
    return x


def _like(x, other, fn, name):
    """`other` as a Tensor of x's dtype (array-likes and Python numbers converted)."""
    if other is None:
        return None
    if isinstance(other, Tensor):
        if other.dtype.kind != "f":
            raise TypeError(f"{fn}: {name} must be a floating tensor, got {other.dtype}")
        if other.dtype != x.dtype:
            raise TypeError(f"{fn}: {name} is {other.dtype} but input is {x.dtype}")
        return other
    return Tensor._make(np.asarray(other, dtype=x.dtype))


def _scale_grad(g, red, denom, shape):
    """The per-element weight of the incoming gradient, broadcastable to `shape`."""
    if red == 0:
        return g
    return np.float64(g.reshape(-1)[0]) / (denom if red == 1 else 1.0)


# ---------------------------------------------------------------------------------------------
# cross entropy and NLL


def _check_int64(fn, name, v):
    """ValueError naming the argument when an int does not fit the kernel's int64."""
    if not -2**63 <= int(v) < 2**63:
        raise ValueError(f"{fn}: {name} must fit in int64, got {v}")

class _CrossEntropy(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, eps, red):
        x = np.ascontiguousarray(x)
        weight = _c(weight)
        out, lse, denom = _C.cross_entropy_forward(x, target, weight, ignore_index, eps, red)
        ctx.args = (target, weight, ignore_index, eps, red, lse, denom)
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        target, weight, ignore_index, eps, red, lse, denom = ctx.args
        if isinstance(g, Tensor):  # create_graph: g·(A·softmax(x) − b), recorded
            return (_ce_backward_graph(x, g, target, weight, ignore_index, eps, red, denom),
                    None, None, None, None, None)
        gx = _C.cross_entropy_backward(np.ascontiguousarray(g, x.dtype), x, target, weight,
                                       ignore_index, eps, red, lse, denom)
        return gx, None, None, None, None, None


class _CrossEntropyProb(_Op):
    @staticmethod
    def forward(ctx, x, p, weight, eps, red):
        x, p, weight = np.ascontiguousarray(x), np.ascontiguousarray(p), _c(weight)
        out, lse, denom = _C.cross_entropy_prob_forward(x, p, weight, eps, red)
        ctx.args = (weight, eps, red, lse, denom)
        ctx.save_for_backward(x, p)
        return out

    @staticmethod
    def backward(ctx, g):
        x, p = ctx.saved_tensors
        weight, eps, red, lse, denom = ctx.args
        n = ctx.needs_input_grad
        g = np.ascontiguousarray(g, x.dtype)
        gx = gp = None
        if n[0]:
            gx = _C.cross_entropy_prob_backward(g, x, p, weight, eps, red, lse)
        if n[1]:  # d/dp = −gi·w·(1 − eps)·log_softmax(x)
            logp = x - np.expand_dims(lse, 1)
            gi = np.expand_dims(g, 1) if red == 0 else _scale_grad(g, red, denom, lse.shape)
            wv = 1.0 if weight is None else weight.reshape((1, -1) + (1,) * (x.ndim - 2))
            gp = (-(1.0 - eps) * gi * wv * logp).astype(x.dtype)
        return gx, gp, None, None, None


def _class_target(input, target, fn):
    """(x, target array int64 or Tensor of probabilities, unbatched flag)."""
    x = _float_input(input, fn)
    if isinstance(target, Tensor):
        tarr = target._array
    else:
        tarr = np.asarray(target)
    if tarr.dtype.kind == "f":
        tt = target if isinstance(target, Tensor) else Tensor._make(tarr.astype(x.dtype))
        if tt.dtype != x.dtype:
            raise TypeError(f"{fn}: probability target is {tt.dtype} but input is {x.dtype}")
        if tuple(tt.shape) != tuple(x.shape):
            raise ValueError(f"{fn}: probability target must have the input's shape "
                             f"{tuple(x.shape)}, got {tuple(tt.shape)}")
        return x, tt, True
    if tarr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold class indices (integers) or class "
                        f"probabilities (floats), got {tarr.dtype}")
    return x, np.ascontiguousarray(tarr, dtype=np.int64), False


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` (N, C, d1, ...) — or (C,) unbatched — and
    ``target``, computed as a fused log-softmax + NLL.

    Class-index target (int, shape (N, d1, ...)): per sample
    ``ℓ = (1−ε)·w[t]·(lse − x[t]) + ε/C·Σ_c w[c]·(lse − x[c])`` with ``lse = log Σ_c exp x[c]``
    and ε = ``label_smoothing``; samples with ``t == ignore_index`` give 0. ``'mean'`` divides
    the sum by ``Σ w[t]`` over non-ignored samples (their count without weights). A target
    outside [0, C) (other than ignore_index) raises IndexError before anything is read.

    Class-probability target (float, same shape as input): ``ℓ = −Σ_c w[c]·p'[c]·log_softmax(x)[c]``
    with ``p' = (1−ε)·p + ε/C``; ``'mean'`` divides by the number of samples.

    Example::

        loss = F.cross_entropy(fastdl.randn(4, 10, requires_grad=True), fastdl.tensor([1, 0, 9, 3]))
        loss.backward()
    """
    fn = "cross_entropy"
    reduction = _red(_legacy(size_average, reduce, reduction), fn)
    red = _RED[reduction]
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, tgt, is_prob = _class_target(input, target, fn)
    unbatched = x.ndim == 1
    if unbatched:
        x = x.reshape(1, -1)
        tgt = tgt.reshape(1, -1) if is_prob else tgt.reshape(1)
    elif x.ndim == 0:
        raise ValueError(f"{fn}: input must have shape (N, C, ...) or (C,), got a scalar")
    w = _like(x, weight, fn, "weight")
    if w is not None:
        w = w.detach()
    if is_prob:
        out = _CrossEntropyProb.apply(x, tgt, w, eps, red)
    else:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"{fn}: ignore_index must be an int, got {ignore_index!r}")
        _check_int64(fn, "ignore_index", ignore_index)
        out = _CrossEntropy.apply(x, tgt, w, int(ignore_index), eps, red)
    if unbatched and red == 0:
        out = out.reshape(())
    return out


class _NLL(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, red):
        x = np.ascontiguousarray(x)
        weight = _c(weight)
        out, denom = _C.nll_loss_forward(x, target, weight, ignore_index, red)
        ctx.args = (target, weight, ignore_index, red, denom)
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        target, weight, ignore_index, red, denom = ctx.args
        if isinstance(g, Tensor):  # create_graph: −g·w[t]·onehot(t), linear in g
            b, _ = _class_weights(x._array, target, weight, ignore_index, 0.0)
            return _scale_graph(g, red, denom) * Tensor._make(-b), None, None, None, None
        gx = _C.nll_loss_backward(np.ascontiguousarray(g, x.dtype), x, target, weight,
                                  ignore_index, red, denom)
        return gx, None, None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, d1, ...) or (C,) at the
    class indices ``target`` (N, d1, ...): ``ℓ = −w[t]·x[t]``, 0 where ``t == ignore_index``;
    ``'mean'`` divides by ``Σ w[t]`` over non-ignored targets. Out-of-range targets raise
    IndexError.

    Example::

        logp = F.log_softmax(fastdl.randn(3, 5), dim=1)
        loss = F.nll_loss(logp, fastdl.tensor([0, 4, 2]))
    """
    fn = "nll_loss"
    reduction = _red(_legacy(size_average, reduce, reduction), fn)
    red = _RED[reduction]
    x, tgt, is_prob = _class_target(input, target, fn)
    if is_prob:
        raise TypeError(f"{fn}: target must hold class indices (integers)")
    unbatched = x.ndim == 1
    if unbatched:
        x = x.reshape(1, -1)
        tgt = tgt.reshape(1)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{fn}: ignore_index must be an int, got {ignore_index!r}")
    _check_int64(fn, "ignore_index", ignore_index)
    w = _like(x, weight, fn, "weight")
    out = _NLL.apply(x, tgt, None if w is None else w.detach(), int(ignore_index), red)
    if unbatched and red == 0:
        out = out.reshape(())
    return out


# ---------------------------------------------------------------------------------------------
# pointwise losses

def _target_grad(kind, x, y, w, pw, param, gi):
    """d loss / d target, times the incoming gradient (NumPy; rarely needed)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == _BCE:
            d = np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100)
        elif kind == _BCE_LOGITS:
            sp = np.logaddexp(0, -x)
            d = -x if pw is None else (pw - 1) * sp - x
        elif kind == _KL:
            d = np.where(y > 0, np.log(np.where(y > 0, y, 1)) + 1 - x, 0)
        else:  # _KL_LOG
            d = np.exp(y) * (y - x + 1)
        if w is not None:
            d = d * w
    return (gi * d).astype(x.dtype)


class _Pointwise(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, y, w, pw, kind, param, red):
        x, y, w, pw = np.ascontiguousarray(x), np.ascontiguousarray(y), _c(w), _c(pw)
        out = _C.pointwise_loss_forward(kind, x, y, w, pw, param, red)
        ctx.args = (kind, param, red)
        ctx.save_for_backward(x, y, w, pw)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw = ctx.saved_tensors
        kind, param, red = ctx.args
        n = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph: the derivative from recorded ops
            return _pointwise_backward_graph(x, y, w, pw, kind, param, red, g, n)
        g = np.ascontiguousarray(g, x.dtype)
        gx = gy = None
        denom = float(x.size)
        if n[0] or (n[1] and kind <= _HUBER):
            gx = _C.pointwise_loss_backward(kind, g, x, y, w, pw, param, red, denom)
        if n[1]:
            if kind <= _HUBER:
                gy = -gx
            else:
                gy = _target_grad(kind, x, y, w, pw, param, _scale_grad(g, red, denom, x.shape))
        return (gx if n[0] else None), gy, None, None, None, None, None


def _pointwise(fn, kind, input, target, reduction, param=0.0, weight=None,  # noqa: A002
               pos_weight=None, same_shape=False, extra=()):
    red_name = _red(reduction, fn, extra)
    x = _float_input(input, fn)
    y = _like(x, target, fn, "target")
    if same_shape and tuple(y.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: target size {tuple(y.shape)} must be the same as input size "
                         f"{tuple(x.shape)}")
    if tuple(y.shape) != tuple(x.shape):
        try:
            shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(f"{fn}: input of shape {tuple(x.shape)} and target of shape "
                             f"{tuple(y.shape)} do not broadcast") from None
        if shape != tuple(x.shape):
            x = x.expand(*shape)
        if shape != tuple(y.shape):
            y = y.expand(*shape)
    w = _like(x, weight, fn, "weight")
    pw = _like(x, pos_weight, fn, "pos_weight")
    wa = pwa = None
    try:
        if w is not None:
            wa = np.broadcast_to(w._array, x.shape)
        if pw is not None:
            pwa = np.broadcast_to(pw._array, x.shape)
    except ValueError:
        raise ValueError(f"{fn}: weight/pos_weight do not broadcast to the input shape "
                         f"{tuple(x.shape)}") from None
    red = _RED["sum"] if red_name == "batchmean" else _RED[red_name]
    out = _Pointwise.apply(x, y, wa, pwa, kind, float(param), red)
    if red_name == "batchmean" and x.ndim != 0:
        out = out / x.shape[0]
    return out


def _weighted(fn, kind, input, target, weight, reduction, mean_by_weight, param=0.0):  # noqa: A002
    """PyTorch's weighted mse/l1/huber: unweighted elementwise loss times weight."""
    red = _red(reduction, fn)
    x = _float_input(input, fn)
    w = _like(x, weight, fn, "weight")
    if tuple(w.shape) != tuple(x.shape):
        raise ValueError(f"{fn}: weights and input must have the same size, got "
                         f"{tuple(w.shape)} and {tuple(x.shape)}")
    elem = _pointwise(fn, kind, x, target, "none", param) * w
    if red == "none":
        return elem
    if red == "sum":
        return elem.sum()
    return elem.sum() / w.sum() if mean_by_weight else elem.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
             weight=None):
    """Mean squared error: ``ℓ = (x − y)²`` elementwise, reduced by ``reduction``
    ('none' | 'mean' | 'sum'); input and target broadcast. With ``weight`` (input's shape):
    ``weight·(x − y)²``, 'mean' dividing by ``Σ weight``.

    Example: ``F.mse_loss(fastdl.randn(3, 4), fastdl.zeros(3, 4))``
    """
    reduction = _legacy(size_average, reduce, reduction)
    if weight is not None:
        return _weighted("mse_loss", _MSE, input, target, weight, reduction, True)
    return _pointwise("mse_loss", _MSE, input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
            weight=None):
    """Mean absolute error: ``ℓ = |x − y|`` elementwise, reduced by ``reduction``; the
    gradient at x == y is 0. With ``weight``: ``weight·|x − y|``, 'mean' dividing by ``Σ weight``.

    Example: ``F.l1_loss(fastdl.randn(3, 4), fastdl.zeros(3, 4), reduction='sum')``
    """
    reduction = _legacy(size_average, reduce, reduction)
    if weight is not None:
        return _weighted("l1_loss", _L1, input, target, weight, reduction, True)
    return _pointwise("l1_loss", _L1, input, target, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    """Smooth L1: with ``d = |x − y|``, ``ℓ = 0.5·d²/beta`` if ``d < beta`` else
    ``d − 0.5·beta`` (``beta = 0`` is the L1 loss). ``beta < 0`` is a ValueError.

    Example: ``F.smooth_l1_loss(fastdl.randn(8), fastdl.zeros(8), beta=0.5)``
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    reduction = _legacy(size_average, reduce, reduction)
    return _pointwise("smooth_l1_loss", _SMOOTH_L1, input, target, reduction, beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    """Huber loss: with ``d = |x − y|``, ``ℓ = 0.5·d²`` if ``d < delta`` else
    ``delta·(d − 0.5·delta)``; ``delta`` must be > 0. With ``weight``: ``weight·ℓ``, 'mean'
    averaging over the elements (as PyTorch).

    Example: ``F.huber_loss(fastdl.randn(8), fastdl.zeros(8), delta=2.0)``
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    if weight is not None:
        return _weighted("huber_loss", _HUBER, input, target, weight, reduction, False, delta)
    return _pointwise("huber_loss", _HUBER, input, target, reduction, delta)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target`` (same
    shape): ``ℓ = −w·(y·log x + (1 − y)·log(1 − x))`` with each log clamped to ≥ −100 (as
    PyTorch); ``weight`` broadcasts to the input. An input outside [0, 1] is a ValueError.

    Example: ``F.binary_cross_entropy(fastdl.rand(4), fastdl.tensor([0., 1., 1., 0.]))``
    """
    reduction = _legacy(size_average, reduce, reduction)
    return _pointwise("binary_cross_entropy", _BCE, input, target, reduction, weight=weight,
                      same_shape=True)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable step, for logits ``x``:
    ``ℓ = w·((1 − y)·x + (1 + (pw − 1)·y)·softplus(−x))`` with
    ``softplus(−x) = log1p(exp(−|x|)) + max(−x, 0)`` — finite for any finite logit.
    ``weight`` and ``pos_weight`` broadcast to the input (pos_weight typically of shape (C,)).

    Example: ``F.binary_cross_entropy_with_logits(fastdl.randn(4, 3), fastdl.rand(4, 3))``
    """
    reduction = _legacy(size_average, reduce, reduction)
    return _pointwise("binary_cross_entropy_with_logits", _BCE_LOGITS, input, target, reduction,
                      weight=weight, pos_weight=pos_weight, same_shape=True)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """Kullback-Leibler divergence with ``input`` = log-probabilities:
    ``ℓ = y·(log y − x)`` (0 where y = 0), or with ``log_target=True`` ``ℓ = exp(y)·(y − x)``.
    ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence);
    ``'mean'`` divides by the number of elements (as PyTorch, without its warning).

    Example: ``F.kl_div(F.log_softmax(fastdl.randn(2, 5), 1), fastdl.full((2, 5), 0.2), reduction='batchmean')``
    """
    reduction = _legacy(size_average, reduce, reduction)
    return _pointwise("kl_div", _KL_LOG if log_target else _KL, input, target, reduction,
                      extra=("batchmean",))


# ---- create_graph=True: the loss derivatives as recorded ops ---------------------------------
def _scale_graph(g, red, denom):
    """The incoming gradient as a Tensor broadcastable over (N, C, ...) / the input."""
    if red == 0:
        return g
    return g / float(denom) if red == 1 else g


def _class_weights(x, target, weight, ignore_index, eps):
    """Constants of the class-index losses on x (N, C, ...): ``b = (1 − eps)·w[t]·onehot(t)
    + eps/C·w`` on non-ignored positions (N, C, ...) and ``A = Σ_c b`` (N, 1, ...), so that
    d cross_entropy / dx = A·softmax(x) − b per sample (before the reduction's scale)."""
    c = x.shape[1]
    t = np.asarray(target)
    valid = t != ignore_index
    tc = np.where(valid, t, 0)
    w = np.ones(c, x.dtype) if weight is None else np.asarray(weight, x.dtype)
    wt = (w[tc] * valid).astype(x.dtype)
    oh = np.moveaxis(np.eye(c, dtype=x.dtype)[tc], -1, 1)
    b = (1.0 - eps) * np.expand_dims(wt, 1) * oh
    if eps:
        b = b + (eps / c) * np.expand_dims(valid, 1) * w.reshape((1, c) + (1,) * (x.ndim - 2))
    return b.astype(x.dtype), b.sum(1, keepdims=True).astype(x.dtype)


def _ce_backward_graph(x, g, target, weight, ignore_index, eps, red, denom):
    from .activation import softmax
    b, a = _class_weights(x._array, target, weight, ignore_index, eps)
    gs = g.unsqueeze(1) if red == 0 else _scale_graph(g, red, denom)
    return gs * (softmax(x, 1) * Tensor._make(a) - Tensor._make(b))


def _pointwise_backward_graph(x, y, w, pw, kind, param, red, g, n):
    """d loss/d input and d loss/d target of the pointwise losses, from recorded ops (the
    formulas of ``csrc/kernels/loss/`` and ``_target_grad``)."""
    from ... import where
    gs = _scale_graph(g, red, x._array.size)
    xa, ya = x._array, y._array
    d = x - y
    da = xa - ya
    gx = gy = None
    if kind == _MSE:
        gx = 2 * d
    elif kind == _L1:
        gx = Tensor._make(np.sign(da))
    elif kind in (_SMOOTH_L1, _HUBER):
        small = np.abs(da) < param
        lin = Tensor._make(np.sign(da) * (param if kind == _HUBER else 1.0))
        inner = d if kind == _HUBER else d / param if param else d * 0
        gx = where(Tensor._make(small), inner, lin)
    elif kind == _BCE:
        den = (x * (1 - x)).clamp(min=1e-12)
        gx = d / den
        if n[1]:
            gy = (1 - x).log().clamp(min=-100) - x.log().clamp(min=-100)
    elif kind == _BCE_LOGITS:
        sig_neg = (-x).sigmoid()
        if pw is None:
            gx = (1 - y) - sig_neg
        else:
            pwt = pw if isinstance(pw, Tensor) else Tensor._make(pw)
            gx = (1 - y) - (1 + (pwt - 1) * y) * sig_neg
        if n[1]:
            from .activation import softplus
            gy = -x if pw is None else (pwt - 1) * softplus(-x) - x
    elif kind == _KL:
        pos = Tensor._make(ya > 0)
        gx = -y
        if n[1]:
            gy = where(pos, where(pos, y, 1.0).log() + 1 - x, 0.0)
    else:  # _KL_LOG
        gx = -y.exp()
        if n[1]:
            gy = y.exp() * (y - x + 1)
    if w is not None:
        wt = w if isinstance(w, Tensor) else Tensor._make(w)
        gx = gx * wt
        if gy is not None:
            gy = gy * wt
    gx = gs * gx
    if n[1]:
        gy = -gx if kind <= _HUBER else gs * gy
    return (gx if n[0] else None), gy, None, None, None, None, None
