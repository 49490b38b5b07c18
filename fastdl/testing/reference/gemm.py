"""NumPy references: gemm family (matrix products, linear, bilinear), computed in float64."""
from __future__ import annotations

import numpy as np

__all__ = ["gemm_ref", "matmul_ref", "linear_ref", "linear_backward_ref", "bilinear_ref",
           "bilinear_backward_ref"]


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def gemm_ref(a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """``alpha · op(a) · op(b) + beta · c`` in float64 (beta == 0 ignores c, as BLAS).

    Example: ``gemm_ref(a, b, c, trans_b=True, alpha=2.0, beta=0.5)``
    """
    a, b = _f64(a), _f64(b)
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n))
    for p in range(k):  # the obvious sum over k, one rank-1 update at a time
        out += np.outer(a[:, p], b[p, :])
    out *= alpha
    if beta != 0 and c is not None:
        out += beta * _f64(c)
    return out


def matmul_ref(a, b):
    """``np.matmul`` in float64 (broadcast batch dims, 1-D operands). Example:
    ``matmul_ref(np.ones((2, 3)), np.ones(3))``"""
    return np.matmul(_f64(a), _f64(b))


def linear_ref(x, w, b=None):
    """``x @ w.T + b`` in float64. Example: ``linear_ref(x, w, b)``"""
    y = np.matmul(_f64(x), _f64(w).T)
    return y if b is None else y + _f64(b)


def linear_backward_ref(x, w, g):
    """Gradients of ``linear`` for output gradient g: (dx, dw, db) in float64."""
    x, w, g = _f64(x), _f64(w), _f64(g)
    rows = int(np.prod(x.shape[:-1]))
    g2 = g.reshape(rows, w.shape[0])
    x2 = x.reshape(rows, w.shape[1])
    return (g2 @ w).reshape(x.shape), g2.T @ x2, g2.sum(0)


def bilinear_ref(x1, x2, w, b=None):
    """``y[..., o] = Σ_ij x1[..., i] w[o, i, j] x2[..., j] + b[o]`` in float64."""
    y = np.einsum("...i,oij,...j->...o", _f64(x1), _f64(w), _f64(x2))
    return y if b is None else y + _f64(b)


def bilinear_backward_ref(x1, x2, w, g):
    """Gradients of ``bilinear`` for output gradient g: (dx1, dx2, dw, db) in float64."""
    x1, x2, w, g = _f64(x1), _f64(x2), _f64(w), _f64(g)
    d1 = np.einsum("...o,oij,...j->...i", g, w, x2)
    d2 = np.einsum("...o,oij,...i->...j", g, w, x1)
    rows = int(np.prod(g.shape[:-1]))
    dw = np.einsum("no,ni,nj->oij", g.reshape(rows, -1), x1.reshape(rows, -1),
                   x2.reshape(rows, -1))
    db = g.reshape(int(np.prod(g.shape[:-1])), w.shape[0]).sum(0)
    return d1, d2, dw, db
