"""GEMM kernel family: fastdl._C.gemm / _C.matmul and fastdl.matmul/mm/bmm against the float64
NumPy reference, on every ISA path, around every register and cache block boundary."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastdl
from fastdl import _C
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing.reference import gemm_ref, matmul_ref

DTYPES = [np.float32, np.float64]


def _check(c, ref, a_abs_b, k, dtype, what=""):
    """|c - ref| <= tol·sqrt(k)·(|op(a)|·|op(b)|) elementwise (1e-5 float32, 1e-13 float64)."""
    tol = (1e-5 if dtype == np.float32 else 1e-13) * np.sqrt(max(k, 1))
    err = np.abs(c.astype(np.float64) - ref)
    bound = tol * a_abs_b + 1e-30
    bad = err > bound
    assert not bad.any(), (f"{what}: {int(bad.sum())} elements off; worst "
                           f"{np.max(err / bound):.3g}x the bound")


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _boundary_sizes(itemsize):
    b = _C._gemm_blocking(itemsize)
    return b


def _shapes_for(isa, itemsize):
    with use_isa(isa):
        b = _C._gemm_blocking(itemsize)
    mr, nr, kc, mc, nc = b["mr"], b["nr"], b["kc"], b["mc"], b["nc"]
    # (m, k, n): tiles and edges, primes, around every block size (packed path: large enough)
    return [
        (1, 1, 1), (1, 7, 1), (2, 3, 5), (mr, 4, nr), (mr - 1, 9, nr + 1), (mr + 1, 17, nr - 1),
        (13, 31, 37), (64, 64, 64), (65, 63, 67),
        (mr * 3 + 1, kc + 1, nr * 2 + 3), (mc + 1, kc - 1, nr + 5), (mc - 1, 2 * kc + 3, 2 * nr),
        (mr + 2, 70, nc + 1), (mc + mr + 1, kc + 1, nc - 1), (97, 101, 103),
        # thin products: in place up to m = 128, k = 800 (B not transposed), packed beyond
        (128, 800, 2 * nr + 7), (129, 800, nr + 3), (128, 801, nr + 3),
        (mr * 2 + 5, 5 * kc + 3, 3 * nr + 1),
        # matrix-vector products (their own path)
        (1, 300, 517), (531, 300, 1), (1, 1, 1100), (1030, 1, 1), (1, 2000, 1),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_all_transposes_and_boundaries(isa, dtype, rng):
    for (m, k, n) in _shapes_for(isa, np.dtype(dtype).itemsize):
        for ta in (False, True):
            for tb in (False, True):
                a = _rand(rng, (k, m) if ta else (m, k), dtype)
                b = _rand(rng, (n, k) if tb else (k, n), dtype)
                c = _C.matmul(a, b, trans_a=ta, trans_b=tb)
                assert c.shape == (m, n) and c.dtype == dtype
                oa = a.T if ta else a
                ob = b.T if tb else b
                ref = oa.astype(np.float64) @ ob.astype(np.float64)
                _check(c, ref, np.abs(oa).astype(np.float64) @ np.abs(ob).astype(np.float64), k,
                       dtype, f"{isa} {m}x{k}x{n} ta={ta} tb={tb}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 0.75),
                                        (0.0, 2.0), (0.0, 0.0)])
def test_gemm_strided_alpha_beta(isa, dtype, alpha, beta, rng):
    for (m, k, n) in [(5, 3, 7), (40, 50, 70), (130, 300, 90), (1, 40, 600), (700, 30, 1)]:
        for ta in (False, True):
            for tb in (False, True):
                ra, ca = (k, m) if ta else (m, k)
                rb, cb = (n, k) if tb else (k, n)
                abig = _rand(rng, (ra + 3, ca + 11), dtype)
                bbig = _rand(rng, (rb + 2, cb + 5), dtype)
                cbig = _rand(rng, (m + 4, n + 9), dtype)
                a = abig[1:1 + ra, 4:4 + ca]
                b = bbig[2:2 + rb, 3:3 + cb]
                c0 = cbig.copy()
                c = cbig[2:2 + m, 5:5 + n]
                _C.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta)
                ref = gemm_ref(a, b, c0[2:2 + m, 5:5 + n], ta, tb, alpha, beta)
                oa, ob = (a.T if ta else a), (b.T if tb else b)
                scale = abs(alpha) * (np.abs(oa).astype(np.float64) @ np.abs(ob)) + \
                    abs(beta) * np.abs(c0[2:2 + m, 5:5 + n]) + 1e-30
                _check(c, ref, scale, k, dtype, f"{m}x{k}x{n} ta={ta} tb={tb}")
                # nothing outside the C view was touched
                mask = np.ones(cbig.shape, bool)
                mask[2:2 + m, 5:5 + n] = False
                assert np.array_equal(cbig[mask], c0[mask])


def test_beta_zero_ignores_nan_in_c_beta_one_keeps_it(isa):
    a = np.ones((20, 30), np.float32)
    b = np.ones((30, 40), np.float32)
    c = np.full((20, 40), np.nan, np.float32)
    _C.gemm(a, b, c, beta=0.0)
    assert np.all(c == 30)
    c[3, 4] = np.nan
    _C.gemm(a, b, c, beta=1.0)
    assert np.isnan(c[3, 4]) and np.isfinite(np.delete(c.ravel(), 3 * 40 + 4)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 9, 5), (70, 300, 90), (150, 260, 530)])
def test_nan_inf_propagate_like_numpy(isa, dtype, shape, rng):
    m, k, n = shape
    a = _rand(rng, (m, k), dtype)
    b = np.abs(_rand(rng, (k, n), dtype)) + 0.5  # no zeros: inf * b stays inf
    a[2, 3] = np.nan
    a[m - 1, k - 1] = np.inf
    a[m // 2, 0] = -np.inf
    b[k - 2, n - 1] = np.nan
    c = fastdl.matmul(a, b).numpy()
    with np.errstate(all="ignore"):
        ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert np.array_equal(np.isnan(c), np.isnan(ref))
    assert np.array_equal(np.isposinf(c), np.isposinf(ref))
    assert np.array_equal(np.isneginf(c), np.isneginf(ref))
    assert np.isnan(c[2]).all() and np.isnan(c[:, n - 1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_sized(dtype):
    z = np.zeros
    assert _C.matmul(z((0, 5), dtype), z((5, 3), dtype)).shape == (0, 3)
    assert _C.matmul(z((4, 5), dtype), z((5, 0), dtype)).shape == (4, 0)
    out = _C.matmul(z((4, 0), dtype), z((0, 3), dtype))
    assert out.shape == (4, 3) and np.all(out == 0)
    out = fastdl.matmul(np.ones((0, 2, 3), dtype), np.ones((3, 4), dtype))
    assert out.shape == (0, 2, 4)
    out = fastdl.matmul(np.ones((2, 0), dtype), np.ones((0,), dtype))
    assert out.shape == (2,) and np.all(out.numpy() == 0)
    c = np.full((3, 2), 7.0, dtype)
    _C.gemm(z((3, 0), dtype), z((0, 2), dtype), c, beta=0.5)
    assert np.all(c == 3.5)
    # gradients of empty products are zeros of the right shape
    x = fastdl.tensor(np.ones((3, 0), dtype), requires_grad=True)
    w = fastdl.tensor(np.ones((0, 2), dtype), requires_grad=True)
    (x @ w).sum().backward()
    assert x.grad.shape == (3, 0) and w.grad.shape == (0, 2)


BATCH_CASES = [
    ((2, 3, 4), (4, 5)), ((4, 5), (2, 5, 6)), ((2, 1, 3, 4), (5, 4, 6)), ((3, 4), (4,)),
    ((4,), (4, 3)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
    ((7, 2, 3), (7, 3, 2)), ((1, 3, 4), (6, 4, 2)), ((2, 1, 40, 33), (1, 3, 33, 50)),
    ((64, 9, 17), (64, 17, 11)), ((3, 70, 80), (80, 90)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", BATCH_CASES)
def test_batched_broadcast_and_1d(isa, dtype, sa, sb, rng):
    a, b = _rand(rng, sa, dtype), _rand(rng, sb, dtype)
    c = fastdl.matmul(a, b).numpy()
    ref = matmul_ref(a, b)
    assert c.shape == ref.shape and c.dtype == dtype
    _check(c, ref, np.matmul(np.abs(a).astype(np.float64), np.abs(b)), sa[-1], dtype, str(sa))


@pytest.mark.parametrize("sa,sb", BATCH_CASES[:10])
def test_matmul_backward_gradcheck(sa, sb, rng):
    a = fastdl.tensor(rng.standard_normal(sa), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(sb), requires_grad=True)
    assert gradcheck(lambda x, y: fastdl.matmul(x, y), [a, b])


def _reduce(g, shape):
    """Sum g over the axes broadcasting added to reach it from `shape`."""
    while g.ndim > len(shape):
        g = g.sum(0)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@pytest.mark.parametrize("sa,sb", [((30, 40), (40, 50)), ((3, 20, 30), (30, 25)),
                                   ((2, 1, 20, 30), (3, 30, 25)), ((30,), (30, 5))])
def test_matmul_backward_float32_vs_reference(isa, sa, sb, rng):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    x = fastdl.tensor(a, requires_grad=True)
    w = fastdl.tensor(b, requires_grad=True)
    y = x @ w
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(fastdl.tensor(g))
    a64, b64, g64 = a.astype(np.float64), b.astype(np.float64), g.astype(np.float64)
    a2 = a64[None] if a.ndim == 1 else a64
    g2 = g64[..., None, :] if a.ndim == 1 else g64
    ga = _reduce(np.matmul(g2, np.swapaxes(b64, -1, -2)), a2.shape).reshape(a.shape)
    gb = _reduce(np.matmul(np.swapaxes(a2, -1, -2), g2), b.shape)
    assert_close(x.grad, ga, rtol=1e-4, atol=1e-4)
    assert_close(w.grad, gb, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_equal_one_and_two_threads(isa, dtype, rng):
    cases = [((300, 520), (520, 700), False, False), ((70, 64), (70, 90), True, False),
             ((100, 257), (130, 257), False, True), ((65, 66), (66, 67), False, False),
             ((64, 300, 40), (40, 20), False, False), ((48, 5, 17), (48, 17, 9), False, False),
             ((2, 200, 300), (2, 300, 150), False, False),
             ((1, 3000), (3000, 700), False, False), ((3000, 1), (700, 3000), True, True),
             ((900, 2000), (2000, 1), False, False), ((2000, 900), (1, 2000), True, True),
             ((128, 784), (784, 512), False, False), ((784, 64), (784, 300), True, False)]
    for sa, sb, ta, tb in cases:
        a, b = _rand(rng, sa, dtype), _rand(rng, sb, dtype)
        with use_threads(1):
            c1 = _C.matmul(a, b, trans_a=ta, trans_b=tb)
        with use_threads(2):
            c2 = _C.matmul(a, b, trans_a=ta, trans_b=tb)
        assert np.array_equal(c1, c2), (sa, sb, ta, tb)


def _path_cases(isa, itemsize):
    """(m, k, n) products meant to reach each of GEMM's loop nests on `isa`: the matrix-vector
    path, the unpacked small-product path, the panel-streaming path of products with few rows
    (the deep convolution layers' shapes: a weight of 64-128 rows times a wide im2col matrix,
    cut down in n) and the packed BLIS path, each around its tile, k-block and column-block
    edges."""
    with use_isa(isa):
        b = _C._gemm_blocking(itemsize)
    mr, nr, kc = b["mr"], b["nr"], b["kc"]
    return [(1, 50, 70), (70, 50, 1), (20, 30, 40), (mr + 1, 64, nr - 1),
            (64, 576, 3 * nr + 5), (2 * mr + 5, 3 * kc + 1, 3 * nr + 2), (128, 1152, nr + 3),
            (mr - 1, 2 * kc - 5, 4 * nr), (300, 1500, 2 * nr + 1),
            (2 * b["mc"] + 7, 2 * kc + 3, 70),
            # n just over three column blocks: four blocks of equal width, not three and a sliver
            (b["mc"] + 5, kc + 9, 3 * b["nc"] + nr + 3)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_loop_nest_against_reference_and_thread_count(isa, dtype, rng):
    """Each of the loop nests (gemv, direct, stream, packed) is reached by these shapes, gives
    the float64 product within the tolerance for all four transpose combinations, and the same
    bits on 1 and 2 threads (the nest and the k blocking depend on the sizes only)."""
    itemsize = np.dtype(dtype).itemsize
    reached = set()
    for (m, k, n) in _path_cases(isa, itemsize):
        for ta in (False, True):
            for tb in (False, True):
                with use_isa(isa):
                    reached.add(_C._gemm_path(itemsize, m, n, k, tb))
                a = _rand(rng, (k, m) if ta else (m, k), dtype)
                b = _rand(rng, (n, k) if tb else (k, n), dtype)
                with use_threads(1):
                    c1 = _C.matmul(a, b, trans_a=ta, trans_b=tb)
                with use_threads(2):
                    c2 = _C.matmul(a, b, trans_a=ta, trans_b=tb)
                assert np.array_equal(c1, c2), (isa, m, k, n, ta, tb)
                oa, ob = (a.T if ta else a), (b.T if tb else b)
                _check(c1, oa.astype(np.float64) @ ob.astype(np.float64),
                       np.abs(oa).astype(np.float64) @ np.abs(ob), k, dtype,
                       f"{isa} {m}x{k}x{n} ta={ta} tb={tb}")
    assert reached == {"gemv", "direct", "stream", "packed"}, reached


def test_gemm_path_names():
    assert _C._gemm_path(4, 0, 5, 5) == "none"
    assert _C._gemm_path(4, 1, 500, 500) == "gemv"
    assert _C._gemm_path(8, 8, 8, 8) == "direct"
    with pytest.raises(ValueError, match="itemsize"):
        _C._gemm_path(2, 8, 8, 8)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 80), k=st.integers(1, 80), n=st.integers(1, 80),
       ta=st.booleans(), tb=st.booleans(), f64=st.booleans(),
       isa=st.sampled_from(isa_paths()), seed=st.integers(0, 2**31 - 1))
def test_hypothesis_shapes(m, k, n, ta, tb, f64, isa, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    a = _rand(rng, (k, m) if ta else (m, k), dtype)
    b = _rand(rng, (n, k) if tb else (k, n), dtype)
    with use_isa(isa):
        c = _C.matmul(a, b, trans_a=ta, trans_b=tb)
    oa, ob = (a.T if ta else a), (b.T if tb else b)
    _check(c, oa.astype(np.float64) @ ob, np.abs(oa).astype(np.float64) @ np.abs(ob), k, dtype)


def test_tensor_matmul_mm_bmm(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    ta, tb = fastdl.tensor(a), fastdl.tensor(b)
    assert_close((ta @ tb).numpy(), a @ b)
    assert_close(fastdl.mm(ta, tb).numpy(), a @ b)
    assert_close(ta.matmul(tb).numpy(), a @ b)
    assert_close((a @ tb).numpy(), a @ b)  # __rmatmul__
    x, y = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 3, 4))
    assert_close(fastdl.bmm(x, y).numpy(), x @ y)
    with pytest.raises(ValueError, match="mm: both operands must be 2-D"):
        fastdl.mm(x, y)
    with pytest.raises(ValueError, match="bmm: both operands must be 3-D"):
        fastdl.bmm(a, b)
    with pytest.raises(ValueError, match="bmm: batch sizes differ"):
        fastdl.bmm(x, y[:2])


def test_bad_inputs():
    f32, f64 = np.ones((2, 3), np.float32), np.ones((3, 4), np.float64)
    with pytest.raises(ValueError, match=r"inner dimensions disagree: \(2, 3\) @ \(4, 5\)"):
        fastdl.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        fastdl.matmul(fastdl.tensor(2.0), fastdl.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        fastdl.matmul(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64))
    with pytest.raises(TypeError, match="float32 but b is float64"):
        fastdl.matmul(f32, f64)
    with pytest.raises(ValueError, match="do not broadcast"):
        fastdl.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.matmul(np.ones((4, 3))[:, :2], np.ones((2, 2)))
    with pytest.raises(ValueError, match="trans_a"):
        _C.matmul(np.ones(3), np.ones(3), trans_a=True)
    c = np.zeros((2, 4))
    with pytest.raises(ValueError, match="c has shape"):
        _C.gemm(np.ones((2, 3)), np.ones((3, 5)), c)
    with pytest.raises(ValueError, match="unit column stride"):
        _C.gemm(np.ones((2, 6))[:, ::2], np.ones((3, 4)), c)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros((2, 4))
        ro.flags.writeable = False
        _C.gemm(np.ones((2, 3)), np.ones((3, 4)), ro)
    with pytest.raises(ValueError, match="overlap"):
        big = np.ones((4, 4))
        _C.gemm(big[:, :2], big[:2, :], big[:, :])
    with pytest.raises(TypeError, match="float32 but c is float64"):
        _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), c)


def test_fma_peak_probe():
    flops, secs = _C._fma_peak(1000, 1)
    assert flops > 0 and secs >= 0
    flops2, _ = _C._fma_peak(1000, 2)
    assert flops2 == 2 * flops
    with pytest.raises(ValueError):
        _C._fma_peak(0, 1)
