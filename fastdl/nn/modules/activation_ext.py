"""Activation layers ``GLU`` and ``RReLU`` (PyTorch's names and defaults)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["GLU", "RReLU"]


class GLU(Module):
    """Gated linear unit ``a · sigmoid(b)`` of the two halves of the input along ``dim``
    (``F.glu``). Example: ``nn.GLU()(fastdl.randn(4, 6)).shape == (4, 3)``"""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class RReLU(Module):
    """Randomized leaky ReLU (``F.rrelu``): negative inputs scaled by a slope drawn from
    U(lower, upper) per element in training, by (lower + upper) / 2 in eval.

    Example: ``nn.RReLU(0.1, 0.3)(fastdl.randn(2, 5))``"""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):  # noqa: A002
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                            else "")
