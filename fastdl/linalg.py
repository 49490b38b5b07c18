"""``fastdl.linalg``: matrix products on fastdl's GEMM kernel (``csrc/kernels/gemm``): ``fastdl.matmul`` with
``np.matmul`` semantics (batch dimensions broadcast, 1-D operands promoted and squeezed back),
``mm`` and ``bmm``. Forward and backward are one ``_C.matmul`` call each; backward passes the
saved operands with ``trans_a``/``trans_b`` flags instead of materialising transposes."""
from __future__ import annotations

import numpy as np

from . import _C
from .autograd import function as _fn
from .autograd.function import _Op
from .tensor import Tensor, _as_array

__all__ = ["matmul", "mm", "bmm", "norm", "vector_norm", "matrix_norm", "inv", "solve", "det",
           "slogdet", "svd", "svdvals", "qr", "eigh", "eigvalsh", "cholesky", "lstsq", "pinv",
           "matrix_power", "matrix_rank", "multi_dot", "cross", "vecdot"]


def __getattr__(name):
    """``fastdl.linalg.inv`` and the other decompositions and norms live in
    ``fastdl/ops/linalg_ops.py`` (loaded after the Tensor class); looked up on first use."""
    from .ops import linalg_ops
    fn = linalg_ops.LINALG.get(name)
    if fn is None:
        raise AttributeError(f"module 'fastdl.linalg' has no attribute {name!r}")
    globals()[name] = fn
    return fn


def __dir__():
    return sorted(set(globals()) | set(__all__))



def _contig(x, dtype=None):
    """x as a C-contiguous array of `dtype`, copied only when needed (keeps 0-d arrays 0-d,
    which np.ascontiguousarray would make 1-d)."""
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _sum_to(g, shape):
    """Sum the broadcast batch axes of ``g`` so it has ``shape``."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape)


def _operand(x):
    """(array, transposed) for ``_C.matmul``: x when C-contiguous; else, when x is a view with
    its last two axes swapped from a C-contiguous array (``y.transpose(-1, -2)``, an einsum
    permutation), that array read with the trans flag (no copy); else a contiguous copy."""
    if x.flags.c_contiguous:
        return x, False
    if x.ndim >= 2:
        t = x.swapaxes(-1, -2)
        if t.flags.c_contiguous:
            return t, True
    return np.ascontiguousarray(x), False


class _MatMul(_Op):
    @staticmethod
    def forward(ctx, a, b):
        a_, ta = _operand(a)
        b_, tb = _operand(b)
        out = _C.matmul(a_, b_, trans_a=ta, trans_b=tb)
        ctx.save_for_backward(a if ta else a_, b if tb else b_)
        return out

    _double = True

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph: the same products, recorded
            return _matmul_backward_graph(a, b, g, need_a, need_b)
        g = _contig(g, dtype=a.dtype)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = np.expand_dims(g, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = gb = None
        if need_a:
            # dA = dC · Bᵀ (trans_b: B is read in place; a transposed view B = Cᵀ is C itself)
            b_, tb = _operand(b2)
            ga = _sum_to(_C.matmul(g, b_, trans_b=not tb), a2.shape).reshape(a.shape)
        if need_b:
            k, n = b2.shape[-2], b2.shape[-1]
            if b2.ndim == 2 and a2.ndim > 2:
                # B shared by every batch: dB = Σ_batch Aᵀ·dC is one product over stacked rows.
                gb = _C.matmul(np.ascontiguousarray(a2).reshape(-1, k), g.reshape(-1, n),
                               trans_a=True)
            else:
                a_, ta = _operand(a2)
                gb = _sum_to(_C.matmul(a_, g, trans_a=not ta), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


def _matmul_backward_graph(a, b, g, need_a, need_b):
    """``_MatMul``'s backward on recorded Tensors (create_graph=True): dA = dC·Bᵀ, dB = Aᵀ·dC
    through ``matmul`` itself, so the second derivative is again a product."""
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(1) if b.ndim == 1 else b
    if a.ndim == 1:
        g = g.unsqueeze(-2 if b.ndim > 1 else 0)
    if b.ndim == 1:
        g = g.unsqueeze(-1)
    ga = gb = None
    if need_a:
        ga = _fn._reduce_to_t(matmul(g, b2.transpose(-1, -2)), a2.shape, "MatMul")
        ga = ga.reshape(a.shape)
    if need_b:
        gb = _fn._reduce_to_t(matmul(a2.transpose(-1, -2), g), b2.shape, "MatMul")
        gb = gb.reshape(b.shape)
    return ga, gb


def matmul(a, b):
    """Matrix product with NumPy's ``matmul`` rules: (..., m, k) @ (..., k, n) -> (..., m, n),
    batch dimensions broadcast; a 1-D first operand is a row vector (1, k) and a 1-D second
    operand a column (k, 1), the added dimension removed from the result. float32/float64,
    both the same dtype; 0-d operands, disagreeing inner dimensions or non-broadcastable batch
    dimensions are a ValueError, other dtypes a TypeError. Differentiable.

    Example: ``fastdl.matmul(fastdl.randn(2, 3), fastdl.randn(3, 4)).shape == (2, 4)``
    """
    if a.__class__ is not Tensor and getattr(a, "is_sparse", False):  # fastdl.sparse.SparseTensor
        from .sparse import mm as sparse_mm
        return sparse_mm(a, b)
    if not isinstance(a, Tensor):
        a = Tensor._make(_as_array(a, copy=False))
    if not isinstance(b, Tensor):
        b = Tensor._make(_as_array(b, copy=False))
    return _MatMul.apply(a, b)


def _ndim(x):
    return np.ndim(x._array if isinstance(x, Tensor) else x)


def mm(a, b):
    """2-D matrix product ``a @ b``: (m, k) @ (k, n) -> (m, n); other ranks are a ValueError.

    Example: ``fastdl.mm(fastdl.ones(2, 3), fastdl.ones(3, 4))`` (every entry 3)
    """
    if getattr(a, "is_sparse", False):
        from .sparse import mm as sparse_mm
        return sparse_mm(a, b)
    if _ndim(a) != 2 or _ndim(b) != 2:
        raise ValueError(f"mm: both operands must be 2-D, got {np.shape(getattr(a, '_array', a))} "
                         f"and {np.shape(getattr(b, '_array', b))}")
    return matmul(a, b)


def bmm(a, b):
    """Batched product of 3-D tensors: (b, m, k) @ (b, k, n) -> (b, m, n), same batch size
    (no broadcasting, as in PyTorch); other ranks are a ValueError.

    Example: ``fastdl.bmm(fastdl.randn(5, 2, 3), fastdl.randn(5, 3, 4)).shape == (5, 2, 4)``
    """
    sa, sb = np.shape(getattr(a, "_array", a)), np.shape(getattr(b, "_array", b))
    if len(sa) != 3 or len(sb) != 3:
        raise ValueError(f"bmm: both operands must be 3-D, got {sa} and {sb}")
    if sa[0] != sb[0]:
        raise ValueError(f"bmm: batch sizes differ: {sa} and {sb}")
    return matmul(a, b)
