"""``fastdl.nn.init``: fill parameters in place the way PyTorch initialises them.

Every draw comes from fastdl's seeded generator (``fastdl.manual_seed``). Functions take a
Tensor (or Parameter), modify it in place without recording a graph, and return it.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import no_grad
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "trunc_normal_", "_calculate_fan_in_and_fan_out"]


def _check(t, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(t).__name__}")
    if t._array.dtype.kind != "f":
        raise TypeError(f"{what}: only floating tensors can be initialised, got {t.dtype}")


def _write(t, values):
    with no_grad():
        np.copyto(t._array, values, casting="unsafe")
        t._vc[0] += 1
    return t


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (PyTorch's table): linear/conv/sigmoid 1,
    tanh 5/3, relu √2, leaky_relu √(2/(1+slope²)) (slope default 0.01), selu 3/4.

    Example: ``nn.init.calculate_gain('relu')  # 1.4142...``
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(t):
    """(fan_in, fan_out) of a weight: dims 1 and 0 times the receptive field (dims 2...).
    Example: a Conv2d weight (16, 6, 5, 5) has fan_in 150 and fan_out 400."""
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (shape {tuple(shape)})")
    rf = 1
    for s in shape[2:]:
        rf *= s
    return shape[1] * rf, shape[0] * rf


def _fan(t, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _calculate_fan_in_and_fan_out(t)
    return fi if mode == "fan_in" else fo


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b). Example: ``nn.init.uniform_(w, -0.1, 0.1)``"""
    _check(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_: a ({a}) must be <= b ({b})")
    return _write(tensor, default_generator().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std²). Example: ``nn.init.normal_(w, 0, 0.02)``"""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _write(tensor, default_generator().normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill with N(mean, std²) truncated to [a, b] (rejection sampling)."""
    _check(tensor, "trunc_normal_")
    g = default_generator()
    out = g.normal(mean, std, tensor.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _write(tensor, out)


def constant_(tensor, val):
    """Fill with ``val``. Example: ``nn.init.constant_(b, 0.1)``"""
    _check(tensor, "constant_")
    return _write(tensor, val)


def zeros_(tensor):
    """Fill with 0. Example: ``nn.init.zeros_(b)``"""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with 1. Example: ``nn.init.ones_(gamma)``"""
    return constant_(tensor, 1.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity. Example: ``nn.init.eye_(w)``"""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _write(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot uniform: U(−a, a), a = gain·√(6 / (fan_in + fan_out)).
    Example: ``nn.init.xavier_uniform_(w)``"""
    _check(tensor, "xavier_uniform_")
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fi + fo)) if fi + fo else 0.0
    return _write(tensor, default_generator().uniform(-a, a, tensor.shape))


def xavier_normal_(tensor, gain=1.0):
    """Glorot normal: N(0, std²), std = gain·√(2 / (fan_in + fan_out)).
    Example: ``nn.init.xavier_normal_(w)``"""
    _check(tensor, "xavier_normal_")
    fi, fo = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fi + fo)) if fi + fo else 0.0
    return _write(tensor, default_generator().normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(−b, b), b = gain·√(3 / fan), gain = calculate_gain(nonlinearity, a).
    ``nn.Linear`` and ``nn.Conv2d`` use a=√5. Example: ``nn.init.kaiming_uniform_(w, a=5**0.5)``"""
    _check(tensor, "kaiming_uniform_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # PyTorch warns and leaves a zero-element tensor alone
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return _write(tensor, default_generator().uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, std²), std = gain / √fan. Example: ``nn.init.kaiming_normal_(w)``"""
    _check(tensor, "kaiming_normal_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _write(tensor, default_generator().normal(0.0, std, tensor.shape))


def orthogonal_(tensor, gain=1.0):
    """Fill with a (semi-)orthogonal matrix (QR of a Gaussian, sign-corrected), scaled by
    ``gain``; dims after the first are flattened. Example: ``nn.init.orthogonal_(w)``"""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor._array.size // rows if rows else 0
    flat = default_generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape))
