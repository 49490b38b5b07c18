"""Activations, softmax/log_softmax, PReLU and the vectorised math behind them."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing.reference import eltwise as R

VM = ["exp", "expm1", "log", "log1p", "tanh", "erf", "erfc", "sigmoid", "softplus",
      "log_sigmoid", "normcdf"]


def _vm_ref(name, x):
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        return {
            "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
            "tanh": np.tanh, "erf": R._erf, "erfc": R._erfc,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "softplus": lambda v: np.logaddexp(0.0, v),
            "log_sigmoid": lambda v: -np.logaddexp(0.0, -v),
            "normcdf": lambda v: 0.5 * R._erfc(-v / np.sqrt(2.0)),
        }[name](x)


def _sweep():
    """Dense float32 sample of the whole range: every exponent, both signs, plus specials."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**31 - 2**23, 400_000, dtype=np.int64).astype(np.uint32)  # finite
    pos = bits.view(np.float32)
    lin = np.linspace(-30, 30, 200_001, dtype=np.float32)
    near = np.linspace(-1.2, 1.2, 100_001, dtype=np.float32)
    spec = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, 1.17549435e-38, 1e4, -1e4, 88.72, 88.73,
                     -87.3, -103.9, -104.0, 3.4e38, -3.4e38, np.inf, -np.inf, np.nan, 1.0, -1.0,
                     0.5, 0.9, 3.92, 10.05, 12.0, -0.99999994], dtype=np.float32)
    return np.concatenate([pos, -pos, lin, near, spec])


X_SWEEP = _sweep()


@pytest.mark.parametrize("name", VM)
def test_vec_math_accuracy(isa, name):
    """2e-7 relative over the whole float32 range (3e-7 softplus/log_sigmoid, 5e-7 erfc and
    normcdf), libm's special values."""
    fn = VM.index(name)
    x = X_SWEEP
    y = _C._vm_eval(fn, x).astype(np.float64)
    r = _vm_ref(name, x)
    with np.errstate(over="ignore"):
        rf = r.astype(np.float32).astype(np.float64)  # what float32 can hold (inf on overflow)
    assert np.array_equal(np.isnan(y), np.isnan(r)), "NaN positions differ"
    inf = np.isinf(rf) | np.isinf(y)
    assert np.array_equal(y[inf], rf[inf]), "inf positions/signs differ"
    ok = ~np.isnan(r) & ~inf
    normal = ok & (np.abs(r) >= np.finfo(np.float32).tiny)
    rel = np.abs(y[normal] - r[normal]) / np.abs(r[normal])
    lim = {"erfc": 5e-7, "normcdf": 5e-7, "softplus": 3e-7, "log_sigmoid": 3e-7}.get(name, 2e-7)
    i = np.argmax(rel)
    assert rel[i] <= lim, f"{name}: rel err {rel[i]:.3g} at x={x[normal][i]!r}"
    sub = ok & ~normal  # denormal results: within 2 denormal steps
    assert np.all(np.abs(y[sub] - r[sub]) <= 2 * 2.0 ** -149 + 2e-7 * np.abs(r[sub]))


def test_vec_math_saturation(isa):
    """|x| up to 1e4: no NaN, the limits PyTorch gives."""
    x = np.array([1e4, -1e4, 1e3, -1e3, 200, -200], dtype=np.float32)
    want = {
        "exp": [np.inf, 0, np.inf, 0, np.inf, 0], "tanh": [1, -1, 1, -1, 1, -1],
        "erf": [1, -1, 1, -1, 1, -1], "erfc": [0, 2, 0, 2, 0, 2],
        "sigmoid": [1, 0, 1, 0, 1, 0], "expm1": [np.inf, -1, np.inf, -1, np.inf, -1],
    }
    for name, w in want.items():
        assert_close(_C._vm_eval(VM.index(name), x), np.array(w, np.float32), rtol=0, atol=0,
                     msg=name + ": ")


def test_vec_math_float64(isa):
    x = np.linspace(-20, 20, 1001)
    for k, name in enumerate(VM):
        xx = np.abs(x) + 1e-3 if name in ("log",) else x
        assert_close(_C._vm_eval(k, xx), _vm_ref(name, xx), rtol=1e-11, atol=1e-300, msg=name)


# ---------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------
# name -> (F call, reference name, reference params)
ACTS = {
    "relu": (lambda x: F.relu(x), "relu", ()),
    "relu6": (lambda x: F.relu6(x), "relu6", ()),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), "leaky_relu", (0.2,)),
    "leaky_relu_neg": (lambda x: F.leaky_relu(x, -0.5), "leaky_relu", (-0.5,)),
    "elu": (lambda x: F.elu(x, 1.3), "elu", (1.3,)),
    "selu": (lambda x: F.selu(x), "selu", ()),
    "celu": (lambda x: F.celu(x, 0.7), "celu", (0.7,)),
    "gelu": (lambda x: F.gelu(x), "gelu", ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), "gelu_tanh", ()),
    "silu": (lambda x: F.silu(x), "silu", ()),
    "mish": (lambda x: F.mish(x), "mish", ()),
    "sigmoid": (lambda x: F.sigmoid(x), "sigmoid", ()),
    "tanh": (lambda x: F.tanh(x), "tanh", ()),
    "softplus": (lambda x: F.softplus(x, 2.0, 15.0), "softplus", (2.0, 15.0)),
    "softplus_default": (lambda x: F.softplus(x), "softplus", ()),
    "softsign": (lambda x: F.softsign(x), "softsign", ()),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 0.5), "hardtanh", (-2.0, 0.5)),
    "hardsigmoid": (lambda x: F.hardsigmoid(x), "hardsigmoid", ()),
    "hardswish": (lambda x: F.hardswish(x), "hardswish", ()),
    "logsigmoid": (lambda x: F.logsigmoid(x), "logsigmoid", ()),
}
SPECIAL = np.array([0.0, -0.0, 1e-40, -1e-40, 1e-45, 1e4, -1e4, 3.0, -3.0, 6.0, 20.0, 7.5,
                    -87.0, 88.0, np.inf, -np.inf, np.nan], dtype=np.float64)


def _inputs(dtype, n=50_003):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(n) * 4, rng.uniform(-30, 30, 999), SPECIAL])
    return x.astype(dtype)


def _torch_f64(name, x):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    t = torch.from_numpy(x.astype(np.float64))
    return {
        "relu": tf.relu, "relu6": tf.relu6, "leaky_relu": lambda v: tf.leaky_relu(v, 0.2),
        "leaky_relu_neg": lambda v: tf.leaky_relu(v, -0.5), "elu": lambda v: tf.elu(v, 1.3),
        "selu": tf.selu, "celu": lambda v: tf.celu(v, 0.7), "gelu": tf.gelu,
        "gelu_tanh": lambda v: tf.gelu(v, approximate="tanh"), "silu": tf.silu, "mish": tf.mish,
        "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "softplus": lambda v: tf.softplus(v, 2.0, 15.0), "softplus_default": tf.softplus,
        "softsign": tf.softsign, "hardtanh": lambda v: tf.hardtanh(v, -2.0, 0.5),
        "hardsigmoid": tf.hardsigmoid, "hardswish": tf.hardswish, "logsigmoid": tf.logsigmoid,
    }[name](t).numpy()


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_forward(isa, name, dtype):
    fn, ref, prm = ACTS[name]
    x = _inputs(dtype)
    y = fn(fastdl.tensor(x)).numpy()
    assert y.dtype == dtype and y.shape == x.shape
    r = R.ACTIVATIONS[ref][0](x, *prm)
    tol = dict(rtol=2e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
    if name in ("gelu_tanh", "hardswish", "hardsigmoid"):
        # fastdl's x sigmoid(2u) keeps gelu_tanh's far tail that 1 + tanh(u) cancels away
        tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    fin = np.abs(x) < 1e30
    assert_close(y[fin], r[fin].astype(dtype), **tol, msg=f"{name}: ")
    # at +-inf / NaN: the values PyTorch computes in float64
    sp = ~fin | np.isnan(x)
    assert_close(y[sp], _torch_f64(name, x[sp]).astype(dtype), rtol=0, atol=0, msg=f"{name} inf: ")


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_backward(isa, name):
    fn, ref, prm = ACTS[name]
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        x = np.concatenate([rng.standard_normal(4001) * 4, [1e4, -1e4, 50.0, -50.0]]).astype(dtype)
        g = rng.standard_normal(x.size).astype(dtype)
        t = fastdl.tensor(x, requires_grad=True)
        fn(t).backward(fastdl.tensor(g))
        r = R.ACTIVATIONS[ref][1](x, g, *prm)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
        assert_close(t.grad.numpy(), r.astype(dtype), **tol, msg=f"{name} {dtype.__name__}: ")
        assert np.isfinite(t.grad.numpy()).all()


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_gradcheck(isa, name):
    fn = ACTS[name][0]
    x = fastdl.tensor(np.random.default_rng(11).standard_normal((3, 7)) * 2.5,
                      dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(fn, [x])


def test_activation_threads_bitwise():
    x = fastdl.tensor(_inputs(np.float32, 300_000))
    g = fastdl.tensor(np.random.default_rng(1).standard_normal(x.shape[0]).astype(np.float32))
    for name in ("gelu", "mish", "silu", "elu", "tanh"):
        outs = []
        for n in (1, 2):
            with use_threads(n):
                t = x.detach().requires_grad_()
                y = ACTS[name][0](t)
                y.backward(g)
                outs.append((y.detach().numpy().copy(), t.grad.numpy().copy()))
        assert np.array_equal(outs[0][0], outs[1][0], equal_nan=True), name
        assert np.array_equal(outs[0][1], outs[1][1], equal_nan=True), name


def test_isa_paths_agree():
    """Every ISA within 1 ulp-ish of the others (same algorithm, FMA contraction aside)."""
    x = _inputs(np.float32, 20_000)
    res = {}
    for p in isa_paths():
        with use_isa(p):
            res[p] = F.gelu(fastdl.tensor(x)).numpy()
    for p in res:
        assert_close(res[p], res["generic"], rtol=5e-7, atol=1e-35, msg=p)


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=4),
       name=st.sampled_from(sorted(ACTS)))
def test_activation_shapes(shape, name):
    fn, ref, prm = ACTS[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = fn(fastdl.tensor(x))
    assert y.shape == x.shape
    assert_close(y.numpy(), R.ACTIVATIONS[ref][0](x, *prm).astype(np.float32), rtol=2e-6,
                 atol=1e-6)


def test_noncontiguous_and_arraylike():
    x = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    t = fastdl.tensor(x).transpose(0, 1)
    assert_close(F.relu(t), np.maximum(x.T, 0))
    assert_close(F.gelu(x.T), R.gelu_ref(x.T).astype(np.float32))
    assert_close(F.softmax(x.T, dim=0), R.softmax_ref(x.T, 0).astype(np.float32), rtol=5e-6)


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu",
                                  "mish", "hardtanh", "hardsigmoid", "hardswish"])
def test_inplace(name):
    fn = getattr(F, name)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 64)).astype(np.float32)
    want = fn(fastdl.tensor(x)).numpy()
    t = fastdl.tensor(x)
    v = t._version
    out = fn(t, inplace=True)
    assert out is t and t._version == v + 1
    assert_close(t, want, rtol=0, atol=0)
    # recorded in place on a non-leaf: gradients as the out-of-place op
    a = fastdl.tensor(x, requires_grad=True)
    h = a * 1.0
    fn(h, inplace=True).sum().backward()
    b = fastdl.tensor(x, requires_grad=True)
    fn(b).sum().backward()
    assert_close(a.grad, b.grad)
    with pytest.raises(RuntimeError, match="leaf"):
        fn(fastdl.tensor(x, requires_grad=True), inplace=True)


@pytest.mark.parametrize("name", ["relu", "hardtanh", "gelu", "softplus"])
def test_large_outputs_stream(isa, name):
    """Fresh outputs of 16 MB or more take the non-temporal-store loops (in place, y is x, and
    a backward written over its grad_output take the plain ones); the results are those of
    the small-array loops, bitwise, up to the last (masked) element."""
    code = _C.eltwise_acts[name]
    prm = {"hardtanh": [-1.0, 1.0], "softplus": [1.0, 20.0]}.get(name, [])
    n = (4 << 20) + 13  # 16 MB + a tail
    x = (np.random.default_rng(3).standard_normal(n) * 3).astype(np.float32)
    g = np.random.default_rng(4).standard_normal(n).astype(np.float32)
    small = np.concatenate([_C.eltwise_forward(code, c, prm) for c in np.array_split(x, 64)])
    small_g = np.concatenate([_C.eltwise_backward(code, False, c, d, prm)
                              for c, d in zip(np.array_split(x, 64), np.array_split(g, 64))])
    assert_close(_C.eltwise_forward(code, x, prm), small, rtol=0, atol=0)
    y = x.copy()
    assert _C.eltwise_forward(code, y, prm, y) is not None
    assert_close(y, small, rtol=0, atol=0, msg="in place: ")
    gg = g.copy()
    _C.eltwise_backward(code, False, x, gg, prm, gg)
    assert_close(gg, small_g, rtol=0, atol=0, msg="backward over grad_output: ")


def test_inplace_noncontiguous():
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    t = fastdl.tensor(x.copy())
    v = t[:, ::2]
    F.relu_(v)
    want = x.copy()
    want[:, ::2] = np.maximum(want[:, ::2], 0)
    assert_close(t, want, rtol=0, atol=0)


def test_tensor_methods():
    x = fastdl.randn(4, 5)
    assert_close(x.relu(), F.relu(x), rtol=0, atol=0)
    assert_close(x.sigmoid(), F.sigmoid(x), rtol=0, atol=0)
    assert_close(x.tanh(), F.tanh(x), rtol=0, atol=0)
    assert_close(x.gelu(), F.gelu(x), rtol=0, atol=0)
    assert_close(x.silu(), F.silu(x), rtol=0, atol=0)
    assert_close(x.softmax(1), F.softmax(x, 1), rtol=0, atol=0)
    assert_close(x.log_softmax(0), F.log_softmax(x, 0), rtol=0, atol=0)


def test_bad_arguments():
    with pytest.raises(TypeError, match="relu"):
        F.relu(fastdl.tensor([1, 2]))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(fastdl.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="alpha"):
        F.celu(fastdl.randn(3), alpha=0.0)
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(fastdl.randn(3), 1.0, -1.0)
    with pytest.raises(ValueError, match="beta"):
        F.softplus(fastdl.randn(3), beta=0)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        F.softmax(fastdl.randn(3, 4), dim=2)
    with pytest.raises(IndexError, match="out of range"):
        F.log_softmax(fastdl.randn(3, 4), dim=-3)
    with pytest.raises(TypeError, match="softmax"):
        F.softmax(fastdl.tensor([1, 2]), dim=0)
    with pytest.raises(ValueError, match="weight has 3 elements"):
        F.prelu(fastdl.randn(2, 4), fastdl.randn(3))
    with pytest.raises(TypeError, match="float"):
        _C.eltwise_forward(0, np.arange(3), [])
    with pytest.raises(ValueError, match="unknown activation"):
        _C.eltwise_forward(99, np.zeros(3, np.float32), [])
    with pytest.raises(ValueError, match="shape"):
        _C.eltwise_backward(0, True, np.zeros(3, np.float32), np.zeros(4, np.float32), [])
    with pytest.raises(TypeError, match="float64"):
        _C.eltwise_backward(0, True, np.zeros(3, np.float32), np.zeros(3), [])
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.eltwise_forward(0, np.zeros((4, 4), np.float32)[:, ::2], [])
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros(4, np.float32)
        ro.flags.writeable = False
        _C.eltwise_forward(0, np.zeros(4, np.float32), [], out=ro)
    with pytest.raises(ValueError, match="not available"):
        _C.eltwise_backward(_C.eltwise_acts["gelu"], True, np.zeros(3, np.float32),
                            np.zeros(3, np.float32), [])


# ---------------------------------------------------------------------------------------
# softmax / log_softmax
# ---------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=4), data=st.data(),
       log=st.booleans(), f64=st.booleans())
def test_softmax_any_dim(shape, data, log, f64):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    dt = np.float64 if f64 else np.float32
    rng = np.random.default_rng(len(shape) * 7 + dim)
    x = (rng.standard_normal(shape) * 5).astype(dt)
    g = rng.standard_normal(shape).astype(dt)
    t = fastdl.tensor(x, requires_grad=True)
    y = (F.log_softmax if log else F.softmax)(t, dim=dim)
    y.backward(fastdl.tensor(g))
    ref = (R.log_softmax_ref if log else R.softmax_ref)(x, dim)
    gref = (R.log_softmax_grad_ref if log else R.softmax_grad_ref)(ref, g, dim)
    tol = dict(rtol=5e-6, atol=1e-6) if dt == np.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_close(y, ref.astype(dt), **tol)
    if dt == np.float32:  # y (g - sum(g y)) cancels to ~ulp(|g|)
        tol = dict(rtol=5e-6, atol=1e-5)
    assert_close(t.grad, gref.astype(dt), **tol)


@pytest.mark.parametrize("shape,dim", [((64, 1000), 1), ((64, 1000), 0), ((7, 33, 5), 1),
                                       ((3, 70, 129), 1), ((2, 3, 4, 5), -1), ((1000,), 0)])
def test_softmax_paths(isa, shape, dim):
    x = (np.random.default_rng(0).standard_normal(shape) * 3).astype(np.float32)
    for log in (False, True):
        fn = F.log_softmax if log else F.softmax
        y = fn(fastdl.tensor(x), dim=dim)
        ref = (R.log_softmax_ref if log else R.softmax_ref)(x, dim)
        # log_softmax: (x - max) - log(sum) is exact only to ~ulp(|x - max|)
        assert_close(y, ref.astype(np.float32), rtol=5e-6, atol=1e-6 if log else 1e-7)


def test_softmax_stable_and_special():
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4], [-np.inf, 0.0, 1.0], [88.0, 89.0, 90.0]],
                 dtype=np.float32)
    y = F.softmax(fastdl.tensor(x), dim=1).numpy()
    assert np.isfinite(y).all()
    assert_close(y, R.softmax_ref(x, 1).astype(np.float32))
    ly = F.log_softmax(fastdl.tensor(x), dim=1).numpy()
    assert_close(ly, R.log_softmax_ref(x, 1).astype(np.float32))
    nan = F.softmax(fastdl.tensor([[np.nan, 1.0, 2.0]]), dim=1).numpy()
    assert np.isnan(nan).all()  # as PyTorch: a NaN poisons its row
    allinf = F.softmax(fastdl.tensor([[-np.inf, -np.inf]]), dim=1).numpy()
    assert np.isnan(allinf).all()
    assert F.softmax(fastdl.randn(0, 5), dim=1).shape == (0, 5)


def test_softmax_gradcheck():
    for dim in (0, 1, 2):
        x = fastdl.tensor(np.random.default_rng(dim).standard_normal((3, 4, 5)),
                          dtype=fastdl.float64, requires_grad=True)
        assert gradcheck(lambda t: F.softmax(t, dim=dim), [x])
        assert gradcheck(lambda t: F.log_softmax(t, dim=dim), [x])


def test_softmax_threads_bitwise():
    x = fastdl.tensor((np.random.default_rng(4).standard_normal((300, 1000)) * 3).astype(np.float32))
    for dim in (1, 0):
        outs = []
        for n in (1, 2):
            with use_threads(n):
                outs.append(F.softmax(x, dim=dim).numpy().copy())
        assert np.array_equal(outs[0], outs[1])


def test_softmax_dtype_and_implicit_dim():
    x = fastdl.randn(3, 4)
    y = F.softmax(x, dim=1, dtype=fastdl.float64)
    assert y.dtype == np.float64
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    assert_close(y, R.softmax_ref(x.numpy(), 1).astype(np.float32))


# ---------------------------------------------------------------------------------------
# PReLU and layers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,nw", [((4, 3, 5, 5), 3), ((4, 3, 5, 5), 1), ((8, 6), 6),
                                      ((10,), 1), ((2, 5, 3000), 5), ((1, 2, 70000), 2)])
def test_prelu(isa, shape, nw):
    rng = np.random.default_rng(1)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(shape).astype(dt)
        w = rng.uniform(0.1, 0.5, nw).astype(dt)
        g = rng.standard_normal(shape).astype(dt)
        xt, wt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
        y = F.prelu(xt, wt)
        y.backward(fastdl.tensor(g))
        assert_close(y, R.prelu_ref(x, w).astype(dt))
        gx, gw = R.prelu_grad_ref(x, w, g)
        assert_close(xt.grad, gx.astype(dt))
        assert_close(wt.grad, gw.astype(dt), rtol=1e-4 if dt == np.float32 else 1e-10, atol=1e-4)


def test_prelu_gradcheck_and_threads():
    x = fastdl.tensor(np.random.default_rng(0).standard_normal((3, 4, 5)), dtype=fastdl.float64,
                      requires_grad=True)
    w = fastdl.tensor([0.1, 0.2, 0.3, 0.4], dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(lambda a, b: F.prelu(a, b), [x, w])
    xs = fastdl.tensor(np.random.default_rng(1).standard_normal((64, 8, 1000)).astype(np.float32))
    res = []
    for n in (1, 2):
        with use_threads(n):
            ws = fastdl.tensor(np.full(8, 0.25, np.float32), requires_grad=True)
            F.prelu(xs, ws).sum().backward()
            res.append(ws.grad.numpy().copy())
    assert np.array_equal(res[0], res[1])


def test_layers():
    x = fastdl.randn(2, 3, 4, 4)
    pairs = [(nn.ReLU(), F.relu), (nn.ReLU6(), F.relu6), (nn.SELU(), F.selu),
             (nn.SiLU(), F.silu), (nn.Mish(), F.mish), (nn.Hardsigmoid(), F.hardsigmoid),
             (nn.Hardswish(), F.hardswish), (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh),
             (nn.Softsign(), F.softsign), (nn.LogSigmoid(), F.logsigmoid),
             (nn.LeakyReLU(0.1), lambda t: F.leaky_relu(t, 0.1)),
             (nn.ELU(0.5), lambda t: F.elu(t, 0.5)), (nn.CELU(0.5), lambda t: F.celu(t, 0.5)),
             (nn.GELU("tanh"), lambda t: F.gelu(t, approximate="tanh")),
             (nn.Softplus(2.0, 10.0), lambda t: F.softplus(t, 2.0, 10.0)),
             (nn.Hardtanh(-0.5, 0.5), lambda t: F.hardtanh(t, -0.5, 0.5)),
             (nn.Softmax(dim=1), lambda t: F.softmax(t, 1)),
             (nn.LogSoftmax(dim=-1), lambda t: F.log_softmax(t, -1))]
    for m, f in pairs:
        assert_close(m(x), f(x), rtol=0, atol=0, msg=type(m).__name__)
    p = nn.PReLU(3, init=0.1)
    assert p.weight.shape == (3,) and np.all(p.weight.detach().numpy() == np.float32(0.1))
    assert [n for n, _ in p.named_parameters()] == ["weight"]
    assert "num_parameters=3" in repr(p)
    assert_close(p(x), R.prelu_ref(x.numpy(), p.weight.detach().numpy()).astype(np.float32))
    r = nn.ReLU(inplace=True)
    y = fastdl.randn(5)
    assert r(y) is y
    assert "approximate='tanh'" in repr(nn.GELU("tanh"))
    with pytest.raises(ValueError):
        nn.GELU("bad")


@pytest.mark.parametrize("name,args", [("Softmin", dict(dim=1)), ("Hardshrink", dict()),
                                       ("Hardshrink", dict(lambd=1.2)),
                                       ("Softshrink", dict(lambd=0.3)), ("Tanhshrink", dict()),
                                       ("Threshold", dict(threshold=0.4, value=-3.0))])
def test_shrink_threshold_softmin_against_torch(name, args):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 7)) * 2
    x[0, 0], x[0, 1], x[0, 2] = np.nan, np.inf, -np.inf
    torch = pytest.importorskip("torch")
    m, tm = getattr(nn, name)(**args), getattr(torch.nn, name)(**args)
    assert_close(m(fastdl.tensor(x)).numpy(), tm(torch.from_numpy(x)).numpy(), rtol=1e-12,
                 atol=1e-14)
    xs = x[1:] + 0.01  # off the kinks
    t, tt = fastdl.tensor(xs, requires_grad=True), torch.from_numpy(xs).requires_grad_()
    g = rng.standard_normal(xs.shape)
    (m(t) * fastdl.tensor(g)).sum().backward()
    (tm(tt) * torch.from_numpy(g)).sum().backward()
    assert_close(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-14)
    gradcheck(lambda a: getattr(nn, name)(**args)(a),
              [fastdl.tensor(xs[:, :3], requires_grad=True)])


def test_threshold_inplace_and_softshrink_error():
    x = fastdl.tensor(np.array([0.5, 2.0]))
    assert F.threshold(x, 1.0, -1.0, inplace=True) is x
    assert_close(x, np.array([-1.0, 2.0]), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="requires grad"):
        F.threshold(fastdl.tensor(np.ones(2), requires_grad=True), 0.0, 0.0, inplace=True)
    with pytest.raises(ValueError, match="lambda"):
        F.softshrink(x, -1.0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 17, 70001, (16 << 20) // 4 + 5], ids=str)
def test_threaded_add_is_numpys_add_bitwise(isa, dt, n):
    """``_C.eltwise_add`` (the residual sums and gradient accumulations of large arrays, all
    threads, streaming stores past 16 MB): NumPy's add bit for bit, with infinities, NaN,
    signed zeros and subnormals, in place too; 1 = 2 threads."""
    from fastdl import _C
    from fastdl.testing import use_threads
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(dt)
    b = rng.standard_normal(n).astype(dt)
    tiny = np.finfo(dt).tiny
    specials = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, tiny / 4, -tiny / 8], dt)
    a[: min(n, 7)] = specials[: min(n, 7)]
    b[: min(n, 7)] = specials[::-1][: min(n, 7)]
    want = a + b
    for t in (1, 2):
        with use_threads(t):
            out = np.empty_like(a)
            _C.eltwise_add(a, b, out)
            assert np.array_equal(out.view(np.uint8), want.view(np.uint8)) or \
                np.array_equal(out, want, equal_nan=True) and \
                np.array_equal(np.signbit(out), np.signbit(want))
            c = a.copy()
            _C.eltwise_add(c, b, c)
            assert np.array_equal(c, want, equal_nan=True)


def test_threaded_add_binding_errors():
    from fastdl import _C
    a = np.zeros(5, np.float32)
    with pytest.raises(TypeError, match="b"):
        _C.eltwise_add(a, np.zeros(5, np.float64), a)
    with pytest.raises(ValueError, match="1-D and contiguous"):
        _C.eltwise_add(a.reshape(5, 1), a.reshape(5, 1), a.reshape(5, 1))
    with pytest.raises(ValueError, match="shape"):
        _C.eltwise_add(a, np.zeros(4, np.float32), a)
    ro = np.zeros(5, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        _C.eltwise_add(a, a, ro)


def test_large_adds_keep_values_and_layout():
    """The Python layer's large same-layout adds (Tensor +, the engine's gradient sums and
    .grad accumulation) give NumPy's values and keep a channels-last layout."""
    rng = np.random.default_rng(3)
    x0, y0 = (rng.standard_normal((4, 32, 24, 24)).astype(np.float32) for _ in range(2))
    for cl in (False, True):
        x, y = fastdl.from_numpy(x0.copy()), fastdl.from_numpy(y0.copy())
        if cl:
            x, y = (t.to(memory_format=fastdl.channels_last) for t in (x, y))
        x.requires_grad_()
        z = x + y
        assert np.array_equal(z.detach().numpy(), x0 + y0)
        assert z.is_contiguous(memory_format=fastdl.channels_last) == cl
        (z * 2 + z).sum().backward()
        (x * 1.0).sum().backward()  # accumulated into x.grad in place
        assert np.array_equal(x.grad.numpy(), np.full(x0.shape, 4.0, np.float32))


# ---- two gradients summed inside an activation's backward (grad2) ----------------------------
_SUM_PARAMS = {"leaky_relu": [0.2], "hardtanh": [-1.0, 0.5], "elu": [1.3, 1.0, 1.0],
               "softplus": [2.0, 15.0]}


def _sum_cases():
    for name, code in sorted(dict(_C.eltwise_acts).items()):
        prm = _SUM_PARAMS.get(name, [])
        for fo in (False, True):
            if fo and name not in ("relu", "leaky_relu", "hardtanh", "elu", "sigmoid", "tanh"):
                continue
            if not fo and name in ("sigmoid", "tanh"):  # from the output only
                continue
            yield pytest.param(code, fo, prm, id=f"{name}-{'out' if fo else 'in'}")
    yield pytest.param(_C.eltwise_acts["softplus"], False, [1.0, 20.0], id="softplus_beta1-in")


def _same_bits(a, b):
    """Bitwise equal, a NaN's sign and payload aside (IEEE leaves them to the hardware and the
    compiler: a sanitizer build's generic path gave tanh'(NaN) the other sign)."""
    na, nb = np.isnan(a), np.isnan(b)
    return np.array_equal(na, nb) and np.array_equal(a[~na].view(np.uint8), b[~nb].view(np.uint8))


@pytest.mark.parametrize("code,from_output,prm", list(_sum_cases()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_of_two_gradients_is_the_sum_then_the_backward(isa, code, from_output, prm,
                                                                 dtype):
    """act'(s)·(g1 + g2) in one pass: bitwise the add followed by the backward, on every ISA,
    whole vectors and a masked tail, special values in both gradients, and in place over g1."""
    rng = np.random.default_rng(code)
    n = 3 * 4096 + 37
    s = (rng.standard_normal(n) * 4).astype(dtype)
    s[:len(SPECIAL)] = SPECIAL
    g1 = rng.standard_normal(n).astype(dtype)
    g2 = rng.standard_normal(n).astype(dtype)
    g1[-6:] = [np.inf, -np.inf, np.nan, 1e30, -0.0, 0.0]
    g2[-6:] = [1.0, np.inf, 0.0, 1e30, -0.0, -0.0]
    with np.errstate(invalid="ignore"):
        want = _C.eltwise_backward(code, from_output, s, g1 + g2, prm)
    got = _C.eltwise_backward(code, from_output, s, g1, prm, grad2=g2)
    assert got.dtype == dtype and got.shape == s.shape
    assert _same_bits(got, want)
    g = g1.copy()
    assert _C.eltwise_backward(code, from_output, s, g, prm, g, grad2=g2) is not None
    assert _same_bits(g, want), "in place over grad"


@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_backward_of_two_gradients_streams_large_outputs(isa, name):
    """16 MB and more: the non-temporal-store loop gives the plain loop's values bitwise."""
    code = _C.eltwise_acts[name]
    n = (4 << 20) + 13
    rng = np.random.default_rng(9)
    s, g1, g2 = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    want = _C.eltwise_backward(code, False, s, g1 + g2, [])
    got = _C.eltwise_backward(code, False, s, g1, [], grad2=g2)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_backward_of_two_gradients_bad_arguments():
    s = np.ones((4, 5), np.float32)
    g = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"grad2.*\(4, 6\)|\(4, 6\).*grad2"):
        _C.eltwise_backward(0, True, s, g, [], grad2=np.ones((4, 6), np.float32))
    with pytest.raises(TypeError, match="grad2"):
        _C.eltwise_backward(0, True, s, g, [], grad2=np.ones((4, 5), np.float64))
    with pytest.raises(TypeError, match="grad2"):
        _C.eltwise_backward(0, True, s, g, [], grad2=np.ones((4, 5), np.int32))
    with pytest.raises(ValueError, match="grad2.*C-contiguous"):
        _C.eltwise_backward(0, True, s, g, [], grad2=np.ones((5, 4), np.float32).T)
