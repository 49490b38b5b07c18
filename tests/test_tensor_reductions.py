"""The reductions' graph-free paths (taken when nothing needs a gradient) give the same
values, dtypes and shapes as the recorded paths, NumPy and torch (when installed): NaN wins
in max/min/argmax, ties, every dim form, keepdim, 0-d, integer, bool and float16 inputs,
and torch's errors for empty inputs."""
import numpy as np
import pytest

import fastdl

_OPS = [
    ("max", lambda x: x.max()), ("min", lambda x: x.min()),
    ("max1", lambda x: x.max(1).values), ("min0", lambda x: x.min(0).values),
    ("max1i", lambda x: x.max(-1).indices), ("min1k", lambda x: x.min(1, keepdim=True).values),
    ("amax", lambda x: x.amax()), ("amax1", lambda x: x.amax(1)),
    ("amin01k", lambda x: x.amin((0, 1), keepdim=True)),
    ("argmax", lambda x: x.argmax()), ("argmin1", lambda x: x.argmin(1)),
    ("argmaxk", lambda x: x.argmax(0, keepdim=True)),
    ("sum", lambda x: x.sum()), ("sum1", lambda x: x.sum(1)), ("sum-1k", lambda x: x.sum(-1, keepdim=True)),
    ("mean", lambda x: x.mean()), ("mean1", lambda x: x.mean(1)), ("mean0k", lambda x: x.mean(0, keepdim=True)),
    ("prod", lambda x: x.prod()), ("prod1", lambda x: x.prod(1)),
    ("var", lambda x: x.var()), ("var1", lambda x: x.var(1)), ("std0k", lambda x: x.std(0, keepdim=True)),
    ("std_c0", lambda x: x.std(1, correction=0)), ("norm", lambda x: x.norm()), ("norm1", lambda x: x.norm(dim=1)),
]
_FLOAT_ONLY = {"mean", "mean1", "mean0k", "var", "var1", "std0k", "std_c0", "norm", "norm1"}


def _data(kind):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 7))
    if kind == "ties":
        a = np.round(a)
    elif kind == "nan":
        a[1, 3] = a[4, 0] = np.nan
    return a


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["plain", "ties", "nan"])
@pytest.mark.parametrize("name,op", _OPS, ids=[n for n, _ in _OPS])
def test_graph_free_equals_recorded(name, op, kind, dtype):
    a = _data(kind).astype(dtype)
    plain = op(fastdl.tensor(a))
    rec = op(fastdl.tensor(a, requires_grad=True))
    assert not plain.requires_grad
    assert plain.dtype == rec.dtype and plain.shape == rec.shape
    np.testing.assert_array_equal(plain.numpy(), rec.detach().numpy())
    with fastdl.no_grad():
        ng = op(fastdl.tensor(a, requires_grad=True))
    assert not ng.requires_grad
    np.testing.assert_array_equal(ng.numpy(), plain.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("kind", ["plain", "ties", "nan"])
@pytest.mark.parametrize("name,op", _OPS, ids=[n for n, _ in _OPS])
def test_against_torch(name, op, kind, dtype):
    torch = pytest.importorskip("torch")
    if dtype not in ("float32", "float64", "float16") and (kind == "nan" or name in _FLOAT_ONLY):
        pytest.skip("NaN and floating-only reductions need a float dtype")
    a = (_data(kind) * (1 if dtype == "float16" else 3)).astype(dtype)  # no float16 overflow
    try:
        want = op(torch.from_numpy(a.copy()))
    except RuntimeError:  # torch refuses it (argmax of bool, max of bool along a dim...)
        pytest.skip("torch does not define this reduction on this dtype")
    got = op(fastdl.tensor(a))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    tol = 2e-3 if dtype == "float16" else 1e-5
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)


def test_zero_dim_and_numpy_reference():
    x = fastdl.tensor(2.5)
    assert x.max().item() == 2.5 and x.argmax().item() == 0
    r = x.max(0)
    assert r.values.item() == 2.5 and r.indices.item() == 0 and r.indices.dtype == fastdl.int64
    a = _data("nan").astype(np.float32)
    t = fastdl.tensor(a)
    assert np.isnan(t.max().item()) and np.isnan(t.min().item())
    assert t.argmax().item() == np.argmax(a) == 1 * 7 + 3
    np.testing.assert_array_equal(t.argmin(1).numpy(), np.argmin(a, 1))
    np.testing.assert_allclose(t.var(1).numpy(), np.var(a, 1, ddof=1), rtol=1e-6)


@pytest.mark.parametrize("op,err,msg", [
    (lambda x: x.max(), RuntimeError, "Expected reduction dim to be specified"),
    (lambda x: x.argmax(), IndexError, "Expected reduction dim to be specified"),
    (lambda x: x.argmin(1), IndexError, "Expected reduction dim 1 to have non-zero size"),
    (lambda x: x.max(1), IndexError, "Expected reduction dim 1 to have non-zero size"),
])
def test_empty_errors_as_torch(op, err, msg):
    with pytest.raises(err, match=msg):
        op(fastdl.zeros(2, 0))


def test_gradients_unchanged():
    from fastdl.testing import gradcheck
    a = fastdl.tensor(_data("plain"), dtype=fastdl.float64, requires_grad=True)
    for op in (lambda x: x.max(), lambda x: x.max(1).values, lambda x: x.amin(0),
               lambda x: x.var(1), lambda x: x.std(), lambda x: x.prod(1), lambda x: x.mean(1)):
        assert gradcheck(op, (a,))


# ---- the 1M-element fast paths: scans, logaddexp, nansum, norm, erf/erfc, normal_ ----------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((19, 37), 1), ((19, 37), 0), ((3, 300, 5), 1),
                                       ((8, 5), -1), ((1,), 0), ((4, 0), 1), ((2, 3, 517), 2)])
@pytest.mark.parametrize("prod", [False, True])
def test_scan_kernel(shape, dim, prod, dtype):
    a = np.random.default_rng(5).uniform(0.5, 1.5, shape).astype(dtype)
    got = (fastdl.cumprod if prod else fastdl.cumsum)(fastdl.tensor(a), dim).numpy()
    want = (np.cumprod if prod else np.cumsum)(a.astype(np.float64), axis=dim)
    assert got.dtype == a.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-13)
    # double accumulation: each output is the float64 scan rounded once
    np.testing.assert_array_equal(got, want.astype(dtype))
    torch = pytest.importorskip("torch")
    t = (torch.cumprod if prod else torch.cumsum)(torch.from_numpy(a), dim).numpy()
    np.testing.assert_allclose(got, t, rtol=1e-6 if dtype == "float32" else 1e-13)


def test_scan_kernel_special_values_and_threads():
    a = np.array([[1.0, np.nan, 2.0], [np.inf, -np.inf, 1.0], [0.0, 3.0, -1.0]], np.float32)
    with np.errstate(invalid="ignore"):  # the reference's inf - inf; fastdl's scan is silent
        ws, wp = np.cumsum(a, 1), np.cumprod(a, 0)
    np.testing.assert_array_equal(fastdl.cumsum(fastdl.tensor(a), 1).numpy(), ws)
    np.testing.assert_array_equal(fastdl.cumprod(fastdl.tensor(a), 0).numpy(), wp)
    big = np.random.default_rng(6).standard_normal((300, 700)).astype(np.float32)
    prev = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(1)
        one = [fastdl.cumsum(fastdl.tensor(big), d).numpy() for d in (0, 1)]
        fastdl.set_num_threads(2)
        two = [fastdl.cumsum(fastdl.tensor(big), d).numpy() for d in (0, 1)]
    finally:
        fastdl.set_num_threads(prev)
    for o, t in zip(one, two):
        np.testing.assert_array_equal(o, t)


def test_logaddexp_fast_path():
    rng = np.random.default_rng(7)
    a = (rng.standard_normal(1 << 16) * 30).astype(np.float32)
    b = (rng.standard_normal(1 << 16) * 30).astype(np.float32)
    a[:6] = [np.inf, -np.inf, np.nan, np.inf, -np.inf, 1.0]
    b[:6] = [np.inf, -np.inf, 1.0, -np.inf, 2.0, np.inf]
    got = fastdl.logaddexp(fastdl.tensor(a), fastdl.tensor(b)).numpy()
    with np.errstate(invalid="ignore"):  # NumPy warns at NaN inputs
        want = np.logaddexp(a.astype(np.float64), b.astype(np.float64))
    # atol: near a zero result max(a, b) and log1p(...) cancel (one float32 ulp of |max|)
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-7, equal_nan=True)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(got, torch.logaddexp(torch.from_numpy(a), torch.from_numpy(b)),
                               rtol=3e-7, atol=1e-7, equal_nan=True)


def test_nansum_norm_erf_fast_paths():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    t = fastdl.tensor(a)
    np.testing.assert_allclose(fastdl.nansum(t).item(), a.astype(np.float64).sum(), rtol=1e-5)
    b = a.copy()
    b[3, 4] = np.nan
    np.testing.assert_allclose(fastdl.nansum(fastdl.tensor(b), 1).numpy(), np.nansum(b, 1),
                               rtol=1e-5)
    np.testing.assert_allclose(t.norm().item(), np.linalg.norm(a.astype(np.float64)), rtol=1e-5)
    assert t.norm().dtype == fastdl.float32 and fastdl.zeros(3).norm().item() == 0
    from scipy import special
    for f, ref, tol in ((fastdl.erf, special.erf, 2e-7), (fastdl.erfc, special.erfc, 4e-7)):
        np.testing.assert_allclose(f(t).numpy(), ref(a.astype(np.float64)), rtol=tol, atol=1e-30)
        np.testing.assert_allclose(f(t[:, ::2]).numpy(), ref(a[:, ::2].astype(np.float64)),
                                   rtol=tol, atol=1e-30)


@pytest.mark.parametrize("dtype", [fastdl.float32, fastdl.float64])
def test_normal_in_place(dtype):
    fastdl.manual_seed(3)
    x = fastdl.empty(200000, dtype=dtype).normal_(2.0, 0.5)
    fastdl.manual_seed(3)
    y = fastdl.empty(200000, dtype=dtype).normal_(2.0, 0.5)
    a = x.numpy()
    assert x.dtype == dtype and np.array_equal(a, y.numpy())  # reproducible from the seed
    assert abs(a.mean() - 2.0) < 0.01 and abs(a.std() - 0.5) < 0.01
    w = fastdl.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.normal_()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((40, 30), 0), ((40, 30), 1), ((3, 40, 1100), 1),
                                       ((5, 6, 7), -1)])
def test_index_add_kernel(shape, dim, dtype):
    rng = np.random.default_rng(9)
    a = rng.standard_normal(shape).astype(dtype)
    n = shape[dim]
    idx = rng.integers(-n, n, 25)  # duplicates and negative indices
    sshape = list(shape)
    sshape[dim] = idx.size
    src = rng.standard_normal(sshape).astype(dtype)
    got = fastdl.index_add(fastdl.tensor(a), dim, fastdl.tensor(idx), fastdl.tensor(src),
                           alpha=2).numpy()
    want = a.astype(np.float64)
    moved = np.moveaxis(want, dim, 0)
    np.add.at(moved, idx % n, 2 * np.moveaxis(src.astype(np.float64), dim, 0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the recorded path (the scatter kernel on the expanded index) agrees
    rec = fastdl.index_add(fastdl.tensor(a, requires_grad=True), dim, fastdl.tensor(idx),
                           fastdl.tensor(src), alpha=2)
    np.testing.assert_allclose(rec.detach().numpy(), got, rtol=1e-6, atol=1e-6)
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(a).index_add(dim, torch.from_numpy(idx % n), torch.from_numpy(src),
                                      alpha=2)
    np.testing.assert_allclose(got, t.numpy(), rtol=1e-5, atol=1e-5)


def test_index_add_and_take_errors():
    with pytest.raises(IndexError, match="out of bounds"):
        fastdl.index_add(fastdl.zeros(3, 2), 0, fastdl.tensor([0, 3]), fastdl.ones(2, 2))
    with pytest.raises(IndexError, match="take"):
        fastdl.take(fastdl.zeros(2, 2), fastdl.tensor([4]))
    x = fastdl.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(fastdl.take(x, fastdl.tensor([[-1, 0], [5, 2]])).numpy(),
                                  np.array([[5.0, 0.0], [5.0, 2.0]], np.float32))


def test_histc_against_torch():
    torch = pytest.importorskip("torch")
    z = np.random.default_rng(10).standard_normal(100000).astype(np.float32)
    got = fastdl.histc(fastdl.tensor(z), 100, -3, 3).numpy()
    np.testing.assert_array_equal(got, torch.histc(torch.from_numpy(z), 100, -3, 3).numpy())
    assert got.sum() == ((z >= -3) & (z <= 3)).sum()


def test_outer_and_logsumexp():
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal(300).astype(np.float32), rng.standard_normal(200).astype(np.float32)
    got = fastdl.outer(fastdl.tensor(a), fastdl.tensor(b)).numpy()
    np.testing.assert_array_equal(got, np.multiply.outer(a, b))  # one product per entry
    assert fastdl.outer(fastdl.tensor([1, 2]), fastdl.tensor([3, 4])).dtype == fastdl.int64
    m = rng.standard_normal((50, 70)).astype(np.float32)
    m[3, :] = -np.inf
    m[4, 5] = np.inf
    got = fastdl.logsumexp(fastdl.tensor(m), 1).numpy()
    with np.errstate(divide="ignore"):
        want = np.log(np.exp(m.astype(np.float64)).sum(1))
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lerp_graph_free_equals_recorded(dtype):
    rng = np.random.default_rng(12)
    a, b = (rng.standard_normal(70000).astype(dtype) for _ in range(2))
    plain = fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b), 0.3).numpy()
    rec = fastdl.lerp(fastdl.tensor(a, requires_grad=True), fastdl.tensor(b), 0.3)
    np.testing.assert_array_equal(plain, rec.detach().numpy())
    # torch's two-sided formula with one fused multiply-add: within a few ulp of the inputs'
    # scale of the float64 value (an element near zero has no relative bound)
    want = a.astype(np.float64) + 0.3 * (b.astype(np.float64) - a.astype(np.float64))
    scale = np.maximum(np.abs(a), np.abs(b)).astype(np.float64)
    assert np.all(np.abs(plain - want) <= 4 * np.finfo(dtype).eps * scale)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("value", [1, 0.5])
def test_addc_graph_free_equals_recorded(name, value):
    rng = np.random.default_rng(13)
    a, b, c = (rng.uniform(0.5, 2, 70000).astype(np.float32) for _ in range(3))
    f = getattr(fastdl, name)
    plain = f(fastdl.tensor(a), fastdl.tensor(b), fastdl.tensor(c), value=value).numpy()
    rec = f(fastdl.tensor(a, requires_grad=True), fastdl.tensor(b), fastdl.tensor(c), value=value)
    np.testing.assert_array_equal(plain, rec.detach().numpy())
    ref = a + value * (b * c if name == "addcmul" else b / c)
    np.testing.assert_allclose(plain, ref, rtol=1e-6)
