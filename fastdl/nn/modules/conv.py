"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``
(PyTorch's arguments, parameters and init)."""
from __future__ import annotations

import math

import numpy as np

from ...tensor import _canon_dtype
from .. import functional as F
from .. import init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Arguments, parameters and init of every convolution layer; ``_transposed`` layers keep
    their weight as (in_channels, out_channels/groups, kernel...) and an ``output_padding``."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, *, output_padding=0):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        for v, nm in ((in_channels, "in_channels"), (out_channels, "out_channels"),
                      (groups, "groups")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {nm} must be a positive int, got {v!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        if device not in (None, "cpu"):
            raise ValueError(f"{name}: only device='cpu' is supported, got {device!r}")
        ks = F.conv._tuple(kernel_size, nd, name, "kernel_size")
        st = F.conv._tuple(stride, nd, name, "stride")
        dl = F.conv._tuple(dilation, nd, name, "dilation")
        if min(ks) < 1 or min(st) < 1 or min(dl) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be >= 1, got "
                             f"{ks}, {st}, {dl}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: padding must be 'valid', 'same', an int or a "
                                 f"tuple, got {padding!r}")
            if padding == "same" and any(s != 1 for s in st):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions")
            pd = padding
        else:
            pd = F.conv._tuple(padding, nd, name, "padding")
            if min(pd) < 0:
                raise ValueError(f"{name}: padding must be >= 0, got {pd}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size, self.stride, self.padding, self.dilation = ks, st, pd, dl
        self.output_padding = F.conv._tuple(output_padding, nd, name, "output_padding")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        # F.pad's pads (last dimension first) for the padding modes other than 'zeros'
        if isinstance(pd, str):
            tot = [0, 0] * nd if pd == "valid" else \
                [v for i in reversed(range(nd)) for v in
                 (dl[i] * (ks[i] - 1) // 2, dl[i] * (ks[i] - 1) - dl[i] * (ks[i] - 1) // 2)]
            self._reversed_padding_repeated_twice = tot
        else:
            self._reversed_padding_repeated_twice = [v for v in reversed(pd) for _ in (0, 1)]
        dt = _canon_dtype(dtype) or np.float32
        if np.dtype(dt).kind != "f":
            raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype!r}")
        wshape = ((in_channels, out_channels // groups) if self._transposed else
                  (out_channels, in_channels // groups))
        self.weight = Parameter(np.empty(wshape + ks, dt))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dt))
        else:
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight ~ kaiming_uniform_(a=√5), i.e. U(±1/√fan_in); bias ~
        U(±1/√fan_in), fan_in = weight.shape[1] · prod(kernel_size) (in_channels/groups, or
        out_channels/groups for a transposed layer)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _padded(self, input):  # noqa: A002
        """(input, padding) for the functional convolution: with ``padding_mode`` 'reflect',
        'replicate' or 'circular' the input padded by ``F.pad`` in that mode and no further
        padding (PyTorch's rule), else the input and ``self.padding``."""
        if self.padding_mode == "zeros":
            return input, self.padding
        return F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode), 0

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution layer: ``y = F.conv2d(x, weight, bias, stride, padding, dilation,
    groups)`` on (N, C_in, H, W) or (C_in, H, W).

    Parameters as PyTorch: ``weight`` (out_channels, in_channels/groups, kH, kW) and ``bias``
    (out_channels,), both ~ U(−1/√fan_in, 1/√fan_in) (kaiming_uniform_ with a=√5),
    fan_in = in_channels/groups·kH·kW. ``padding_mode`` 'zeros' (default), 'reflect',
    'replicate' or 'circular' (the input is padded by ``F.pad`` in that mode). State dicts
    move between fastdl and PyTorch unchanged.

    Example::

        conv = fastdl.nn.Conv2d(3, 16, 3, padding=1)
        y = conv(fastdl.randn(8, 3, 32, 32))        # (8, 16, 32, 32)
    """

    _nd = 2

    def forward(self, input):
        x, padding = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution layer on (N, C_in, L) or (C_in, L): ``F.conv1d``; ``weight``
    (out_channels, in_channels/groups, k), ``bias`` (out_channels,), initialised as PyTorch.

    Example::

        conv = fastdl.nn.Conv1d(4, 8, 5, padding="same")
        y = conv(fastdl.randn(2, 4, 100))           # (2, 8, 100)
    """

    _nd = 1

    def forward(self, input):
        x, padding = self._padded(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        # (PyTorch's argument order for the transposed layers; no string padding)
        padding = F.conv._tuple(padding, self._nd, type(self).__name__, "padding")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype,
                         output_padding=output_padding)

    def _output_padding(self, input, output_size):
        """output_padding, or the one that gives ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(int(v) for v in output_size)[-nd:]
        spatial = tuple(input.shape[-nd:])
        out = []
        for i in range(nd):
            base = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i] +
                    self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra = size[i] - base
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(f"{type(self).__name__}: requested an output size of {size}, "
                                 f"but valid sizes range from {base} to "
                                 f"{base + max(self.stride[i], self.dilation[i]) - 1} "
                                 f"(for an input of {spatial})")
            out.append(extra)
        return tuple(out)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer: ``F.conv_transpose2d(x, weight, bias, stride,
    padding, output_padding, groups, dilation)``; ``forward(x, output_size)`` picks the
    output_padding that gives ``output_size``. ``weight`` (in_channels,
    out_channels/groups, kH, kW), ``bias`` (out_channels,), initialised as PyTorch; state
    dicts move between fastdl and PyTorch unchanged.

    Example::

        up = fastdl.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        y = up(fastdl.randn(2, 16, 7, 7))           # (2, 8, 14, 14)
    """

    _nd = 2

    def forward(self, input, output_size=None):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer on (N, C_in, L) or (C_in, L):
    ``F.conv_transpose1d``; parameters and init as PyTorch.

    Example: ``fastdl.nn.ConvTranspose1d(4, 2, 3, stride=2)(fastdl.randn(1, 4, 10)).shape ==
    (1, 2, 21)``
    """

    _nd = 1

    def forward(self, input, output_size=None):
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)
