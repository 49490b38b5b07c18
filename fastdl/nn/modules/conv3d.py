"""``Conv3d`` and ``ConvTranspose3d`` (PyTorch's parameters, init and state-dict keys) on
``F.conv3d`` / ``F.conv_transpose3d`` (sums over depth taps of the 2-D kernels)."""
from __future__ import annotations

from .. import functional as F
from .conv import _ConvNd, _ConvTransposeNd

__all__ = ["Conv3d", "ConvTranspose3d"]


class Conv3d(_ConvNd):
    """3-D convolution layer on (N, C_in, D, H, W) or (C_in, D, H, W): ``F.conv3d``;
    ``weight`` (out_channels, in_channels/groups, kD, kH, kW), ``bias`` (out_channels,),
    initialised as PyTorch; ``padding_mode`` as ``Conv2d``.

    Example: ``nn.Conv3d(2, 4, 3, padding=1)(fastdl.randn(1, 2, 5, 8, 8)).shape ==
    (1, 4, 5, 8, 8)``
    """

    _nd = 3

    def forward(self, input):  # noqa: A002
        x, padding = self._padded(input)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution layer: ``F.conv_transpose3d``; ``forward(x, output_size)``
    picks the output_padding that gives ``output_size``. ``weight`` (in_channels,
    out_channels/groups, kD, kH, kW).

    Example: ``nn.ConvTranspose3d(4, 2, 2, stride=2)(fastdl.randn(1, 4, 3, 3, 3)).shape ==
    (1, 2, 6, 6, 6)``
    """

    _nd = 3

    def forward(self, input, output_size=None):  # noqa: A002
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)
