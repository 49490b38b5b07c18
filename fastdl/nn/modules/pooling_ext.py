"""Pooling layers on top of ``fastdl.nn.functional.pooling_ext``: 1-D and 3-D adaptive
pools, ``MaxPool3d``, ``AvgPool3d``, ``LPPool1d/2d/3d``, ``MaxUnpool1d/2d/3d`` and
``FractionalMaxPool2d/3d`` (PyTorch's arguments and defaults)."""
from __future__ import annotations

from .. import functional as F
from .module import Module
from .pooling import _MaxPoolNd

__all__ = ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d",
           "MaxPool3d", "AvgPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d",
           "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


class _Adaptive(Module):
    _fn = None

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """``F.adaptive_avg_pool1d``. Example: ``nn.AdaptiveAvgPool1d(4)(fastdl.randn(2, 3, 9))``"""

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool1d(_Adaptive):
    """``F.adaptive_max_pool1d``. Example: ``nn.AdaptiveMaxPool1d(4)(fastdl.randn(2, 3, 9))``"""

    def forward(self, input):  # noqa: A002
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(_Adaptive):
    """``F.adaptive_avg_pool3d``. Example: ``nn.AdaptiveAvgPool3d(1)(fastdl.randn(2, 3, 4, 5, 6))``"""

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_Adaptive):
    """``F.adaptive_max_pool3d``. Example: ``nn.AdaptiveMaxPool3d(2)(fastdl.randn(2, 3, 4, 5, 6))``"""

    def forward(self, input):  # noqa: A002
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling (``F.max_pool3d``); ``stride`` defaults to ``kernel_size``.
    Example: ``nn.MaxPool3d(2)(fastdl.randn(1, 2, 4, 8, 8)).shape == (1, 2, 2, 4, 4)``"""

    def forward(self, input):  # noqa: A002
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool3d(Module):
    """3-D average pooling (``F.avg_pool3d``); ``stride`` defaults to ``kernel_size``.
    Example: ``nn.AvgPool3d(2)(fastdl.randn(1, 2, 4, 8, 8)).shape == (1, 2, 2, 4, 4)``"""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):  # noqa: A002
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _LPPool(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """``F.lp_pool1d``. Example: ``nn.LPPool1d(2, 3)(fastdl.rand(1, 2, 9))``"""

    def forward(self, input):  # noqa: A002
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPool):
    """``F.lp_pool2d``. Example: ``nn.LPPool2d(2, 2)(fastdl.rand(1, 2, 8, 8))``"""

    def forward(self, input):  # noqa: A002
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool3d(_LPPool):
    """``F.lp_pool3d``. Example: ``nn.LPPool3d(2, 2)(fastdl.rand(1, 2, 4, 4, 4))``"""

    def forward(self, input):  # noqa: A002
        return F.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class _MaxUnpool(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input, indices, output_size=None):  # noqa: A002
        return type(self)._fn(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """``F.max_unpool1d``. Example: ``nn.MaxUnpool1d(2)(*nn.MaxPool1d(2, return_indices=True)(x))``"""

    _fn = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpool):
    """``F.max_unpool2d``. Example: ``nn.MaxUnpool2d(2)(*nn.MaxPool2d(2, return_indices=True)(x))``"""

    _fn = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpool):
    """``F.max_unpool3d``. Example: ``nn.MaxUnpool3d(2)(*nn.MaxPool3d(2, return_indices=True)(x))``"""

    _fn = staticmethod(F.max_unpool3d)


class _FractionalMaxPool(Module):
    _fn = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        if output_size is None and output_ratio is None:
            raise ValueError(f"{type(self).__name__} requires specifying either an output "
                             f"size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        self.kernel_size, self.output_size = kernel_size, output_size
        self.output_ratio, self.return_indices = output_ratio, return_indices
        self._random_samples = _random_samples

    def forward(self, input):  # noqa: A002
        return type(self)._fn(input, self.kernel_size, self.output_size, self.output_ratio,
                              self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPool):
    """``F.fractional_max_pool2d``.
    Example: ``nn.FractionalMaxPool2d(3, output_ratio=0.5)(fastdl.randn(1, 2, 10, 10))``"""

    _fn = staticmethod(F.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPool):
    """``F.fractional_max_pool3d``.
    Example: ``nn.FractionalMaxPool3d(2, output_size=4)(fastdl.randn(1, 2, 8, 8, 8))``"""

    _fn = staticmethod(F.fractional_max_pool3d)
