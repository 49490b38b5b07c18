"""The torch namespace, pointwise math: every op against a NumPy reference (always) and torch
(when installed) — values in float32 and float64, result dtypes, gradients by gradcheck
(float64), broadcast, empty and 0-d inputs, in-place and ``out=`` forms, errors.

Each row of ``UNARY``/``BINARY`` is one op; adding an op is adding a row."""
import math

import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

_verf = np.vectorize(math.erf, otypes=[np.float64])
_verfc = np.vectorize(math.erfc, otypes=[np.float64])


def _np_erfinv(y):
    # bisection on math.erf: slow but independent of the code under test
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        big = _verf(mid) > y
        hi = np.where(big, mid, hi)
        lo = np.where(big, lo, mid)
    return (lo + hi) / 2


# name: (NumPy reference on float64, input range, differentiable)
UNARY = {
    "sin": (np.sin, (-3, 3), True),
    "cos": (np.cos, (-3, 3), True),
    "tan": (np.tan, (-1.2, 1.2), True),
    "asin": (np.arcsin, (-0.9, 0.9), True),
    "acos": (np.arccos, (-0.9, 0.9), True),
    "atan": (np.arctan, (-3, 3), True),
    "sinh": (np.sinh, (-3, 3), True),
    "cosh": (np.cosh, (-3, 3), True),
    "asinh": (np.arcsinh, (-3, 3), True),
    "acosh": (np.arccosh, (1.1, 4), True),
    "atanh": (np.arctanh, (-0.9, 0.9), True),
    "log2": (np.log2, (0.1, 4), True),
    "log10": (np.log10, (0.1, 4), True),
    "log1p": (np.log1p, (-0.9, 4), True),
    "expm1": (np.expm1, (-3, 3), True),
    "exp2": (np.exp2, (-3, 3), True),
    "erf": (_verf, (-3, 3), True),
    "erfc": (_verfc, (-3, 3), True),
    "erfinv": (_np_erfinv, (-0.95, 0.95), True),
    "reciprocal": (np.reciprocal, (0.2, 3), True),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.2, 3), True),
    "square": (np.square, (-3, 3), True),
    "floor": (np.floor, (-3, 3), False),
    "ceil": (np.ceil, (-3, 3), False),
    "trunc": (np.trunc, (-3, 3), False),
    "frac": (lambda x: x - np.trunc(x), (-3, 3), True),
    "sign": (np.sign, (-3, 3), False),
    "sgn": (np.sign, (-3, 3), False),
    "exp": (np.exp, (-3, 3), True),
    "log": (np.log, (0.1, 4), True),
    "sqrt": (np.sqrt, (0.1, 4), True),
    "abs": (np.abs, (-3, 3), True),
    "neg": (np.negative, (-3, 3), True),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-3, 3), True),
    "tanh": (np.tanh, (-3, 3), True),
    "relu": (lambda x: np.maximum(x, 0), (-3, 3), True),
    "round": (np.round, (-3, 3), False),
    "nan_to_num": (np.nan_to_num, (-3, 3), True),
}
# ops whose torch spelling has no in-place form in fastdl (relu_ lives in nn)
_NO_INPLACE = {"relu"}


def _input(name, shape, dtype, seed=0):
    lo, hi = UNARY[name][1]
    x = np.random.default_rng(seed).uniform(lo, hi, shape)
    if name in ("floor", "ceil", "trunc", "round", "sign", "sgn", "frac"):
        x = np.round(x * 4) / 4 + 0.01  # away from the kinks
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_numpy(name, dtype):
    ref = UNARY[name][0]
    for shape in [(3, 4), (), (0, 2)]:
        x = _input(name, shape, dtype)
        got = getattr(fastdl, name)(fastdl.tensor(x))
        assert got.numpy().dtype == dtype
        want = np.asarray(ref(x.astype(np.float64)))
        tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10,
                                                                         atol=1e-10)
        assert_close(got.numpy().astype(np.float64), want.reshape(shape), **tol,
                     msg=f"{name} {shape} ")


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch_method_inplace_out(name):
    torch = pytest.importorskip("torch")
    x = _input(name, (5, 3), np.float32, seed=1)
    want = getattr(torch, name)(torch.from_numpy(x)).numpy()
    got = getattr(fastdl, name)(fastdl.tensor(x))
    assert_close(got.numpy(), want, rtol=2e-6, atol=2e-6)
    assert_close(getattr(fastdl.tensor(x), name)().numpy(), want, rtol=2e-6, atol=2e-6)
    if name not in _NO_INPLACE:
        t = fastdl.tensor(x)
        r = getattr(t, name + "_")()
        assert r is t and t._version == 1
        assert_close(t.numpy(), want, rtol=2e-6, atol=2e-6)
    if name not in ("relu",):
        out = fastdl.empty(5, 3)
        r = getattr(fastdl, name)(fastdl.tensor(x), out=out)
        assert r is out
        assert_close(out.numpy(), want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", [n for n in sorted(UNARY) if n not in ("relu",)])
def test_unary_integer_input_dtype_matches_torch(name):
    torch = pytest.importorskip("torch")
    xi = np.array([1, 2, 3], dtype=np.int64)
    if name in ("acosh",):
        xi = xi + 1
    try:
        want = getattr(torch, name)(torch.from_numpy(xi))
    except RuntimeError:
        pytest.skip(f"torch has no integer {name}")
    got = getattr(fastdl, name)(fastdl.tensor(xi))
    assert got.numpy().dtype == want.numpy().dtype
    assert_close(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", sorted(n for n, r in UNARY.items() if r[2]))
def test_unary_gradcheck(name):
    x = fastdl.tensor(_input(name, (2, 3), np.float64, seed=2), requires_grad=True)
    gradcheck(getattr(fastdl, name), [x])


@pytest.mark.parametrize("name", sorted(n for n, r in UNARY.items() if not r[2]))
def test_unary_step_functions_have_zero_gradient(name):
    x = fastdl.tensor(_input(name, (4,), np.float64), requires_grad=True)
    getattr(fastdl, name)(x).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros(4))


def test_unary_grad_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("erfinv", "acosh", "tan", "rsqrt", "expm1", "frac"):
        x = _input(name, (6,), np.float64, seed=3)
        tx = torch.tensor(x, requires_grad=True)
        getattr(torch, name)(tx).sum().backward()
        fx = fastdl.tensor(x, requires_grad=True)
        getattr(fastdl, name)(fx).sum().backward()
        assert_close(fx.grad.numpy(), tx.grad.numpy(), msg=name)


def test_out_of_domain_gives_nan_without_warning():
    x = fastdl.tensor([-2.0, 2.0])
    assert np.isnan(fastdl.asin(x).numpy()).all()
    assert np.isnan(fastdl.log2(fastdl.tensor([-1.0])).numpy()).all()
    assert fastdl.atanh(fastdl.tensor([1.0])).item() == math.inf


def test_aliases():
    x = fastdl.tensor([0.25, -0.5])
    for a, b in (("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"), ("fix", "trunc"),
                 ("arcsinh", "asinh"), ("arctanh", "atanh"), ("absolute", "abs"),
                 ("negative", "neg"), ("clip", "clamp")):
        kw = {"min": 0} if a == "clip" else {}
        assert np.array_equal(getattr(fastdl, a)(x, **kw).numpy(),
                              getattr(fastdl, b)(x, **kw).numpy())


# ---- round with decimals, nan_to_num, clamp --------------------------------------------


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_decimals(decimals):
    x = np.array([1.2345, -2.5, 0.5, 1.5, 123.456, 15.0], dtype=np.float64)
    got = fastdl.round(fastdl.tensor(x), decimals=decimals).numpy()
    assert_close(got, np.round(x, decimals))
    torch = pytest.importorskip("torch")
    assert_close(got, torch.round(torch.from_numpy(x), decimals=decimals).numpy())


def test_nan_to_num_defaults_and_gradient():
    x = np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32)
    got = fastdl.nan_to_num(fastdl.tensor(x)).numpy()
    assert_close(got, np.nan_to_num(x))
    got = fastdl.nan_to_num(fastdl.tensor(x), nan=1.0, posinf=2.0, neginf=-2.0).numpy()
    assert_close(got, np.array([1.0, 2.0, -2.0, 1.5], np.float32))
    t = fastdl.tensor(x.astype(np.float64), requires_grad=True)
    fastdl.nan_to_num(t).sum().backward()
    assert np.array_equal(t.grad.numpy(), [0.0, 0.0, 0.0, 1.0])


def test_clamp_function_and_inplace_variants():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    assert_close(fastdl.clamp(fastdl.tensor(x), min=0, max=1).numpy(), np.clip(x, 0, 1))
    t = fastdl.tensor(x)
    t.clamp_min_(0)
    assert_close(t.numpy(), np.maximum(x, 0))
    t = fastdl.tensor(x)
    t.clamp_max_(0)
    assert_close(t.numpy(), np.minimum(x, 0))
    t = fastdl.tensor(x)
    t.clip_(0, 1)
    assert_close(t.numpy(), np.clip(x, 0, 1))


def test_softmax_log_softmax_functions():
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    assert_close(fastdl.softmax(fastdl.tensor(x), dim=1).numpy(), sm)
    assert_close(fastdl.tensor(x).softmax(1).numpy(), sm)
    assert_close(fastdl.log_softmax(fastdl.tensor(x), 1).numpy(), np.log(sm), atol=1e-5)
    got = fastdl.softmax(fastdl.tensor(x), 1, dtype=fastdl.float64)
    assert got.numpy().dtype == np.float64


# ---- binary ops -------------------------------------------------------------------------

BINARY = {
    "atan2": (np.arctan2, True),
    "hypot": (np.hypot, True),
    "logaddexp": (np.logaddexp, True),
    "logaddexp2": (np.logaddexp2, True),
    "fmod": (np.fmod, True),
    "remainder": (np.remainder, True),
    "floor_divide": (np.floor_divide, False),
    "copysign": (np.copysign, False),
}


def _pair(shape_a, shape_b, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-3, 3, shape_a)
    b = rng.uniform(0.5, 2, shape_b) * rng.choice([-1, 1], shape_b)
    return a.astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_broadcast(name, dtype):
    ref = BINARY[name][0]
    for sa, sb in [((3, 1), (4,)), ((), (2, 3)), ((0, 3), (3,)), ((2, 3), ())]:
        a, b = _pair(sa, sb, dtype)
        got = getattr(fastdl, name)(fastdl.tensor(a), fastdl.tensor(b))
        want = ref(a.astype(np.float64), b.astype(np.float64))
        assert got.shape == np.broadcast_shapes(sa, sb)
        assert got.numpy().dtype == dtype
        tol = dict(rtol=3e-6, atol=3e-6) if dtype == np.float32 else {}
        assert_close(got.numpy().astype(np.float64), np.asarray(want), **tol, msg=name)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch_dtypes(name):
    torch = pytest.importorskip("torch")
    a, b = _pair((4, 3), (3,), np.float32, seed=5)
    ai, bi = np.array([7, -7, 5, 0]), np.array([2, 3, -2, 5])
    cases = [(a, b), (a, 2.5), (a, b.astype(np.float64)), (ai, bi), (ai, 2), (ai, 2.5),
             (a.astype(np.float64), np.float32(1.5))]
    for x, y in cases:
        tx = torch.from_numpy(x)
        ty = torch.from_numpy(y) if isinstance(y, np.ndarray) else y
        fy = fastdl.tensor(y) if isinstance(y, np.ndarray) else y
        if isinstance(y, np.generic):
            ty, fy = float(y), float(y)
        try:
            want = getattr(torch, name)(tx, ty)
        except (RuntimeError, TypeError):
            continue
        got = getattr(fastdl, name)(fastdl.tensor(x), fy)
        assert got.numpy().dtype == want.numpy().dtype, (name, x.dtype, type(y))
        assert_close(got.numpy(), want.numpy(), rtol=3e-6, atol=3e-6, msg=name)
        t = fastdl.tensor(x)
        if np.can_cast(want.numpy().dtype, x.dtype, "same_kind"):
            getattr(t, name + "_")(fy)
            assert_close(t.numpy(), want.numpy().astype(x.dtype), rtol=3e-6, atol=3e-6)


@pytest.mark.parametrize("name", sorted(n for n, r in BINARY.items() if r[1]))
def test_binary_gradcheck_broadcast(name):
    a, b = _pair((2, 3), (3,), np.float64, seed=7)
    ta = fastdl.tensor(a, requires_grad=True)
    tb = fastdl.tensor(b, requires_grad=True)
    gradcheck(getattr(fastdl, name), [ta, tb])
    gradcheck(lambda x: getattr(fastdl, name)(x, 1.7), [ta])


def test_binary_grads_match_torch():
    torch = pytest.importorskip("torch")
    a, b = _pair((3, 4), (4,), np.float64, seed=8)
    for name in ("atan2", "fmod", "remainder", "hypot", "logaddexp"):
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        getattr(torch, name)(ta, tb).sum().backward()
        fa, fb = fastdl.tensor(a, requires_grad=True), fastdl.tensor(b, requires_grad=True)
        getattr(fastdl, name)(fa, fb).sum().backward()
        assert_close(fa.grad.numpy(), ta.grad.numpy(), msg=name)
        assert_close(fb.grad.numpy(), tb.grad.numpy(), msg=name)


def test_floordiv_and_mod_operators():
    x = np.array([7, -7, 5, -5])
    t = fastdl.tensor(x)
    assert np.array_equal((t // 2).numpy(), x // 2)
    assert np.array_equal((t % 3).numpy(), x % 3)
    assert np.array_equal((7 // fastdl.tensor([2, -3])).numpy(), 7 // np.array([2, -3]))
    assert np.array_equal((7 % fastdl.tensor([2, -3])).numpy(), 7 % np.array([2, -3]))
    f = fastdl.tensor([7.5, -7.5])
    assert_close((f % 2).numpy(), np.array([1.5, 0.5], np.float32))
    t //= 2
    assert np.array_equal(t.numpy(), x // 2)


def test_integer_division_by_zero_is_an_error():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastdl.fmod(fastdl.tensor([1, 2]), 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastdl.tensor([1, 2]) // fastdl.tensor([1, 0])


# ---- lerp / addcmul / addcdiv -----------------------------------------------------------


def test_lerp_addcmul_addcdiv_values_and_grads():
    rng = np.random.default_rng(3)
    a, b, w = (rng.standard_normal((2, 3)) for _ in range(3))
    c = rng.uniform(0.5, 2, (3,))
    T = lambda v: fastdl.tensor(v, requires_grad=True)  # noqa: E731
    assert_close(fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b), 0.3).numpy(),
                 a + 0.3 * (b - a))
    assert_close(fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b), fastdl.tensor(w)).numpy(),
                 a + w * (b - a))
    assert_close(fastdl.addcmul(fastdl.tensor(a), fastdl.tensor(b), fastdl.tensor(c),
                                value=0.5).numpy(), a + 0.5 * b * c)
    assert_close(fastdl.addcdiv(fastdl.tensor(a), fastdl.tensor(b), fastdl.tensor(c),
                                value=-2).numpy(), a - 2 * b / c)
    gradcheck(lambda x, y, z: fastdl.lerp(x, y, z), [T(a), T(b), T(w)])
    gradcheck(lambda x, y, z: fastdl.addcmul(x, y, z, value=0.5), [T(a), T(b), T(c)])
    gradcheck(lambda x, y, z: fastdl.addcdiv(x, y, z, value=3), [T(a), T(b), T(c)])
    t = fastdl.tensor(a)
    t.lerp_(fastdl.tensor(b), 0.5)
    assert_close(t.numpy(), (a + b) / 2)
    t = fastdl.tensor(a)
    t.addcmul_(fastdl.tensor(b), fastdl.tensor(c), value=2)
    assert_close(t.numpy(), a + 2 * b * c)
    t = fastdl.tensor(a)
    t.addcdiv_(fastdl.tensor(b), fastdl.tensor(c))
    assert_close(t.numpy(), a + b / c)
    with pytest.raises(RuntimeError, match="Integer division"):
        fastdl.addcdiv(fastdl.tensor(a), fastdl.tensor([1, 2, 3]), fastdl.tensor([1, 2, 3]))
    with pytest.raises(RuntimeError, match="lerp: expected dtype"):
        fastdl.lerp(fastdl.tensor(a), fastdl.tensor(b.astype(np.float32)), 0.5)


def test_inplace_records_history_and_refuses_leaves():
    x = fastdl.tensor([0.3, 0.7], dtype=fastdl.float64, requires_grad=True)
    y = x * 1.0
    y.sin_()
    y.sum().backward()
    assert_close(x.grad.numpy(), np.cos([0.3, 0.7]))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.sin_()
    # an in-place op on a non-grad tensor with a grad operand records
    z = fastdl.zeros(2, dtype=fastdl.float64)
    z.lerp_(x, 0.5)
    z.sum().backward()
    assert_close(x.grad.numpy(), np.cos([0.3, 0.7]) + 0.5)


def test_inplace_dtype_errors_and_out_errors():
    with pytest.raises(RuntimeError, match="can't be cast"):
        fastdl.tensor([1, 2]).sin_()
    with pytest.raises(RuntimeError, match="out=... arguments"):
        fastdl.sin(fastdl.ones(2, requires_grad=True), out=fastdl.empty(2))
    out = fastdl.empty(0)
    fastdl.cos(fastdl.zeros(3), out=out)
    assert out.shape == (3,) and np.array_equal(out.numpy(), np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="can't be cast"):
        fastdl.sin(fastdl.zeros(3), out=fastdl.zeros(3, dtype=fastdl.int64))


def test_error_function_fallbacks_without_scipy():
    from fastdl.ops import math as M
    x = np.linspace(-3, 3, 41)
    assert_close(M.erf_fallback(x), _verf(x))
    assert_close(M.erfc_fallback(x), _verfc(x))
    y = np.linspace(-0.999, 0.999, 41)
    assert_close(M.erfinv_fallback(y), _np_erfinv(y), rtol=1e-9, atol=1e-9)
    assert np.isinf(M.erfinv_fallback(np.array([1.0, -1.0]))).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
def test_sign_of_nan_is_zero_as_torch(dtype, shape):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[::2] = np.nan
    if a.size > 1:
        a.reshape(-1)[1] = -0.0
    want = np.where(np.isnan(a), 0, np.sign(a)).astype(dtype)
    for got in (fastdl.sign(fastdl.tensor(a)), fastdl.tensor(a).sgn(),
                fastdl.tensor(a).sign_()):
        assert got.dtype == fastdl.tensor(a).dtype
        np.testing.assert_array_equal(got.numpy(), want)
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(torch.sign(torch.from_numpy(a.copy())).numpy(), want)
