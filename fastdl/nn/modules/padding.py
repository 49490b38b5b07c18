"""Padding and resizing layers (``F.pad``/``F.interpolate`` as modules, PyTorch's names) and
``CosineSimilarity``."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d", "CosineSimilarity", "Upsample", "UpsamplingNearest2d",
           "UpsamplingBilinear2d"]


class _PadNd(Module):
    """``F.pad`` of the last ``_dims`` dimensions in ``_mode``; padding an int or a
    2·_dims-tuple (left, right, top, bottom)."""

    _mode = "reflect"
    _dims = 2

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self._dims)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 * self._dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a "
                             f"{2 * self._dims}-tuple, got {padding}")
        self.padding = padding

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = float(value)

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"{self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: padding (left, right) or an int.

    Example: ``fastdl.nn.ConstantPad1d(2, 3.5)(fastdl.randn(1, 2, 3)).shape == (1, 2, 7)``
    """

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: padding (left, right, top, bottom) or an int.

    Example: ``fastdl.nn.ConstantPad2d((1, 1, 2, 0), 0.5)(fastdl.randn(1, 2, 3, 3)).shape ==
    (1, 2, 5, 5)``
    """

    _dims = 2


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros.

    Example: ``fastdl.nn.ZeroPad1d(2)(fastdl.randn(1, 2, 3)).shape == (1, 2, 7)``
    """

    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dims with zeros.

    Example: ``fastdl.nn.ZeroPad2d(1)(fastdl.randn(1, 2, 3, 3)).shape == (1, 2, 5, 5)``
    """

    _dims = 2


class ReflectionPad1d(_PadNd):
    """Mirror-pad the last dim (the edge is not repeated).

    Example: ``fastdl.nn.ReflectionPad1d(1)(fastdl.randn(1, 2, 3)).shape == (1, 2, 5)``
    """

    _mode, _dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror-pad the last two dims (the edge is not repeated).

    Example: ``fastdl.nn.ReflectionPad2d(1)(fastdl.randn(1, 2, 3, 3)).shape == (1, 2, 5, 5)``
    """

    _mode, _dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    """Pad the last dim by repeating its edge values.

    Example: ``fastdl.nn.ReplicationPad1d(2)(fastdl.randn(1, 2, 3)).shape == (1, 2, 7)``
    """

    _mode, _dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pad the last two dims by repeating their edge values.

    Example: ``fastdl.nn.ReplicationPad2d(1)(fastdl.randn(1, 2, 3, 3)).shape == (1, 2, 5, 5)``
    """

    _mode, _dims = "replicate", 2


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around.

    Example: ``fastdl.nn.CircularPad1d(1)(fastdl.randn(1, 2, 3)).shape == (1, 2, 5)``
    """

    _mode, _dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pad the last two dims by wrapping around.

    Example: ``fastdl.nn.CircularPad2d(1)(fastdl.randn(1, 2, 3, 3)).shape == (1, 2, 5, 5)``
    """

    _mode, _dims = "circular", 2


class CosineSimilarity(Module):
    """``F.cosine_similarity(x1, x2, dim, eps)`` as a layer.

    Example: ``fastdl.nn.CosineSimilarity(dim=1)(a, b)``
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self):
        return f"dim={self.dim}, eps={self.eps}"


class Upsample(Module):
    """``F.interpolate(x, size, scale_factor, mode, align_corners)`` as a layer.

    Example: ``fastdl.nn.Upsample(scale_factor=2, mode='bilinear')(fastdl.randn(1, 3, 4, 4))``
    gives shape (1, 3, 8, 8).
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-D upsampling (``Upsample(mode='nearest')``).

    Example: ``fastdl.nn.UpsamplingNearest2d(scale_factor=2)(fastdl.randn(1, 1, 2, 2))``
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-D upsampling with ``align_corners=True`` (as PyTorch's layer).

    Example: ``fastdl.nn.UpsamplingBilinear2d(size=(5, 5))(fastdl.randn(1, 1, 2, 2))``
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", True)
