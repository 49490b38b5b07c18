"""The ops that run on the tensorops C++ kernels (csrc/kernels/tensorops): gather, cummax /
cummin, fmod / remainder, topk, mode, multinomial with and without replacement, sparse.mm —
each against a NumPy reference (always) and torch (when installed), on inputs large enough to
take the kernel path and on every ISA path the machine has (the ``isa`` fixture), plus their
error cases and gradients."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

DTYPES = [np.float32, np.float64]


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- gather ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_gather_matches_numpy_and_torch(dtype, dim, isa):
    rng = _rng(1)
    a = rng.standard_normal((16, 40, 32)).astype(dtype)
    shape = list(a.shape)
    shape[dim] = 37
    idx = rng.integers(0, a.shape[dim], shape)
    got = fastdl.gather(fastdl.tensor(a), dim, fastdl.tensor(idx))
    assert_close(got, np.take_along_axis(a, idx, axis=dim), rtol=0, atol=0)
    torch = pytest.importorskip("torch")
    want = torch.gather(torch.from_numpy(a), dim, torch.from_numpy(idx))
    assert_close(got, want.numpy(), rtol=0, atol=0)


def test_gather_index_out_of_range_and_gradient(isa):
    rng = _rng(2)
    a = rng.standard_normal((64, 512))
    idx = rng.integers(0, 512, (64, 512))
    idx[3, 7] = 512
    with pytest.raises(IndexError, match="out of"):
        fastdl.gather(fastdl.tensor(a), 1, fastdl.tensor(idx))
    idx[3, 7] = -2  # counts from the end, as fastdl's gather does elsewhere
    got = fastdl.gather(fastdl.tensor(a), 1, fastdl.tensor(idx))
    assert got[3, 7].item() == a[3, 510]
    x = fastdl.tensor(a, requires_grad=True)
    g = rng.standard_normal(idx.shape)
    fastdl.gather(x, 1, fastdl.tensor(idx)).backward(fastdl.tensor(g))
    ref = np.zeros_like(a)
    np.add.at(ref, (np.arange(64)[:, None], idx % 512), g)
    assert_close(x.grad, ref, rtol=1e-12, atol=1e-12)


# ---- cummax / cummin ------------------------------------------------------------------------
def _cumext_ref(a, d, is_max):
    """torch's rule, one element at a time: NaN always taken, ties take the latest index."""
    m = np.moveaxis(a, d, -1)
    vals, idx = np.empty_like(m), np.zeros(m.shape, np.int64)
    for pos in np.ndindex(m.shape[:-1]):
        row = m[pos]
        best, bi = row[0], 0
        for j, v in enumerate(row):
            if np.isnan(v) or (not np.isnan(best) and (v >= best if is_max else v <= best)):
                best, bi = v, j
            vals[pos + (j,)], idx[pos + (j,)] = best, bi
    return np.moveaxis(vals, -1, d), np.moveaxis(idx, -1, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("is_max", [True, False])
def test_cummax_cummin_match_reference_and_torch(dtype, dim, is_max, isa):
    rng = _rng(3)
    a = rng.integers(-3, 4, (5, 6, 7)).astype(dtype)  # many ties
    a[1, 2, 3] = a[4, 0, 1] = a[4, 0, 5] = np.nan
    fn = fastdl.cummax if is_max else fastdl.cummin
    r = fn(fastdl.tensor(a), dim)
    vals, idx = _cumext_ref(a, dim, is_max)
    assert_close(r.values, vals, rtol=0, atol=0, equal_nan=True)
    assert np.array_equal(r.indices.numpy(), idx)
    torch = pytest.importorskip("torch")
    t = (torch.cummax if is_max else torch.cummin)(torch.from_numpy(a), dim)
    assert np.array_equal(r.indices.numpy(), t.indices.numpy())
    assert_close(r.values, t.values.numpy(), rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("is_max", [True, False])
def test_cummax_cummin_long_rows(dtype, is_max, isa):
    """Rows longer than a vector: whole blocks without a new extremum, ties, NaN mid-block."""
    rng = _rng(13)
    a = rng.integers(-50, 50, (4, 203)).astype(dtype)
    a[1, 37] = a[2, 100] = a[2, 150] = np.nan
    a[3] = 5.0                                          # one long tie
    fn = fastdl.cummax if is_max else fastdl.cummin
    r = fn(fastdl.tensor(a), 1)
    vals, idx = _cumext_ref(a, 1, is_max)
    assert_close(r.values, vals, rtol=0, atol=0, equal_nan=True)
    assert np.array_equal(r.indices.numpy(), idx)


def test_cummax_gradient():
    x = fastdl.tensor(_rng(4).standard_normal((4, 6)), requires_grad=True)
    assert gradcheck(lambda t: fastdl.cummax(t, 1).values, [x])
    assert gradcheck(lambda t: fastdl.cummin(t, 0).values, [x])


# ---- fmod / remainder -----------------------------------------------------------------------
def _mod_inputs(dtype, n=20000):
    rng = _rng(5)
    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 8, n)).astype(dtype)
    b = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 3, n)).astype(dtype)
    a[:6] = [0.0, -0.0, np.inf, np.nan, 5.0, -7.5]
    b[:6] = [3.0, 2.0, 1.0, 1.0, 0.0, 2.5]
    b[6:10] = [1e-30, -1e-30, 3e-5, -2.0]
    a[6:10] = [1e30, 3e30, -1e7, 16777217.0]
    return a, b


@pytest.mark.parametrize("dtype", DTYPES)
def test_fmod_remainder_exact(dtype, isa):
    a, b = _mod_inputs(dtype)
    with np.errstate(all="ignore"):
        want_f, want_r = np.fmod(a, b), np.remainder(a, b)
    ta, tb = fastdl.tensor(a), fastdl.tensor(b)
    assert_close(fastdl.fmod(ta, tb), want_f, rtol=0, atol=0, equal_nan=True)
    assert_close(fastdl.remainder(ta, tb), want_r, rtol=0, atol=0, equal_nan=True)
    assert_close(ta % tb, want_r, rtol=0, atol=0, equal_nan=True)
    with np.errstate(all="ignore"):
        assert_close(fastdl.fmod(ta, 0.7), np.fmod(a, dtype(0.7)), rtol=0, atol=0,
                     equal_nan=True)
        assert_close(ta % -1.5, np.remainder(a, dtype(-1.5)), rtol=0, atol=0, equal_nan=True)
    torch = pytest.importorskip("torch")
    # torch's vectorised fmod/remainder go through a/b, which overflows (NaN) or loses bits
    # for huge quotients; fastdl is exact (C's fmod): compare where the quotient is moderate
    with np.errstate(all="ignore"):
        ok = np.abs(a.astype(np.float64) / b) < 1e6
    tf = torch.fmod(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert_close(fastdl.fmod(ta, tb).numpy()[ok], tf[ok], rtol=1e-6, atol=1e-6)
    tr = torch.remainder(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert_close(fastdl.remainder(ta, tb).numpy()[ok], tr[ok], rtol=1e-6, atol=1e-6)


def test_remainder_gradient_and_int():
    x = fastdl.tensor(_rng(6).uniform(1, 5, 40000), requires_grad=True)
    y = (x % 1.5).sum()
    y.backward()
    assert_close(x.grad, np.ones(40000), rtol=0, atol=0)
    assert fastdl.remainder(fastdl.arange(-5, 5), 3).tolist() == [1, 2, 0, 1, 2, 0, 1, 2, 0, 1]


# ---- topk ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_topk_matches_torch(dtype, largest, dim, isa):
    rng = _rng(7)
    a = rng.integers(-20, 20, (64, 300)).astype(dtype)  # ties
    a[5, 7] = a[9, 0] = a[9, 100] = np.nan
    r = fastdl.topk(fastdl.tensor(a), 6, dim, largest=largest)
    # reference: stable sort by (value with NaN largest, index)
    key = np.where(np.isnan(a), np.inf, a)
    m = np.moveaxis(key, dim, -1)
    nanm = np.moveaxis(np.isnan(a), dim, -1).astype(np.int64)
    order = np.lexsort((np.broadcast_to(np.arange(m.shape[-1]), m.shape),
                        -nanm if largest else nanm, -m if largest else m))[..., :6]
    assert np.array_equal(np.moveaxis(r.indices.numpy(), dim, -1), order)
    torch = pytest.importorskip("torch")
    t = torch.topk(torch.from_numpy(a), 6, dim, largest=largest)
    assert_close(r.values, t.values.numpy(), rtol=0, atol=0, equal_nan=True)


def _topk_ref(a, k, d, largest):
    """Indices of the k best along d: stable order by (value with NaN largest, index)."""
    m = np.moveaxis(a, d, -1)
    nan = np.isnan(m)
    key = np.where(nan, 0, m)
    pos = np.broadcast_to(np.arange(m.shape[-1]), m.shape)
    if largest:
        order = np.lexsort((pos, -key, -nan.astype(np.int64)))
    else:
        order = np.lexsort((pos, key, nan.astype(np.int64)))
    return np.moveaxis(order[..., :k], -1, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape,dim,k", [
    ((3, 700, 301), 1, 5),     # columns: two blocks of 256 and a ragged vector tail
    ((4, 1000), 1, 1),         # rows, k = 1
    ((2, 70, 33), 1, 70),      # k = n, above the buffer (selection path), columns
    ((5, 257), -1, 40),        # selection path along rows
    ((9, 19), 0, 9),           # k = n along dim 0 with the buffer
])
def test_topk_kernel_paths(dtype, largest, shape, dim, k, isa):
    rng = _rng(17)
    a = rng.integers(-30, 30, shape).astype(dtype)  # many ties
    flat = a.reshape(-1)
    flat[rng.integers(0, flat.size, flat.size // 50)] = np.nan
    flat[rng.integers(0, flat.size, flat.size // 50)] = -np.inf
    flat[rng.integers(0, flat.size, flat.size // 50)] = np.inf
    r = fastdl.topk(fastdl.tensor(a), k, dim, largest=largest)
    want = _topk_ref(a, k, dim, largest)
    assert np.array_equal(r.indices.numpy(), want)
    assert_close(r.values, np.take_along_axis(a, want, dim), rtol=0, atol=0, equal_nan=True)
    torch = pytest.importorskip("torch")
    t = torch.topk(torch.from_numpy(a), k, dim, largest=largest)
    assert_close(r.values, t.values.numpy(), rtol=0, atol=0, equal_nan=True)


def test_topk_all_nan_and_ascending_rows(isa):
    a = np.full((3, 500), np.nan, np.float32)
    a[1] = np.arange(500)          # every element enters the buffer
    a[2] = np.arange(500)[::-1]
    for largest in (True, False):
        r = fastdl.topk(fastdl.tensor(a), 7, 1, largest=largest)
        assert np.array_equal(r.indices.numpy(), _topk_ref(a, 7, 1, largest))


def test_topk_gradient():
    x = fastdl.tensor(_rng(8).standard_normal((5, 9)), requires_grad=True)
    assert gradcheck(lambda t: fastdl.topk(t, 3, 1).values, [x])


# ---- multinomial -----------------------------------------------------------------------------
def test_multinomial_replacement_distribution_and_errors(isa):
    w = np.array([[0.0, 1.0, 3.0, 0.0, 4.0], [5.0, 0.0, 0.0, 0.0, 5.0]], np.float32)
    g = fastdl.Generator().manual_seed(0)
    s = fastdl.multinomial(fastdl.tensor(w), 40000, True, generator=g).numpy()
    assert s.shape == (2, 40000) and s.dtype == np.int64
    for r in range(2):
        freq = np.bincount(s[r], minlength=5) / 40000
        assert_close(freq, w[r] / w[r].sum(), rtol=0, atol=0.01)
        assert (freq[w[r] == 0] == 0).all()  # a zero weight is never drawn
    again = fastdl.multinomial(fastdl.tensor(w), 40000, True,
                               generator=fastdl.Generator().manual_seed(0)).numpy()
    assert np.array_equal(s, again)
    one = fastdl.multinomial(fastdl.tensor(w[0]), 7, replacement=True)
    assert one.shape == (7,)
    for bad, msg in ((np.array([1.0, -1.0]), "element < 0"), (np.array([1.0, np.nan]), "nan"),
                     (np.array([0.0, 0.0]), "sum of probabilities")):
        with pytest.raises(RuntimeError, match=msg):
            fastdl.multinomial(fastdl.tensor(bad.astype(np.float32)), 3, True)


def test_multinomial_without_replacement(isa):
    rng = _rng(10)
    w = rng.random((300, 50)).astype(np.float32)
    w[:, ::3] = 0
    g = fastdl.Generator().manual_seed(3)
    s = fastdl.multinomial(fastdl.tensor(w), 12, generator=g).numpy()
    assert s.shape == (300, 12) and s.dtype == np.int64
    assert all(len(set(row)) == 12 for row in s)                 # distinct
    assert (np.take_along_axis(w, s, 1) > 0).all()               # zero weights never drawn
    again = fastdl.multinomial(fastdl.tensor(w), 12, generator=fastdl.Generator().manual_seed(3))
    assert np.array_equal(s, again.numpy())
    # the first draw is distributed as w / sum(w); the second as the renormalised rest
    p = np.array([1.0, 2.0, 0.0, 5.0, 2.0])
    s = fastdl.multinomial(fastdl.tensor(np.tile(p, (40000, 1))), 2).numpy()
    assert_close(np.bincount(s[:, 0], minlength=5) / 40000, p / p.sum(), rtol=0, atol=0.01)
    second = sum(p[i] / p.sum() * np.where(np.arange(5) == i, 0, p) / (p.sum() - p[i])
                 for i in range(5))
    assert_close(np.bincount(s[:, 1], minlength=5) / 40000, second, rtol=0, atol=0.01)
    s = fastdl.multinomial(fastdl.tensor(p), 4).numpy()          # 1-D, every positive weight
    assert sorted(s) == [0, 1, 3, 4]
    big = fastdl.multinomial(fastdl.tensor(rng.random((2, 100))), 60).numpy()  # k > buffer
    assert all(len(set(row)) == 60 for row in big)
    for bad, k, msg in ((np.array([1.0, -1.0]), 1, "element < 0"),
                        (np.array([1.0, np.inf]), 1, "inf"),
                        (np.array([np.nan, 1.0]), 1, "nan"),
                        (np.array([0.0, 0.0]), 1, "sum of probabilities"),
                        (np.array([1.0, 1.0]), 3, "n_sample > prob_dist")):
        for dt in DTYPES + [np.float16]:
            with pytest.raises(RuntimeError, match=msg):
                fastdl.multinomial(fastdl.tensor(bad.astype(dt)), k)
    # fewer positive weights than samples: zero weights follow the positive ones (as torch)
    few = np.array([[0.0, 1.0, 0.0, 0.0, 2.0]])
    for dt in DTYPES + [np.float16]:
        s = fastdl.multinomial(fastdl.tensor(few.astype(dt)), 4).numpy()
        assert sorted(s[0, :2]) == [1, 4] and set(s[0, 2:]) < {0, 2, 3} and len(set(s[0])) == 4
    torch = pytest.importorskip("torch")
    t = torch.multinomial(torch.from_numpy(few), 4)
    assert sorted(t[0, :2].tolist()) == [1, 4] and set(t[0, 2:].tolist()) < {0, 2, 3}


# ---- mode ------------------------------------------------------------------------------------
def _mode_ref(rows):
    """Per row: the most frequent value (smallest among ties; NaNs equal, largest) and the
    index of its last occurrence."""
    vals, idx = [], []
    for row in rows:
        key = [("nan",) if v != v else (v,) for v in row.tolist()]
        counts = {}
        for k_ in key:
            counts[k_] = counts.get(k_, 0) + 1
        best = min(counts, key=lambda k_: (-counts[k_], 1 if k_ == ("nan",) else 0,
                                           0 if k_ == ("nan",) else k_[0]))
        vals.append(np.nan if best == ("nan",) else best[0])
        idx.append(max(i for i, k_ in enumerate(key) if k_ == best))
    return np.array(vals), np.array(idx)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_mode_kernel(dtype, dim, isa):
    rng = _rng(11)
    a = rng.integers(0, 12, (40, 90)).astype(dtype)
    if dtype != np.int64:
        a[3, :60] = np.nan                      # NaN the most frequent in one row
        a[4, ::2] = np.nan
        a[7] = -0.0
    r = fastdl.mode(fastdl.tensor(a), dim)
    m = np.moveaxis(a, dim, -1)
    v, i = _mode_ref(m)
    assert np.array_equal(r.indices.numpy(), i)
    assert_close(r.values, v.astype(dtype), rtol=0, atol=0, equal_nan=True)
    k = fastdl.mode(fastdl.tensor(a), dim, keepdim=True)
    assert k.values.shape == k.indices.shape == tuple(1 if j == dim % 2 else s
                                                      for j, s in enumerate(a.shape))
    torch = pytest.importorskip("torch")
    t = torch.mode(torch.from_numpy(a), dim)
    ok = ~np.isnan(m).any(-1)  # torch's mode of a slice with NaN is not reliable
    assert_close(r.values.numpy()[ok], t.values.numpy()[ok], rtol=0, atol=0)
    # (torch's index is some occurrence of the mode, from an unstable sort; fastdl's the last)


def test_mode_gradient_goes_to_the_index():
    x = fastdl.tensor(np.array([[1.0, 2.0, 2.0, 3.0], [4.0, 4.0, 1.0, 1.0]]), requires_grad=True)
    r = fastdl.mode(x, 1)
    r.values.backward(fastdl.tensor([2.0, 3.0]))
    assert r.indices.tolist() == [2, 3]
    assert x.grad.tolist() == [[0, 0, 2, 0], [0, 0, 0, 3]]


# ---- sparse.mm -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_spmm_matches_dense(dtype, isa):
    rng = _rng(9)
    m, k, n, nnz = 50, 40, 7, 300
    idx = np.stack([rng.integers(0, m, nnz), rng.integers(0, k, nnz)])  # unsorted, duplicates
    vals = rng.standard_normal(nnz).astype(dtype)
    dense = np.zeros((m, k), np.float64)
    np.add.at(dense, (idx[0], idx[1]), vals)
    x = rng.standard_normal((k, n)).astype(dtype)
    A = fastdl.sparse_coo_tensor(fastdl.tensor(idx), fastdl.tensor(vals), (m, k))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(fastdl.sparse.mm(A, fastdl.tensor(x)), dense @ x, rtol=tol, atol=tol)
    assert_close(fastdl.sparse.mm(A.coalesce(), fastdl.tensor(x)), dense @ x, rtol=tol, atol=tol)
    if dtype == np.float64:
        xv = fastdl.tensor(x, requires_grad=True)
        vv = fastdl.tensor(vals, requires_grad=True)
        assert gradcheck(lambda v, t: fastdl.sparse.mm(
            fastdl.sparse_coo_tensor(fastdl.tensor(idx), v, (m, k)), t), [vv, xv])


# ---- scatter_add -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_scatter_add_kernel_matches_numpy_and_torch(dtype, dim, isa):
    rng = _rng(7)
    a = rng.standard_normal((6, 40, 300)).astype(dtype)  # dim 0: one outer slab, split by inner
    shape = list(a.shape)
    shape[dim] = 23
    idx = rng.integers(-a.shape[dim], a.shape[dim], shape)  # repeated and negative indices
    src = rng.standard_normal(shape).astype(dtype)
    got = fastdl.scatter_add(fastdl.tensor(a), dim, fastdl.tensor(idx), fastdl.tensor(src))
    ref = a.copy()
    d = dim % 3
    full = [np.arange(s).reshape([-1 if k == j else 1 for k in range(3)])
            for j, s in enumerate(shape)]
    full[d] = idx % a.shape[d]
    np.add.at(ref, tuple(np.broadcast_arrays(*full)), src)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(got, ref, rtol=tol, atol=tol)
    torch = pytest.importorskip("torch")
    want = torch.scatter_add(torch.from_numpy(a), dim, torch.from_numpy(idx % a.shape[d]),
                             torch.from_numpy(src))
    assert_close(got, want.numpy(), rtol=tol, atol=tol)


def test_scatter_add_kernel_errors_and_gradient(isa):
    rng = _rng(8)
    a = rng.standard_normal((8, 50))
    idx = rng.integers(0, 50, (8, 50))
    idx[2, 3] = 50
    with pytest.raises(IndexError):
        fastdl.scatter_add(fastdl.tensor(a), 1, fastdl.tensor(idx), fastdl.tensor(a))
    idx[2, 3] = 4
    with pytest.raises(IndexError, match="out of bounds"):
        import fastdl._C as C
        bad = idx.copy()
        bad[0, 0] = 99
        C.tensorops_scatter_add(a, bad, a, 1)
    x = fastdl.tensor(a, requires_grad=True)
    s = fastdl.tensor(rng.standard_normal((8, 50)), requires_grad=True)
    assert gradcheck(lambda x, s: fastdl.scatter_add(x, 1, fastdl.tensor(idx), s), (x, s))


# ---- nan_to_num --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_to_num_kernel(dtype, isa):
    rng = _rng(9)
    a = rng.standard_normal(5000).astype(dtype)
    a[rng.integers(0, 5000, 300)] = np.nan
    a[rng.integers(0, 5000, 300)] = np.inf
    a[rng.integers(0, 5000, 300)] = -np.inf
    for kw in ({}, {"nan": 1.5, "posinf": 7.0, "neginf": -3.0}, {"posinf": 2.0}):
        got = fastdl.nan_to_num(fastdl.tensor(a), **kw)
        assert got.dtype == fastdl.tensor(a).dtype
        assert_close(got, np.nan_to_num(a, **kw), rtol=0, atol=0)
        torch = pytest.importorskip("torch")
        assert_close(got, torch.nan_to_num(torch.from_numpy(a), **kw).numpy(), rtol=0, atol=0)
    x = fastdl.tensor(a, requires_grad=True)
    fastdl.nan_to_num(x).backward(fastdl.ones(5000, dtype=x.dtype))
    assert_close(x.grad, np.isfinite(a).astype(dtype), rtol=0, atol=0)


# ---- hypot ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_hypot_kernel_no_overflow_and_specials(dtype, isa):
    rng = _rng(10)
    a = (rng.standard_normal(4099) * 10.0 ** rng.integers(-30, 30, 4099)).astype(dtype)
    b = (rng.standard_normal(4099) * 10.0 ** rng.integers(-30, 30, 4099)).astype(dtype)
    a[:4] = [np.inf, -np.inf, np.nan, 0.0]
    b[:4] = [np.nan, 1.0, np.inf, 0.0]
    got = fastdl.hypot(fastdl.tensor(a), fastdl.tensor(b))
    ref = np.hypot(a.astype(np.float64), b.astype(np.float64)).astype(dtype)
    assert np.isinf(got.numpy()[:3]).all() and got.numpy()[3] == 0
    tol = 1e-7 if dtype == np.float32 else 1e-15
    assert_close(got, ref, rtol=tol, atol=0)
    torch = pytest.importorskip("torch")
    want = torch.hypot(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert_close(got, want, rtol=2e-7 if dtype == np.float32 else 1e-15, atol=0)


def test_hypot_gradient():
    rng = _rng(11)
    x = fastdl.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    y = fastdl.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    assert gradcheck(fastdl.hypot, (x, y))


# ---- erfinv (float32 kernel) ---------------------------------------------------------------------
def _erfinv_ref(y):
    """float64 erfinv by Newton's method on math.erf from a bisection start (independent of
    the kernel's approximation)."""
    import math
    out = np.empty(y.shape, np.float64)
    for i, v in enumerate(y.astype(np.float64)):
        lo, hi = -6.0, 6.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
        x = (lo + hi) / 2
        for _ in range(2):
            x -= (math.erf(x) - v) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        out[i] = x
    return out


def test_erfinv_float32_kernel(isa):
    rng = _rng(12)
    y = np.concatenate([rng.uniform(-1, 1, 3000), 1 - 10.0 ** rng.uniform(-7, -1, 300),
                        -(1 - 10.0 ** rng.uniform(-7, -1, 300)),
                        10.0 ** rng.uniform(-30, -1, 300)]).astype(np.float32)
    got = fastdl.erfinv(fastdl.tensor(y))
    assert got.dtype == fastdl.float32
    ref = _erfinv_ref(y)
    rel = np.abs(got.numpy() - ref) / np.maximum(np.abs(ref), 1e-38)
    assert rel.max() < 3e-7
    sp = fastdl.erfinv(fastdl.tensor(np.array([1, -1, 1.5, -2, np.nan, 0.0, -0.0], np.float32)))
    v = sp.numpy()
    assert v[0] == np.inf and v[1] == -np.inf and np.isnan(v[2:5]).all()
    assert v[5] == 0 and np.signbit(v[6])
    torch = pytest.importorskip("torch")
    assert_close(got, torch.erfinv(torch.from_numpy(y)).numpy(), rtol=4e-7, atol=0)
