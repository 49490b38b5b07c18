"""NumPy references: activations, softmax, PReLU, Philox4x32-10 and dropout.

Plain float64 formulas (the way PyTorch writes them), used by tests and benchmarks.
``ACTIVATIONS[name] = (forward(x, *args), grad(x, g, *args))``, gradients with respect
to the input: one entry per row of ``fastdl.nn.functional.activation.ACT_TABLE``, under the
row's name and with the arguments ``F.<name>`` takes after ``input`` (and their defaults), so
``ACTIVATIONS[name][0](x, *args)`` is the reference of ``F.<name>(x, *args)``.
``"gelu_tanh"`` is ``gelu``'s ``approximate='tanh'`` kernel on its own.
"""
from __future__ import annotations

import math

import numpy as np

try:  # erf/erfc without a per-element Python call when SciPy is there
    from scipy.special import erf as _erf, erfc as _erfc
except Exception:  # pragma: no cover
    _erf = np.vectorize(math.erf, otypes=[np.float64])
    _erfc = np.vectorize(math.erfc, otypes=[np.float64])

__all__ = [
    "ACTIVATIONS", "relu_ref", "gelu_ref", "softmax_ref", "log_softmax_ref",
    "softmax_grad_ref", "log_softmax_grad_ref", "prelu_ref", "prelu_grad_ref",
    "philox4x32_10", "philox_words_ref", "dropout_mask_ref", "dropout_ref",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_K = math.sqrt(2.0 / math.pi)


def _f(x):
    return np.asarray(x, dtype=np.float64)


def _q(fn):
    """Run a formula with NumPy's floating-point warnings off (overflow to inf is intended)."""
    def wrapped(*a, **k):
        with np.errstate(all="ignore"):
            return fn(*a, **k)
    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu_ref(x):
    return np.maximum(_f(x), 0.0)


def gelu_ref(x):
    x = _f(x)
    return 0.5 * x * _erfc(-x / math.sqrt(2.0))


def _elu(alpha, scale, iscale):
    fwd = _q(lambda x: np.where(_f(x) > 0, scale * _f(x), scale * alpha * np.expm1(_f(x) * iscale)))
    grad = _q(lambda x, g: np.where(_f(x) > 0, g * scale,
                                    g * iscale * scale * alpha * np.exp(_f(x) * iscale)))
    return fwd, grad


def _gelu_tanh(x):
    x = _f(x)
    return 0.5 * x * (1.0 + np.tanh(_K * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad(x, g):
    x = _f(x)
    t = np.tanh(_K * (x + 0.044715 * x ** 3))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * 0.044715 * x * x))


def _gelu_grad(x, g):
    x = _f(x)
    return g * (0.5 * _erfc(-x / math.sqrt(2.0)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))


def _mish(x):
    x = _f(x)
    return x * np.tanh(np.log1p(np.exp(x)))


def _mish_grad(x, g):
    x = _f(x)
    t = np.tanh(np.log1p(np.exp(x)))
    return g * (t + x * (1 - t * t) * _sig(x))


def _softplus(x, beta=1.0, threshold=20.0):
    x = _f(x)
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _softplus_grad(x, g, beta=1.0, threshold=20.0):
    x = _f(x)
    return np.where(x * beta > threshold, g, g * _sig(beta * x))


def _hardswish_grad(x, g):
    x = _f(x)
    # torch's vectorised rule (0 at x <= -3, g at x >= 3); NaN stays NaN
    return np.where(x <= -3, 0.0, np.where(x >= 3, g, g * (x / 3 + 0.5)))


ACTIVATIONS = {
    "relu": (relu_ref, lambda x, g: np.where(_f(x) <= 0, 0.0, g)),  # NaN passes g, as torch
    "relu6": (lambda x: np.minimum(np.maximum(_f(x), 0.0), 6.0),
              lambda x, g: np.where((_f(x) > 0) & (_f(x) < 6), g, 0.0)),
    "leaky_relu": (lambda x, a=0.01: np.where(_f(x) > 0, _f(x), _f(x) * a),
                   lambda x, g, a=0.01: np.where(_f(x) > 0, g, g * a)),
    "hardtanh": (lambda x, lo=-1.0, hi=1.0: np.minimum(np.maximum(_f(x), lo), hi),
                 lambda x, g, lo=-1.0, hi=1.0: np.where((_f(x) > lo) & (_f(x) < hi), g, 0.0)),
    "elu": (lambda x, a=1.0: _elu(a, 1.0, 1.0)[0](x), lambda x, g, a=1.0: _elu(a, 1.0, 1.0)[1](x, g)),
    "selu": _elu(SELU_ALPHA, SELU_SCALE, 1.0),
    "celu": (lambda x, a=1.0: _elu(a, 1.0, 1.0 / a)[0](x),
             lambda x, g, a=1.0: _elu(a, 1.0, 1.0 / a)[1](x, g)),
    "gelu": (lambda x, approximate="none": (gelu_ref if approximate == "none" else _gelu_tanh)(x),
             lambda x, g, approximate="none":
             (_gelu_grad if approximate == "none" else _gelu_tanh_grad)(x, g)),
    "gelu_tanh": (_gelu_tanh, _gelu_tanh_grad),
    "silu": (lambda x: _f(x) / (1.0 + np.exp(-_f(x))),
             lambda x, g: g * _sig(_f(x)) * (1 + _f(x) * (1 - _sig(_f(x))))),
    "mish": (_mish, _mish_grad),
    "sigmoid": (lambda x: _sig(_f(x)), lambda x, g: g * _sig(_f(x)) * (1 - _sig(_f(x)))),
    "tanh": (lambda x: np.tanh(_f(x)), lambda x, g: g * (1 - np.tanh(_f(x)) ** 2)),
    "softplus": (_softplus, _softplus_grad),
    "softsign": (lambda x: _f(x) / (1 + np.abs(_f(x))), lambda x, g: g / (1 + np.abs(_f(x))) ** 2),
    "hardsigmoid": (lambda x: np.minimum(np.maximum(_f(x) + 3, 0.0), 6.0) / 6,
                    lambda x, g: np.where((_f(x) > -3) & (_f(x) < 3), g / 6, 0.0)),
    "hardswish": (lambda x: _f(x) * np.minimum(np.maximum(_f(x) + 3, 0.0), 6.0) / 6,
                  _hardswish_grad),
    "logsigmoid": (lambda x: -np.logaddexp(0.0, -_f(x)), lambda x, g: g * _sig(-_f(x))),
}
ACTIVATIONS = {k: (_q(f), _q(b)) for k, (f, b) in ACTIVATIONS.items()}


@_q
def softmax_ref(x, dim):
    x = _f(x)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


@_q
def log_softmax_ref(x, dim):
    x = _f(x)
    s = x - np.max(x, axis=dim, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=dim, keepdims=True))


def softmax_grad_ref(y, g, dim):
    y, g = _f(y), _f(g)
    return y * (g - np.sum(g * y, axis=dim, keepdims=True))


def log_softmax_grad_ref(y, g, dim):
    y, g = _f(y), _f(g)
    return g - np.exp(y) * np.sum(g, axis=dim, keepdims=True)


def _prelu_w(x, w):
    w = _f(w).reshape(-1)
    if w.size == 1 or x.ndim < 2:
        return w.reshape(())
    return w.reshape((1, -1) + (1,) * (x.ndim - 2))


def prelu_ref(x, w):
    x = _f(x)
    return np.where(x > 0, x, _prelu_w(x, w) * x)


def prelu_grad_ref(x, w, g):
    """(grad_input, grad_weight) of prelu."""
    x, g = _f(x), _f(g)
    gx = np.where(x > 0, g, _prelu_w(x, w) * g)
    contrib = np.where(x > 0, 0.0, x * g)
    w = np.asarray(w)
    if w.size == 1 or x.ndim < 2:
        gw = np.array([contrib.sum()]).reshape(w.shape)
    else:
        axes = (0,) + tuple(range(2, x.ndim))
        gw = contrib.sum(axis=axes).reshape(w.shape)
    return gx, gw


_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)


def philox4x32_10(ctr, key):
    """Philox4x32 with 10 rounds (Salmon et al., SC'11): ``ctr`` is 4 uint32 arrays (or
    ints), ``key`` 2 ints; returns the 4 output word arrays (uint32)."""
    c = [np.asarray(v, dtype=np.uint64) & _LO for v in ctr]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0 = c[0] * _M0
        p1 = c[2] * _M1
        n0 = (p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1)
        c = [n0, p1 & _LO, n2, p0 & _LO]
        k0 = (k0 + _W0) & 0xFFFFFFFF
        k1 = (k1 + _W1) & 0xFFFFFFFF
    return [v.astype(np.uint32) for v in c]


def philox_words_ref(seed, n):
    """Words 0..n-1 of fastdl's dropout stream: word k is output (k % 64) // 16 of
    Philox4x32-10 with key (seed lo, seed hi) and counter (c lo, c hi, 0, 0),
    c = (k // 64) * 16 + k % 16."""
    k = np.arange(n, dtype=np.uint64)
    c = (k // np.uint64(64)) * np.uint64(16) + k % np.uint64(16)
    words = philox4x32_10([c & _LO, c >> np.uint64(32), np.zeros_like(c), np.zeros_like(c)],
                          (seed & 0xFFFFFFFF, seed >> 32))
    w = ((k % np.uint64(64)) // np.uint64(16)).astype(np.int64)
    return np.choose(w, words).astype(np.uint32)


def dropout_mask_ref(seed, n, p):
    """Keep mask (bool) of n words: the word's top 24 bits below round((1 - p) 2^24)."""
    th = int(min(max((1.0 - p) * 16777216.0 + 0.5, 0.0), 16777216.0))
    return (philox_words_ref(seed, n) >> np.uint32(8)) < th


def dropout_ref(x, p, seed, group=1):
    """x * keep / (1 - p), one keep bit per ``group`` consecutive elements."""
    x = _f(x)
    keep = dropout_mask_ref(seed, x.size // group, p)
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return (x.reshape(-1, group) * (keep[:, None] * scale)).reshape(x.shape)
