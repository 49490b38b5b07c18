"""Shape layers: ``Flatten``, ``Unflatten``, ``Unfold`` and ``Fold`` (PyTorch's defaults)."""
from __future__ import annotations

from ...tensor import as_tensor
from .. import functional as F
from .module import Module

__all__ = ["Flatten", "Unflatten", "Unfold", "Fold"]


class Flatten(Module):
    """Flatten dims ``start_dim``..``end_dim`` into one (a reshape; differentiable). Defaults
    keep the batch dim: (N, C, H, W) -> (N, C·H·W).

    Example: ``fastdl.nn.Flatten()(fastdl.randn(8, 16, 4, 4)).shape == (8, 256)``
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return as_tensor(input).flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (a reshape; differentiable).

    Example: ``fastdl.nn.Unflatten(1, (16, 4, 4))(fastdl.randn(8, 256)).shape ==
    (8, 16, 4, 4)``
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        x = as_tensor(input)
        d = self.dim if self.dim >= 0 else self.dim + x.ndim
        if not 0 <= d < x.ndim:
            raise ValueError(f"Unflatten: dim {self.dim} out of range for shape "
                             f"{tuple(x.shape)}")
        n = 1
        for s in self.unflattened_size:
            n *= s
        if n != x.shape[d] and -1 not in self.unflattened_size:
            raise ValueError(f"Unflatten: sizes {self.unflattened_size} do not multiply to "
                             f"{x.shape[d]} (dim {self.dim} of shape {tuple(x.shape)})")
        return x.unflatten(d, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Unfold(Module):
    """``F.unfold`` (im2col) as a layer: (N, C, H, W) -> (N, C·kH·kW, L).

    Example: ``fastdl.nn.Unfold(3, padding=1)(fastdl.randn(1, 2, 4, 4)).shape == (1, 18, 16)``
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """``F.fold`` (col2im) as a layer: (N, C·kH·kW, L) -> (N, C, *output_size).

    Example: ``fastdl.nn.Fold((4, 4), 2, stride=2)(fastdl.randn(1, 12, 4)).shape ==
    (1, 3, 4, 4)``
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
