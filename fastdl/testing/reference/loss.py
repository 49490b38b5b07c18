"""NumPy references: losses (forward and gradient with respect to the input), in float64.

Plain formulas, as PyTorch documents them; the kernels in csrc/kernels/loss/ are held to
these by tests/test_loss.py and timed against them by bench/bench_loss.py.
"""
import numpy as np

__all__ = ["cross_entropy_ref", "cross_entropy_backward_ref", "nll_loss_ref", "nll_loss_backward_ref",
           "mse_loss_ref", "mse_loss_backward_ref", "l1_loss_ref", "l1_loss_backward_ref",
           "smooth_l1_loss_ref", "smooth_l1_loss_backward_ref", "huber_loss_ref", "huber_loss_backward_ref",
           "binary_cross_entropy_ref", "binary_cross_entropy_backward_ref",
           "binary_cross_entropy_with_logits_ref", "binary_cross_entropy_with_logits_backward_ref",
           "kl_div_ref", "kl_div_backward_ref"]


def _log_softmax(x):
    """log_softmax over axis 1 (classes), max-shifted."""
    m = np.max(x, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        z = x - m
        return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def _wshape(w, x):
    return w.reshape((1, -1) + (1,) * (x.ndim - 2))


def _reduce(per, reduction, denom=None):
    if reduction == "none":
        return per
    s = per.sum()
    if reduction == "sum":
        return s
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / (per.size if denom is None else denom)


def _onehot(t, C, ignore_index):
    """(N, C, ...) one-hot of class indices; ignored positions all zero."""
    valid = t != ignore_index
    tt = np.where(valid, t, 0)
    oh = (np.arange(C).reshape((1, C) + (1,) * (t.ndim - 1)) == tt[:, None]).astype(np.float64)
    return oh * valid[:, None], valid


def cross_entropy_ref(x, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """PyTorch's cross_entropy for input (N, C, ...) and class-index targets (N, ...) or
    class-probability targets (N, C, ...)."""
    x = np.asarray(x, np.float64)
    C = x.shape[1]
    eps = label_smoothing
    logp = _log_softmax(x)
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    ws = _wshape(w, x)
    target = np.asarray(target)
    if target.dtype.kind == "f":
        p = (1 - eps) * target.astype(np.float64) + eps / C
        per = -(p * ws * logp).sum(axis=1)
        return _reduce(per, reduction, per.size)
    oh, valid = _onehot(target, C, ignore_index)
    nll = -(oh * ws * logp).sum(axis=1)
    smooth = -(ws * logp).sum(axis=1) * valid
    per = (1 - eps) * nll + eps / C * smooth
    denom = (oh * ws).sum()
    return _reduce(per, reduction, denom)


def cross_entropy_backward_ref(x, target, grad, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    """d(cross_entropy)/dx times ``grad`` (per sample for 'none', a scalar otherwise)."""
    x = np.asarray(x, np.float64)
    C = x.shape[1]
    eps = label_smoothing
    sm = np.exp(_log_softmax(x))
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    ws = _wshape(w, x)
    target = np.asarray(target)
    if target.dtype.kind == "f":
        p = ((1 - eps) * target.astype(np.float64) + eps / C) * ws
        d = sm * p.sum(axis=1, keepdims=True) - p
        denom = x.size // C
    else:
        oh, valid = _onehot(target, C, ignore_index)
        # per-sample target distribution q = (1−eps)·w[t]·onehot + eps/C·w, zero if ignored
        q = ((1 - eps) * oh * ws + eps / C * ws * valid[:, None])
        d = sm * q.sum(axis=1, keepdims=True) - q
        denom = (oh * ws).sum()
    g = np.asarray(grad, np.float64)
    if reduction == "none":
        return d * g[:, None]
    return d * (float(g) / (denom if reduction == "mean" else 1.0))


def nll_loss_ref(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """PyTorch's nll_loss on log-probabilities x (N, C, ...)."""
    x = np.asarray(x, np.float64)
    C = x.shape[1]
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    oh, _ = _onehot(np.asarray(target), C, ignore_index)
    per = -(oh * _wshape(w, x) * x).sum(axis=1)
    return _reduce(per, reduction, (oh * _wshape(w, x)).sum())


def nll_loss_backward_ref(x, target, grad, weight=None, ignore_index=-100, reduction="mean"):
    x = np.asarray(x, np.float64)
    C = x.shape[1]
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    oh, _ = _onehot(np.asarray(target), C, ignore_index)
    d = -oh * _wshape(w, x)
    g = np.asarray(grad, np.float64)
    if reduction == "none":
        return d * g[:, None]
    return d * (float(g) / (oh * _wshape(w, x)).sum() if reduction == "mean" else float(g))


def _pw_grad(d, grad, reduction):
    g = np.asarray(grad, np.float64)
    if reduction == "none":
        return d * g
    return d * (float(g) / (d.size if reduction == "mean" else 1.0))


def mse_loss_ref(x, y, reduction="mean"):
    return _reduce((np.asarray(x, np.float64) - y) ** 2, reduction)


def mse_loss_backward_ref(x, y, grad, reduction="mean"):
    return _pw_grad(2 * (np.asarray(x, np.float64) - y), grad, reduction)


def l1_loss_ref(x, y, reduction="mean"):
    return _reduce(np.abs(np.asarray(x, np.float64) - y), reduction)


def l1_loss_backward_ref(x, y, grad, reduction="mean"):
    return _pw_grad(np.sign(np.asarray(x, np.float64) - y), grad, reduction)


def smooth_l1_loss_ref(x, y, reduction="mean", beta=1.0):
    d = np.abs(np.asarray(x, np.float64) - y)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(d < beta, 0.5 * d * d / (beta if beta else 1.0), d - 0.5 * beta)
    return _reduce(per, reduction)


def smooth_l1_loss_backward_ref(x, y, grad, reduction="mean", beta=1.0):
    d = np.asarray(x, np.float64) - y
    inner = d / beta if beta else np.sign(d)
    return _pw_grad(np.where(np.abs(d) < beta, inner, np.sign(d)), grad, reduction)


def huber_loss_ref(x, y, reduction="mean", delta=1.0):
    d = np.abs(np.asarray(x, np.float64) - y)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def huber_loss_backward_ref(x, y, grad, reduction="mean", delta=1.0):
    d = np.asarray(x, np.float64) - y
    return _pw_grad(np.clip(d, -delta, delta), grad, reduction)


def binary_cross_entropy_ref(x, y, weight=None, reduction="mean"):
    x = np.asarray(x, np.float64)
    with np.errstate(divide="ignore"):
        per = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))
    if weight is not None:
        per = per * weight
    return _reduce(per, reduction)


def binary_cross_entropy_backward_ref(x, y, grad, weight=None, reduction="mean"):
    x = np.asarray(x, np.float64)
    d = (x - y) / np.maximum((1 - x) * x, 1e-12)
    if weight is not None:
        d = d * weight
    return _pw_grad(d, grad, reduction)


def binary_cross_entropy_with_logits_ref(x, y, weight=None, reduction="mean", pos_weight=None):
    x = np.asarray(x, np.float64)
    sp = np.logaddexp(0.0, -x)  # softplus(−x) = −log σ(x)
    lw = 1.0 if pos_weight is None else 1 + (np.asarray(pos_weight, np.float64) - 1) * y
    per = (1 - y) * x + lw * sp
    if weight is not None:
        per = per * weight
    return _reduce(per, reduction)


def binary_cross_entropy_with_logits_backward_ref(x, y, grad, weight=None, reduction="mean",
                                              pos_weight=None):
    x = np.asarray(x, np.float64)
    sig = np.exp(-np.logaddexp(0.0, -x))
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, np.float64)
    d = sig * (1 + (pw - 1) * y) - pw * y
    if weight is not None:
        d = d * weight
    return _pw_grad(d, grad, reduction)


def kl_div_ref(x, y, reduction="mean", log_target=False):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if log_target:
        per = np.exp(y) * (y - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0) - y * x
    if reduction == "batchmean":
        return per.sum() / x.shape[0]
    return _reduce(per, reduction)


def kl_div_backward_ref(x, y, grad, reduction="mean", log_target=False):
    y = np.asarray(y, np.float64)
    d = -np.exp(y) if log_target else -y
    if reduction == "batchmean":
        return d * float(grad) / np.shape(x)[0]
    return _pw_grad(d, grad, reduction)
