"""Activation layers (``nn.ReLU`` ...): thin wrappers over ``fastdl.nn.functional``, with
PyTorch's names, arguments and defaults."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, Parameter

__all__ = [
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Softplus", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish",
    "LogSigmoid", "Softmax", "LogSoftmax", "Softmin", "Hardshrink", "Softshrink", "Tanhshrink",
    "Threshold", "Softmax2d",
]


class _Inplace(Module):
    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class _Plain(Module):
    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class ReLU(_Inplace):
    """max(x, 0). Example: ``nn.ReLU()(x)``"""
    _fn = staticmethod(F.relu)


class ReLU6(_Inplace):
    """min(max(x, 0), 6). Example: ``nn.ReLU6()(x)``"""
    _fn = staticmethod(F.relu6)


class SELU(_Inplace):
    """scale * elu(x, alpha) with the self-normalising constants. Example: ``nn.SELU()(x)``"""
    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    """x * sigmoid(x). Example: ``nn.SiLU()(x)``"""
    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """x * tanh(softplus(x)). Example: ``nn.Mish()(x)``"""
    _fn = staticmethod(F.mish)


class Hardsigmoid(_Inplace):
    """min(max(x + 3, 0), 6) / 6. Example: ``nn.Hardsigmoid()(x)``"""
    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_Inplace):
    """x * min(max(x + 3, 0), 6) / 6. Example: ``nn.Hardswish()(x)``"""
    _fn = staticmethod(F.hardswish)


class Sigmoid(_Plain):
    """1 / (1 + exp(-x)). Example: ``nn.Sigmoid()(x)``"""
    _fn = staticmethod(F.sigmoid)


class Tanh(_Plain):
    """tanh(x). Example: ``nn.Tanh()(x)``"""
    _fn = staticmethod(F.tanh)


class Softsign(_Plain):
    """x / (1 + |x|). Example: ``nn.Softsign()(x)``"""
    _fn = staticmethod(F.softsign)


class LogSigmoid(_Plain):
    """log(sigmoid(x)). Example: ``nn.LogSigmoid()(x)``"""
    _fn = staticmethod(F.logsigmoid)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x. Example: ``nn.LeakyReLU(0.2)(x)``"""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1). Example: ``nn.ELU(alpha=1.0)(x)``"""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)). Example: ``nn.CELU(2.0)(x)``"""

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class GELU(Module):
    """x * Phi(x), or the tanh approximation with ``approximate='tanh'``.
    Example: ``nn.GELU()(x)``"""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta (x where beta x > threshold).
    Example: ``nn.Softplus(beta=2.0)(x)``"""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """min(max(x, min_val), max_val). Example: ``nn.Hardtanh(-2.0, 2.0)(x)``"""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val "
                             f"({max_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + \
            (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x if x > 0 else a[c] * x with a learnable ``weight`` of ``num_parameters`` elements
    (1, or the number of channels, dim 1), initialised to ``init``.

    Example: ``nn.PReLU(16)(fastdl.randn(8, 16, 5, 5))``
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = int(num_parameters)
        if self.num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.init = init
        dt = np.float32 if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.full((self.num_parameters,), init, dtype=dt))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    """softmax along ``dim``. Example: ``nn.Softmax(dim=1)(x)``"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along ``dim``. Example: ``nn.LogSoftmax(dim=1)(x)``"""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmin(Softmax):
    """softmin (softmax of −x) along ``dim``. Example: ``nn.Softmin(dim=1)(x)``"""

    def forward(self, input):
        return F.softmin(input, self.dim)


class Hardshrink(Module):
    """x where |x| > lambd, else 0. Example: ``nn.Hardshrink(0.5)(x)``"""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x ∓ lambd outside [−lambd, lambd], else 0. Example: ``nn.Softshrink(0.5)(x)``"""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Tanhshrink(_Plain):
    """x − tanh(x). Example: ``nn.Tanhshrink()(x)``"""
    _fn = staticmethod(F.tanhshrink)


class Threshold(Module):
    """x where x > threshold, else value. Example: ``nn.Threshold(0.1, 20.0)(x)``"""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + \
            (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """softmax over the channels of an (N, C, H, W) or (C, H, W) input (dim −3).

    Example: ``nn.Softmax2d()(fastdl.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)``
    """

    def forward(self, input):
        x = input if hasattr(input, "ndim") else np.asarray(input)
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape "
                             f"{tuple(x.shape)}")
        return F.softmax(input, -3)
