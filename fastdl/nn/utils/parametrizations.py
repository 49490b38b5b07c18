"""``fastdl.nn.utils.parametrizations``: weight normalisation and spectral normalisation as
parametrizations (``parametrize.register_parametrization``), with PyTorch's state-dict keys:
``parametrizations.weight.original0`` (g) / ``original1`` (v) for weight_norm;
``parametrizations.weight.original`` and ``parametrizations.weight.0._u`` / ``._v`` for
spectral_norm.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import no_grad
from ...random import default_generator
from ...tensor import Tensor
from ..modules.module import Module
from . import parametrize

__all__ = ["weight_norm", "spectral_norm"]


def _norm_except_dim(v, dim):
    """‖v‖₂ over every dim but ``dim`` (kept with size 1), or over all when dim is None/−1."""
    if dim is None or dim == -1:
        return (v * v).sum() ** 0.5
    d = dim % v.ndim
    axes = tuple(i for i in range(v.ndim) if i != d)
    return (v * v).sum(axes, keepdim=True) ** 0.5 if axes else v.abs()


def _weight_norm(v, g, dim):
    """w = g · v / ‖v‖ (norm over all dims but ``dim``)."""
    return v * (g / _norm_except_dim(v, dim))


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        g = _norm_except_dim(weight, self.dim)
        return g, weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``w = g · v / ‖v‖`` (norm over every dim but
    ``dim``; None = the whole tensor): ``g`` (``original0``) holds the magnitudes, ``v``
    (``original1``) the directions, both learnable. Returns ``module``.

    Example: ``m = nn.utils.parametrizations.weight_norm(nn.Linear(20, 40))``
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _normalize(x, eps):
    n = np.sqrt((x * x).sum())
    return x / max(n, eps)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            wm = self._matrix(weight._array)
            h, w = wm.shape
            gen = default_generator()
            u = _normalize(gen.standard_normal(h), eps).astype(weight._array.dtype)
            v = _normalize(gen.standard_normal(w), eps).astype(weight._array.dtype)
            self.register_buffer("_u", Tensor._make(u))
            self.register_buffer("_v", Tensor._make(v))
            self._power_method(wm, 15)

    def _matrix(self, w):
        """The weight as a matrix: ``dim`` first, the rest flattened (arrays)."""
        if self.dim != 0:
            w = np.moveaxis(w, self.dim, 0)
        return w.reshape(w.shape[0], -1)

    def _power_method(self, wm, n):
        u, v = self._u._array, self._v._array
        for _ in range(n):
            u[...] = _normalize(wm @ v, self.eps)
            v[...] = _normalize(wm.T @ u, self.eps)
        self._u._vc[0] += 1
        self._v._vc[0] += 1

    def forward(self, weight):
        if weight.ndim == 1:
            from .. import functional as F
            return F.normalize(weight, dim=0, eps=self.eps)
        if self.training:
            with no_grad():
                self._power_method(self._matrix(weight._array), self.n_power_iterations)
        u = Tensor._make(self._u._array.copy())
        v = Tensor._make(self._v._array.copy())
        wm = weight
        if self.dim != 0:
            perm = [self.dim] + [i for i in range(weight.ndim) if i != self.dim]
            wm = wm.permute(*perm)
        wm = wm.reshape(wm.shape[0], -1)
        sigma = (u * (wm @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Reparametrize ``module.<name>`` as ``W / σ(W)``, σ the largest singular value of W
    (as a matrix with ``dim`` first — 1 for ConvTranspose, else 0), estimated by power
    iteration: each training-mode access runs ``n_power_iterations`` steps on the buffers
    ``_u``, ``_v`` (15 steps at registration); eval reuses them. Returns ``module``.

    Example: ``d = nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 64, 4))``
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..modules.conv import ConvTranspose1d, ConvTranspose2d
        tr = (ConvTranspose1d, ConvTranspose2d)
        try:
            from ..modules.conv import ConvTranspose3d
            tr = tr + (ConvTranspose3d,)
        except ImportError:
            pass
        dim = 1 if isinstance(module, tr) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
