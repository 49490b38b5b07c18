"""fastdl.autograd.functional (vjp, jvp, jacobian, hessian, vhp, hvp): against closed forms,
against torch.autograd.functional (when torch is installed), return structures, strict mode,
create_graph; and a Hessian-vector product of a small network equal to torch's."""
import numpy as np
import pytest

import fastdl
import fastdl.autograd.functional as AF
import fastdl.nn.functional as F
from fastdl.testing import use_threads

_R = np.random.default_rng(99)
_A = _R.standard_normal(3)
_B = _R.standard_normal((2, 3))
_V2 = _R.standard_normal(2)
_V3 = _R.standard_normal(3)


@pytest.fixture(autouse=True)
def _one_thread():
    with use_threads(1):
        yield


def _d(*arrays):
    return [fastdl.tensor(a, dtype=fastdl.float64) for a in arrays]


def _cubic(x):
    return (x ** 3).sum() + (x[0] * x[1]).sin()


def _layer(x, w):
    return (w @ x).tanh()


def test_closed_forms():
    x = fastdl.tensor([1.0, -2.0, 0.5], dtype=fastdl.float64)
    a = x.numpy()
    H = AF.hessian(lambda t: (t ** 3).sum(), x)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * a))
    J = AF.jacobian(lambda t: t ** 2, x)
    np.testing.assert_allclose(J.numpy(), np.diag(2 * a))
    W = fastdl.tensor(_B)
    np.testing.assert_allclose(AF.jacobian(lambda t: W @ t, x).numpy(), _B)
    out, jv = AF.jvp(lambda t: t ** 2, x, fastdl.ones(3, dtype=fastdl.float64))
    np.testing.assert_allclose(jv.numpy(), 2 * a)
    np.testing.assert_allclose(out.numpy(), a ** 2)
    _, hv = AF.hvp(lambda t: (t ** 3).sum(), x, fastdl.tensor(_V3))
    np.testing.assert_allclose(hv.numpy(), 6 * a * _V3)


def test_return_structures():
    x, w = _d(_A, _B)
    J = AF.jacobian(_layer, (x, w))
    assert isinstance(J, tuple) and len(J) == 2
    assert tuple(J[0].shape) == (2, 3) and tuple(J[1].shape) == (2, 2, 3)
    J2 = AF.jacobian(lambda x: (x * 2, x.sum()), x)
    assert isinstance(J2, tuple) and tuple(J2[0].shape) == (3, 3) and tuple(J2[1].shape) == (3,)
    J3 = AF.jacobian(lambda x, w: (w @ x, x), (x, w))
    assert isinstance(J3[0], tuple) and tuple(J3[1][1].shape) == (3, 2, 3)
    H = AF.hessian(lambda x, w: (_layer(x, w) ** 2).sum(), (x, w))
    assert tuple(H[0][1].shape) == (3, 2, 3) and tuple(H[1][0].shape) == (2, 3, 3)
    out, g = AF.vjp(_layer, (x, w), fastdl.tensor(_V2))
    assert isinstance(g, tuple) and tuple(g[1].shape) == (2, 3)
    assert not out.requires_grad and not g[0].requires_grad


def test_strict_and_independent_inputs():
    x, y = _d(_A, _A)
    J = AF.jacobian(lambda x, y: x * 2, (x, y))
    np.testing.assert_array_equal(J[1].numpy(), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.jacobian(lambda x, y: x * 2, (x, y), strict=True)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda x, y: x * 2, (x, y), fastdl.ones(3, dtype=fastdl.float64), strict=True)


def test_argument_errors():
    x = _d(_A)[0]
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda t: t, [1.0])
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="shape"):
        AF.vjp(lambda t: t * 2, x, fastdl.ones(4, dtype=fastdl.float64))
    with pytest.raises(RuntimeError, match="single element"):
        AF.hessian(lambda t: t * 2, x)


def test_create_graph_results_are_differentiable():
    x = fastdl.tensor([1.0, 2.0], dtype=fastdl.float64, requires_grad=True)
    _, hv = AF.hvp(lambda t: (t ** 3).sum(), x, fastdl.ones(2, dtype=fastdl.float64),
                   create_graph=True)  # 6 x
    (g,) = fastdl.autograd.grad(hv.sum(), [x])
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])
    H = AF.hessian(lambda t: (t ** 4).sum(), x, create_graph=True)  # diag(12 x²)
    (g,) = fastdl.autograd.grad(H.sum(), [x])
    np.testing.assert_allclose(g.numpy(), 24 * x.detach().numpy())


def _cmp(a, b):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b)
        for u, v in zip(a, b):
            _cmp(u, v)
        return
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("what", ["jacobian", "jacobian_tuple", "hessian", "hessian_tuple",
                                  "vjp", "jvp", "jvp_tuple", "vhp", "hvp"])
def test_against_torch(what):
    torch = pytest.importorskip("torch")
    TF = torch.autograd.functional

    def args(lib):
        return [lib.tensor(a, dtype=lib.float64) for a in (_A, _B, _V2, _V3)]

    def run(lib, fn_mod):
        a, b, v2, v3 = args(lib)
        lay = lambda x: (b @ x).tanh()  # noqa: E731
        if what == "jacobian":
            return fn_mod.jacobian(lay, a)
        if what == "jacobian_tuple":
            return fn_mod.jacobian(lambda x, w: (w @ x).tanh(), (a, b))
        if what == "hessian":
            return fn_mod.hessian(lambda x: (x ** 3).sum() + (x[0] * x[1]).sin(), a)
        if what == "hessian_tuple":
            return fn_mod.hessian(lambda x, w: ((w @ x).tanh() ** 2).sum(), (a, b))
        if what == "vjp":
            return fn_mod.vjp(lay, a, v2)
        if what == "jvp":
            return fn_mod.jvp(lay, a, v3)
        if what == "jvp_tuple":
            return fn_mod.jvp(lambda x, w: (w @ x).tanh(), (a, b), (v3, b * 0.3))
        f = lambda x: (x ** 3).sum() + (x[0] * x[1]).sin()  # noqa: E731
        return getattr(fn_mod, what)(f, a, v3)

    _cmp(run(fastdl, AF), run(torch, TF))


def test_hessian_vector_product_of_a_network_matches_torch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(3)
    w = {"w1": r.standard_normal((6, 4)) * 0.5, "b1": r.standard_normal(6) * 0.1,
         "w2": r.standard_normal((3, 6)) * 0.5, "b2": r.standard_normal(3) * 0.1,
         "x": r.standard_normal((5, 4)), "y": r.integers(0, 3, 5)}
    vs = [r.standard_normal(w[k].shape) for k in ("w1", "b1", "w2", "b2")]

    def run(lib, fn, dtype):
        ps = [lib.tensor(w[k], dtype=dtype, requires_grad=True) for k in ("w1", "b1", "w2", "b2")]
        x, y = lib.tensor(w["x"], dtype=dtype), lib.tensor(w["y"])
        loss = fn.cross_entropy(fn.linear(fn.softplus(fn.linear(x, ps[0], ps[1])), ps[2],
                                          ps[3]), y)
        grads = lib.autograd.grad(loss, ps, create_graph=True)
        dot = sum((g * lib.tensor(v, dtype=dtype)).sum() for g, v in zip(grads, vs))
        hv = lib.autograd.grad(dot, ps)
        return [h.detach().numpy() for h in hv]

    for dt, tol in (("float64", dict(rtol=1e-9, atol=1e-12)),
                    ("float32", dict(rtol=2e-4, atol=2e-6))):
        ours = run(fastdl, F, getattr(fastdl, dt))
        theirs = run(torch, torch.nn.functional, getattr(torch, dt))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, **tol)
