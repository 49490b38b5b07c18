"""``fastdl.nn.functional``: RMS normalisation and local response normalisation.

Both are compositions of differentiable Tensor ops (a mean of squares and an rsqrt; a
windowed sum of squares along channels), so their backward needs no rule of its own.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...tensor import Tensor, as_tensor, cat
from ._args import _float

__all__ = ["rms_norm", "local_response_norm"]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the last ``len(normalized_shape)`` dims:
    ``y = x / sqrt(mean(x²) + eps) · weight``. ``eps=None`` uses the machine epsilon of
    the input's dtype (as PyTorch).

    Example: ``F.rms_norm(fastdl.randn(2, 5, 8), (8,))``
    """
    t = _float(input, "rms_norm")
    ns = (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(n) for n in normalized_shape)
    k = len(ns)
    if k == 0 or k > t.ndim or tuple(t.shape[t.ndim - k:]) != ns:
        raise RuntimeError(f"rms_norm: normalized_shape {list(ns)} does not match the trailing "
                           f"dims of input of shape {tuple(t.shape)}")
    if weight is not None:
        w = weight if isinstance(weight, Tensor) else as_tensor(weight)
        if tuple(w.shape) != ns:
            raise RuntimeError(f"rms_norm: weight has shape {tuple(w.shape)}, expected {ns}")
    if eps is None:
        eps = float(np.finfo(t._array.dtype).eps)
    dims = tuple(range(t.ndim - k, t.ndim))
    ms = (t * t).mean(dim=dims, keepdim=True)
    y = t * (ms + eps).rsqrt()
    return y * weight if weight is not None else y


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each element by the activity of ``size`` neighbouring channels:
    ``b_c = a_c / (k + alpha/size · Σ_{c' in window(c)} a_{c'}²)^beta``, the window
    ``[c − size//2, c + (size−1)//2]`` clipped to the channels (zeros outside, divided by
    ``size`` all the same, as PyTorch). Input (N, C, ...) with at least 3 dims.

    Example: ``F.local_response_norm(fastdl.randn(2, 6, 4, 4), size=3)``
    """
    t = _float(input, "local_response_norm")
    if t.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {t.ndim} "
                         f"dimensions, shape {tuple(t.shape)})")
    size = int(size)
    if size < 1:
        raise ValueError(f"local_response_norm: size must be >= 1, got {size}")
    if t.numel() == 0:
        return t
    N, C = t.shape[0], t.shape[1]
    rest = tuple(t.shape[2:])
    sq = (t * t).reshape(N, C, -1)
    lo, hi = size // 2, (size - 1) // 2
    R = sq.shape[2]
    parts = []
    if lo:
        parts.append(Tensor._make(np.zeros((N, lo, R), t._array.dtype)))
    parts.append(sq)
    if hi:
        parts.append(Tensor._make(np.zeros((N, hi, R), t._array.dtype)))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    acc = padded[:, 0:C]
    for i in range(1, size):
        acc = acc + padded[:, i:i + C]
    div = (acc * (float(alpha) / size) + float(k)) ** float(beta)
    return t / div.reshape(N, C, *rest)
