"""Linear algebra: the products (dot, vdot, mv, outer/ger, inner, addmm, addmv, addbmm,
baddbmm, einsum, tensordot, kron, cross, trace, cdist) registered as ``fastdl.<name>`` and
Tensor methods, and the ``fastdl.linalg`` functions (norm, vector_norm, matrix_norm, inv,
solve, det, slogdet, svd, svdvals, qr, eigh, eigvalsh, cholesky, lstsq, pinv, matrix_power,
matrix_rank, multi_dot, cross, vecdot).

Every contraction runs on fastdl's GEMM kernel through ``matmul`` (einsum and tensordot
permute and reshape their operands to batched matrix products). The decompositions run on
NumPy's LAPACK (inv, solve, det and cholesky of one float32 matrix from 64 rows on SciPy's
single-precision LAPACK when SciPy is installed: NumPy computes float32 in float64); each is
one ``_Op`` whose backward is the textbook matrix-calculus rule
(inverse: ``-A⁻ᵀ G A⁻ᵀ``; determinant: ``g·det·A⁻ᵀ``; eigh, svd, qr, cholesky as in
Townsend 2016, Liao et al. 2019 and Murray 2016). Batched inputs (``(..., m, n)``) work
everywhere.

Example::

    A = fastdl.randn(3, 3, dtype=fastdl.float64, requires_grad=True)
    fastdl.linalg.det(A).backward()              # A.grad == det(A) · A⁻ᵀ
    fastdl.einsum("bij,bjk->bik", x, y)          # a batched matmul on the GEMM kernel
"""
from __future__ import annotations

import builtins
import string

import numpy as np

from .. import _C, return_types
from ..autograd import function as _fn
from ..autograd.function import _Op
from ._support import Tensor, arr, as_tensor, float_dtype, norm_dim, norm_dims, out_, wrap
from ._util import _wrap
from .table import register


def _matmul(a, b):
    from ..linalg import matmul
    return matmul(a, b)


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _float_pair(a, b, what):
    a, b = as_tensor(a), as_tensor(b)
    da, db = arr(a).dtype, arr(b).dtype
    if da != db:
        raise RuntimeError(f"{what}: expected both operands to have the same dtype, but got "
                           f"{da} and {db}")
    return a, b


def _int_matmul(a, b):
    """Integer/bool products (not differentiable) on NumPy."""
    return wrap(np.matmul(arr(a), arr(b)))


def _mm(a, b):
    if arr(a).dtype.kind != "f":
        return _int_matmul(a, b)
    return _matmul(a, b)


# ---- products ------------------------------------------------------------------------------


@register()
def dot(input, tensor, *, out=None):
    """Inner product of two 1-D tensors of the same size and dtype.
    Example: ``fastdl.dot(fastdl.tensor([2, 3]), fastdl.tensor([2, 1]))`` gives ``7``."""
    a, b = _float_pair(input, tensor, "dot")
    if arr(a).ndim != 1 or arr(b).ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {arr(a).ndim}D and {arr(b).ndim}D "
                           f"tensors")
    if arr(a).shape != arr(b).shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{arr(a).shape[0]}] and "
                           f"src [{arr(b).shape[0]}] to have the same number of elements")
    return out_(out, _mm(a, b), "dot")


@register()
def vdot(input, other, *, out=None):
    """``dot`` with the first operand conjugated (the same for real tensors).
    Example: ``fastdl.vdot(fastdl.ones(3), fastdl.ones(3))`` gives ``3.``."""
    return dot(input, other, out=out)


@register()
def inner(input, other, *, out=None):
    """Inner product over the last dimension (a scalar operand multiplies).
    Example: ``fastdl.inner(fastdl.ones(2, 3), fastdl.ones(4, 3)).shape == (2, 4)``"""
    a, b = as_tensor(input), as_tensor(other)
    if arr(a).ndim == 0 or arr(b).ndim == 0:
        return out_(out, a * b, "inner")
    a, b = _float_pair(a, b, "inner")
    if arr(a).shape[-1] != arr(b).shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(arr(a).shape)} and {list(arr(b).shape)}")
    return out_(out, tensordot(a, b, ([-1], [-1])), "inner")


@register()
def mv(input, vec, *, out=None):
    """Matrix (n, m) times vector (m,) → (n,).
    Example: ``fastdl.mv(fastdl.eye(2), fastdl.tensor([1.0, 2.0]))`` gives ``[1., 2.]``."""
    a, v = _float_pair(input, vec, "mv")
    if arr(a).ndim != 2 or arr(v).ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {arr(a).ndim}, "
                           f"{arr(v).ndim}")
    if arr(a).shape[1] != arr(v).shape[0]:
        raise RuntimeError(f"size mismatch, got input ({arr(a).shape[0]}), mat "
                           f"({arr(a).shape[0]}x{arr(a).shape[1]}), vec ({arr(v).shape[0]})")
    return out_(out, _mm(a, v), "mv")


@register(aliases=("ger",))
def outer(input, vec2, *, out=None):
    """Outer product of two 1-D tensors: ``out[i, j] = input[i]·vec2[j]``.
    Example: ``fastdl.outer(fastdl.tensor([1, 2]), fastdl.tensor([3, 4]))`` gives
    ``[[3, 4], [6, 8]]``."""
    a, b = as_tensor(input), as_tensor(vec2)
    if arr(a).ndim != 1 or arr(b).ndim != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, got {arr(a).ndim}D and "
                           f"{arr(b).ndim}D")
    aa, ba = arr(a), arr(b)
    if aa.dtype == ba.dtype and aa.dtype in (np.float32, np.float64):
        if not ((a.requires_grad or b.requires_grad) and _fn._state.grad) and \
                aa.flags.c_contiguous and ba.flags.c_contiguous and aa.flags.aligned and \
                ba.flags.aligned:
            # nothing to record: one pass of the C++ kernel (each entry the one product, the
            # same value as the GEMM below)
            return out_(out, _wrap(_C.tensorops_outer(aa, ba)), "outer")
        # the GEMM with k = 1 (each entry a single product, as the broadcast multiply, which
        # NumPy runs row by row at a third of the speed)
        return out_(out, _matmul(a.reshape(-1, 1), b.reshape(1, -1)), "outer")
    return out_(out, a.reshape(-1, 1) * b.reshape(1, -1), "outer")


def _scaled_sum(what, input, prod, beta, alpha):
    p = prod if alpha == 1 else prod * alpha
    if beta == 0:  # torch: input is ignored (NaN in it does not propagate)
        return p
    x = as_tensor(input)
    return p + (x if beta == 1 else x * beta)


def _check_shape(what, input, shape):
    s = arr(as_tensor(input)).shape
    try:
        ok = np.broadcast_shapes(s, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{what}: input of shape {list(s)} cannot be broadcast to the product "
                           f"of shape {list(shape)}")


@register()
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta·input + alpha·(mat1 @ mat2)`` (input broadcast to (n, p)).
    Example: ``fastdl.addmm(b, x, w)`` is a linear layer."""
    a, b = _float_pair(mat1, mat2, "addmm")
    if arr(a).ndim != 2 or arr(b).ndim != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be matrices, got {arr(a).ndim}-D and "
                           f"{arr(b).ndim}-D")
    if arr(a).shape[1] != arr(b).shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({arr(a).shape[0]}x"
                           f"{arr(a).shape[1]} and {arr(b).shape[0]}x{arr(b).shape[1]})")
    _check_shape("addmm", input, (arr(a).shape[0], arr(b).shape[1]))
    return out_(out, _scaled_sum("addmm", input, _mm(a, b), beta, alpha), "addmm")


@register()
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta·input + alpha·(mat @ vec)``. Example: ``fastdl.addmv(b, W, x)``"""
    p = mv(mat, vec)
    _check_shape("addmv", input, arr(p).shape)
    return out_(out, _scaled_sum("addmv", input, p, beta, alpha), "addmv")


def _check_bmm(b1, b2, what):
    s1, s2 = arr(b1).shape, arr(b2).shape
    if len(s1) != 3 or len(s2) != 3:
        raise RuntimeError(f"{what}: batch1 must be a 3D tensor and batch2 must be a 3D tensor, "
                           f"got {list(s1)} and {list(s2)}")
    if s1[0] != s2[0] or s1[2] != s2[1]:
        raise RuntimeError(f"{what}: batch1 {list(s1)} and batch2 {list(s2)} do not multiply")


@register()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta·input + alpha·bmm(batch1, batch2)``, batch by batch.
    Example: ``fastdl.baddbmm(fastdl.zeros(2, 3, 5), q, k)``"""
    b1, b2 = _float_pair(batch1, batch2, "baddbmm")
    _check_bmm(b1, b2, "baddbmm")
    p = _mm(b1, b2)
    _check_shape("baddbmm", input, arr(p).shape)
    return out_(out, _scaled_sum("baddbmm", input, p, beta, alpha), "baddbmm")


@register()
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta·input + alpha·Σ_b batch1[b] @ batch2[b]`` (one product over the stacked
    batches on the GEMM kernel). Example: ``fastdl.addbmm(fastdl.zeros(3, 5), x, y)``"""
    b1, b2 = _float_pair(batch1, batch2, "addbmm")
    _check_bmm(b1, b2, "addbmm")
    # Σ_b A_b B_b = [A_0 … A_{B-1}] (n, B·k) @ [B_0; …; B_{B-1}] (B·k, p)
    n, k = arr(b1).shape[1], arr(b1).shape[2]
    a2 = b1.permute(1, 0, 2).reshape(n, -1)
    bb = b2.reshape(-1, arr(b2).shape[2])
    p = _mm(a2, bb) if arr(b1).shape[0] else wrap(np.zeros((n, arr(b2).shape[2]),
                                                            arr(b1).dtype))
    _check_shape("addbmm", input, arr(p).shape)
    return out_(out, _scaled_sum("addbmm", input, p, beta, alpha), "addbmm")


@register()
def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integers sum in int64).
    Example: ``fastdl.trace(fastdl.eye(3))`` gives ``3.``."""
    x = as_tensor(input)
    if arr(x).ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {arr(x).ndim}")
    from .shape_ext import diagonal
    from .reduce import sum as _sum
    return _sum(diagonal(x))


@register()
def kron(input, other, *, out=None):
    """Kronecker product: blocks ``input[i, j]·other`` (shapes padded with leading 1s to the
    same rank). Example: ``fastdl.kron(fastdl.eye(2), fastdl.ones(2, 2)).shape == (4, 4)``"""
    a, b = as_tensor(input), as_tensor(other)
    na, nb = arr(a).ndim, arr(b).ndim
    n = builtins.max(na, nb)
    sa = (1,) * (n - na) + arr(a).shape
    sb = (1,) * (n - nb) + arr(b).shape
    ia, ib = [], []
    for x, y in zip(sa, sb):
        ia += [x, 1]
        ib += [1, y]
    res = a.reshape(*ia) * b.reshape(*ib)
    return out_(out, res.reshape(*[x * y for x, y in zip(sa, sb)]), "kron")


@register()
def cross(input, other, dim=None, *, out=None):
    """Cross product of 3-vectors along ``dim`` (default: the first dimension of size 3, as
    torch; ``fastdl.linalg.cross`` defaults to -1). Inputs broadcast.
    Example: ``fastdl.cross(fastdl.tensor([1., 0, 0]), fastdl.tensor([0., 1, 0]))`` gives
    ``[0., 0., 1.]``."""
    a, b = as_tensor(input), as_tensor(other)
    shape = np.broadcast_shapes(arr(a).shape, arr(b).shape)
    if dim is None:
        cands = [i for i, s in enumerate(shape) if s == 3]
        if not cands:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shape {list(shape)})")
        dim = cands[0]
    return out_(out, _cross(a, b, dim, shape), "cross")


def _cross(a, b, dim, shape):
    d = norm_dim(dim, len(shape), "cross")
    if shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{arr(a).shape[d] if arr(a).ndim == len(shape) else '?'} and "
                           f"{arr(b).shape[d] if arr(b).ndim == len(shape) else '?'}")
    if arr(a).shape != shape:
        a = a.expand(*shape)
    if arr(b).shape != shape:
        b = b.expand(*shape)
    from .select import select
    from ..tensor import stack
    a0, a1, a2 = (select(a, d, i) for i in range(3))
    b0, b1, b2 = (select(b, d, i) for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@register(method=False)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise ``p``-norm distances between the rows of ``x1`` (…, P, M) and ``x2``
    (…, R, M) → (…, P, R). The gradient of a zero distance is 0.
    Example: ``fastdl.cdist(fastdl.zeros(2, 3), fastdl.ones(4, 3))`` is all √3."""
    a, b = _float_pair(x1, x2, "cdist")
    if arr(a).ndim < 2 or arr(b).ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {arr(a).ndim}D, "
                           f"X2 got: {arr(b).ndim}D")
    if arr(a).shape[-1] != arr(b).shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{arr(a).shape[-1]} X2: {arr(b).shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if p == 2 and compute_mode != "donot_use_mm_for_euclid_dist" and \
            (compute_mode == "use_mm_for_euclid_dist" or arr(a).shape[-2] > 25 or
             arr(b).shape[-2] > 25):
        return _CdistMM.apply(a, b)
    from .stats import vector_norm_impl
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)
    return vector_norm_impl(diff, p, -1, False, None, "cdist")


class _CdistMM(_Op):
    """Euclidean distances through one GEMM: ‖a‖² + ‖b‖² − 2 a·bᵀ (clamped at 0), as torch's
    "use_mm_for_euclid_dist"; the gradient of a zero distance is 0."""

    @staticmethod
    def forward(ctx, a, b):
        from .. import _C
        a_c, b_c = np.ascontiguousarray(a), np.ascontiguousarray(b)
        ab = _C.matmul(a_c, b_c, trans_b=True)
        d2 = (a_c * a_c).sum(-1)[..., :, None] + (b_c * b_c).sum(-1)[..., None, :] - 2 * ab
        np.maximum(d2, 0, out=d2)
        d = np.sqrt(d2)
        ctx.save_for_backward(a_c, b_c, d)
        return d

    @staticmethod
    def backward(ctx, g):
        a, b, d = ctx.saved_tensors
        with np.errstate(all="ignore"):
            w = np.where(d == 0, 0, g / np.where(d == 0, 1, d)).astype(a.dtype)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = a * w.sum(-1)[..., None] - w @ b
        if ctx.needs_input_grad[1]:
            gb = b * w.sum(-2)[..., None] - np.swapaxes(w, -1, -2) @ a
        return ga, gb


@register(method=False)
def tensordot(a, b, dims=2, out=None):
    """Contract the last ``dims`` dimensions of ``a`` with the first ``dims`` of ``b``, or
    the listed pairs ``dims=([a dims], [b dims])``; one matrix product on the GEMM kernel.
    Example: ``fastdl.tensordot(fastdl.ones(2, 3, 4), fastdl.ones(3, 4, 5)).shape == (2, 5)``"""
    a, b = as_tensor(a), as_tensor(b)
    na, nb = arr(a).ndim, arr(b).ndim
    if isinstance(dims, Tensor):
        dims = arr(dims).tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
    da = [norm_dim(d, na, "tensordot") for d in da]
    db = [norm_dim(d, nb, "tensordot") for d in db]
    for i, j in zip(da, db):
        if arr(a).shape[i] != arr(b).shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{arr(a).shape[i]} in dim {i} and second has size "
                               f"{arr(b).shape[j]} in dim {j}")
    fa = [i for i in range(na) if i not in da]
    fb = [j for j in range(nb) if j not in db]
    sa = [arr(a).shape[i] for i in fa]
    sb = [arr(b).shape[j] for j in fb]
    k = int(np.prod([arr(a).shape[i] for i in da])) if da else 1
    am = a.permute(*(fa + da)).reshape(int(np.prod(sa)) if sa else 1, k)
    bm = b.permute(*(db + fb)).reshape(k, int(np.prod(sb)) if sb else 1)
    return out_(out, _mm(am, bm).reshape(*(sa + sb)), "tensordot")


# ---- einsum ---------------------------------------------------------------------------------


def _parse_einsum(eq, ops):
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the "
                           f"equation" if len(ops) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the "
                           "equation")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_n = 0
    parsed = []
    for t, x in zip(terms, ops):
        nd = arr(x).ndim
        if "..." in t:
            pre, post = t.split("...")
            k = nd - len(pre) - len(post)
            if k < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(pre) + len(post)}) is more than the number of "
                                   f"dimensions ({nd}) for operand")
            ell_n = builtins.max(ell_n, k)
            parsed.append((pre, k, post))
        else:
            if len(t) != nd:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(t)}) does not match the number of dimensions ({nd}) "
                                   f"for operand {len(parsed)} and no ellipsis was given")
            parsed.append((t, 0, ""))
        for c in t.replace("...", ""):
            if not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in "
                                   f"the equation string, subscripts must be in [a-zA-Z]")
    ell = "".join(free[:ell_n])
    subs = [pre + ell[ell_n - k:] + post for pre, k, post in parsed]
    if rhs is None:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        if "..." in rhs:
            rhs = rhs.replace("...", ell)
        elif ell_n:
            rhs = rhs  # ellipsis dimensions summed out
    for c in rhs:
        if not any(c in s for s in subs):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation "
                               f"for any input operand")
    return subs, rhs


def _diag_reduce(x, s):
    """Take diagonals for repeated subscripts in one operand (``ii`` → ``i``)."""
    from .shape_ext import diagonal
    while True:
        dup = next((c for c in s if s.count(c) > 1), None)
        if dup is None:
            return x, s
        i = s.index(dup)
        j = s.index(dup, i + 1)
        x = diagonal(x, 0, i, j)
        s = s[:i] + s[i + 1:j] + s[j + 1:] + dup


def _sum_out(x, s, keep):
    """Sum the subscripts of ``s`` not in ``keep``."""
    drop = [i for i, c in enumerate(s) if c not in keep]
    if not drop:
        return x, s
    x = x.sum(tuple(drop))
    return x, "".join(c for c in s if c in keep)


def _contract(x, sx, y, sy, keep):
    """Contract two operands; the result carries the subscripts in ``keep`` (batch first,
    then x's free, then y's free)."""
    batch = [c for c in sx if c in sy and c in keep]
    contr = [c for c in sx if c in sy and c not in keep]
    fx = [c for c in sx if c not in sy]
    fy = [c for c in sy if c not in sx]
    shx = dict(zip(sx, arr(x).shape))
    shy = dict(zip(sy, arr(y).shape))
    for c in batch + contr:
        if shx[c] != shy[c] and 1 not in (shx[c], shy[c]):
            raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes "
                               f"(original->remapped): subscript {c} has sizes {shx[c]} and "
                               f"{shy[c]}")
    # a contracted subscript of size 1 on one side is summed on the other first
    for c in list(contr):
        if shx[c] != shy[c]:
            if shx[c] == 1:
                y = y.sum(sy.index(c), keepdim=True)
                shy[c] = 1
            else:
                x = x.sum(sx.index(c), keepdim=True)
                shx[c] = 1
    px = [sx.index(c) for c in batch + fx + contr]
    py = [sy.index(c) for c in batch + contr + fy]
    xm = x.permute(*px) if px != list(range(len(px))) else x
    ym = y.permute(*py) if py != list(range(len(py))) else y
    bx = [shx[c] for c in batch]
    by = [shy[c] for c in batch]
    m = int(np.prod([shx[c] for c in fx])) if fx else 1
    n = int(np.prod([shy[c] for c in fy])) if fy else 1
    k = int(np.prod([shx[c] for c in contr])) if contr else 1
    xm = xm.reshape(*bx, m, k)
    ym = ym.reshape(*by, k, n)
    r = _mm(xm, ym)
    bout = [builtins.max(p, q) for p, q in zip(bx, by)]
    r = r.reshape(*bout, *[shx[c] for c in fx], *[shy[c] for c in fy])
    return r, "".join(batch + fx + fy)


@register(method=False)
def einsum(equation, *operands):
    """Einstein summation: ``"ij,jk->ik"`` style subscripts (letters a-z, A-Z), ``...`` for
    broadcast leading dimensions, implicit output (sorted subscripts that appear once) when
    ``->`` is left out, repeated subscripts in one operand take diagonals. Operands are
    contracted pairwise, left to right; each contraction is permuted and reshaped into one
    (batched) matrix product on the GEMM kernel. Differentiable.

    Example: ``fastdl.einsum("bhqd,bhkd->bhqk", q, k)`` (attention scores)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    ops = [as_tensor(o) for o in operands]
    subs, rhs = _parse_einsum(equation, ops)
    xs = []
    for x, s in zip(ops, subs):
        x, s = _diag_reduce(x, s)
        xs.append((x, s))
    # sum subscripts that occur in one operand only and not in the output
    for i, (x, s) in enumerate(xs):
        others = "".join(t for j, (_, t) in enumerate(xs) if j != i) + rhs
        xs[i] = _sum_out(x, s, set(others))
    x, s = xs[0]
    for i in range(1, len(xs)):
        y, t = xs[i]
        later = "".join(u for _, u in xs[i + 1:]) + rhs
        x, s = _contract(x, s, y, t, set(later))
    x, s = _sum_out(x, s, set(rhs))
    perm = [s.index(c) for c in rhs]
    if perm != list(range(len(perm))):
        x = x.permute(*perm)
    elif len(xs) == 1 and x is ops[0]:
        x = x.clone()
    return x


# ---- decompositions ---------------------------------------------------------------------------


def _square(x, what):
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{what}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{what}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.{what}: Expected a floating point tensor as input. Got "
                           f"{a.dtype}")


_LAPACK32_MIN = 64  # float32 matrices from this size run on LAPACK's single-precision routines
_lapack = None      # scipy.linalg.lapack once looked up (False: SciPy is not installed)


def _lapack32(*arrays):
    """``scipy.linalg.lapack`` when every array is one float32 matrix (2-D) with at least
    ``_LAPACK32_MIN`` rows and SciPy is installed, else None. NumPy's linalg computes float32
    input in float64 and rounds (2-3× the time of the single-precision routines)."""
    for a in arrays:
        if a.dtype != np.float32 or a.ndim != 2 or a.shape[0] < _LAPACK32_MIN:
            return None
    global _lapack
    if _lapack is None:
        try:
            from scipy.linalg import lapack
        except ImportError:  # pragma: no cover - SciPy is optional
            lapack = False
        _lapack = lapack
    return _lapack or None


def _singular(what, info):
    raise RuntimeError(f"linalg.{what}: The diagonal element {info} is zero, the "
                       f"{'inversion' if what == 'inv' else 'solve'} could not be completed "
                       f"because the input matrix is singular.")


def _lin(fn, what, *args):
    try:
        return fn(*args)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"linalg.{what}: {e}") from None


class _Inv(_Op):
    @staticmethod
    def forward(ctx, a):
        lapack = _lapack32(a)
        if lapack is not None:
            # a's memory read in Fortran order is Aᵀ: Aᵀ Y = I gives Y = A⁻ᵀ, whose transpose
            # (C order, no copy) is A⁻¹
            _, _, y, info = lapack.sgesv(a.T, np.eye(a.shape[0], dtype=a.dtype),
                                         overwrite_b=1)
            if info > 0:
                _singular("inv", info)
            out = y.T
        else:
            out = _lin(np.linalg.inv, "inv", a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (inv,) = ctx.saved_tensors
        it = _mT(inv)
        return -(it @ g @ it)


def inv(A, *, out=None):
    """The inverse of a square matrix (or batch); a singular matrix is a RuntimeError.
    Gradient ``-A⁻ᵀ G A⁻ᵀ``. Example: ``fastdl.linalg.inv(2 * fastdl.eye(2))``"""
    x = as_tensor(A)
    _square(x, "inv")
    return out_(out, _Inv.apply(x), "linalg.inv")


class _Solve(_Op):
    @staticmethod
    def forward(ctx, a, b, vec):
        bb = b[..., None] if vec else b
        lapack = _lapack32(a, bb)
        if lapack is not None:
            _, _, x, info = lapack.sgesv(a, bb)  # x in Fortran order, as torch's result
            if info > 0:
                _singular("solve", info)
        else:
            x = _lin(np.linalg.solve, "solve", a, bb)
        ctx.save_for_backward(a, x)
        ctx.vec = vec
        return x[..., 0] if vec else x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        gg = g[..., None] if ctx.vec else g
        gb = np.linalg.solve(_mT(a), gg)
        ga = -(gb @ _mT(x)) if ctx.needs_input_grad[0] else None
        return ga, (gb[..., 0] if ctx.vec else gb), None


def solve(A, B, *, left=True, out=None):
    """The X with ``A X = B`` (``left=False``: ``X A = B``); B a vector (…, n) or matrices
    (…, n, k), batches broadcast. Gradients: ``Ḡ_B = A⁻ᵀ G``, ``Ḡ_A = -Ḡ_B Xᵀ``.
    Example: ``fastdl.linalg.solve(A, b)``"""
    a, b = _float_pair(A, B, "linalg.solve")
    _square(a, "solve")
    if not left:
        return out_(out, solve(a.mT, b.mT).mT, "linalg.solve")
    n = arr(a).shape[-1]
    sb = arr(b).shape
    vec = arr(b).ndim == 1 or (arr(b).ndim == arr(a).ndim - 1 and sb == arr(a).shape[:-1])
    if (vec and sb[-1] != n) or (not vec and (len(sb) < 2 or sb[-2] != n)):
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = "
                           f"B ({arr(a).shape[-2]}x{n} and {list(sb)})")
    if vec and arr(b).ndim > 1:
        # batched vectors: broadcast A's batch with B's
        bs = np.broadcast_shapes(arr(a).shape[:-2], sb[:-1])
        if arr(a).shape[:-2] != bs:
            a = a.expand(*bs, n, n)
        if sb[:-1] != bs:
            b = b.expand(*bs, n)
    elif not vec:
        bs = np.broadcast_shapes(arr(a).shape[:-2], sb[:-2])
        if arr(a).shape[:-2] != bs:
            a = a.expand(*bs, n, n)
        if sb[:-2] != bs:
            b = b.expand(*bs, *sb[-2:])
    elif arr(a).ndim > 2:
        b = b.expand(*arr(a).shape[:-2], n)
    return out_(out, _Solve.apply(a, b, vec), "linalg.solve")


class _Det(_Op):
    @staticmethod
    def forward(ctx, a):
        lapack = _lapack32(a)
        if lapack is not None:
            # LU of Aᵀ (a's memory in Fortran order): det(Aᵀ) = det(A) = ±Π diag(U)
            lu, piv, _ = lapack.sgetrf(a.T)
            swaps = np.count_nonzero(piv != np.arange(piv.size))
            p = np.prod(np.diagonal(lu).astype(np.float64)) * (-1.0) ** swaps
            with np.errstate(over="ignore"):  # beyond float32's range: ±inf, as torch
                d = np.asarray(p, a.dtype)
        else:
            d = np.asarray(np.linalg.det(a))
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        try:
            it = _mT(np.linalg.inv(a))
            return (g * d)[..., None, None] * it
        except np.linalg.LinAlgError:
            # singular: the adjugate through the SVD, A = U S Vᵀ, adj(A)ᵀ = U adj(S) Vᵀ det(U V)
            u, s, vt = np.linalg.svd(a)
            n = s.shape[-1]
            prod = np.stack([np.prod(np.delete(s, i, -1), -1) for i in range(n)], -1)
            sign = np.linalg.det(u) * np.linalg.det(vt)
            cof = (u * prod[..., None, :]) @ vt * sign[..., None, None]
            return g[..., None, None] * cof


def det(A, *, out=None):
    """The determinant of a square matrix (or batch). Gradient ``g·det(A)·A⁻ᵀ`` (the
    cofactor matrix, also for singular A). Example: ``fastdl.linalg.det(fastdl.eye(3))``"""
    x = as_tensor(A)
    _square(x, "det")
    return out_(out, _Det.apply(x), "linalg.det")


class _SlogDet(_Op):
    @staticmethod
    def forward(ctx, a):
        s, l = np.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return np.asarray(s, a.dtype), np.asarray(l, a.dtype)

    @staticmethod
    def backward(ctx, gs, gl):
        (a,) = ctx.saved_tensors
        if gl is None:
            return np.zeros_like(a)
        return gl[..., None, None] * _mT(_lin(np.linalg.inv, "slogdet", a))


def slogdet(A, *, out=None):
    """``(sign, log|det|)`` of a square matrix (or batch), a named tuple; stable where
    ``det`` would under/overflow. Gradient of logabsdet: ``A⁻ᵀ``.
    Example: ``fastdl.linalg.slogdet(2 * fastdl.eye(3)).logabsdet`` is ``3 log 2``."""
    x = as_tensor(A)
    _square(x, "slogdet")
    s, l = _SlogDet.apply(x)
    s = s.detach()
    return out_(out, return_types.linalg_slogdet(s, l), "linalg.slogdet")


class _Eigh(_Op):
    @staticmethod
    def forward(ctx, a, uplo):
        w, v = _lin(np.linalg.eigh, "eigh", a, uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        vt = _mT(v)
        inner = np.zeros(v.shape[:-2] + (v.shape[-1],) * 2, v.dtype)
        if gv is not None:
            with np.errstate(all="ignore"):
                f = w[..., None, :] - w[..., :, None]  # F_ij = λ_j - λ_i
                f = np.where(f == 0, np.inf, f)
            inner = (vt @ gv) / f
        if gw is not None:
            inner = inner + np.einsum("...i,ij->...ij", gw, np.eye(w.shape[-1]))
        ga = v @ inner @ vt
        return ga, None


def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (or batch),
    read from its lower (``UPLO="L"``) or upper triangle: a named tuple
    ``(eigenvalues, eigenvectors)``. Gradient as torch (``V (diag(ḡλ) + F∘VᵀḠ_V) Vᵀ``, F_ij =
    1/(λⱼ − λᵢ)), defined for distinct eigenvalues and gauge-invariant losses.
    Example: ``w, V = fastdl.linalg.eigh(A)``"""
    x = as_tensor(A)
    _square(x, "eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = _Eigh.apply(x, UPLO)
    return out_(out, return_types.linalg_eigh(w, v), "linalg.eigh")


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues (ascending) of a symmetric matrix (or batch); differentiable.
    Example: ``fastdl.linalg.eigvalsh(fastdl.eye(2))`` gives ``[1., 1.]``."""
    return out_(out, eigh(A, UPLO).eigenvalues, "linalg.eigvalsh")


class _SVD(_Op):
    @staticmethod
    def forward(ctx, a, full):
        u, s, vh = _lin(np.linalg.svd, "svd", a, full)
        ctx.save_for_backward(a, u, s, vh)
        ctx.full = full
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        a, u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        m, n = a.shape[-2], a.shape[-1]
        if ctx.full and (gu is not None or gvh is not None) and m != n:
            raise RuntimeError("linalg.svd: the derivative with full_matrices=True is not "
                               "defined for the extra singular vectors; use "
                               "full_matrices=False")
        u, vh = u[..., :, :k], vh[..., :k, :]
        v = _mT(vh)
        ut = _mT(u)
        res_inner = np.zeros(a.shape[:-2] + (k, k), a.dtype)
        if gs is not None:
            res_inner = res_inner + np.einsum("...i,ij->...ij", gs, np.eye(k))
        extra = 0
        if gu is not None or gvh is not None:
            s2 = s * s
            with np.errstate(all="ignore"):
                f = s2[..., None, :] - s2[..., :, None]  # F_ij = s_j² - s_i²
                f = np.where(f == 0, np.inf, 1.0 / np.where(f == 0, 1, f))
                f = np.where(np.isinf(f), 0, f)
            sdiag = np.einsum("...i,ij->...ij", s, np.eye(k))
            sinv = np.einsum("...i,ij->...ij", 1.0 / s, np.eye(k))
            if gu is not None:
                gu = gu[..., :, :k]
                j = f * (ut @ gu - _mT(gu) @ u)
                res_inner = res_inner + j @ sdiag
                if m > k:
                    extra = extra + (gu - u @ (ut @ gu)) @ sinv @ vh
            if gvh is not None:
                gv = _mT(gvh[..., :k, :])
                kk = f * (vh @ gv - _mT(gv) @ v)
                res_inner = res_inner + sdiag @ kk
                if n > k:
                    extra = extra + u @ sinv @ _mT(gv - v @ (vh @ gv))
        return u @ res_inner @ vh + extra, None


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``A = U diag(S) Vh``: a named tuple ``(U, S, Vh)``, S descending; ``full_matrices=False``
    gives the reduced factors. Gradient (Townsend 2016) for distinct singular values and
    losses that do not depend on the singular vectors' signs.
    Example: ``U, S, Vh = fastdl.linalg.svd(A, full_matrices=False)``"""
    x = as_tensor(A)
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.svd: Expected a floating point tensor as input. Got "
                           f"{a.dtype}")
    u, s, vh = _SVD.apply(x, bool(full_matrices))
    return out_(out, return_types.linalg_svd(u, s, vh), "linalg.svd")


def svdvals(A, *, driver=None, out=None):
    """The singular values, descending; differentiable (``U diag(ḡ) Vh``).
    Example: ``fastdl.linalg.svdvals(fastdl.eye(2))`` gives ``[1., 1.]``."""
    return out_(out, svd(A, full_matrices=False).S, "linalg.svdvals")


class _QR(_Op):
    @staticmethod
    def forward(ctx, a, mode):
        q, r = _lin(np.linalg.qr, "qr", a, "complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(a, q, r)
        ctx.mode = mode
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        a, q, r = ctx.saved_tensors
        m, n = a.shape[-2], a.shape[-1]
        if m < n or (ctx.mode == "complete" and m > n):
            raise RuntimeError("linalg.qr: the derivative is implemented for mode='reduced' "
                               "with m >= n only")
        gq = np.zeros_like(q) if gq is None else gq
        gr = np.zeros_like(r) if gr is None else gr
        # Liao et al. 2019: M = R Ḡ_Rᵀ − Ḡ_Qᵀ Q;  Ā = (Ḡ_Q + Q copyltu(M)) R⁻ᵀ
        mm = r @ _mT(gr) - _mT(gq) @ q
        low = np.tril(mm)
        copyltu = low + _mT(np.tril(mm, -1))
        b = gq + q @ copyltu
        # solve X Rᵀ = b  ⇔  R Xᵀ = bᵀ
        return _mT(np.linalg.solve(r, _mT(b))), None


def qr(A, mode="reduced", *, out=None):
    """``A = Q R`` with orthonormal Q and upper-triangular R: a named tuple ``(Q, R)``;
    ``mode`` "reduced" (default), "complete" or "r" (Q empty). Differentiable for
    mode="reduced" and m ≥ n.
    Example: ``Q, R = fastdl.linalg.qr(A)``"""
    x = as_tensor(A)
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    q, r = _QR.apply(x, "reduced" if mode == "r" else mode)
    if mode == "r":
        q = wrap(np.zeros((0,), a.dtype))
    return out_(out, return_types.linalg_qr(q, r), "linalg.qr")


class _Cholesky(_Op):
    @staticmethod
    def forward(ctx, a, upper):
        lapack = _lapack32(a)
        if lapack is not None:
            # the upper factor of a's memory read in Fortran order (Aᵀ, from A's lower
            # triangle as torch) is, read back in C order, the lower factor L of A
            u, info = lapack.spotrf(a.T, lower=0, clean=1)
            l = u.T
        else:
            try:
                l = np.linalg.cholesky(a)
                info = 0
            except np.linalg.LinAlgError:
                info = 1
        if info:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed "
                               "because the input is not positive-definite.")
        ctx.save_for_backward(l)
        ctx.upper = upper
        return _mT(l).copy() if upper else l

    @staticmethod
    def backward(ctx, g):
        (l,) = ctx.saved_tensors
        if ctx.upper:
            g = _mT(g)
        # Murray 2016: Φ(Lᵀ Ḡ) with the diagonal halved; Ā = L⁻ᵀ Φ L⁻¹, symmetrised
        p = np.tril(_mT(l) @ g)
        idx = np.arange(l.shape[-1])
        p[..., idx, idx] *= 0.5
        linv = np.linalg.inv(l)
        ga = _mT(linv) @ p @ linv
        return 0.5 * (ga + _mT(ga)), None


def cholesky(A, *, upper=False, out=None):
    """The lower-triangular L with ``A = L Lᵀ`` of a symmetric positive-definite matrix (or
    batch); ``upper=True`` returns ``Lᵀ``. A matrix that is not positive-definite is a
    RuntimeError. Differentiable (symmetric gradient).
    Example: ``fastdl.linalg.cholesky(4 * fastdl.eye(2))`` gives ``2·I``."""
    x = as_tensor(A)
    _square(x, "cholesky")
    return out_(out, _Cholesky.apply(x, bool(upper)), "linalg.cholesky")


class _Pinv(_Op):
    @staticmethod
    def forward(ctx, a, rtol, hermitian):
        x = np.linalg.pinv(a, rcond=rtol, hermitian=hermitian)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        xt, gt = _mT(x), _mT(g)
        m, n = a.shape[-2], a.shape[-1]
        ga = -(xt @ g @ xt)
        ga = ga + (np.eye(m) - a @ x) @ gt @ x @ xt
        ga = ga + xt @ x @ gt @ (np.eye(n) - x @ a)
        return ga, None, None


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The Moore–Penrose pseudo-inverse (singular values below ``rtol·σ_max`` treated as
    zero; default rtol = max(m, n)·eps). Differentiable where the rank is constant.
    Example: ``fastdl.linalg.pinv(A) @ b`` is the least-squares solution."""
    x = as_tensor(A)
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError("linalg.pinv: The input tensor A must have at least 2 dimensions.")
    if rtol is None:
        rtol = builtins.max(a.shape[-2:]) * np.finfo(float_dtype(a.dtype)).eps
    return out_(out, _Pinv.apply(x, rtol, bool(hermitian)), "linalg.pinv")


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X minimising ‖A X − B‖ (B (…, m) or (…, m, k)): a named
    tuple ``(solution, residuals, rank, singular_values)``; residuals and singular_values are
    empty as for torch's default CPU driver "gelsy", rank is computed. Differentiable
    (through ``pinv``).
    Example: ``fastdl.linalg.lstsq(X, y).solution``"""
    a, b = _float_pair(A, B, "linalg.lstsq")
    if arr(a).ndim < 2:
        raise RuntimeError("linalg.lstsq: input must have at least 2 dimensions.")
    vec = arr(b).ndim == arr(a).ndim - 1
    if arr(b).shape[-1 if vec else -2] != arr(a).shape[-2]:
        raise RuntimeError(f"linalg.lstsq: input.size(-2) should match other.size(-1 if vec "
                           f"else -2), got {list(arr(a).shape)} and {list(arr(b).shape)}")
    p = pinv(a, rtol=rcond)
    sol = _mm(p, b.unsqueeze(-1)).squeeze(-1) if vec else _mm(p, b)
    rank = wrap(np.asarray(np.linalg.matrix_rank(arr(a)), np.int64))
    empty = wrap(np.zeros((0,), arr(a).dtype))
    return return_types.linalg_lstsq(sol, empty, rank, empty)


def matrix_power(A, n, *, out=None):
    """``A`` multiplied by itself ``n`` times (n = 0: identity; n < 0: of the inverse), by
    repeated squaring on the GEMM kernel. Example: ``fastdl.linalg.matrix_power(A, 3)``"""
    x = as_tensor(A)
    a = arr(x)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, got "
                           f"{list(a.shape)}")
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n == 0:
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()
        return out_(out, wrap(eye) + x * 0 if x.requires_grad else wrap(eye), "matrix_power")
    if n < 0:
        x = inv(x)
        n = -n
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else _mm(result, base)
        n >>= 1
        if n:
            base = _mm(base, base)
    return out_(out, result if result is not x else x.clone(), "matrix_power")


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values above ``max(atol, rtol·σ_max)`` (default rtol =
    max(m, n)·eps), int64. Example: ``fastdl.linalg.matrix_rank(fastdl.eye(3))`` gives 3."""
    a = arr(as_tensor(A))
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_rank: The input tensor A must have at least 2 "
                           "dimensions.")
    s = np.linalg.svd(a, compute_uv=False) if not hermitian else \
        np.abs(np.linalg.eigvalsh(a))
    smax = s.max(-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else \
            builtins.max(a.shape[-2:]) * np.finfo(float_dtype(a.dtype)).eps
    tol = np.maximum(atol or 0.0, rtol * smax)
    return out_(out, wrap(np.asarray((s > tol).sum(-1), np.int64)), "linalg.matrix_rank")


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first may be 1-D, the last may be 1-D), in the
    cheaper of left-to-right and right-to-left order.
    Example: ``fastdl.linalg.multi_dot([A, B, C])``"""
    ts = [as_tensor(t) for t in tensors]
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first_vec, last_vec = arr(ts[0]).ndim == 1, arr(ts[-1]).ndim == 1
    if first_vec:
        ts[0] = ts[0].unsqueeze(0)
    if last_vec:
        ts[-1] = ts[-1].unsqueeze(1)
    for i, t in enumerate(ts):
        if arr(t).ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {arr(t).ndim}D")
    for i in range(len(ts) - 1):
        if arr(ts[i]).shape[1] != arr(ts[i + 1]).shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(arr(ts[i]).shape)} and {list(arr(ts[i + 1]).shape)} "
                               f"cannot be multiplied")
    dims = [arr(ts[0]).shape[0]] + [arr(t).shape[1] for t in ts]
    left = sum(dims[0] * dims[i] * dims[i + 1] for i in range(1, len(ts)))
    right = sum(dims[i] * dims[i + 1] * dims[-1] for i in range(len(ts) - 1))
    if left <= right:
        r = ts[0]
        for t in ts[1:]:
            r = _mm(r, t)
    else:
        r = ts[-1]
        for t in reversed(ts[:-1]):
            r = _mm(t, r)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return out_(out, r, "linalg.multi_dot")


# ---- norms --------------------------------------------------------------------------------------


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """‖x‖_ord over ``dim`` (all elements when None): ord any real (inf, -inf, 0: the count of
    nonzeros). The gradient of a zero vector's norm is 0.
    Example: ``fastdl.linalg.vector_norm(fastdl.tensor([3.0, 4.0]))`` gives ``5.``."""
    from .stats import vector_norm_impl
    return out_(out, vector_norm_impl(as_tensor(x), ord, dim, keepdim, dtype,
                                      "linalg.vector_norm"), "linalg.vector_norm")


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norm over the two ``dim``: "fro" (Frobenius), "nuc" (sum of singular values),
    2 / -2 (largest / smallest singular value), 1 / -1 (max / min column abs-sum), inf / -inf
    (max / min row abs-sum). Differentiable.
    Example: ``fastdl.linalg.matrix_norm(fastdl.eye(3))`` gives ``√3``."""
    x = as_tensor(A)
    if dtype is not None:
        from ._support import np_dtype
        x = x.to(np_dtype(dtype))
    a = arr(x)
    if a.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                           f"dimensions, got {a.ndim}")
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point tensor, got {a.dtype}")
    dims = tuple(norm_dim(d, a.ndim, "linalg.matrix_norm") for d in dim)
    if len(dims) != 2 or dims[0] == dims[1]:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple of different dims, got "
                           f"{dim}")
    from .stats import vector_norm_impl
    if ord == "fro":
        return out_(out, vector_norm_impl(x, 2, dims, keepdim, None, "matrix_norm"),
                    "linalg.matrix_norm")
    d0, d1 = dims
    if ord in ("nuc", 2, -2):
        xm = x.permute(*[i for i in range(a.ndim) if i not in dims], d0, d1)
        s = svdvals(xm)
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted(dims):
                r = r.unsqueeze(d)
        return out_(out, r, "linalg.matrix_norm")
    if ord in (1, -1, np.inf, -np.inf):
        sum_dim, ext_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = x.abs().sum(sum_dim, keepdim=True)
        r = s.amax(ext_dim, keepdim=True) if ord > 0 else s.amin(ext_dim, keepdim=True)
        if not keepdim:
            r = r.squeeze(tuple(sorted(dims)))
        return out_(out, r, "linalg.matrix_norm")
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """``linalg.norm``: a vector norm when ``dim`` is an int or the input is 1-D (or ord is
    None and dim is None: the 2-norm of all elements), a matrix norm when ``dim`` is a
    2-tuple or the input is 2-D with ``ord`` given.
    Example: ``fastdl.linalg.norm(fastdl.tensor([[3.0, 4.0]]))`` gives ``5.``."""
    x = as_tensor(A)
    nd = arr(x).ndim
    if dim is not None and not isinstance(dim, (tuple, list)):
        dim = (dim,)
    if ord is None:
        if dim is not None and len(dim) == 2:
            return matrix_norm(x, "fro", dim, keepdim, dtype=dtype, out=out)
        return vector_norm(x, 2, dim, keepdim, dtype=dtype, out=out)
    if (dim is not None and len(dim) == 2) or (dim is None and nd == 2):
        return matrix_norm(x, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype,
                           out=out)
    if dim is None and nd != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {nd}D.")
    return vector_norm(x, ord, dim, keepdim, dtype=dtype, out=out)


def linalg_cross(input, other, *, dim=-1, out=None):
    """``linalg.cross``: the cross product along ``dim`` (default -1), inputs broadcast.
    Example: ``fastdl.linalg.cross(a, b)``"""
    a, b = as_tensor(input), as_tensor(other)
    shape = np.broadcast_shapes(arr(a).shape, arr(b).shape)
    return out_(out, _cross(a, b, dim, shape), "linalg.cross")


def vecdot(x, y, *, dim=-1, out=None):
    """Σ x·y over ``dim`` (broadcast). Example: ``fastdl.linalg.vecdot(a, b)``"""
    return out_(out, (as_tensor(x) * as_tensor(y)).sum(dim), "linalg.vecdot")


# ---- the torch-level spellings of the decompositions ---------------------------------------

@register()
def inverse(input, *, out=None):
    """``fastdl.linalg.inv``. Example: ``A.inverse()``"""
    return inv(input, out=out)


register("det")(lambda input: det(input))
register("logdet")(lambda input: _logdet(input))
register("slogdet")(lambda input: _torch_slogdet(input))
register("pinverse")(lambda input, rcond=1e-15: pinv(input, rtol=rcond))
register("matrix_power")(lambda input, n: matrix_power(input, n))
register("cholesky_inverse", method=False)(lambda input, upper=False: _chol_inv(input, upper))


def _logdet(x):
    s, l = slogdet(x)
    if not (arr(s) < 0).any():
        return l
    from ..tensor import where
    return where(s < 0, wrap(np.asarray(np.nan, arr(l).dtype)), l)


def _torch_slogdet(x):
    r = slogdet(x)
    return return_types.slogdet(r.sign, r.logabsdet)


def _chol_inv(l, upper):
    lt = as_tensor(l)
    a = _mm(lt.mT, lt) if upper else _mm(lt, lt.mT)
    return inv(a)


from .table import ROWS as _ROWS  # noqa: E402

for _n, _d in (("det", "The determinant (``fastdl.linalg.det``). Example: ``A.det()``"),
               ("logdet", "log det(A) (NaN for a negative determinant). Example: "
                          "``A.logdet()``"),
               ("slogdet", "``(sign, logabsdet)`` (``fastdl.linalg.slogdet``). Example: "
                           "``A.slogdet()``"),
               ("pinverse", "The pseudo-inverse (``fastdl.linalg.pinv``). Example: "
                            "``A.pinverse()``"),
               ("matrix_power", "``fastdl.linalg.matrix_power``. Example: "
                                "``A.matrix_power(3)``"),
               ("cholesky_inverse", "The inverse of ``L Lᵀ`` from its Cholesky factor. "
                                    "Example: ``fastdl.cholesky_inverse(L)``")):
    _ROWS[_n].fn.__doc__ = _d
    _ROWS[_n].fn.__name__ = _n

LINALG = {
    "norm": linalg_norm, "vector_norm": vector_norm, "matrix_norm": matrix_norm, "inv": inv,
    "solve": solve, "det": det, "slogdet": slogdet, "svd": svd, "svdvals": svdvals, "qr": qr,
    "eigh": eigh, "eigvalsh": eigvalsh, "cholesky": cholesky, "lstsq": lstsq, "pinv": pinv,
    "matrix_power": matrix_power, "matrix_rank": matrix_rank, "multi_dot": multi_dot,
    "cross": linalg_cross, "vecdot": vecdot,
}

__all__ = ["dot", "vdot", "inner", "mv", "outer", "addmm", "addmv", "addbmm", "baddbmm",
           "trace", "kron", "cross", "cdist", "tensordot", "einsum", "inverse"] + \
    sorted(LINALG)
del norm_dims
