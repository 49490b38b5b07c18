"""Dropout layers: ``nn.Dropout``, ``nn.Dropout2d`` (active in training mode only)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        p = float(p)
        if not (0.0 <= p <= 1.0):
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training mode and scale the rest by
    1 / (1 - p); the identity in eval mode. See ``F.dropout``.

    Example: ``nn.Dropout(0.2)(x)``
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of an (N, C, L) or (C, L) input with probability ``p`` in training
    mode. See ``F.dropout1d``.

    Example: ``nn.Dropout1d(0.2)(fastdl.randn(8, 16, 30))``
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of an (N, C, H, W) input with probability ``p`` in training mode.
    See ``F.dropout2d``.

    Example: ``nn.Dropout2d(0.1)(fastdl.randn(8, 16, 5, 5))``
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
