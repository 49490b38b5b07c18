"""The one-pass tensor-op kernels of csrc/kernels/tensorops (sign, rsqrt, reciprocal, frac,
lerp, logaddexp, outer, nansum, fmod/remainder, gather; flip, tril/triu, diag_embed on raw
bytes of any dtype) and the Python paths around them (roll, index_select): results against a
NumPy reference and torch, strided and broadcast inputs, every dtype path, empty tensors,
NaN/inf/-0.0 as torch, gradients, 1 vs 2 threads (bitwise) and every ISA."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_thread_invariant, gradcheck

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch for the comparison")

FLOATS = (np.float32, np.float64)
# lengths around the vector widths, the 32K-element chunks and the lane-sum blocks
LENGTHS = (0, 1, 7, 16, 37, 1000, 32768 + 19, 70001)
SPECIAL = np.array([-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-40, -1e-40, 2.5, -2.5,
                    3.5, -3.5, 1e30, -1e30, 8388609.0, -0.75, 0.5, 1.0, -1.0])


def _data(rng, n, dt, special=True):
    x = (rng.standard_normal(n) * 10).astype(dt)
    if special and n:
        k = min(n, SPECIAL.size)
        pos = rng.choice(n, k, replace=False)
        x[pos] = SPECIAL[:k].astype(dt)
    return x


def _same(a, b):
    """Bitwise equality, every NaN equal to every NaN."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    an, bn = np.isnan(a), np.isnan(b)
    np.testing.assert_array_equal(an, bn)
    np.testing.assert_array_equal(np.where(an, 0, a).view(np.uint8),
                                  np.where(bn, 0, b).view(np.uint8))


def _close(a, b, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol,
                               atol=atol, equal_nan=True)


# ---- unary: sign, rsqrt, reciprocal, frac --------------------------------------------------

def _ref_sign(x):
    s = np.sign(x)
    s[np.isnan(s)] = 0
    return s + x.dtype.type(0)  # +0 for -0.0 (torch)


UNARY_REF = {
    "sign": _ref_sign,
    "rsqrt": lambda x: x.dtype.type(1) / np.sqrt(x),
    "reciprocal": lambda x: x.dtype.type(1) / x,
    "frac": lambda x: x - np.trunc(x),
}


@pytest.mark.parametrize("name", sorted(UNARY_REF))
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", LENGTHS)
def test_unary_against_numpy(isa, rng, name, dt, n):
    x = _data(rng, n, dt)
    if name == "rsqrt":
        x = np.abs(x)
        x[: min(n, 3)] = np.array([0.0, -0.0, -1.0], dt)[: min(n, 3)]
    with np.errstate(all="ignore"):
        ref = UNARY_REF[name](x)
    got = getattr(fastdl, name)(fastdl.tensor(x)).numpy()
    _same(got, ref)


@needs_torch
@pytest.mark.parametrize("name", sorted(UNARY_REF))
@pytest.mark.parametrize("dt", FLOATS)
def test_unary_against_torch(isa, rng, name, dt):
    x = _data(rng, 1000, dt)
    got = getattr(fastdl, name)(fastdl.tensor(x)).numpy()
    _same(got, getattr(torch, name)(torch.from_numpy(x)).numpy())


def test_unary_special_values_as_torch():
    x = fastdl.tensor([-0.0, 0.0, float("nan"), float("inf"), -float("inf"), -3.0])
    s = fastdl.sign(x).numpy()
    _same(s, np.array([0.0, 0.0, 0.0, 1.0, -1.0, -1.0], np.float32))
    assert not np.signbit(s[0])  # sign(-0.0) is +0.0
    r = fastdl.rsqrt(fastdl.tensor([0.0, -0.0, -1.0, float("inf")])).numpy()
    _same(r, np.array([np.inf, -np.inf, np.nan, 0.0], np.float32))
    f = fastdl.frac(fastdl.tensor([float("inf"), -2.5, 2.5, -0.0])).numpy()
    _same(f, np.array([np.nan, -0.5, 0.5, 0.0], np.float32))


@pytest.mark.parametrize("name", sorted(UNARY_REF))
def test_unary_strided_and_integer_inputs(rng, name):
    x = _data(rng, 600, np.float32).reshape(20, 30)
    with np.errstate(all="ignore"):
        ref = UNARY_REF[name](x.T.copy())
    _same(getattr(fastdl, name)(fastdl.tensor(x).t()).numpy(), ref)
    xi = np.array([-3, 0, 2, 5])
    got = getattr(fastdl, name)(fastdl.tensor(xi)).numpy()
    if name == "sign":  # integers keep their dtype
        _same(got, np.sign(xi))
    else:
        with np.errstate(all="ignore"):
            _same(got, UNARY_REF[name](xi.astype(np.float32)))


@pytest.mark.parametrize("name", ["rsqrt", "reciprocal", "frac"])
def test_unary_gradients(name, rng):
    x = fastdl.tensor(rng.uniform(0.5, 2.0, (3, 4)), dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(lambda t: getattr(fastdl, name)(t), [x])


def test_unary_recorded_and_graph_free_paths_agree(rng):
    x = _data(rng, 999, np.float32)
    for name in UNARY_REF:
        free = getattr(fastdl, name)(fastdl.tensor(x)).numpy()
        t = fastdl.tensor(x, requires_grad=True)
        rec = getattr(fastdl, name)(t)
        assert rec.grad_fn is not None
        _same(rec.detach().numpy(), free)
    t = fastdl.tensor(x[:5], requires_grad=True)
    fastdl.sign(t).sum().backward()
    _same(t.grad.numpy(), np.zeros(5, np.float32))


def test_unary_in_place_and_out():
    x = fastdl.tensor([-2.0, 4.0])
    x.rsqrt_()  # in place
    _same(x.numpy(), np.array([np.nan, 0.5], np.float32))
    o = fastdl.empty(2)
    fastdl.sign(fastdl.tensor([-2.0, 4.0]), out=o)
    _same(o.numpy(), np.array([-1.0, 1.0], np.float32))


# ---- lerp, logaddexp ---------------------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("w", [0.0, 0.3, -0.2, 0.5, 0.7, 1.0, 1.5, 1])
@pytest.mark.parametrize("n", [0, 5, 37, 32768 + 3])
def test_lerp_against_reference(isa, rng, dt, w, n):
    a, b = _data(rng, n, dt, False), _data(rng, n, dt, False)
    a64, b64, w64 = a.astype(np.float64), b.astype(np.float64), float(dt(w))
    d = (b - a).astype(np.float64)  # the kernel's b - a, rounded in dt
    ref = a64 + w64 * d if abs(w) < 0.5 else b64 - d * float(dt(1) - dt(w))
    got = fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b), w).numpy()
    assert got.dtype == dt
    _close(got, ref, rtol=4 * np.finfo(dt).eps, atol=4 * np.finfo(dt).eps)
    if w == 1.0:  # torch's formula is exact at the ends
        _same(got, b)
    if w == 0.0:
        _same(got, a)


@needs_torch
@pytest.mark.parametrize("w", [0.3, 0.7])
def test_lerp_against_torch(rng, w):
    a, b = _data(rng, 1000, np.float32, False), _data(rng, 1000, np.float32, False)
    got = fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b), w).numpy()
    _close(got, torch.lerp(torch.from_numpy(a), torch.from_numpy(b), w).numpy(), rtol=2e-7,
           atol=1e-6)


def test_lerp_gradients_and_broadcast(rng):
    a = fastdl.tensor(rng.standard_normal((3, 4)), dtype=fastdl.float64, requires_grad=True)
    b = fastdl.tensor(rng.standard_normal((3, 4)), dtype=fastdl.float64, requires_grad=True)
    for w in (0.25, 0.75):
        assert gradcheck(lambda x, y: fastdl.lerp(x, y, w), [a, b])
        rec = fastdl.lerp(a, b, w)
        free = fastdl.lerp(a.detach(), b.detach(), w)
        _same(rec.detach().numpy(), free.numpy())
    g = fastdl.tensor(rng.standard_normal((3, 4)), dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(lambda x, y, t: fastdl.lerp(x, y, t), [a, b, g])
    bb = fastdl.tensor(rng.standard_normal(4), dtype=fastdl.float64)  # broadcast end
    got = fastdl.lerp(a.detach(), bb, 0.3).numpy()
    _close(got, a.detach().numpy() + 0.3 * (bb.numpy() - a.detach().numpy()), rtol=1e-15,
           atol=1e-15)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", [0, 3, 37, 32768 + 5])
def test_logaddexp_against_numpy(isa, rng, dt, n):
    a, b = _data(rng, n, dt, False), _data(rng, n, dt, False)
    ref = np.logaddexp(a.astype(np.float64), b.astype(np.float64))
    got = fastdl.logaddexp(fastdl.tensor(a), fastdl.tensor(b)).numpy()
    assert got.dtype == dt
    # within a few ulp of the result, or of the larger input where max + log1p(...) cancels
    eps = np.finfo(dt).eps
    tol = 4 * eps * (np.abs(ref) + np.maximum(np.abs(a), np.abs(b)))
    assert np.all(np.abs(got.astype(np.float64) - ref) <= tol)


def test_logaddexp_special_values():
    inf, nan = np.inf, np.nan
    a = np.array([inf, -inf, inf, nan, 1.0, -inf, 0.0], np.float32)
    b = np.array([inf, -inf, -inf, 1.0, nan, 2.0, 0.0], np.float32)
    got = fastdl.logaddexp(fastdl.tensor(a), fastdl.tensor(b)).numpy()
    ref = np.array([inf, -inf, inf, nan, nan, 2.0, np.log(2.0)], np.float32)
    _close(got, ref, rtol=1e-7)
    if torch is not None:
        _close(got, torch.logaddexp(torch.from_numpy(a), torch.from_numpy(b)).numpy(),
               rtol=1e-7)


def test_logaddexp_gradients(rng):
    a = fastdl.tensor(rng.standard_normal((2, 5)), dtype=fastdl.float64, requires_grad=True)
    b = fastdl.tensor(rng.standard_normal((2, 5)), dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(fastdl.logaddexp, [a, b])
    _same(fastdl.logaddexp(a, b).detach().numpy(),
          fastdl.logaddexp(a.detach(), b.detach()).numpy())


# ---- outer, nansum -----------------------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("m,n", [(0, 3), (3, 0), (1, 1), (7, 37), (300, 129)])
def test_outer_against_numpy(isa, rng, dt, m, n):
    a, b = _data(rng, m, dt), _data(rng, n, dt)
    with np.errstate(all="ignore"):
        ref = np.outer(a, b)
    _same(fastdl.outer(fastdl.tensor(a), fastdl.tensor(b)).numpy(), ref)


def test_outer_strided_integer_gradients(rng):
    a, b = _data(rng, 20, np.float32, False), _data(rng, 9, np.float32, False)
    _same(fastdl.outer(fastdl.tensor(a)[::2], fastdl.tensor(b)).numpy(), np.outer(a[::2], b))
    _same(fastdl.outer(fastdl.tensor([1, 2]), fastdl.tensor([3, 4])).numpy(),
          np.array([[3, 4], [6, 8]]))
    x = fastdl.tensor(rng.standard_normal(4), dtype=fastdl.float64, requires_grad=True)
    y = fastdl.tensor(rng.standard_normal(3), dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(fastdl.outer, [x, y])
    _close(fastdl.outer(x, y).detach().numpy(), fastdl.outer(x.detach(), y.detach()).numpy(),
           rtol=0)
    if torch is not None:
        _same(fastdl.outer(fastdl.tensor(a), fastdl.tensor(b)).numpy(),
              torch.outer(torch.from_numpy(a), torch.from_numpy(b)).numpy())


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("n", LENGTHS)
def test_nansum_against_numpy(isa, rng, dt, n):
    x = _data(rng, n, dt, False)
    if n:
        x[rng.choice(n, max(1, n // 10), replace=False)] = np.nan
    ref = np.nansum(x.astype(np.float64))
    got = fastdl.nansum(fastdl.tensor(x)).numpy()
    assert got.dtype == dt and got.shape == ()
    _close(got, ref, rtol=1e-5 if dt == np.float32 else 1e-13,
           atol=np.abs(x[~np.isnan(x)]).sum() * np.finfo(dt).eps * 40)


def test_nansum_special_cases(rng):
    _same(fastdl.nansum(fastdl.tensor([np.nan] * 5)).numpy(), np.float32(0))
    _same(fastdl.nansum(fastdl.zeros(0)).numpy(), np.float32(0))
    x = rng.standard_normal((3, 4)).astype(np.float32)
    x[1, 2] = np.nan
    got = fastdl.nansum(fastdl.tensor(x), keepdim=True)
    assert tuple(got.shape) == (1, 1)
    _close(got.numpy(), np.nansum(x, keepdims=True), rtol=1e-6)
    _close(fastdl.nansum(fastdl.tensor(x), dim=1).numpy(), np.nansum(x, 1), rtol=1e-6)
    _close(fastdl.nansum(fastdl.tensor(x).t()).numpy(), np.nansum(x), rtol=1e-6)
    _same(fastdl.nansum(fastdl.tensor([[1, 2], [3, 4]])).numpy(), np.int64(10))
    _close(fastdl.nansum(fastdl.tensor([np.inf, 1.0, np.nan])).numpy(), np.inf, rtol=0)
    if torch is not None:
        _close(fastdl.nansum(fastdl.tensor(x)).numpy(), torch.nansum(torch.from_numpy(x)).numpy(),
               rtol=1e-6)


def test_nansum_gradients(rng):
    x = rng.standard_normal((3, 4))
    t = fastdl.tensor(x, requires_grad=True)
    assert gradcheck(fastdl.nansum, [t])
    x[0, 1] = x[2, 3] = np.nan
    t = fastdl.tensor(x, requires_grad=True)
    y = fastdl.nansum(t)
    _close(y.detach().numpy(), np.nansum(x), rtol=1e-14)
    y.backward()
    _same(t.grad.numpy(), np.where(np.isnan(x), 0.0, 1.0))
    t2 = fastdl.tensor(x, requires_grad=True)  # create_graph: the backward is recorded too
    (g,) = fastdl.autograd.grad(fastdl.nansum(t2) * 3.0, t2, create_graph=True)
    _same(g.detach().numpy(), np.where(np.isnan(x), 0.0, 3.0))


# ---- fmod / remainder, gather, index_select ----------------------------------------------

@pytest.mark.parametrize("python_mod", [False, True])
@pytest.mark.parametrize("n", [9, 37, 4096 + 7, 32768 + 11])
def test_fmod_remainder_float32(isa, rng, python_mod, n):
    a = _data(rng, n, np.float32)
    b = rng.uniform(0.1, 3.0, n).astype(np.float32) * rng.choice([-1, 1], n).astype(np.float32)
    b[:6] = np.array([0.0, -0.0, np.inf, np.nan, 1e-30, 3e-39], np.float32)
    a[:8] = np.array([1e30, -1e30, 5.0, 2.0, 1e10, -0.0, 0.0, -7.0], np.float32)
    with np.errstate(all="ignore"):
        ref = (np.remainder if python_mod else np.fmod)(a, b)
        got = (fastdl.remainder if python_mod else fastdl.fmod)(fastdl.tensor(a),
                                                                 fastdl.tensor(b)).numpy()
    _same(got, ref)
    with np.errstate(all="ignore"):  # a scalar divisor
        ref = (np.remainder if python_mod else np.fmod)(a, np.float32(0.7))
        got = (fastdl.remainder if python_mod else fastdl.fmod)(fastdl.tensor(a), 0.7).numpy()
    _same(got, ref)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("m", [1, 7, 8, 29, 300])
def test_gather_last_dim(isa, rng, dt, m):
    x = rng.standard_normal((5, 40)).astype(dt)
    idx = rng.integers(0, 40, (5, m))
    got = fastdl.gather(fastdl.tensor(x), 1, fastdl.tensor(idx)).numpy()
    _same(got, np.take_along_axis(x, idx, 1))
    bad = idx.copy()
    bad[3, m - 1] = 40
    with pytest.raises(IndexError):
        fastdl.gather(fastdl.tensor(x), 1, fastdl.tensor(bad))
    bad[3, m - 1] = -41
    with pytest.raises(IndexError):
        fastdl.gather(fastdl.tensor(x), 1, fastdl.tensor(bad))


def test_index_select_paths(rng):
    x = rng.standard_normal((6, 5, 4)).astype(np.float32)
    for d in range(3):
        idx = rng.integers(-x.shape[d], x.shape[d], 7)
        got = fastdl.index_select(fastdl.tensor(x), d, fastdl.tensor(idx)).numpy()
        _same(got, np.take(x, idx % x.shape[d], axis=d))
    _same(fastdl.index_select(fastdl.tensor(x).transpose(0, 2), 0, fastdl.tensor([1, 0])).numpy(),
          x.transpose(2, 1, 0)[[1, 0]])
    _same(fastdl.index_select(fastdl.tensor(x), 1, fastdl.tensor(np.zeros(0, np.int64))).numpy(),
          x[:, :0])
    t = fastdl.tensor(x.astype(np.float64), requires_grad=True)
    assert gradcheck(lambda v: fastdl.index_select(v, 1, fastdl.tensor([4, 0, 4])), [t])
    with pytest.raises(IndexError):
        fastdl.index_select(fastdl.tensor(x), 0, fastdl.tensor([6]))


# ---- byte kernels: flip, tril/triu, diag_embed; roll ---------------------------------------

DTYPES = (np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.float16, np.float32,
          np.float64)


def _any_dtype(rng, shape, dt):
    v = rng.standard_normal(shape) * 50
    if np.dtype(dt).kind == "c":
        return (v + 1j * rng.standard_normal(shape)).astype(dt)
    if dt is np.bool_:
        return v > 0
    return v.astype(dt)


def _t(a):
    return fastdl.tensor(a)


@pytest.mark.parametrize("dt", [np.complex64, np.complex128])
def test_byte_kernels_on_wide_elements(isa, rng, dt):
    """8- and 16-byte elements (complex, which the Tensor does not hold) straight through the
    bindings: the kernels copy whole elements of any size."""
    C = fastdl._C
    x = _any_dtype(rng, (3, 4, 5), dt)
    for dims in [(0,), (2,), (1, 2), (0, 1, 2)]:
        _same(C.tensorops_flip(x, list(dims)), np.flip(x, dims))
    for k in (-2, 0, 3):
        _same(C.tensorops_tri(x, k, True), np.triu(x, k))
        _same(C.tensorops_tri(x, k, False), np.tril(x, k))
    _same(C.tensorops_diag_embed(x, -1), _ref_diag_embed(x, -1, -2, -1))


@pytest.mark.parametrize("dt", DTYPES)
def test_flip_every_dtype(isa, rng, dt):
    x = _any_dtype(rng, (3, 1, 4, 5), dt)
    for dims in [(0,), (2,), (3,), (0, 3), (2, 3), (0, 2), (1,), (0, 1, 2, 3), ()]:
        _same(fastdl.flip(_t(x), dims).numpy(), np.flip(x, dims) if dims else x)


def test_flip_shapes_strides_grad(rng):
    for shape, dims in [((70001,), (0,)), ((2, 40000), (1,)), ((40000, 2), (0,)), ((0, 3), (1,)),
                        ((5, 0), (0, 1)), ((), ())]:
        x = rng.standard_normal(shape).astype(np.float32)
        with_threads = lambda: [fastdl.flip(fastdl.tensor(x), dims).numpy()]  # noqa: E731
        _same(with_threads()[0], np.flip(x, dims) if dims else x)
        assert_thread_invariant(with_threads)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    _same(fastdl.flip(fastdl.tensor(x).t(), [0]).numpy(), np.flip(x.T, 0))
    _same(fastdl.flip(fastdl.tensor(x)[:, ::2], [1]).numpy(), np.flip(x[:, ::2], 1))
    t = fastdl.tensor(x.astype(np.float64), requires_grad=True)
    assert gradcheck(lambda v: fastdl.flip(v, (0, 1)) * fastdl.arange(24.0).reshape(4, 6), [t])
    with pytest.raises(RuntimeError):
        fastdl.flip(fastdl.tensor(x), (0, 0))


@pytest.mark.parametrize("dt", DTYPES)
def test_tril_triu_every_dtype(isa, rng, dt):
    x = _any_dtype(rng, (2, 3, 5, 7), dt)
    for k in range(-7, 9):
        _same(fastdl.triu(_t(x), k).numpy(), np.triu(x, k))
        _same(fastdl.tril(_t(x), k).numpy(), np.tril(x, k))


def test_tril_triu_shapes_strides_grad(rng):
    for shape in [(0, 4), (4, 0), (3, 0, 2), (1, 1), (300, 129)]:
        x = rng.standard_normal(shape).astype(np.float32)
        _same(fastdl.triu(fastdl.tensor(x), 1).numpy(), np.triu(x, 1))
        _same(fastdl.tril(fastdl.tensor(x), -1).numpy(), np.tril(x, -1))
    x = rng.standard_normal((256, 300)).astype(np.float32)
    assert_thread_invariant(lambda: [fastdl.triu(fastdl.tensor(x), 3).numpy(),
                                     fastdl.tril(fastdl.tensor(x), -2).numpy()])
    _same(fastdl.triu(fastdl.tensor(x).t()).numpy(), np.triu(x.T))
    m = fastdl.tensor(x.copy())
    m.tril_(1)
    _same(m.numpy(), np.tril(x, 1))
    t = fastdl.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda v: fastdl.triu(v, 1) * fastdl.arange(24.0, dtype=fastdl.float64)
                     .reshape(2, 3, 4), [t])
    assert gradcheck(lambda v: fastdl.tril(v, -1) * 2.0, [t])
    with pytest.raises(RuntimeError):
        fastdl.triu(fastdl.tensor([1.0, 2.0]))
    if torch is not None:
        _same(fastdl.triu(fastdl.tensor(x), 1).numpy(), torch.triu(torch.from_numpy(x), 1).numpy())


def _ref_diag_embed(x, offset, d1, d2):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n), x.dtype)
    i = np.arange(x.shape[-1]) + max(-offset, 0)
    j = np.arange(x.shape[-1]) + max(offset, 0)
    out[..., i, j] = x
    return np.moveaxis(out, (-2, -1), (d1, d2))


@pytest.mark.parametrize("dt", DTYPES)
def test_diag_embed_every_dtype(isa, rng, dt):
    x = _any_dtype(rng, (2, 3, 4), dt)
    for off in (-5, -1, 0, 2):
        _same(fastdl.diag_embed(_t(x), off).numpy(), _ref_diag_embed(x, off, -2, -1))


def test_diag_embed_dims_strides_empty_grad(rng):
    x = rng.standard_normal((3, 64)).astype(np.float32)
    big = rng.standard_normal((8, 100)).astype(np.float32)
    _same(fastdl.diag_embed(fastdl.tensor(big)[:, :64]).numpy(),
          _ref_diag_embed(big[:, :64], 0, -2, -1))
    _same(fastdl.diag_embed(fastdl.tensor(x), 1, 0, 2).numpy(), _ref_diag_embed(x, 1, 0, 2))
    _same(fastdl.diag_embed(fastdl.tensor(np.zeros((2, 0), np.float32)), 2).numpy(),
          np.zeros((2, 2, 2), np.float32))
    _same(fastdl.diag_embed(fastdl.tensor(np.zeros((0, 3), np.float32))).numpy(),
          np.zeros((0, 3, 3), np.float32))
    _same(fastdl.diag(fastdl.tensor([1.0, 2.0]), -1).numpy(), np.diag([1.0, 2.0], -1)
          .astype(np.float32))
    assert_thread_invariant(lambda: [fastdl.diag_embed(fastdl.tensor(x), -3).numpy()])
    t = fastdl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((2, 4, 4)))
    assert gradcheck(lambda v: fastdl.diag_embed(v, 1) * w, [t])
    if torch is not None:
        _same(fastdl.diag_embed(fastdl.tensor(x), -2).numpy(),
              torch.diag_embed(torch.from_numpy(x), -2).numpy())


def test_roll(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    cases = [(1, 0), (-3, 2), ((1, 2), (0, 2)), ((2, -7), (1, 1)), (13, None), (0, 1),
             ((5, 6), (1, 2))]
    for sh, d in cases:
        _same(fastdl.roll(fastdl.tensor(x), sh, d).numpy(), np.roll(x, sh, d))
    _same(fastdl.roll(fastdl.tensor(x).transpose(0, 2), 2, 1).numpy(),
          np.roll(x.transpose(2, 1, 0), 2, 1))
    _same(fastdl.roll(fastdl.tensor(np.zeros((0, 3), np.float32)), 1, 0).numpy(),
          np.zeros((0, 3), np.float32))
    _same(fastdl.roll(fastdl.tensor(np.arange(6)), 2).numpy(), np.roll(np.arange(6), 2))
    t = fastdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((3, 4)))
    assert gradcheck(lambda v: fastdl.roll(v, (1, -2), (0, 1)) * w, [t])


# ---- threads: bitwise the same for 1 and 2 -----------------------------------------------

def test_thread_invariance_of_the_streaming_kernels(isa, rng):
    n = 3 * 32768 + 123
    x = _data(rng, n, np.float32)
    y = _data(rng, n, np.float32, False)
    xs = x.copy()
    xs[::7] = np.nan

    def run():
        tx, ty = fastdl.tensor(x), fastdl.tensor(y)
        out = [getattr(fastdl, k)(tx).numpy() for k in UNARY_REF]
        out += [fastdl.lerp(tx, ty, 0.3).numpy(), fastdl.lerp(tx, ty, 0.8).numpy(),
                fastdl.logaddexp(tx, ty).numpy(), fastdl.nansum(fastdl.tensor(xs)).numpy(),
                fastdl.outer(tx[:500], ty[:700]).numpy(), fastdl.remainder(tx, ty).numpy(),
                fastdl.flip(tx, 0).numpy()]
        return out

    assert_thread_invariant(run)


def test_kernel_bindings_reject_bad_arguments():
    C = fastdl._C
    with pytest.raises(ValueError):
        C.tensorops_unary(np.zeros(3, np.float32), 9)
    with pytest.raises(TypeError):
        C.tensorops_unary(np.zeros(3, np.int32), 0)
    with pytest.raises(ValueError):
        C.tensorops_unary(np.zeros((3, 4), np.float32).T, 0)
    with pytest.raises(ValueError):
        C.tensorops_lerp(np.zeros(3, np.float32), np.zeros(4, np.float32), 0.5)
    with pytest.raises(TypeError):
        C.tensorops_logaddexp(np.zeros(3, np.float32), np.zeros(3, np.float64))
    with pytest.raises(ValueError):
        C.tensorops_outer(np.zeros((2, 2), np.float32), np.zeros(3, np.float32))
    with pytest.raises(TypeError):
        C.tensorops_flip(np.array([object()]), [0])
    with pytest.raises(ValueError):
        C.tensorops_flip(np.zeros((2, 3)), [2])
    with pytest.raises(ValueError):
        C.tensorops_tri(np.zeros(3), 0, True)
    with pytest.raises(ValueError):
        C.tensorops_diag_embed(np.zeros((3, 4)).T, 0)


@pytest.mark.parametrize("dt", FLOATS)
def test_nan_to_num_paths(isa, rng, dt):
    x = _data(rng, 1000, dt)
    big = np.finfo(dt).max
    free = fastdl.nan_to_num(fastdl.tensor(x)).numpy()
    _same(free, np.nan_to_num(x, nan=0.0, posinf=big, neginf=-big))
    _same(fastdl.nan_to_num(fastdl.tensor(x), 1.0, 2.0, -3.0).numpy(),
          np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0))
    t = fastdl.tensor(x, requires_grad=True)
    rec = fastdl.nan_to_num(t)
    _same(rec.detach().numpy(), free)
    rec.sum().backward()
    _same(t.grad.numpy(), np.isfinite(x).astype(dt))
