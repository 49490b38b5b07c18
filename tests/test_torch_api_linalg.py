"""The torch namespace, linear algebra: products, einsum/tensordot and fastdl.linalg against
NumPy (always) and torch (when installed); gradients by gradcheck in float64."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

RNG = np.random.default_rng(0)


def R(*shape):
    return RNG.standard_normal(shape)


def T(a, grad=False):
    return fastdl.tensor(np.array(a), requires_grad=grad)


A = R(3, 3) + 3 * np.eye(3)
SPD = A @ A.T + np.eye(3)
B = R(3, 2)


def test_products_match_numpy():
    u, v = R(4), R(4)
    M, N = R(3, 4), R(4, 5)
    assert_close(fastdl.dot(T(u), T(v)).numpy(), np.dot(u, v))
    assert_close(fastdl.vdot(T(u), T(v)).numpy(), np.vdot(u, v))
    assert_close(fastdl.inner(T(M), T(R(2, 4) * 0 + 1)).numpy(), np.inner(M, np.ones((2, 4))))
    assert_close(fastdl.mv(T(M), T(u)).numpy(), M @ u)
    assert_close(fastdl.outer(T(u), T(v)).numpy(), np.outer(u, v))
    assert_close(fastdl.ger(T(u), T(v)).numpy(), np.outer(u, v))
    c = R(3, 5)
    assert_close(fastdl.addmm(T(c), T(M), T(N), beta=0.5, alpha=2).numpy(), 0.5 * c + 2 * M @ N)
    assert_close(fastdl.addmm(T(R(5)[None, :] * 0 + 1), T(M), T(N)).numpy(), 1 + M @ N)
    assert_close(fastdl.addmv(T(R(3) * 0), T(M), T(u), alpha=3).numpy(), 3 * M @ u)
    b1, b2 = R(2, 3, 4), R(2, 4, 5)
    assert_close(fastdl.baddbmm(T(c), T(b1), T(b2), beta=2).numpy(), 2 * c + b1 @ b2)
    assert_close(fastdl.addbmm(T(c), T(b1), T(b2)).numpy(), c + (b1 @ b2).sum(0))
    assert_close(fastdl.trace(T(A)).numpy(), np.trace(A))
    assert_close(fastdl.kron(T(M), T(A)).numpy(), np.kron(M, A))
    assert_close(fastdl.kron(T(u), T(M)).numpy(), np.kron(u, M))
    a3, b3 = R(4, 3), R(4, 3)
    assert_close(fastdl.cross(T(a3), T(b3)).numpy(), np.cross(a3, b3))
    assert_close(fastdl.linalg.cross(T(a3), T(b3[0])).numpy(), np.cross(a3, b3[0]))
    x1, x2 = R(5, 3), R(4, 3)
    for p in (1.0, 2.0, 3.0, float("inf")):
        want = np.linalg.norm(x1[:, None] - x2[None], ord=p, axis=-1)
        assert_close(fastdl.cdist(T(x1), T(x2), p).numpy(), want)
    assert_close(fastdl.tensordot(T(R(2, 3, 4) * 0 + 1), T(R(3, 4, 5) * 0 + 1)).numpy(),
                 np.full((2, 5), 12.0))
    a, b = R(2, 3, 4), R(4, 3, 5)
    assert_close(fastdl.tensordot(T(a), T(b), ([1, 2], [1, 0])).numpy(),
                 np.tensordot(a, b, ([1, 2], [1, 0])))


def test_product_gradients():
    M, N, u = R(3, 4), R(4, 5), R(4)
    gradcheck(lambda a, b, c: fastdl.addmm(a, b, c, beta=0.5, alpha=2),
              [T(R(3, 5), True), T(M, True), T(N, True)])
    gradcheck(lambda a, b: fastdl.mv(a, b), [T(M, True), T(u, True)])
    gradcheck(lambda a, b, c: fastdl.addbmm(a, b, c),
              [T(R(3, 5), True), T(R(2, 3, 4), True), T(R(2, 4, 5), True)])
    gradcheck(lambda a, b: fastdl.kron(a, b), [T(R(2, 3), True), T(R(2, 2), True)])
    gradcheck(lambda a, b: fastdl.cross(a, b, dim=1), [T(R(2, 3), True), T(R(2, 3), True)])
    x1 = R(4, 3)
    x2 = np.concatenate([x1[:1], R(2, 3)])  # a zero distance: gradient 0 there
    gradcheck(lambda a, b: fastdl.cdist(a, b), [T(R(4, 3), True), T(R(3, 3), True)])
    a = T(x1, True)
    fastdl.cdist(a, T(x2)).sum().backward()
    assert np.isfinite(a.grad.numpy()).all()
    gradcheck(lambda a: fastdl.trace(a), [T(A, True)])
    # more than 25 rows: the GEMM path (‖a‖² + ‖b‖² − 2abᵀ), a zero distance included
    big1 = R(30, 3)
    big2 = np.concatenate([big1[:2], R(27, 3)])
    want = np.linalg.norm(big1[:, None] - big2[None], axis=-1)
    assert_close(fastdl.cdist(T(big1), T(big2)).numpy(), want, atol=1e-6)
    gradcheck(lambda a, b: fastdl.cdist(a, b), [T(big1 + 0.1, True), T(R(26, 3), True)])
    a = T(big1, True)
    fastdl.cdist(a, T(big2)).sum().backward()
    assert np.isfinite(a.grad.numpy()).all()


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(3,), (3,)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ijk,ikj->i", [(2, 3, 3), (2, 3, 3)]),
    ("i...->...", [(3, 4, 5)]),
    ("ij,kj", [(3, 4), (5, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_matches_numpy_and_gradcheck(eq, shapes):
    arrs = [R(*s) for s in shapes]
    assert_close(fastdl.einsum(eq, *[T(a) for a in arrs]).numpy(), np.einsum(eq, *arrs))
    f32 = fastdl.einsum(eq, *[T(a.astype(np.float32)) for a in arrs])
    assert f32.numpy().dtype == np.float32
    gradcheck(lambda *ts: fastdl.einsum(eq, *ts), [T(a, True) for a in arrs])


def test_einsum_errors_and_list_form():
    with pytest.raises(RuntimeError, match="operands"):
        fastdl.einsum("ij,jk->ik", T(R(2, 2)))
    with pytest.raises(RuntimeError, match="number of subscripts"):
        fastdl.einsum("ijk->i", T(R(2, 2)))
    with pytest.raises(RuntimeError, match="output subscript"):
        fastdl.einsum("ij->iz", T(R(2, 2)))
    a, b = R(2, 3), R(3, 2)
    assert_close(fastdl.einsum("ij,jk", [T(a), T(b)]).numpy(), a @ b)


def test_linalg_values_match_numpy():
    L = fastdl.linalg
    assert_close(L.inv(T(A)).numpy(), np.linalg.inv(A))
    assert_close(L.solve(T(A), T(B)).numpy(), np.linalg.solve(A, B))
    assert_close(L.solve(T(A), T(B[:, 0])).numpy(), np.linalg.solve(A, B[:, 0]))
    assert_close(L.det(T(A)).numpy(), np.linalg.det(A))
    s, l = L.slogdet(T(A))
    ws, wl = np.linalg.slogdet(A)
    assert_close(s.numpy(), ws)
    assert_close(l.numpy(), wl)
    M = R(4, 3)
    assert_close(L.svdvals(T(M)).numpy(), np.linalg.svd(M, compute_uv=False))
    U, S, Vh = L.svd(T(M), full_matrices=False)
    assert_close((U.numpy() * S.numpy()) @ Vh.numpy(), M)
    Q, Rr = L.qr(T(M))
    assert_close(Q.numpy() @ Rr.numpy(), M)
    w, V = L.eigh(T(SPD))
    assert_close(w.numpy(), np.linalg.eigvalsh(SPD))
    assert_close(L.eigvalsh(T(SPD)).numpy(), np.linalg.eigvalsh(SPD))
    assert_close(L.cholesky(T(SPD)).numpy(), np.linalg.cholesky(SPD))
    assert_close(L.cholesky(T(SPD), upper=True).numpy(), np.linalg.cholesky(SPD).T)
    assert_close(L.pinv(T(M)).numpy(), np.linalg.pinv(M))
    y = R(4)
    assert_close(L.lstsq(T(M), T(y)).solution.numpy(), np.linalg.lstsq(M, y, rcond=None)[0])
    assert_close(L.matrix_power(T(A), 3).numpy(), np.linalg.matrix_power(A, 3))
    assert_close(L.matrix_power(T(A), -2).numpy(), np.linalg.matrix_power(A, -2))
    assert_close(L.matrix_power(T(A), 0).numpy(), np.eye(3))
    assert L.matrix_rank(T(np.outer(R(3), R(3)))).item() == 1
    C = R(3, 5)
    assert_close(L.multi_dot([T(M), T(A), T(C)]).numpy(), M @ A @ C)
    v4, v3 = R(4), R(3)
    assert_close(L.multi_dot([T(v4), T(M), T(v3)]).numpy(), v4 @ M @ v3)
    for ordv in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        assert_close(L.norm(T(M), ordv).numpy(), np.linalg.norm(M, ordv), msg=str(ordv))
    for ordv in (1, 2, 3, np.inf, 0):
        assert_close(L.vector_norm(T(M), ordv, dim=1).numpy(),
                     np.linalg.norm(M, ordv, axis=1), msg=str(ordv))
    batch = R(2, 3, 3) + 3 * np.eye(3)
    assert_close(L.det(T(batch)).numpy(), np.linalg.det(batch))
    assert_close(L.inv(T(batch)).numpy(), np.linalg.inv(batch))


def test_linalg_gradients():
    L = fastdl.linalg
    M = R(4, 3)
    gradcheck(L.inv, [T(A, True)])
    gradcheck(L.det, [T(A, True)])
    gradcheck(lambda a: L.slogdet(a).logabsdet, [T(A, True)])
    gradcheck(lambda a, b: L.solve(a, b), [T(A, True), T(B, True)])
    gradcheck(lambda a, b: L.solve(a, b), [T(A, True), T(B[:, 0], True)])
    sym = lambda a: a + a.mT  # noqa: E731  (eigh reads one triangle)
    gradcheck(lambda a: L.eigh(sym(a)).eigenvalues, [T(A, True)])
    gradcheck(lambda a: L.eigh(sym(a)).eigenvectors ** 2, [T(A, True)])
    gradcheck(lambda a: L.svdvals(a), [T(M, True)])
    gradcheck(lambda a: L.svd(a, full_matrices=False).U ** 2, [T(M, True)])
    gradcheck(lambda a: L.svd(a, full_matrices=False).Vh ** 2, [T(M, True)])
    gradcheck(lambda a: L.qr(a).Q, [T(M, True)])
    gradcheck(lambda a: L.qr(a).R, [T(M, True)])
    gradcheck(lambda a: L.cholesky(sym(a) + 10 * fastdl.eye(3, dtype=fastdl.float64)),
              [T(A, True)])
    gradcheck(lambda a: L.pinv(a), [T(M, True)])
    gradcheck(lambda a, b: L.lstsq(a, b).solution, [T(M, True), T(R(4, 2), True)])
    gradcheck(lambda a: L.matrix_power(a, 3), [T(A, True)])
    gradcheck(lambda a: L.matrix_power(a, -1), [T(A, True)])
    for ordv in ("fro", "nuc", 1, -1, 2, np.inf):
        gradcheck(lambda a: L.matrix_norm(a, ordv), [T(M, True)])
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    gradcheck(L.det, [T(singular, True)])


def test_linalg_grads_match_torch():
    torch = pytest.importorskip("torch")
    M = R(4, 3)
    cases = [
        (lambda L, a: L.cholesky(a @ a.mT + 3 * (torch.eye(4, dtype=torch.float64)
                                                 if L is torch.linalg else
                                                 fastdl.eye(4, dtype=fastdl.float64))), R(4, 4)),
        (lambda L, a: L.qr(a).Q.sum() + L.qr(a).R.sum(), M),
        (lambda L, a: (L.svd(a, full_matrices=False).U ** 2).sum() +
         L.svdvals(a).sum(), M),
        (lambda L, a: L.pinv(a), M),
    ]
    for f, x in cases:
        tx = torch.tensor(x, requires_grad=True)
        f(torch.linalg, tx).sum().backward()
        fx = T(x, True)
        f(fastdl.linalg, fx).sum().backward()
        assert_close(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_linalg_errors():
    L = fastdl.linalg
    with pytest.raises(RuntimeError, match="square"):
        L.inv(T(R(2, 3)))
    with pytest.raises(RuntimeError, match="singular|Singular"):
        L.inv(T(np.zeros((2, 2))))
    with pytest.raises(RuntimeError, match="positive-definite"):
        L.cholesky(T(-np.eye(2)))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        L.solve(T(A), T(R(4)))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        fastdl.dot(T(R(2, 2)), T(R(2, 2)))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        fastdl.addmm(T(R(2, 2)), T(R(2, 3)), T(R(2, 2)))
    with pytest.raises(RuntimeError, match="same dtype"):
        fastdl.mv(T(R(2, 2)), T(R(2).astype(np.float32)))


def test_torch_spellings():
    torch = pytest.importorskip("torch")
    ta = torch.from_numpy(A)
    assert_close(T(A).inverse().numpy(), ta.inverse().numpy())
    assert_close(fastdl.det(T(A)).numpy(), torch.det(ta).numpy())
    assert_close(T(A).logdet().numpy(), ta.logdet().numpy())
    assert_close(T(-A).logdet().numpy(), (-ta).logdet().numpy())
    assert_close(fastdl.slogdet(T(A)).logabsdet.numpy(), torch.slogdet(ta).logabsdet.numpy())
    assert_close(T(A).matrix_power(2).numpy(), ta.matrix_power(2).numpy())
    assert_close(fastdl.pinverse(T(B)).numpy(), torch.pinverse(torch.from_numpy(B)).numpy())


def test_float32_lapack_path_matches_float64():
    """inv, solve, det and cholesky of one float32 matrix from 64 rows run on single-precision
    LAPACK (SciPy) when SciPy is installed, else on NumPy: the same results either way."""
    L = fastdl.linalg
    rng = np.random.default_rng(5)
    n = 96
    m = rng.standard_normal((n, n))
    gen = (m / np.sqrt(n) / 3 + np.eye(n)).astype(np.float32)  # general, condition ~2
    spd = (m @ m.T / n + np.eye(n)).astype(np.float32)
    b = rng.standard_normal((n, 7)).astype(np.float32)
    g64, s64 = gen.astype(np.float64), spd.astype(np.float64)
    assert_close(L.inv(T(gen)).numpy(), np.linalg.inv(g64), rtol=1e-3, atol=1e-4)
    assert L.inv(T(gen)).dtype == fastdl.float32
    assert_close(L.solve(T(gen), T(b)).numpy(), np.linalg.solve(g64, b), rtol=1e-4, atol=1e-4)
    assert_close(L.solve(T(gen), T(b[:, 0])).numpy(), np.linalg.solve(g64, b[:, 0]),
                 rtol=1e-4, atol=1e-4)
    for a in (gen, gen[::-1].copy(), gen[[1, 0] + list(range(2, n))]):  # signs of the pivots
        assert_close(L.det(T(a)).numpy(), np.linalg.det(a.astype(np.float64)), rtol=1e-3,
                     atol=0)
    sing = gen.copy()
    sing[5] = sing[3]
    assert abs(L.det(T(sing)).item()) < 1e-3 * abs(np.linalg.det(g64))
    want = np.linalg.cholesky(s64)
    assert_close(L.cholesky(T(spd)).numpy(), want, rtol=1e-4, atol=1e-5)
    assert_close(L.cholesky(T(spd), upper=True).numpy(), want.T, rtol=1e-4, atol=1e-5)
    lower_only = np.tril(spd) + np.triu(rng.standard_normal((n, n)), 1).astype(np.float32)
    assert_close(L.cholesky(T(lower_only)).numpy(), want, rtol=1e-4, atol=1e-5)  # as torch
    with pytest.raises(RuntimeError, match="positive-definite"):
        L.cholesky(T(-spd))
    zero = np.zeros((n, n), np.float32)
    with pytest.raises(RuntimeError, match="singular|Singular"):
        L.inv(T(zero))
    with pytest.raises(RuntimeError, match="singular|Singular"):
        L.solve(T(zero), T(b))
    x = L.solve(T(gen), T(b))                           # a Fortran-order result works on
    assert_close((x * 2).numpy(), 2 * np.linalg.solve(g64, b), rtol=1e-4, atol=1e-4)
    assert_close(fastdl.matmul(T(gen), x).numpy(), b, rtol=1e-4, atol=1e-4)
    x = T(gen.astype(np.float32), True)                  # the backward is unchanged
    L.inv(x).sum().backward()
    it = np.linalg.inv(g64).T
    assert_close(x.grad.numpy(), -(it @ np.ones((n, n)) @ it), rtol=1e-3, atol=1e-4)
    torch = pytest.importorskip("torch")
    tg = torch.from_numpy(gen)
    assert_close(L.inv(T(gen)).numpy(), torch.linalg.inv(tg).numpy(), rtol=1e-3, atol=1e-4)
    assert_close(L.cholesky(T(lower_only)).numpy(),
                 torch.linalg.cholesky(torch.from_numpy(lower_only)).numpy(), rtol=1e-4,
                 atol=1e-5)
