"""Linear layers: ``Identity``, ``Linear``, ``Bilinear`` (PyTorch's names, shapes, init)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import init
from ...tensor import _canon_dtype
from .module import Module, Parameter

__all__ = ["Identity", "Linear", "Bilinear"]


def _factory_dtype(dtype, device, what):
    """The parameter dtype for ``dtype=`` (float32 by default); ``device`` must be CPU."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"{what}: only device='cpu' is supported, got {device!r}")
    dt = _canon_dtype(dtype, what) if dtype is not None else np.dtype(np.float32)
    if dt.kind != "f":
        raise TypeError(f"{what}: parameters must be float32 or float64, got {dt}")
    return dt


def _param(shape, dt):
    return Parameter(np.zeros(shape, dt))


def _set_bias(module, bias, n, dt):
    """``module.bias``: a Parameter of ``n`` zeros when ``bias``, else registered as None (so
    that the state dict and ``named_parameters`` have no entry, as torch)."""
    if bias:
        module.bias = _param((n,), dt)
    else:
        module.register_parameter("bias", None)


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored.

    Example: ``nn.Identity(54, unused='x')(x) is x``
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Linear(Module):
    """``y = x Wᵀ + b`` over the last dimension.

    ``weight`` (out_features, in_features) ~ U(−1/√in, 1/√in) (kaiming_uniform with a=√5, as
    PyTorch), ``bias`` (out_features,) ~ U(−1/√in, 1/√in). Input (..., in) → (..., out).

    Example: ``nn.Linear(20, 30)(fastdl.randn(128, 20)).shape == (128, 30)``
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: in_features ({in_features}) and out_features "
                             f"({out_features}) must be >= 0")
        dt = _factory_dtype(dtype, device, "Linear")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = _param((out_features, in_features), dt)
        _set_bias(self, bias, out_features, dt)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):  # noqa: A002
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y[..., o] = x1 W[o] x2ᵀ + b[o]``: ``weight`` (out, in1, in2), ``bias`` (out,), both
    ~ U(−1/√in1, 1/√in1) as in PyTorch. Inputs (..., in1) and (..., in2) → (..., out).

    Example: ``nn.Bilinear(20, 30, 40)(fastdl.randn(128, 20), fastdl.randn(128, 30))``
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        dt = _factory_dtype(dtype, device, "Bilinear")
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        self.weight = _param((out_features, in1_features, in2_features), dt)
        _set_bias(self, bias, out_features, dt)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
