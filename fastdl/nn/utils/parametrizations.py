"""``fastdl.nn.utils.parametrizations``: weight normalisation and spectral normalisation as
parametrizations (``parametrize.register_parametrization``), with PyTorch's state-dict keys:
``parametrizations.weight.original0`` (g) / ``original1`` (v) for weight_norm;
``parametrizations.weight.original`` and ``parametrizations.weight.0._u`` / ``._v`` for
spectral_norm.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import _Op, no_grad
from ...random import default_generator
from ...tensor import Tensor, cat
from ..modules.module import Module
from . import parametrize

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


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


# ---------------------------------------------------------------------------------------
# orthogonal


def _expm(a):
    """Matrix exponential of a (…, n, n) array: scaling and squaring around a degree-18
    Taylor polynomial (accurate to float64 rounding for ‖A/2^s‖ ≤ 1/2)."""
    norm = np.abs(a).sum(-2).max() if a.size else 0.0
    s = max(0, int(np.ceil(np.log2(norm / 0.5))) if norm > 0.5 else 0)
    x = a / (2.0 ** s)
    eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
    out = eye.copy()
    term = eye.copy()
    for k in range(1, 19):
        term = term @ x / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


class _MatrixExp(_Op):
    """exp(A) with the backward of the Fréchet derivative: for upstream G,
    ∂ = exp([[Aᵀ, G], [0, Aᵀ]])[:n, n:] (Najfeld and Havel)."""

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return _expm(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.a
        n = a.shape[-1]
        at = np.swapaxes(a, -1, -2)
        big = np.zeros(a.shape[:-2] + (2 * n, 2 * n), dtype=a.dtype)
        big[..., :n, :n] = at
        big[..., n:, n:] = at
        big[..., :n, n:] = g
        return _expm(big)[..., :n, n:]


def _householder_product(A, tau):
    """Q = H_1 ⋯ H_k (first k columns), H_i = I − τ_i v_i v_iᵀ, v_i = e_i + A[i+1:, i]
    (LAPACK's orgqr, as ``torch.linalg.householder_product``), from Tensor ops."""
    n, k = A.shape[-2], A.shape[-1]
    dt = A._array.dtype
    Q = Tensor._make(np.eye(n, dtype=dt))
    for i in range(k - 1, -1, -1):
        e = np.zeros((n, 1), dtype=dt)
        e[i, 0] = 1
        below = np.zeros((n, 1), dtype=dt)
        below[i + 1:, 0] = 1
        v = Tensor._make(e) + A[:, i:i + 1] * Tensor._make(below)      # (n, 1)
        Q = Q - (v * tau[i]) @ (v.transpose(0, 1) @ Q)
    return Q[:, :k]


def _make_orthogonal(q):
    """The Q of a QR decomposition with R's diagonal made positive (arrays)."""
    Q, R = np.linalg.qr(q)
    return Q * np.sign(np.diagonal(R))[None, :]


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, use_trivialization=True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)
        self._trivial = use_trivialization

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.transpose(-2, -1)
            n, k = k, n
        if self.orthogonal_map == "matrix_exp":
            lower = Tensor._make(np.tril(np.ones((n, k), X._array.dtype)))
            X = X * lower
            if n != k:
                X = cat([X, Tensor._make(np.zeros((n, n - k), X._array.dtype))], -1)
            Q = _MatrixExp.apply(X - X.transpose(-2, -1))
            if n != k:
                Q = Q[:, :k]
        else:
            strict = Tensor._make(np.tril(np.ones((n, k), X._array.dtype), -1))
            A = X * strict
            tau = 2.0 / (1.0 + (A * A).sum(-2))
            Q = _householder_product(A, tau)
            sign = np.diagonal(X._array).astype(np.int64).astype(X._array.dtype)
            Q = Q * Tensor._make(sign[None, :])
        if self._trivial and self.base is not None:
            Q = self.base @ Q
        if transposed:
            Q = Q.transpose(-2, -1)
        return Q

    def right_inverse(self, Q):
        with no_grad():
            q = Q._array if isinstance(Q, Tensor) else np.asarray(Q)
            if tuple(q.shape) != self.shape:
                raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                                 f"Got a tensor of shape {tuple(q.shape)}.")
            n, k = q.shape[-2], q.shape[-1]
            transpose = n < k
            if transpose:
                q = q.T
                n, k = k, n
            if not self._trivial:
                raise NotImplementedError("orthogonal: use_trivialization=False is not "
                                          "supported")
            if n == k:
                eps = 10 * n * np.finfo(q.dtype).eps
                ok = np.allclose(q.T @ q, np.eye(k), atol=eps)
                base = q.copy() if ok else _make_orthogonal(q)
            else:
                extra = default_generator().standard_normal((n, n - k)).astype(q.dtype)
                base = _make_orthogonal(np.concatenate([q, extra], -1))
            self.base = Tensor._make(np.ascontiguousarray(base.astype(q.dtype)))
            neg = np.zeros(self.shape, dtype=q.dtype)
            m = min(self.shape)
            neg[np.arange(m), np.arange(m)] = -1
            return Tensor._make(neg)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Constrain the matrix ``module.<name>`` to be orthogonal (orthonormal columns or
    rows): ``Q = base · φ(X)`` with φ the exponential of the skew-symmetric part of the
    lower triangle ('matrix_exp', the default for square matrices) or a product of
    Householder reflections ('householder', the default otherwise); ``base`` (a buffer)
    starts as the current weight made orthogonal by QR. ('cayley' and
    ``use_trivialization=False`` are not supported.) Returns ``module``.

    Example: ``m = nn.utils.parametrizations.orthogonal(nn.Linear(20, 20))``
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim != 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    n, k = weight.shape
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if n == k else "householder"
    if orthogonal_map not in ("matrix_exp", "householder"):
        if orthogonal_map == "cayley":
            raise NotImplementedError("orthogonal: orthogonal_map='cayley' is not supported")
        raise ValueError(f"orthogonal_map has to be one of 'matrix_exp', 'cayley', "
                         f"'householder'. Got: {orthogonal_map}")
    if not use_trivialization:
        raise NotImplementedError("orthogonal: use_trivialization=False is not supported")
    parametrize.register_parametrization(
        module, name, _Orthogonal(weight, orthogonal_map, use_trivialization), unsafe=True)
    return module
