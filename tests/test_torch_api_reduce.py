"""The torch namespace, reductions, scans and indexing/scatter: values against NumPy (always)
and torch (when installed), named-tuple results, dtypes, gradients by gradcheck (float64),
empty and 0-d inputs, and errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5))
XI = RNG.integers(-3, 4, (3, 5))


def T(a, grad=False):
    return fastdl.tensor(np.array(a), requires_grad=grad)


def _torch():
    return pytest.importorskip("torch")


# ---- scans ----------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans_match_numpy(dim):
    for dt in (np.float32, np.float64):
        x = X.astype(dt)
        assert_close(fastdl.cumsum(T(x), dim).numpy(), np.cumsum(x, dim))
        assert_close(fastdl.cumprod(T(x), dim).numpy(), np.cumprod(x, dim))
        assert_close(fastdl.logcumsumexp(T(x), dim).numpy(),
                     np.log(np.cumsum(np.exp(x.astype(np.float64)), dim)).astype(dt),
                     rtol=1e-5, atol=1e-5)
        r = fastdl.cummax(T(x), dim)
        assert_close(r.values.numpy(), np.maximum.accumulate(x, dim))
        assert np.array_equal(np.take_along_axis(x, r.indices.numpy(), dim), r.values.numpy())
        r = fastdl.cummin(T(x), dim)
        assert_close(r[0].numpy(), np.minimum.accumulate(x, dim))
    assert fastdl.cumsum(T(XI), 0).numpy().dtype == np.int64
    assert fastdl.cumsum(T(X.astype(np.float32)), 0, dtype=fastdl.float64).numpy().dtype == \
        np.float64


def test_scans_match_torch():
    torch = _torch()
    xi = np.array([[1, 3, 3, 2, 5], [2, 2, 1, 1, 0]])
    for f in ("cummax", "cummin"):
        w = getattr(torch, f)(torch.from_numpy(xi), 1)
        g = getattr(fastdl, f)(T(xi), 1)
        assert np.array_equal(g.values.numpy(), w.values.numpy())
        assert np.array_equal(g.indices.numpy(), w.indices.numpy())
    for f in ("cumsum", "cumprod"):
        assert np.array_equal(getattr(fastdl, f)(T(xi), 1).numpy(),
                              getattr(torch, f)(torch.from_numpy(xi), 1).numpy())
    big = np.array([-1000.0, 0.0, 1000.0, 1000.0])
    assert_close(fastdl.logcumsumexp(T(big), 0).numpy(),
                 torch.logcumsumexp(torch.from_numpy(big), 0).numpy())


def test_scan_gradients():
    x = T(X, True)
    gradcheck(lambda t: fastdl.cumsum(t, 1), [x])
    gradcheck(lambda t: fastdl.cumprod(t, 1), [x])
    gradcheck(lambda t: fastdl.logcumsumexp(t, 0), [x])
    gradcheck(lambda t: fastdl.cummax(t, 1).values, [x])
    gradcheck(lambda t: fastdl.cummin(t, 0).values, [x])
    z = T([[2.0, 0.0, 3.0, 0.0], [1.0, 2.0, 0.0, 4.0]], True)
    gradcheck(lambda t: fastdl.cumprod(t, 1), [z])  # zeros: the exact path
    torch = _torch()
    tz = torch.tensor(z.detach().numpy(), requires_grad=True)
    torch.cumprod(tz, 1).sum().backward()
    z.grad = None
    fastdl.cumprod(z, 1).sum().backward()
    assert_close(z.grad.numpy(), tz.grad.numpy())


def test_scan_edge_cases():
    assert fastdl.cumsum(fastdl.zeros(0, 3), 0).shape == (0, 3)
    assert fastdl.cumsum(T(2.0), 0).item() == 2.0
    assert fastdl.cummax(fastdl.zeros(0), 0).values.shape == (0,)
    with pytest.raises(IndexError, match="out of range"):
        fastdl.cumsum(fastdl.zeros(2, 3), 2)
    x = fastdl.tensor([1.0, 2.0, 3.0])
    x.cumsum_(0)
    assert np.array_equal(x.numpy(), [1.0, 3.0, 6.0])


# ---- reductions -----------------------------------------------------------------------


def test_logsumexp_median_mode_quantile_match_numpy():
    x = X
    assert_close(fastdl.logsumexp(T(x), 1).numpy(), np.log(np.exp(x).sum(1)))
    assert_close(fastdl.logsumexp(T(x), (0, 1), keepdim=True).numpy(),
                 np.log(np.exp(x).sum(keepdims=True)))
    big = np.array([1000.0, 1000.0])
    assert_close(fastdl.logsumexp(T(big), 0).numpy(), 1000 + np.log(2))
    xs = np.sort(x, 1)
    m = fastdl.median(T(x), 1)
    assert_close(m.values.numpy(), xs[:, (5 - 1) // 2])
    assert np.array_equal(np.take_along_axis(x, m.indices.numpy()[:, None], 1)[:, 0],
                          m.values.numpy())
    even = x[:, :4]
    assert_close(fastdl.median(T(even)).numpy(), np.sort(even.ravel())[(even.size - 1) // 2])
    for q in (0.0, 0.3, 0.5, 1.0):
        for interp in ("linear", "lower", "higher", "midpoint", "nearest"):
            assert_close(fastdl.quantile(T(x), q, dim=1, interpolation=interp).numpy(),
                         np.quantile(x, q, axis=1, method=interp), msg=f"{q} {interp}")
    qs = fastdl.tensor([0.1, 0.9], dtype=fastdl.float64)
    assert_close(fastdl.quantile(T(x), qs, dim=0, keepdim=True).numpy(),
                 np.quantile(x, [0.1, 0.9], axis=0, keepdims=True))
    assert_close(fastdl.quantile(T(x), 0.25).numpy(), np.quantile(x, 0.25))


def test_order_statistics_match_torch():
    torch = _torch()
    xi = np.array([[1, 2, 2, 1, 3], [3, 3, 1, 1, 0], [5, 4, 4, 5, 4]])
    for f in ("median", "mode"):
        w = getattr(torch, f)(torch.from_numpy(xi), 1)
        g = getattr(fastdl, f)(T(xi), 1)
        assert np.array_equal(g.values.numpy(), w.values.numpy()), f
        if f == "mode":
            assert np.array_equal(g.indices.numpy(), w.indices.numpy())
    xn = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 0.5]])
    for f in ("median", "nanmedian"):
        assert_close(getattr(fastdl, f)(T(xn), 1).values.numpy(),
                     getattr(torch, f)(torch.from_numpy(xn), 1).values.numpy())
        assert_close(getattr(fastdl, f)(T(xn)).numpy(),
                     getattr(torch, f)(torch.from_numpy(xn)).numpy())
    for f in ("quantile", "nanquantile"):
        assert_close(getattr(fastdl, f)(T(xn), 0.4, dim=1).numpy(),
                     getattr(torch, f)(torch.from_numpy(xn), 0.4, dim=1).numpy())
    k = fastdl.kthvalue(T(X), 2, 1)
    w = torch.kthvalue(torch.from_numpy(X), 2, 1)
    assert_close(k.values.numpy(), w.values.numpy())
    assert np.array_equal(k.indices.numpy(), w.indices.numpy())


def test_reduction_gradients():
    x = T(X, True)
    gradcheck(lambda t: fastdl.logsumexp(t, 1), [x])
    gradcheck(lambda t: fastdl.median(t, 1).values, [x])
    gradcheck(lambda t: fastdl.median(t), [x])
    gradcheck(lambda t: fastdl.kthvalue(t, 3, 0).values, [x])
    gradcheck(lambda t: fastdl.quantile(t, 0.3, dim=1), [x])
    gradcheck(lambda t: fastdl.nansum(t, 0), [x])
    gradcheck(lambda t: fastdl.var(t, 1, correction=0), [x])
    gradcheck(lambda t: fastdl.std_mean(t, 0)[0] + fastdl.std_mean(t, 0)[1], [x])
    gradcheck(lambda t: fastdl.aminmax(t, dim=1).max, [x])
    for p in (1, 2, 3, 0.5, float("inf"), -float("inf")):
        gradcheck(lambda t: fastdl.norm(t, p, dim=1), [x])


def test_norm_of_zero_vector_has_zero_gradient():
    z = fastdl.zeros(3, dtype=fastdl.float64, requires_grad=True)
    fastdl.norm(z).backward()
    assert np.array_equal(z.grad.numpy(), np.zeros(3))
    z.grad = None
    z.norm(3).backward()
    assert np.array_equal(z.grad.numpy(), np.zeros(3))


def test_norm_values_match_numpy_and_torch():
    for p in (1, 2, 3, float("inf"), -float("inf"), 0):
        assert_close(fastdl.norm(T(X), p, dim=1).numpy(),
                     np.linalg.norm(X, ord=p, axis=1), msg=str(p))
    assert_close(fastdl.norm(T(X)).numpy(), np.linalg.norm(X))
    assert_close(fastdl.norm(T(X), "fro", dim=(0, 1), keepdim=True).numpy(),
                 np.linalg.norm(X, keepdims=True))
    torch = _torch()
    assert_close(fastdl.norm(T(X), 3, dim=0).numpy(),
                 torch.norm(torch.from_numpy(X), 3, dim=0).numpy())


def test_nan_and_count_reductions():
    xn = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    assert_close(fastdl.nansum(T(xn), 1).numpy(), np.nansum(xn, 1))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmean(xn, 1)
    assert_close(fastdl.nanmean(T(xn), 1).numpy(), want)
    assert np.array_equal(fastdl.count_nonzero(T(XI), dim=0).numpy(), np.count_nonzero(XI, 0))
    assert fastdl.count_nonzero(T(XI)).item() == np.count_nonzero(XI)
    for f in ("any", "all"):
        for dim in (None, 0, 1, (0, 1)):
            got = getattr(fastdl, f)(T(XI > 0), dim=dim) if dim is not None else \
                getattr(fastdl, f)(T(XI > 0))
            want = getattr(np, f)(XI > 0, axis=dim)
            assert np.array_equal(got.numpy(), want)
            assert got.numpy().dtype == np.bool_
        assert getattr(T(XI), f)(1, keepdim=True).shape == (3, 1)


def test_moments_and_function_forms_match_torch():
    torch = _torch()
    tx = torch.from_numpy(X)
    for f in ("var", "std"):
        assert_close(getattr(fastdl, f)(T(X)).numpy(), getattr(torch, f)(tx).numpy())
        assert_close(getattr(fastdl, f)(T(X), 1, keepdim=True).numpy(),
                     getattr(torch, f)(tx, 1, keepdim=True).numpy())
        assert_close(getattr(fastdl, f)(T(X), 1, correction=0).numpy(),
                     getattr(torch, f)(tx, 1, correction=0).numpy())
        assert_close(getattr(fastdl, f)(T(X), 0, False).numpy(),
                     getattr(torch, f)(tx, 0, False).numpy())
        g = getattr(fastdl, f + "_mean")(T(X), 1)
        w = getattr(torch, f + "_mean")(tx, 1)
        assert_close(g[0].numpy(), w[0].numpy())
        assert_close(g[1].numpy(), w[1].numpy())
    a = fastdl.aminmax(T(XI), dim=0)
    w = torch.aminmax(torch.from_numpy(XI), dim=0)
    assert np.array_equal(a.min.numpy(), w.min.numpy())
    assert np.array_equal(a.max.numpy(), w.max.numpy())
    assert_close(fastdl.sum(T(X), 1).numpy(), torch.sum(tx, 1).numpy())
    assert fastdl.sum(T(XI > 0)).numpy().dtype == np.int64
    assert_close(fastdl.sum(T(X), dim=(0, 1), keepdim=True).numpy(),
                 torch.sum(tx, dim=(0, 1), keepdim=True).numpy())
    assert_close(fastdl.mean(T(X), 0).numpy(), torch.mean(tx, 0).numpy())
    assert_close(fastdl.prod(T(X), 1).numpy(), torch.prod(tx, 1).numpy())
    m = fastdl.max(T(X), 1)
    assert isinstance(m, fastdl.return_types.max)
    assert np.array_equal(m.indices.numpy(), torch.max(tx, 1).indices.numpy())
    assert_close(fastdl.max(T(X), T(-X)).numpy(), torch.max(tx, -tx).numpy())
    assert_close(fastdl.min(T(X)).numpy(), torch.min(tx).numpy())
    assert fastdl.argmax(T(X)).item() == torch.argmax(tx).item()
    assert np.array_equal(fastdl.argmin(T(X), 1).numpy(), torch.argmin(tx, 1).numpy())
    assert_close(fastdl.amax(T(X), (0, 1)).numpy(), torch.amax(tx, (0, 1)).numpy())
    assert_close(fastdl.amin(T(X), 0).numpy(), torch.amin(tx, 0).numpy())
    out = fastdl.empty(3, dtype=fastdl.float64)
    assert fastdl.sum(T(X), 1, out=out) is out
    assert_close(out.numpy(), X.sum(1))


def test_reduction_errors():
    with pytest.raises(RuntimeError, match="floating point"):
        fastdl.mean(T(XI))
    with pytest.raises(RuntimeError, match="range"):
        fastdl.quantile(T(X), 1.5)
    with pytest.raises(IndexError, match="k out of range"):
        fastdl.kthvalue(T(X), 9, 1)
    with pytest.raises(IndexError, match="non-zero size"):
        fastdl.median(fastdl.zeros(2, 0), 1)
    with pytest.raises(RuntimeError, match="floating point"):
        fastdl.var(T(XI))


# ---- indexing and scatter -----------------------------------------------------------------


IDX = np.array([[0, 2, 2], [1, 0, 4], [4, 4, 3]])


def test_gather_scatter_match_numpy():
    g = fastdl.gather(T(X), 1, T(IDX))
    assert_close(g.numpy(), np.take_along_axis(X, IDX, 1))
    src = RNG.standard_normal((3, 3))
    perm = np.array([[0, 2, 1], [4, 3, 0], [1, 2, 3]])  # no repeats within a row
    want = X.copy()
    np.put_along_axis(want, perm, src, 1)
    assert_close(fastdl.scatter(T(X), 1, T(perm), T(src)).numpy(), want)
    want = X.copy()
    np.put_along_axis(want, perm, 7.0, 1)
    assert_close(T(X).scatter(1, T(perm), 7.0).numpy(), want)
    want = X.copy()
    for i in range(3):
        for j in range(3):
            want[i, IDX[i, j]] += src[i, j]
    assert_close(fastdl.scatter_add(T(X), 1, T(IDX), T(src)).numpy(), want)
    t = T(X)
    t.scatter_add_(1, T(IDX), T(src))
    assert_close(t.numpy(), want)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self):
    torch = _torch()
    src = RNG.standard_normal((3, 3))
    w = torch.from_numpy(X).scatter_reduce(1, torch.from_numpy(IDX), torch.from_numpy(src),
                                           reduce, include_self=include_self)
    g = T(X).scatter_reduce(1, T(IDX), T(src), reduce, include_self=include_self)
    assert_close(g.numpy(), w.numpy())
    x, s = T(X, True), T(src, True)
    gradcheck(lambda a, b: fastdl.scatter_reduce(a, 1, T(IDX), b, reduce,
                                                 include_self=include_self), [x, s])
    tx = torch.tensor(X, requires_grad=True)
    ts = torch.tensor(src, requires_grad=True)
    tx.scatter_reduce(1, torch.from_numpy(IDX), ts, reduce,
                      include_self=include_self).sum().backward()
    x.grad = s.grad = None
    fastdl.scatter_reduce(x, 1, T(IDX), s, reduce, include_self=include_self).sum().backward()
    assert_close(x.grad.numpy(), tx.grad.numpy())
    assert_close(s.grad.numpy(), ts.grad.numpy())


def test_scatter_legacy_reduce_and_gradients():
    torch = _torch()
    src = RNG.standard_normal((3, 3))
    for r, rr in (("add", "sum"), ("multiply", "prod")):
        w = torch.from_numpy(X).scatter_reduce(1, torch.from_numpy(IDX), torch.from_numpy(src),
                                               rr)
        assert_close(T(X).scatter(1, T(IDX), T(src), reduce=r).numpy(), w.numpy())
    perm = np.array([[0, 2, 1], [4, 3, 0], [1, 2, 3]])
    gradcheck(lambda a, b: fastdl.scatter(a, 1, T(perm), b), [T(X, True), T(src, True)])
    gradcheck(lambda a: fastdl.gather(a, 1, T(IDX)), [T(X, True)])
    gradcheck(lambda a, b: fastdl.scatter_add(a, 0, T(IDX[:, :2] % 3), b),
              [T(X, True), T(src[:, :2], True)])


def test_index_ops_match_torch():
    torch = _torch()
    tx = torch.from_numpy(X)
    idx = np.array([4, 0, 4])
    src = RNG.standard_normal((3, 3))
    ti, ts = torch.from_numpy(idx), torch.from_numpy(src)
    assert_close(fastdl.index_add(T(X), 1, T(idx), T(src), alpha=2).numpy(),
                 tx.index_add(1, ti, ts, alpha=2).numpy())
    assert_close(fastdl.index_copy(T(X), 1, T([3, 0, 1]), T(src)).numpy(),
                 tx.index_copy(1, torch.tensor([3, 0, 1]), ts).numpy())
    assert_close(fastdl.index_fill(T(X), 1, T(idx), -1.0).numpy(),
                 tx.index_fill(1, ti, -1.0).numpy())
    rows, cols = np.array([0, 2, 0]), np.array([1, 1, 1])
    vals = np.array([1.0, 2.0, 3.0])
    for acc in (True, False):
        w = tx.index_put((torch.from_numpy(rows), torch.from_numpy(cols)),
                         torch.from_numpy(vals), accumulate=acc)
        g = T(X).index_put((T(rows), T(cols)), T(vals), accumulate=acc)
        if acc:
            assert_close(g.numpy(), w.numpy())
    assert_close(fastdl.index_select(T(X), 1, T(idx)).numpy(),
                 torch.index_select(tx, 1, ti).numpy())
    gradcheck(lambda a, b: fastdl.index_add(a, 1, T(idx), b), [T(X, True), T(src, True)])
    gradcheck(lambda a, b: fastdl.index_copy(a, 1, T([3, 0, 1]), b), [T(X, True), T(src, True)])
    gradcheck(lambda a: fastdl.index_fill(a, 0, T([1]), 2.0), [T(X, True)])
    gradcheck(lambda a, b: fastdl.index_put(a, (T(rows), T(cols)), b, accumulate=True),
              [T(X, True), T(vals, True)])
    t = T(X)
    t.index_fill_(1, T(idx), 0.0)
    assert_close(t.numpy(), tx.index_fill(1, ti, 0.0).numpy())


def test_masked_ops():
    m = X > 0
    want = np.where(m, -1.0, X)
    assert_close(fastdl.masked_fill(T(X), T(m), -1.0).numpy(), want)
    t = T(X)
    t.masked_fill_(T(m), -1.0)
    assert_close(t.numpy(), want)
    row = np.array([True, False, True, False, False])
    assert_close(T(X).masked_fill(T(row), 0.0).numpy(), np.where(row, 0.0, X))  # broadcast
    assert_close(fastdl.masked_select(T(X), T(m)).numpy(), X[m])
    src = np.arange(15, dtype=np.float64)
    want = X.copy()
    want[m] = src[:m.sum()]
    assert_close(fastdl.masked_scatter(T(X), T(m), T(src)).numpy(), want)
    gradcheck(lambda a, b: fastdl.masked_scatter(a, T(m), b), [T(X, True), T(src, True)])
    gradcheck(lambda a: fastdl.masked_select(a, T(m)), [T(X, True)])
    v = T(2.0, True)
    gradcheck(lambda a, b: fastdl.masked_fill(a, T(m), b), [T(X, True), v])
    with pytest.raises((RuntimeError, TypeError), match="bool"):
        fastdl.masked_fill(T(X), T(XI), 0.0)
    with pytest.raises((RuntimeError, ValueError), match="broadcast"):
        fastdl.masked_fill(T(X), T(np.ones(3, bool)), 0.0)


def test_nonzero_where_take_narrow_select():
    assert np.array_equal(fastdl.nonzero(T(XI)).numpy(), np.argwhere(XI))
    assert np.array_equal(fastdl.argwhere(T(XI)).numpy(), np.argwhere(XI))
    for a, b in zip(fastdl.nonzero(T(XI), as_tuple=True), np.nonzero(XI)):
        assert np.array_equal(a.numpy(), b)
    for a, b in zip(fastdl.where(T(XI > 0)), np.nonzero(XI > 0)):
        assert np.array_equal(a.numpy(), b)
    assert fastdl.nonzero(fastdl.zeros(0, 3)).shape == (0, 2)
    w = fastdl.where(T(XI > 0), T(X.astype(np.float32)), 0.0)
    assert w.numpy().dtype == np.float32
    assert_close(w.numpy(), np.where(XI > 0, X, 0).astype(np.float32))
    assert fastdl.where(T(XI > 0), T(XI), 0.5).numpy().dtype == np.float32  # torch promotion
    idx = np.array([[0, 14], [-1, 3]])
    assert_close(fastdl.take(T(X), T(idx)).numpy(), np.take(X, idx))
    gradcheck(lambda a: fastdl.take(a, T(idx)), [T(X, True)])
    assert_close(fastdl.narrow(T(X), 1, 1, 3).numpy(), X[:, 1:4])
    assert_close(T(X).narrow(0, -2, 2).numpy(), X[1:])
    assert_close(fastdl.select(T(X), 1, -1).numpy(), X[:, -1])
    ta = fastdl.take_along_dim(T(X), T(np.argsort(X, 1)), 1)
    assert_close(ta.numpy(), np.sort(X, 1))
    assert_close(fastdl.take_along_dim(T(X), T(np.array([0, 7]))).numpy(), X.ravel()[[0, 7]])
    with pytest.raises(IndexError, match="out of range"):
        fastdl.select(T(X), 1, 5)
    with pytest.raises(RuntimeError, match="exceeds dimension"):
        fastdl.narrow(T(X), 1, 3, 3)
    with pytest.raises(IndexError, match="out of range"):
        fastdl.gather(T(X), 1, T(np.array([[5]] * 3)))
    with pytest.raises(RuntimeError, match="int64"):
        fastdl.scatter_add(T(X), 1, T(np.zeros((3, 1))), T(X[:, :1]))
    with pytest.raises(IndexError, match="out of range"):
        fastdl.take(T(X), T([15]))


# ---- sorting and selection ----------------------------------------------------------------


def test_sort_argsort_topk_match_numpy_and_torch():
    x = np.array([[3.0, 1.0, 1.0, 2.0, np.nan], [0.5, 0.5, -1.0, 4.0, 2.0]])
    s = fastdl.sort(T(x), 1)
    assert isinstance(s, fastdl.return_types.sort)
    assert_close(s.values.numpy(), np.sort(x, 1))
    assert np.array_equal(s.indices.numpy(), np.argsort(x, 1, kind="stable"))
    assert np.array_equal(fastdl.argsort(T(x), 1).numpy(), np.argsort(x, 1, kind="stable"))
    assert_close(fastdl.msort(T(X)).numpy(), np.sort(X, 0))
    big = RNG.standard_normal((4, 300)).astype(np.float32)
    for k in (1, 5, 300):
        for largest in (True, False):
            r = fastdl.topk(T(big), k, largest=largest)
            want = np.sort(big, 1)[:, ::-1][:, :k] if largest else np.sort(big, 1)[:, :k]
            assert_close(r.values.numpy(), want)
            assert np.array_equal(np.take_along_axis(big, r.indices.numpy(), 1), want)
    torch = _torch()
    tx = torch.from_numpy(x)
    for desc in (False, True):
        w = torch.sort(tx, dim=1, descending=desc, stable=True)
        g = fastdl.sort(T(x), 1, descending=desc)
        assert_close(g.values.numpy(), w.values.numpy())
        assert np.array_equal(g.indices.numpy(), w.indices.numpy())
    xi = np.array([[3, 1, 1, 2], [5, 5, 0, 5]])
    w = torch.topk(torch.from_numpy(xi), 2, dim=1)
    g = fastdl.topk(T(xi), 2, dim=1)
    assert np.array_equal(g.values.numpy(), w.values.numpy())
    # torch leaves the order of tied indices unspecified: check they point at the values
    assert np.array_equal(np.take_along_axis(xi, g.indices.numpy(), 1), w.values.numpy())
    assert T(xi).topk(0).values.shape == (2, 0)


def test_sort_topk_gradients_and_errors():
    x = T(X, True)
    gradcheck(lambda t: fastdl.sort(t, 1, descending=True).values, [x])
    gradcheck(lambda t: fastdl.topk(t, 2, dim=0).values, [x])
    with pytest.raises(RuntimeError, match="k out of range"):
        fastdl.topk(T(X), 6)
    with pytest.raises(IndexError, match="out of range"):
        fastdl.sort(T(X), 2)


def test_unique_family_matches_numpy_and_torch():
    a = np.array([[2, 1, 2], [3, 1, 2], [2, 1, 2]])
    u, inv, cnt = fastdl.unique(T(a), return_inverse=True, return_counts=True)
    wu, winv, wcnt = np.unique(a, return_inverse=True, return_counts=True)
    assert np.array_equal(u.numpy(), wu) and np.array_equal(cnt.numpy(), wcnt)
    assert np.array_equal(inv.numpy(), winv.reshape(a.shape))
    u, inv = fastdl.unique(T(a), dim=0, return_inverse=True)
    assert np.array_equal(u.numpy(), np.unique(a, axis=0))
    assert np.array_equal(u.numpy()[inv.numpy()], a)
    c = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    uc, ic, cc = fastdl.unique_consecutive(T(c), return_inverse=True, return_counts=True)
    torch = _torch()
    wc = torch.unique_consecutive(torch.from_numpy(c), return_inverse=True, return_counts=True)
    for g, w in zip((uc, ic, cc), wc):
        assert np.array_equal(g.numpy(), w.numpy())
    w = torch.unique_consecutive(torch.from_numpy(a), dim=1)
    assert np.array_equal(fastdl.unique_consecutive(T(a), dim=1).numpy(), w.numpy())
    assert fastdl.unique(fastdl.zeros(0)).shape == (0,)


def test_searchsorted_bucketize_bincount_histc():
    torch = _torch()
    seq = np.array([1, 3, 5, 7, 9])
    v = np.array([[3, 6, 9], [0, 10, 5]])
    for right in (False, True):
        assert np.array_equal(fastdl.searchsorted(T(seq), T(v), right=right).numpy(),
                              np.searchsorted(seq, v, side="right" if right else "left"))
        assert np.array_equal(fastdl.bucketize(T(v), T(seq), right=right).numpy(),
                              torch.bucketize(torch.from_numpy(v), torch.from_numpy(seq),
                                              right=right).numpy())
    seq2 = np.sort(RNG.standard_normal((2, 6)), 1)
    v2 = RNG.standard_normal((2, 4))
    assert np.array_equal(fastdl.searchsorted(T(seq2), T(v2)).numpy(),
                          torch.searchsorted(torch.from_numpy(seq2),
                                             torch.from_numpy(v2)).numpy())
    assert fastdl.searchsorted(T(seq), T(v), out_int32=True).numpy().dtype == np.int32
    b = np.array([0, 1, 1, 3, 7])
    assert np.array_equal(fastdl.bincount(T(b)).numpy(), np.bincount(b))
    w = np.array([0.5, 1.0, 1.0, 2.0, 0.25], np.float32)
    got = fastdl.bincount(T(b), T(w), minlength=10)
    assert got.numpy().dtype == np.float32
    assert_close(got.numpy(), np.bincount(b, w, 10).astype(np.float32))
    h = RNG.standard_normal(100).astype(np.float32)
    assert_close(fastdl.histc(T(h), bins=7, min=-1, max=1).numpy(),
                 torch.histc(torch.from_numpy(h), bins=7, min=-1, max=1).numpy())
    assert_close(fastdl.histc(T(h), bins=5).numpy(),
                 torch.histc(torch.from_numpy(h), bins=5).numpy())
    with pytest.raises(RuntimeError, match="non-negative"):
        fastdl.bincount(T([-1, 2]))
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        fastdl.searchsorted(T(seq2), T(np.zeros((3, 3))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_nan_ties_dtypes_as_torch(dtype, dim, keepdim):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, (4, 5, 6)).astype(dtype)  # many ties
    if dtype in (np.float32, np.float64):
        a[1, 2, 3] = a[2, 0, 1] = np.nan
    for name in ("max", "min"):
        v, i = getattr(fastdl, name)(fastdl.tensor(a), dim, keepdim)
        # reference: the first NaN, else the first extreme element along dim
        m = np.moveaxis(a, dim, -1)
        key = np.where(np.isnan(m), 0, 1) if m.dtype.kind == "f" else np.ones(m.shape, int)
        ext = (np.argmax if name == "max" else np.argmin)(np.where(key == 0, 0, m), -1)
        first_nan = np.argmin(key, -1)
        ref_i = np.where((key == 0).any(-1), first_nan, ext)
        if keepdim:
            ref_i = np.expand_dims(ref_i, dim)
        else:
            ref_i = ref_i  # already reduced
        assert np.array_equal(i.numpy(), ref_i) and i.dtype == fastdl.int64
        ref_v = np.take_along_axis(a, i.numpy() if keepdim else np.expand_dims(i.numpy(), dim),
                                   dim)
        ref_v = ref_v if keepdim else np.squeeze(ref_v, dim)
        assert v.dtype == fastdl.tensor(a).dtype
        assert np.array_equal(v.numpy(), ref_v, equal_nan=v.numpy().dtype.kind == "f")
        torch = pytest.importorskip("torch")
        tv, ti = getattr(torch, name)(torch.from_numpy(a), dim, keepdim)
        assert np.array_equal(v.numpy(), tv.numpy(), equal_nan=v.numpy().dtype.kind == "f")
        assert np.array_equal(i.numpy(), ti.numpy())


def test_max_dim_gradient_and_double_backward():
    rng = np.random.default_rng(6)
    x = fastdl.tensor(rng.standard_normal((4, 7)), requires_grad=True)
    assert gradcheck(lambda t: fastdl.max(t, 1).values, (x,))
    assert gradcheck(lambda t: fastdl.min(t, 0, keepdim=True).values, (x,))
    y = fastdl.max(x, 1).values
    (g,) = fastdl.autograd.grad((y * y).sum(), x, create_graph=True)
    (gg,) = fastdl.autograd.grad(g.sum(), x)
    i = np.argmax(x.detach().numpy(), 1)
    want = np.zeros((4, 7))
    want[np.arange(4), i] = 2.0
    assert_close(gg, want, rtol=1e-12, atol=1e-12)
