"""Shape layers: ``Flatten`` and ``Unflatten`` (PyTorch's defaults)."""
from __future__ import annotations

from ...tensor import as_tensor
from .module import Module

__all__ = ["Flatten", "Unflatten"]


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
