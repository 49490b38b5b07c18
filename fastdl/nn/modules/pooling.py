"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``
(and 1-D ``MaxPool1d``, ``AvgPool1d``), with PyTorch's arguments and defaults."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxPool1d",
           "AvgPool1d"]


class _MaxPoolNd(Module):
    """Shared arguments of MaxPool1d/2d (``stride`` defaults to ``kernel_size``)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling: ``F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
    return_indices)``; ``stride`` defaults to ``kernel_size``.

    Example: ``fastdl.nn.MaxPool2d(2)(fastdl.randn(1, 3, 8, 8)).shape == (1, 3, 4, 4)``
    """

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """2-D average pooling: ``F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode,
    count_include_pad, divisor_override)``; ``stride`` defaults to ``kernel_size``.

    Example: ``fastdl.nn.AvgPool2d(3, 2, 1, ceil_mode=True)(fastdl.randn(1, 2, 7, 7))``
    has shape (1, 2, 4, 4).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Adaptive 2-D average pooling to ``output_size`` (int, pair, None entries keep the
    input's size): ``F.adaptive_avg_pool2d``.

    Example: ``fastdl.nn.AdaptiveAvgPool2d(1)(fastdl.randn(2, 8, 7, 7)).shape == (2, 8, 1, 1)``
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Adaptive 2-D max pooling to ``output_size``: ``F.adaptive_max_pool2d``.

    Example: ``fastdl.nn.AdaptiveMaxPool2d((2, 2))(fastdl.randn(1, 3, 5, 5)).shape ==
    (1, 3, 2, 2)``
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling: ``F.max_pool1d``. Example: ``fastdl.nn.MaxPool1d(2)(x)``"""

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool1d(Module):
    """1-D average pooling: ``F.avg_pool1d``. Example: ``fastdl.nn.AvgPool1d(3)(x)``"""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)
