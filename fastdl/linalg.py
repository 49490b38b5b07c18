"""Matrix products: ``fastdl.matmul`` with ``np.matmul`` semantics (broadcast batch dims,
1-D operands promoted and squeezed back)."""
from __future__ import annotations

import numpy as np

from .autograd.function import _Op
from .tensor import Tensor, _as_array


def _check(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise TypeError(f"matmul: operands must be float32 or float64, got {a.dtype} and "
                        f"{b.dtype}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: dtypes differ: {a.dtype} (shape {a.shape}) and {b.dtype} "
                        f"(shape {b.shape})")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: inner dimensions disagree: {a.shape} @ {b.shape} "
                         f"({ka} != {kb})")


class _MatMul(_Op):
    @staticmethod
    def forward(ctx, a, b):
        _check(a, b)
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        n = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if n[0]:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0) if ga.ndim > 2 else ga[0]
        if n[1]:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
                gb = gb.reshape(-1, b.shape[0]).sum(0) if gb.ndim > 1 else gb
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy's ``matmul`` rules: (..., m, k) @ (..., k, n) with the
    batch dimensions broadcast; a 1-D operand is a vector (prepended/appended 1, removed
    after). Differentiable.

    Example: ``fastdl.matmul(fastdl.randn(2, 3), fastdl.randn(3, 4)).shape == (2, 4)``
    """
    if not isinstance(a, Tensor):
        a = Tensor._make(_as_array(a, copy=False))
    if not isinstance(b, Tensor):
        b = Tensor._make(_as_array(b, copy=False))
    return _MatMul.apply(a, b)


def mm(a, b):
    """2-D matrix product. Example: ``fastdl.mm(a, b)``"""
    if np.ndim(getattr(a, "data", a)) != 2 or np.ndim(getattr(b, "data", b)) != 2:
        raise ValueError("mm: both operands must be 2-D")
    return matmul(a, b)


def bmm(a, b):
    """Batched 3-D matrix product. Example: ``fastdl.bmm(a, b)``"""
    if np.ndim(getattr(a, "data", a)) != 3 or np.ndim(getattr(b, "data", b)) != 3:
        raise ValueError("bmm: both operands must be 3-D")
    return matmul(a, b)
