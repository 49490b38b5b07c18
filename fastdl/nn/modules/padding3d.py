"""3-D padding layers (``F.pad`` of the last three dims): padding an int or a 6-tuple
(left, right, top, bottom, front, back)."""
from __future__ import annotations

from .padding import _ConstantPadNd, _PadNd, _ZeroPadNd

__all__ = ["ConstantPad3d", "ZeroPad3d", "ReflectionPad3d", "ReplicationPad3d",
           "CircularPad3d"]


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``.
    Example: ``nn.ConstantPad3d(1, 2.0)(fastdl.randn(1, 1, 2, 2, 2)).shape == (1, 1, 4, 4, 4)``"""

    _dims = 3


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dims with zeros.
    Example: ``nn.ZeroPad3d(1)(fastdl.randn(1, 1, 2, 2, 2)).shape == (1, 1, 4, 4, 4)``"""

    _dims = 3


class ReflectionPad3d(_PadNd):
    """Mirror-pad the last three dims.
    Example: ``nn.ReflectionPad3d(1)(fastdl.randn(1, 1, 3, 3, 3)).shape == (1, 1, 5, 5, 5)``"""

    _mode, _dims = "reflect", 3


class ReplicationPad3d(_PadNd):
    """Edge-pad the last three dims.
    Example: ``nn.ReplicationPad3d(1)(fastdl.randn(1, 1, 3, 3, 3)).shape == (1, 1, 5, 5, 5)``"""

    _mode, _dims = "replicate", 3


class CircularPad3d(_PadNd):
    """Wrap-pad the last three dims.
    Example: ``nn.CircularPad3d(1)(fastdl.randn(1, 1, 3, 3, 3)).shape == (1, 1, 5, 5, 5)``"""

    _mode, _dims = "circular", 3
