"""Sparse COO tensors, enough for graph networks: ``fastdl.sparse_coo_tensor``,
``x.to_sparse()``, ``to_dense()``, ``coalesce()``, ``indices()``, ``values()``,
``fastdl.sparse.mm`` / ``fastdl.spmm`` / ``fastdl.mm`` / ``S @ X`` (sparse × dense, with
gradients to the dense operand and to the sparse values) and ``fastdl.sparse.sum``.

A ``SparseTensor`` holds an int64 ``(sparse_dim, nnz)`` index array and a values Tensor of
shape ``(nnz, *dense_dims)``; the values Tensor is the differentiable part, so
``sparse_coo_tensor(idx, w)`` with ``w.requires_grad`` trains edge weights. As in torch it is
a ``fastdl.Tensor`` (``isinstance(s, fastdl.Tensor)``, ``s.is_sparse``, ``s.layout ==
fastdl.sparse_coo``); it supports the operations listed here, and a dense-only operation
on it raises a RuntimeError that says to call ``to_dense()`` (torch's sparse tensors also
support only part of the dense API).

The product runs on NumPy: for the narrow dense operands of graph networks (≤ 64 columns)
one weighted ``np.bincount`` over the nonzeros per column; for wider ones the rows of the
dense operand are gathered, scaled by the values and summed per row with
``np.add.reduceat``. No Python loop over nonzeros.

Example::

    idx = fastdl.tensor([[0, 1, 1], [1, 0, 2]])
    A = fastdl.sparse_coo_tensor(idx, fastdl.tensor([1.0, 2.0, 3.0]), (2, 3))
    fastdl.sparse.mm(A, fastdl.ones(3, 4))          # [[1, 1, 1, 1], [5, 5, 5, 5]]
"""
from __future__ import annotations

import numpy as np

from .. import _C
from .. import tensor as _tensor_mod
from .._size import Size
from ..autograd.function import _Op
from ..ops._support import Tensor, arr, as_tensor, np_dtype, wrap
from ..ops.table import register

__all__ = ["SparseTensor", "mm", "sum", "sparse_coo_tensor", "spmm", "addmm"]


class SparseTensor(Tensor):
    """A sparse COO tensor (see the module docstring), a ``fastdl.Tensor`` with
    ``layout == fastdl.sparse_coo``. Build it with ``fastdl.sparse_coo_tensor`` or
    ``dense.to_sparse()``.

    Example: ``S = fastdl.eye(3).to_sparse(); S.values()`` gives ``[1., 1., 1.]``."""

    is_sparse = True
    layout = _tensor_mod.sparse_coo
    __array_priority__ = 1001
    _node = None      # never an op's output: its values Tensor carries the graph
    _out_idx = 0

    def __init__(self, indices, values, size, coalesced=False):
        self._idx = indices
        self._vals = values
        self._size = tuple(int(s) for s in size)
        self._coalesced = coalesced
        self._vc = [0]

    @property
    def _array(self):
        # the dense storage every dense op reads: a sparse tensor has none
        raise RuntimeError("this operation needs a dense tensor, and this is a sparse COO "
                           "tensor (layout fastdl.sparse_coo): call .to_dense() first, or use "
                           "the sparse operations (fastdl.sparse.mm, fastdl.sparse.sum, "
                           "coalesce, indices, values, t, mul by a scalar)")

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._idx, self._vals, self._size, self._coalesced))

    # ---- introspection -------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._size)

    def numel(self):
        """The number of elements of the dense tensor this one stands for (the product of
        its sizes), as ``fastdl.Size.numel``."""
        return Size(self._size).numel()

    def __len__(self):
        if not self._size:
            raise TypeError("len() of a 0-d tensor")
        return self._size[0]

    @property
    def is_leaf(self):
        return self._vals.is_leaf

    @property
    def grad_fn(self):
        return None

    def size(self, dim=None):
        return Size(self._size) if dim is None else self._size[dim]

    def dim(self):
        return len(self._size)

    @property
    def ndim(self):
        return len(self._size)

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def requires_grad(self):
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        return self._vals.grad

    @grad.setter
    def grad(self, value):
        self._vals.grad = value

    def sparse_dim(self):
        return self._idx.shape[0]

    def dense_dim(self):
        return arr(self._vals).ndim - 1

    def _nnz(self):
        return self._idx.shape[1]

    def is_coalesced(self):
        return self._coalesced

    def _indices(self):
        return wrap(self._idx)

    def _values(self):
        return self._vals

    def indices(self):
        """The (sparse_dim, nnz) int64 indices of a coalesced tensor."""
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return wrap(self._idx)

    def values(self):
        """The (nnz, *dense_dims) values of a coalesced tensor (differentiable)."""
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._vals

    def detach(self):
        return SparseTensor(self._idx, self._vals.detach(), self._size, self._coalesced)

    def __repr__(self):
        return (f"tensor(indices={self._idx.tolist()},\n       values={self._vals!r},\n"
                f"       size={self._size}, nnz={self._nnz()}, layout=fastdl.sparse_coo)")

    # ---- conversions and ops ---------------------------------------------------------------
    def coalesce(self):
        """Duplicate indices summed, entries sorted row-major (differentiable in the values).
        Example: ``S.coalesce().indices()``"""
        if self._coalesced:
            return self
        idx, vals = _coalesce(self._idx, self._vals, self._size)
        return SparseTensor(idx, vals, self._size, True)

    def to_dense(self, dtype=None):
        """The dense tensor (duplicates summed); differentiable in the values."""
        d = _ToDense.apply(self._vals, self._idx, self._size)
        return d if dtype is None else d.to(np_dtype(dtype))

    def to_sparse(self):
        return self

    def t(self):
        """The transpose of a 2-D sparse tensor. Example: ``S.t()``"""
        if self.dim() != 2:
            raise RuntimeError(f"t() expects a 2-D sparse tensor, got {self.dim()}-D")
        return SparseTensor(self._idx[::-1].copy(), self._vals, self._size[::-1], False)

    def transpose(self, dim0, dim1):
        d0, d1 = dim0 % self.dim(), dim1 % self.dim()
        if max(d0, d1) >= self.sparse_dim():
            raise RuntimeError("transpose of dense dimensions of a sparse tensor is not "
                               "supported")
        idx = self._idx.copy()
        idx[[d0, d1]] = idx[[d1, d0]]
        size = list(self._size)
        size[d0], size[d1] = size[d1], size[d0]
        return SparseTensor(idx, self._vals, size, False)

    def mul(self, other):
        if isinstance(other, (int, float)) or (isinstance(other, Tensor) and
                                               arr(other).ndim == 0):
            return SparseTensor(self._idx, self._vals * other, self._size, self._coalesced)
        raise TypeError("sparse * dense is supported for scalars only")

    __mul__ = mul
    __rmul__ = mul

    def __neg__(self):
        return self.mul(-1)

    def __matmul__(self, other):
        return mm(self, other)

    def matmul(self, other):
        return mm(self, other)

    def mm(self, other):
        return mm(self, other)

    def sum(self, dim=None, keepdim=False):
        return sum(self, dim)

    def float(self):
        return SparseTensor(self._idx, self._vals.float(), self._size, self._coalesced)

    def double(self):
        return SparseTensor(self._idx, self._vals.double(), self._size, self._coalesced)


def _rebuild(idx, vals, size, coalesced):
    return SparseTensor(idx, vals, size, coalesced)


def _linear(idx, size):
    return np.ravel_multi_index(tuple(idx), size) if idx.shape[1] else np.zeros(0, np.int64)


def _coalesce(idx, vals, size):
    sdim = idx.shape[0]
    lin = _linear(idx, size[:sdim])
    uniq, inv = np.unique(lin, return_inverse=True)
    new_idx = np.stack(np.unravel_index(uniq, size[:sdim])).astype(np.int64).reshape(sdim, -1)
    if uniq.size == lin.size and (lin[1:] >= lin[:-1]).all():
        return new_idx, vals
    from ..ops.select import index_add
    zshape = (uniq.size,) + arr(vals).shape[1:]
    zeros = wrap(np.zeros(zshape, arr(vals).dtype))
    return new_idx, index_add(zeros, 0, wrap(inv.reshape(-1).astype(np.int64)), vals)


class _ToDense(_Op):
    @staticmethod
    def forward(ctx, vals, idx, size):
        out = np.zeros(size, vals.dtype)
        ctx.idx = idx
        if idx.shape[1]:
            np.add.at(out, tuple(idx), vals)
        return out

    @staticmethod
    def backward(ctx, g):
        return g[tuple(ctx.idx)], None, None


def _check_index(idx, size, what):
    if idx.ndim != 2:
        raise RuntimeError(f"{what}: indices must be sparse_dim x nnz, but got: "
                           f"{list(idx.shape)}")
    if idx.shape[1] and idx.min() < 0:
        raise RuntimeError(f"{what}: found negative index {int(idx.min())}")
    for d in range(idx.shape[0]):
        if idx.shape[1] and idx[d].max() >= size[d]:
            raise RuntimeError(f"{what}: size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {int(idx[d].max())}")


@register(method=False)
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with entries ``values[k]`` at ``indices[:, k]`` (indices int
    (sparse_dim, nnz); values (nnz, *dense_dims)); ``size`` defaults to the smallest that
    fits. Duplicates are allowed until ``coalesce``.

    Example: ``fastdl.sparse_coo_tensor([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))``"""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"sparse_coo_tensor: fastdl runs on the CPU only; device {device!r} "
                           f"is not available")
    idx = arr(indices) if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor, got "
                           f"{idx.dtype}")
    idx = idx.astype(np.int64).reshape(idx.shape if idx.ndim == 2 else (-1, 0) if idx.size == 0
                                       else idx.shape)
    vals = values if isinstance(values, Tensor) else as_tensor(values)
    if dtype is not None:
        vals = vals.to(np_dtype(dtype))
    va = arr(vals)
    if va.ndim == 0 or va.shape[0] != idx.shape[1]:
        raise RuntimeError(f"sparse_coo_tensor: indices and values must have the same number of "
                           f"nonzeros, got {idx.shape[1]} indices and values of shape "
                           f"{list(va.shape)}")
    if size is None:
        size = tuple(int(idx[d].max()) + 1 if idx.shape[1] else 0
                     for d in range(idx.shape[0])) + va.shape[1:]
    size = tuple(int(s) for s in size)
    if len(size) != idx.shape[0] + va.ndim - 1:
        raise RuntimeError(f"sparse_coo_tensor: number of dimensions must be sparse_dim "
                           f"({idx.shape[0]}) + dense_dim ({va.ndim - 1}), but got {len(size)}")
    if tuple(size[idx.shape[0]:]) != va.shape[1:]:
        raise RuntimeError(f"sparse_coo_tensor: values' dense shape {list(va.shape[1:])} does "
                           f"not match size {list(size)}")
    _check_index(idx, size, "sparse_coo_tensor")
    if requires_grad:
        vals.requires_grad_(True)
    return SparseTensor(idx, vals, size, bool(is_coalesced))


@register(function=False)
def to_sparse(self, sparse_dim=None, *, layout=None):
    """The sparse COO form of a dense tensor (its nonzeros; values differentiable).
    Example: ``fastdl.eye(2).to_sparse()._nnz() == 2``"""
    a = arr(self)
    sd = a.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= a.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim {sd} out of range for a {a.ndim}-D tensor")
    mask = a != 0
    if sd < a.ndim:
        mask = mask.any(axis=tuple(range(sd, a.ndim)))
    nz = np.nonzero(mask)
    idx = np.stack(nz).astype(np.int64).reshape(sd, -1)
    vals = self[tuple(wrap(i) for i in nz)] if sd else self.unsqueeze(0)
    return SparseTensor(idx, vals, a.shape, True)


# ---- sparse × dense ---------------------------------------------------------------------------


def _row_sum(rows, contrib, m):
    """out[r] = Σ contrib[k] over the k with rows[k] == r (rows sorted)."""
    out = np.zeros((m,) + contrib.shape[1:], contrib.dtype)
    if rows.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    out[rows[starts]] = np.add.reduceat(contrib, starts, axis=0)
    return out


def _scatter_rows(rows, cols, vals, x, m):
    """out[r] = Σ_k vals[k]·x[cols[k]] over the k with rows[k] == r (duplicates add).

    float32/float64 run on ``_C.tensorops_spmm`` (``csrc/kernels/tensorops``). Otherwise:
    narrow x (≤ 64 columns, the graph-network case): one weighted ``np.bincount`` per column
    (no sort, no nnz × n temporary); wide x: rows sorted once, then ``np.add.reduceat``."""
    n = x.shape[1]
    if x.dtype.kind == "f" and x.dtype.itemsize >= 4 and vals.dtype == x.dtype:
        # float32/float64: the C++ kernel (rows bucketed by a counting sort, summed in parallel)
        return _C.tensorops_spmm(np.ascontiguousarray(rows, np.int64),
                                 np.ascontiguousarray(cols, np.int64),
                                 np.ascontiguousarray(vals), m, np.ascontiguousarray(x))
    if n <= 64:
        out = np.empty((m, n), x.dtype)
        xt = np.ascontiguousarray(x.T)
        w = vals.astype(np.float64)
        for j in range(n):
            out[:, j] = np.bincount(rows, weights=w * xt[j][cols], minlength=m)
        return out
    order = np.argsort(rows, kind="stable")
    contrib = x[cols[order]]
    contrib *= vals[order][:, None].astype(contrib.dtype, copy=False)
    return _row_sum(rows[order], contrib, m)


class _SpMM(_Op):
    @staticmethod
    def forward(ctx, vals, x, rows, cols, m):
        ctx.save_for_backward(vals, x)
        ctx.rows, ctx.cols, ctx.m = rows, cols, m
        return _scatter_rows(rows, cols, vals, x, m)

    @staticmethod
    def backward(ctx, g):
        vals, x = ctx.saved_tensors
        rows, cols = ctx.rows, ctx.cols
        gv = gx = None
        if ctx.needs_input_grad[0]:
            gv = np.einsum("ij,ij->i", g[rows], x[cols])
        if ctx.needs_input_grad[1]:
            gx = _scatter_rows(cols, rows, vals, g, x.shape[0])
        return gv, gx, None, None, None


@register(method=False)
def spmm(input, mat2):
    """``fastdl.sparse.mm``: a 2-D sparse tensor times a dense matrix."""
    return mm(input, mat2)


def mm(mat1, mat2):
    """Sparse (m, k) × dense (k, n) → dense (m, n); gradients to the dense operand and to the
    sparse values. Duplicate entries count once each (as if coalesced).
    Example: ``fastdl.sparse.mm(A, X)`` is one graph-convolution propagation step."""
    if not isinstance(mat1, SparseTensor):
        from ..linalg import mm as dense_mm
        return dense_mm(mat1, mat2)
    if mat1.dim() != 2 or mat1.dense_dim() != 0:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix with scalar values, got "
                           f"size {list(mat1.shape)}")
    x = as_tensor(mat2)
    xa = arr(x)
    vec = xa.ndim == 1
    if vec:
        x = x.unsqueeze(1)
        xa = arr(x)
    if xa.ndim != 2 or xa.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"sparse.mm: mat1 and mat2 shapes cannot be multiplied "
                           f"({mat1.shape[0]}x{mat1.shape[1]} and "
                           f"{'x'.join(map(str, xa.shape))})")
    vals = mat1._vals  # duplicates add up in the product, so no coalesce is needed
    if arr(vals).dtype != xa.dtype:
        raise RuntimeError(f"sparse.mm: expected mat1 and mat2 to have the same dtype, got "
                           f"{arr(vals).dtype} and {xa.dtype}")
    out = _SpMM.apply(vals, x, mat1._idx[0], mat1._idx[1], mat1.shape[0])
    return out.squeeze(1) if vec else out


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta·mat + alpha·sparse.mm(mat1, mat2)``. Example: ``fastdl.sparse.addmm(b, A, X)``"""
    p = mm(mat1, mat2)
    p = p if alpha == 1 else p * alpha
    return p + (mat if beta == 1 else mat * beta)


def sum(input, dim=None, dtype=None):  # noqa: A001
    """Sum of a sparse tensor: all entries (a 0-d dense tensor) when ``dim`` is None; over
    ``dim`` (int or tuple) otherwise — a dense tensor when every sparse dimension is summed,
    else a coalesced sparse tensor. Differentiable in the values.
    Example: ``fastdl.sparse.sum(A, dim=1)`` gives the row sums (node degrees)."""
    if not isinstance(input, SparseTensor):
        raise TypeError(f"sparse.sum: expected a sparse tensor, got {type(input).__name__}")
    vals = input._vals if dtype is None else input._vals.to(np_dtype(dtype))
    nd, sd = input.dim(), input.sparse_dim()
    if dim is None:
        return vals.sum()
    dims = {d % nd for d in ((dim,) if isinstance(dim, int) else dim)}
    sparse_red = sorted(d for d in dims if d < sd)
    dense_red = sorted(d - sd + 1 for d in dims if d >= sd)
    if dense_red:
        vals = vals.sum(tuple(dense_red))
    keep = [d for d in range(sd) if d not in sparse_red]
    dense_shape = [s for i, s in enumerate(input.shape[sd:]) if i + sd not in dims]
    if not keep:
        return vals.sum(0)
    idx = input._idx[keep]
    size = tuple(input.shape[d] for d in keep) + tuple(dense_shape)
    new_idx, new_vals = _coalesce(idx, vals, size)
    res = SparseTensor(new_idx, new_vals, size, True)
    return res
