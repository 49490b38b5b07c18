"""NumPy references: batch, layer and group normalisation, forward and backward, in float64.

Held against csrc/kernels/norm/ by tests/test_norm.py and timed by bench/bench_norm.py.
"""
import numpy as np

__all__ = ["batch_norm_ref", "batch_norm_backward_ref", "layer_norm_nd_ref", "layer_norm_backward_ref",
           "group_norm_ref", "group_norm_backward_ref"]


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _cshape(v, x):
    return np.asarray(v, np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm_ref(x, running_mean=None, running_var=None, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Returns (y, new_running_mean, new_running_var) — the running statistics updated as
    PyTorch does in training (momentum, unbiased variance), unchanged otherwise."""
    x = np.asarray(x, np.float64)
    C = x.shape[1]
    rm = None if running_mean is None else np.array(running_mean, np.float64)
    rv = None if running_var is None else np.array(running_var, np.float64)
    if training:
        mean = x.mean(axis=_axes(x))
        var = x.var(axis=_axes(x))
        n = x.size // C
        if rm is not None:
            rm = (1 - momentum) * rm + momentum * mean
        if rv is not None:
            rv = (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        mean, var = rm, rv
    y = (x - _cshape(mean, x)) / np.sqrt(_cshape(var, x) + eps)
    if weight is not None:
        y = y * _cshape(weight, x)
    if bias is not None:
        y = y + _cshape(bias, x)
    return y, rm, rv


def batch_norm_backward_ref(g, x, weight=None, training=True, running_mean=None, running_var=None,
                        eps=1e-5):
    """(grad_input, grad_weight, grad_bias) of batch_norm."""
    x = np.asarray(x, np.float64)
    g = np.asarray(g, np.float64)
    C = x.shape[1]
    ax = _axes(x)
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    if training:
        mean, var = x.mean(axis=ax), x.var(axis=ax)
    else:
        mean, var = np.asarray(running_mean, np.float64), np.asarray(running_var, np.float64)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x - _cshape(mean, x)) * _cshape(invstd, x)
    gb = g.sum(axis=ax)
    gw = (g * xhat).sum(axis=ax)
    if training:
        m = x.size // C
        gx = _cshape(w * invstd, x) * (g - _cshape(gb / m, x) - xhat * _cshape(gw / m, x))
    else:
        gx = g * _cshape(w * invstd, x)
    return gx, gw, gb


def layer_norm_nd_ref(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    ax = tuple(range(x.ndim - len(tuple(normalized_shape)), x.ndim))
    mean = x.mean(axis=ax, keepdims=True)
    var = x.var(axis=ax, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def layer_norm_backward_ref(g, x, normalized_shape, weight=None, eps=1e-5):
    """(grad_input, grad_weight, grad_bias) of layer_norm."""
    x = np.asarray(x, np.float64)
    g = np.asarray(g, np.float64)
    k = len(tuple(normalized_shape))
    ax = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    mean = x.mean(axis=ax, keepdims=True)
    rstd = 1 / np.sqrt(x.var(axis=ax, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    gw_e = g * (1.0 if weight is None else np.asarray(weight, np.float64))
    gx = rstd * (gw_e - gw_e.mean(axis=ax, keepdims=True)
                 - xhat * (gw_e * xhat).mean(axis=ax, keepdims=True))
    return gx, (g * xhat).sum(axis=lead), g.sum(axis=lead)


def group_norm_ref(x, num_groups, weight=None, bias=None, eps=1e-5):
    x = np.asarray(x, np.float64)
    N, C = x.shape[:2]
    xg = x.reshape(N, num_groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    y = ((xg - mean) / np.sqrt(var + eps)).reshape(x.shape)
    if weight is not None:
        y = y * _cshape(weight, x)
    if bias is not None:
        y = y + _cshape(bias, x)
    return y


def group_norm_backward_ref(g, x, num_groups, weight=None, eps=1e-5):
    """(grad_input, grad_weight, grad_bias) of group_norm."""
    x = np.asarray(x, np.float64)
    g = np.asarray(g, np.float64)
    N, C = x.shape[:2]
    xg = x.reshape(N, num_groups, -1)
    mean = xg.mean(axis=2, keepdims=True)
    rstd = 1 / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    xhat = ((xg - mean) * rstd).reshape(x.shape)
    gw_e = g * (1.0 if weight is None else _cshape(weight, x))
    a = gw_e.reshape(N, num_groups, -1)
    b = (gw_e * xhat).reshape(N, num_groups, -1)
    xh = xhat.reshape(N, num_groups, -1)
    gx = rstd * (a - a.mean(axis=2, keepdims=True) - xh * b.mean(axis=2, keepdims=True))
    ax = _axes(x)
    return gx.reshape(x.shape), (g * xhat).sum(axis=ax), g.sum(axis=ax)
