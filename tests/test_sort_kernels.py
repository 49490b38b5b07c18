"""The sorting kernels (csrc/kernels/sort/) through fastdl.sort / argsort / unique /
searchsorted / bucketize: against NumPy (always) and torch (when installed), on every ISA, for
float32, float64, int32 and int64: random data, ties, all-equal, sorted and reversed input,
NaN / inf / -0.0, integer extremes, empty and one-element inputs, non-contiguous inputs, rows
on both sides of the insertion-sort and parallel-pass thresholds, descending stable order, and
1 vs 2 threads bit for bit."""
import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.testing import assert_thread_invariant, gradcheck, use_threads

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

DTYPES = [np.float32, np.float64, np.int32, np.int64]
# around the kernel's thresholds: insertion sort up to 48, chunked passes from 2^17
LENGTHS = [0, 1, 2, 3, 47, 48, 49, 300, 4099]
PAR_N = (1 << 17) + 333


def T(a):
    return fastdl.from_numpy(np.asarray(a))


def bits(a):
    """The array's bit patterns (values compared bit for bit: -0.0 and NaN payloads)."""
    a = np.ascontiguousarray(a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}")) if a.dtype.kind == "f" else a


def data(kind, n, dt, rng):
    dt = np.dtype(dt)
    if dt.kind == "f":
        if kind == "random":
            return rng.standard_normal(n).astype(dt)
        if kind == "ties":
            return rng.integers(-3, 4, n).astype(dt)
        if kind == "special":
            pool = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0,
                             np.finfo(dt).tiny / 4, -np.finfo(dt).max, np.finfo(dt).max], dt)
            out = rng.choice(pool, n).astype(dt)
            if n:  # a NaN with another payload
                out[rng.integers(0, n)] = np.frombuffer(
                    (b"\x01\x00\xc0\x7f" if dt.itemsize == 4 else
                     b"\x01\x00\x00\x00\x00\x00\xf8\xff"), dt)[0]
            return out
    else:
        info = np.iinfo(dt)
        if kind == "random":
            return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        if kind == "ties":
            return rng.integers(-3, 4, n).astype(dt)
        if kind == "special":
            pool = np.array([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max], dt)
            return rng.choice(pool, n).astype(dt)
    if kind == "equal":
        return np.full(n, 7, dt)
    if kind == "sorted":
        return np.sort(data("random", n, dt, rng))
    if kind == "reversed":
        return np.sort(data("random", n, dt, rng))[::-1].copy()
    raise ValueError(kind)


KINDS = ["random", "ties", "special", "equal", "sorted", "reversed"]


def ref_order(a, descending):
    """Stable order along the last axis: ascending (NaN last, -0.0 == 0.0), or descending with
    equal elements in their input order (NaN first)."""
    if not descending:
        return np.argsort(a, -1, kind="stable")
    n = a.shape[-1]
    o = np.argsort(a[..., ::-1], -1, kind="stable")
    return (n - 1 - o)[..., ::-1]


def check_sort(a, descending=False, dim=-1, t=None):
    """fastdl.sort/argsort of ``t`` (default: a tensor of ``a``; else a view with a's values)
    against the stable reference order of ``a``."""
    t = T(a) if t is None else t
    r = fastdl.sort(t, dim, descending=descending)
    want = np.moveaxis(ref_order(np.moveaxis(a, dim, -1), descending), -1, dim)
    assert np.array_equal(r.indices.numpy(), want)
    assert np.array_equal(bits(r.values.numpy()), bits(np.take_along_axis(a, want, dim)))
    assert np.array_equal(fastdl.argsort(t, dim, descending=descending).numpy(), want)
    return r


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_sort_rows_against_numpy(isa, dt, kind):
    rng = np.random.default_rng(3)
    for n in LENGTHS:
        a = data(kind, n, dt, rng)
        for desc in (False, True):
            check_sort(a, desc)
        m = np.stack([data(kind, n, dt, rng) for _ in range(5)])
        check_sort(m, True)
        check_sort(m, False)


@pytest.mark.parametrize("dt", DTYPES)
def test_sort_long_row_both_paths_and_threads(isa, dt):
    rng = np.random.default_rng(4)
    for kind in KINDS:
        a = data(kind, PAR_N, dt, rng)
        for threads in (1, 2):
            with use_threads(threads):
                check_sort(a, False)
                check_sort(a, True)

        def run():
            s = fastdl.sort(T(a), descending=True)
            u = fastdl.unique(T(a), return_inverse=True, return_counts=True)
            return [bits(s.values.numpy()), s.indices.numpy()] + [bits(t.numpy()) for t in u]
        assert_thread_invariant(run)


@pytest.mark.parametrize("dt", DTYPES)
def test_sort_matches_torch_stable(isa, dt):
    if torch is None:
        pytest.skip("needs torch")
    rng = np.random.default_rng(5)
    for kind in KINDS:
        a = np.stack([data(kind, 333, dt, rng) for _ in range(4)])
        for desc in (False, True):
            w = torch.sort(torch.from_numpy(a), dim=1, descending=desc, stable=True)
            g = fastdl.sort(T(a), 1, descending=desc)
            assert np.array_equal(g.indices.numpy(), w.indices.numpy())
            assert np.array_equal(bits(g.values.numpy()), bits(w.values.numpy()))
            assert np.array_equal(fastdl.argsort(T(a), 1, descending=desc, stable=True).numpy(),
                                  w.indices.numpy())


def test_sort_other_dims_and_non_contiguous(isa):
    rng = np.random.default_rng(6)
    for dt in DTYPES:
        a = data("ties", 4 * 50 * 6, dt, rng).reshape(4, 50, 6)
        for dim in (0, 1, 2, -1):
            r = check_sort(a, True, dim)
            assert r.values.numpy().flags.c_contiguous and r.indices.numpy().flags.c_contiguous
        t = T(a)[:, ::3, 1:]  # strided views
        assert not t.is_contiguous()
        check_sort(a[:, ::3, 1:], False, 1, t)
        check_sort(a[:, ::3, 1:], True, -1, t)
        check_sort(a.transpose(2, 0, 1), False, -1, T(a).permute(2, 0, 1))


def test_sort_zero_size_and_scalar():
    for dt in DTYPES:
        for shape in [(0,), (3, 0), (0, 4)]:
            a = np.zeros(shape, dt)
            r = fastdl.sort(T(a), -1)
            assert r.values.shape == shape and r.indices.numpy().dtype == np.int64
        r = fastdl.sort(T(np.array(5, dt)))
        assert r.values.item() == 5 and r.indices.item() == 0


def test_sort_values_gradient_and_out():
    rng = np.random.default_rng(7)
    x = fastdl.tensor(rng.standard_normal((3, 7)), requires_grad=True)  # no ties
    gradcheck(lambda t: fastdl.sort(t, 1, descending=True).values * fastdl.arange(7.0), [x])
    gradcheck(lambda t: fastdl.sort(t, 0).values, [x])
    s = fastdl.sort(x, 1)
    assert s.values.requires_grad and s.values.grad_fn is not None
    assert not s.indices.requires_grad
    vals = fastdl.empty(0)
    idx = fastdl.empty(0, dtype=fastdl.int64)
    a = rng.standard_normal(20).astype(np.float32)
    fastdl.sort(T(a), out=(vals, idx))
    assert np.array_equal(vals.numpy(), np.sort(a)) and np.array_equal(idx.numpy(), np.argsort(a))


# ---- unique --------------------------------------------------------------------------------


def ref_unique(a):
    """torch's unique without dim, with each NaN distinct (after the numbers, input order) and
    -0.0/0.0 one element: values, inverse, counts."""
    flat = a.reshape(-1)
    if flat.dtype.kind == "f":
        nan = np.isnan(flat)
        u, inv, cnt = np.unique(flat[~nan], return_inverse=True, return_counts=True)
        k = nan.sum()
        full_inv = np.empty(flat.size, np.int64)
        full_inv[~nan] = inv.reshape(-1)
        full_inv[nan] = len(u) + np.arange(k)
        return (np.concatenate([u, flat[nan]]), full_inv.reshape(a.shape),
                np.concatenate([cnt, np.ones(k, np.int64)]))
    u, inv, cnt = np.unique(flat, return_inverse=True, return_counts=True)
    return u, inv.reshape(a.shape), cnt


def check_unique(a):
    g = fastdl.unique(T(a), return_inverse=True, return_counts=True)
    wu, winv, wcnt = ref_unique(a)
    assert np.array_equal(g[0].numpy(), wu, equal_nan=True)
    assert np.array_equal(g[1].numpy(), winv) and g[1].shape == a.shape
    assert np.array_equal(g[2].numpy(), wcnt)
    assert np.array_equal(bits(fastdl.unique(T(a)).numpy()), bits(g[0].numpy()))
    assert np.array_equal(fastdl.unique(T(a), return_counts=True)[1].numpy(), wcnt)
    assert np.array_equal(fastdl.unique(T(a), return_inverse=True)[1].numpy(), winv)
    if a.dtype.kind == "f":
        flat = a.reshape(-1)
        # the element kept for 0.0/-0.0 is its first occurrence; NaNs keep their payloads
        z = np.flatnonzero(flat == 0)
        u = g[0].numpy()
        if z.size:
            assert np.signbit(u[u == 0][0]) == np.signbit(flat[z[0]])
        assert np.array_equal(bits(u[np.isnan(u)]), bits(flat[np.isnan(flat)]))
    return g


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kind", KINDS + ["narrow", "wide"])
def test_unique_against_numpy(isa, dt, kind):
    rng = np.random.default_rng(8)
    for n in LENGTHS + [70000]:
        if kind == "narrow":  # integers: the count-table path; floats: many ties
            a = rng.integers(-500, 500, n).astype(dt)
        elif kind == "wide":  # a range too wide for the count table
            a = (rng.integers(-500, 500, n) * 100003).astype(dt)
        else:
            a = data(kind, n, dt, rng)
        check_unique(a)
    check_unique(data(kind if kind in KINDS else "ties", 60, dt, rng).reshape(3, 4, 5))


def test_unique_count_table_edges(isa):
    rng = np.random.default_rng(9)
    for dt in (np.int32, np.int64):
        info = np.iinfo(dt)
        check_unique(np.array([info.max, info.min, info.max, 0], dt))  # range overflows
        check_unique(np.array([info.max] * 5 + [info.max - 65535], dt))  # widest table
        check_unique(np.array([info.min] * 5 + [info.min + 65536], dt))  # just too wide
        check_unique(rng.integers(0, 1 << 16, 1 << 17).astype(dt))
        check_unique(rng.integers(0, 1 << 17, 1 << 17).astype(dt))


def test_unique_scalar_empty_non_contiguous_and_other_dtypes():
    for dt in DTYPES:
        u, inv, cnt = fastdl.unique(T(np.array(5, dt)), return_inverse=True, return_counts=True)
        assert u.shape == (1,) and inv.shape == () and cnt.numpy().tolist() == [1]
        u, inv, cnt = fastdl.unique(T(np.zeros(0, dt)), return_inverse=True,
                                    return_counts=True)
        assert u.shape == inv.shape == cnt.shape == (0,)
        assert u.numpy().dtype == dt and inv.numpy().dtype == cnt.numpy().dtype == np.int64
        a = np.arange(40, dtype=dt).reshape(5, 8) % 7
        for view, t in ((a[:, ::3], T(a)[:, ::3]), (a.T, T(a).t())):
            assert not t.is_contiguous()
            g = fastdl.unique(t, return_inverse=True, return_counts=True)
            for gg, ww in zip(g, ref_unique(view)):
                assert np.array_equal(gg.numpy(), ww)
    # dtypes outside the kernel: NumPy, NaNs distinct as torch
    h = np.array([2, np.nan, 1, np.nan, 2], np.float16)
    u, inv, cnt = fastdl.unique(T(h), return_inverse=True, return_counts=True)
    assert u.numpy().tolist()[:2] == [1.0, 2.0] and np.isnan(u.numpy()[2:]).all()
    assert cnt.numpy().tolist() == [1, 2, 1, 1] and inv.numpy().tolist() == [1, 2, 0, 3, 1]
    b = np.array([True, False, True])
    assert fastdl.unique(T(b)).numpy().tolist() == [False, True]


def test_unique_matches_torch(isa):
    if torch is None:
        pytest.skip("needs torch")
    rng = np.random.default_rng(10)
    for dt in DTYPES:
        for a in (rng.integers(0, 1000, 5000).astype(dt), data("random", 3000, dt, rng),
                  data("ties", 3000, dt, rng).reshape(30, 100)):
            for s in (True, False):
                w = torch.unique(torch.from_numpy(a), sorted=s, return_inverse=True,
                                 return_counts=True)
                g = fastdl.unique(T(a), sorted=s, return_inverse=True, return_counts=True)
                for gg, ww in zip(g, w):
                    assert np.array_equal(gg.numpy(), ww.numpy())
    # NaNs: torch keeps each one (their inverse order is torch's sort's); same values, counts
    a = np.array([np.nan, 1.0, np.nan, -0.0, 0.0, 2.0, np.nan], np.float32)
    w = torch.unique(torch.from_numpy(a), return_inverse=True, return_counts=True)
    g = fastdl.unique(T(a), return_inverse=True, return_counts=True)
    assert np.array_equal(g[0].numpy(), w[0].numpy(), equal_nan=True)
    assert np.array_equal(g[2].numpy(), w[2].numpy())
    assert g[1].numpy().tolist() == [3, 1, 4, 0, 0, 2, 5]


# ---- searchsorted / bucketize ---------------------------------------------------------------


def torch_bisect(seq, v, right):
    """torch's searchsorted bisection, step for step (the reference where seq holds NaN)."""
    out = np.empty(v.shape, np.int64)
    for j, x in np.ndenumerate(v):
        lo, hi = 0, seq.shape[-1]
        s = seq if seq.ndim == 1 else seq[j[:-1]]
        while lo < hi:
            mid = lo + ((hi - lo) >> 1)
            go = not (s[mid] > x) if right else not (s[mid] >= x)
            lo, hi = (mid + 1, hi) if go else (lo, mid)
        out[j] = lo
    return out


@pytest.mark.parametrize("dt", DTYPES)
def test_searchsorted_against_numpy_and_torch(isa, dt):
    rng = np.random.default_rng(11)
    for m in (0, 1, 2, 5, 16, 17, 1000):
        seq = np.sort(data("ties", m, dt, rng))
        v = np.concatenate([data("ties", 37, dt, rng), seq[:3]])
        if np.dtype(dt).kind == "f":
            v = np.concatenate([v, np.array([np.nan, np.inf, -np.inf, -0.0], dt)])
        for right in (False, True):
            side = "right" if right else "left"
            want = torch_bisect(seq, v, right)
            if np.dtype(dt).kind != "f":
                assert np.array_equal(want, np.searchsorted(seq, v, side=side))
            g = fastdl.searchsorted(T(seq), T(v), right=right)
            assert np.array_equal(g.numpy(), want)
            g32 = fastdl.searchsorted(T(seq), T(v.reshape(-1, 1)), side=side, out_int32=True)
            assert g32.numpy().dtype == np.int32
            assert np.array_equal(g32.numpy().reshape(-1), want)
            assert np.array_equal(fastdl.bucketize(T(v), T(seq), right=right).numpy(), want)
            if torch is not None:
                w = torch.searchsorted(torch.from_numpy(seq), torch.from_numpy(v), right=right)
                assert np.array_equal(g.numpy(), w.numpy())


def test_searchsorted_batched_nan_sequences_and_threads(isa):
    rng = np.random.default_rng(12)
    for dt in DTYPES:
        seq = np.sort(data("ties", 3 * 4 * 50, dt, rng).reshape(3, 4, 50), -1)
        v = data("ties", 3 * 4 * 70, dt, rng).reshape(3, 4, 70)
        if np.dtype(dt).kind == "f":
            seq[1, 2, 10] = np.nan  # not sorted any more: torch's bisection decides
            seq[2, 0, -5:] = np.nan
            v[0, 0, :3] = np.nan
        for right in (False, True):
            g = fastdl.searchsorted(T(seq), T(v), right=right)
            assert np.array_equal(g.numpy(), torch_bisect(seq, v, right))
            if torch is not None:
                w = torch.searchsorted(torch.from_numpy(seq), torch.from_numpy(v), right=right)
                assert np.array_equal(g.numpy(), w.numpy())
        # strided inputs
        assert np.array_equal(fastdl.searchsorted(T(seq)[:, ::2], T(v)[:, ::2, ::3]).numpy(),
                              torch_bisect(seq[:, ::2], v[:, ::2, ::3], False))
    seq = np.sort(rng.standard_normal(1024)).astype(np.float32)
    seq[500] = np.nan
    v = rng.standard_normal(200000).astype(np.float32)
    for s in (np.sort(rng.standard_normal(1024)).astype(np.float32), seq):
        assert_thread_invariant(lambda: [fastdl.searchsorted(T(s), T(v)).numpy(),
                                         fastdl.bucketize(T(v), T(s), right=True).numpy()])
    if torch is not None:
        w = torch.searchsorted(torch.from_numpy(seq), torch.from_numpy(v))
        assert np.array_equal(fastdl.searchsorted(T(seq), T(v)).numpy(), w.numpy())


def test_searchsorted_mixed_dtypes_and_scalars_keep_numpy_path():
    seq = np.array([1.0, 2.0, 3.0], np.float32)
    assert fastdl.searchsorted(T(seq), 2.5).item() == 2
    assert fastdl.searchsorted(T(seq), T(np.array([2, 4]))).numpy().tolist() == [1, 3]
    assert fastdl.searchsorted(T(seq), T(np.array(2.0, np.float32))).item() == 1


def test_bindings_check_arguments():
    with pytest.raises(TypeError, match="sort: input must be float32, float64, int32"):
        _C.sort_rows(np.zeros(3, np.int16))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.sort_rows(np.zeros((3, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="at least one dimension"):
        _C.sort_rows(np.zeros((), np.float32))
    with pytest.raises(TypeError, match="unique: input must be"):
        _C.sort_unique(np.zeros(3, np.uint8))
    with pytest.raises(TypeError, match="sorted_sequence is float32 but input is float64"):
        _C.sort_searchsorted(np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match=r"sorted_sequence \(2, 3\) and input \(3, 3\)"):
        _C.sort_searchsorted(np.zeros((2, 3)), np.zeros((3, 3)))
