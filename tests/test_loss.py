"""Losses: kernels vs the NumPy reference (every ISA path, float32 and float64), gradcheck,
edge values, target validation, thread-count independence, layers, and PyTorch where
installed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.nn.functional as F
from fastdl import nn
from fastdl.testing import assert_close, assert_thread_invariant, gradcheck, isa_paths
from fastdl.testing.reference import loss as R

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _t(a, grad=False):
    return fastdl.tensor(a, requires_grad=grad)


def _grad_for(out, rng, dtype):
    return rng.standard_normal(np.shape(out)).astype(dtype)


def _run(fn, x, g):
    xt = _t(x, True)
    out = fn(xt)
    out.backward(_t(g))
    return out.detach().numpy(), xt.grad.numpy()


# ---- cross entropy, class indices ------------------------------------------------------------

CE_SHAPES = [(9, 13), (4, 1000), (3, 5, 11), (2, 4, 3, 6), (2, 3, 37)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CE_SHAPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("ls,weighted", [(0.0, False), (0.0, True), (0.15, False), (0.15, True)])
def test_cross_entropy_matches_reference(isa, rng, dtype, shape, reduction, ls, weighted):
    C = shape[1]
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    tshape = (shape[0],) + shape[2:]
    t = rng.integers(0, C, tshape)
    t.flat[0] = -100  # ignored
    w = (rng.random(C) + 0.5).astype(dtype) if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=ls)
    ref = R.cross_entropy_ref(x, t, **kw)
    g = _grad_for(ref, rng, dtype)
    out, gx = _run(lambda a: F.cross_entropy(a, _t(t), **kw), x, g)
    assert out.dtype == dtype and out.shape == np.shape(ref)
    tol = TOL[dtype]
    assert_close(out, np.asarray(ref).astype(dtype), **tol)
    gref = R.cross_entropy_backward_ref(x, t, g, **kw)
    assert_close(gx, gref.astype(dtype), **tol)
    assert np.all(gx[(0, slice(None)) + (0,) * (len(shape) - 2)] == 0)  # the ignored sample


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 7), (2, 5, 19)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_probability_targets(isa, rng, dtype, shape, reduction):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    p = rng.random(shape)
    p = (p / p.sum(1, keepdims=True)).astype(dtype)
    w = (rng.random(shape[1]) + 0.5).astype(dtype)
    kw = dict(weight=w, reduction=reduction, label_smoothing=0.1)
    ref = R.cross_entropy_ref(x, p, **kw)
    g = _grad_for(ref, rng, dtype)
    out, gx = _run(lambda a: F.cross_entropy(a, _t(p), **kw), x, g)
    tol = TOL[dtype]
    assert_close(out, np.asarray(ref).astype(dtype), **tol)
    assert_close(gx, R.cross_entropy_backward_ref(x, p, g, **kw).astype(dtype), **tol)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 5), C=st.integers(1, 40), S=st.lists(st.integers(1, 7), max_size=2),
       ls=st.sampled_from([0.0, 0.3]), red=st.sampled_from(["none", "mean", "sum"]))
def test_cross_entropy_property(N, C, S, ls, red):
    rng = np.random.default_rng(N * 1000 + C)
    shape = (N, C, *S)
    x = rng.standard_normal(shape) * 3
    t = rng.integers(0, C, (N, *S))
    ref = R.cross_entropy_ref(x, t, reduction=red, label_smoothing=ls)
    g = _grad_for(ref, rng, np.float64)
    out, gx = _run(lambda a: F.cross_entropy(a, _t(t), reduction=red, label_smoothing=ls), x, g)
    assert_close(out, np.asarray(ref), rtol=1e-10, atol=1e-12)
    assert_close(gx, R.cross_entropy_backward_ref(x, t, g, reduction=red, label_smoothing=ls),
                 rtol=1e-10, atol=1e-12)


def test_cross_entropy_unbatched_and_gradcheck(rng):
    x = rng.standard_normal(7)
    out = F.cross_entropy(_t(x), _t(np.array(3)), reduction="none")
    assert out.shape == ()
    assert_close(out.numpy(), R.cross_entropy_ref(x[None], np.array([3]), reduction="none")[0])
    w = rng.random(5) + 0.5
    for shape, tg in [((4, 5), rng.integers(0, 5, 4)), ((2, 5, 3), rng.integers(0, 5, (2, 3)))]:
        xt = _t(rng.standard_normal(shape), True)
        tg = tg.copy()
        tg.flat[1] = -100
        assert gradcheck(lambda a: F.cross_entropy(a, _t(tg), weight=w, label_smoothing=0.2), [xt])
        assert gradcheck(lambda a: F.cross_entropy(a, _t(tg), reduction="none"), [xt])
    p = rng.random((3, 4))
    pt = _t(p / p.sum(1, keepdims=True), True)
    xt = _t(rng.standard_normal((3, 4)), True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), [xt, pt])


def test_cross_entropy_extreme_logits(isa):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0, -np.inf, 1]], np.float32)
    t = np.array([0, 1, 2])
    out, gx = _run(lambda a: F.cross_entropy(a, _t(t), reduction="none"), x, np.ones(3, np.float32))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(gx))
    assert_close(out, np.array([0.0, 2e4, np.log1p(np.exp(-1.0))], np.float32), rtol=1e-6)
    assert_close(gx[0], np.array([0, 0, 0], np.float32), atol=1e-6)
    xn = x.copy()
    xn[0, 2] = np.nan
    assert np.isnan(F.cross_entropy(_t(xn), _t(t), reduction="none").numpy()[0])


def test_target_out_of_range_is_index_error(rng):
    x = _t(rng.standard_normal((3, 4)).astype(np.float32))
    for bad in ([0, 4, 1], [0, -1, 1], [2**40, 0, 0]):
        with pytest.raises(IndexError, match="out of bounds"):
            F.cross_entropy(x, _t(np.array(bad)))
        with pytest.raises(IndexError, match="out of bounds"):
            F.nll_loss(x, _t(np.array(bad)))
    # ignore_index may be any value, even one inside [0, C)
    out = F.cross_entropy(x, _t(np.array([1, 1, 2])), ignore_index=1, reduction="sum")
    assert_close(out.numpy(), np.float32(R.cross_entropy_ref(x.numpy(), [1, 1, 2], ignore_index=1,
                                                             reduction="sum")), rtol=1e-5)


def test_cross_entropy_all_ignored_mean_is_nan():
    out = F.cross_entropy(_t(np.zeros((2, 3), np.float32)), _t(np.array([-100, -100])))
    assert np.isnan(out.numpy())


# ---- NLL -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9, 13), (2, 4, 3, 6)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss_matches_reference(isa, rng, dtype, shape, reduction):
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.integers(0, C, (shape[0],) + shape[2:])
    t.flat[-1] = -100
    w = (rng.random(C) + 0.5).astype(dtype)
    ref = R.nll_loss_ref(x, t, w, reduction=reduction)
    g = _grad_for(ref, rng, dtype)
    out, gx = _run(lambda a: F.nll_loss(a, _t(t), w, reduction=reduction), x, g)
    assert_close(out, np.asarray(ref).astype(dtype), **TOL[dtype])
    assert_close(gx, R.nll_loss_backward_ref(x, t, g, w, reduction=reduction).astype(dtype),
                 **TOL[dtype])
    xt = _t(x.astype(np.float64), True)
    assert gradcheck(lambda a: F.nll_loss(a, _t(t), w.astype(np.float64), reduction=reduction), [xt])


# ---- pointwise losses ------------------------------------------------------------------------

def _pw_cases(rng, n, dtype):
    x = (rng.standard_normal(n) * 3).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    pr = rng.uniform(0.001, 0.999, n).astype(dtype)
    yb = (rng.random(n) > 0.5).astype(dtype)
    w = rng.random(n).astype(dtype)
    q = np.where(pr > 0.3, pr, 0).astype(dtype)
    return [
        ("mse", F.mse_loss, R.mse_loss_ref, R.mse_loss_backward_ref, x, y, {}),
        ("l1", F.l1_loss, R.l1_loss_ref, R.l1_loss_backward_ref, x, y, {}),
        ("smooth_l1", F.smooth_l1_loss, R.smooth_l1_loss_ref, R.smooth_l1_loss_backward_ref, x, y,
         {"beta": 0.7}),
        ("smooth_l1_b0", F.smooth_l1_loss, R.smooth_l1_loss_ref, R.smooth_l1_loss_backward_ref,
         x, y, {"beta": 0.0}),
        ("huber", F.huber_loss, R.huber_loss_ref, R.huber_loss_backward_ref, x, y, {"delta": 1.3}),
        ("bce", F.binary_cross_entropy, R.binary_cross_entropy_ref,
         R.binary_cross_entropy_backward_ref, pr, yb, {"weight": w}),
        ("bce_logits", F.binary_cross_entropy_with_logits, R.binary_cross_entropy_with_logits_ref,
         R.binary_cross_entropy_with_logits_backward_ref, x * 5, pr, {}),
        ("bce_logits_pw", F.binary_cross_entropy_with_logits,
         R.binary_cross_entropy_with_logits_ref, R.binary_cross_entropy_with_logits_backward_ref,
         x * 5, yb, {"weight": w, "pos_weight": w + 0.5}),
        ("kl", F.kl_div, R.kl_div_ref, R.kl_div_backward_ref, x, q, {}),
        ("kl_log", F.kl_div, R.kl_div_ref, R.kl_div_backward_ref, x, y, {"log_target": True}),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 37, 70001])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_losses_match_reference(isa, rng, dtype, n, reduction):
    for name, fn, ref, bref, x, y, kw in _pw_cases(rng, n, dtype):
        r = ref(x, y, reduction=reduction, **kw)
        g = _grad_for(r, rng, dtype)
        out, gx = _run(lambda a: fn(a, _t(y), reduction=reduction, **kw), x, g)
        tol = TOL[dtype]
        assert out.shape == np.shape(r), name
        rt = dict(rtol=1e-4 if dtype == np.float32 else 1e-9, atol=tol["atol"]) \
            if reduction != "none" else tol
        assert_close(out, np.asarray(r).astype(dtype), msg=f"{name}: ", **rt)
        assert_close(gx, bref(x, y, g, reduction=reduction, **kw).astype(dtype),
                     msg=f"{name} grad: ", **tol)


def test_pointwise_gradcheck_input_and_target(rng):
    n = 6
    for name, fn, _, _, x, y, kw in _pw_cases(rng, n, np.float64):
        if name == "l1":
            x = x + 0.5  # away from the kink
        kw = {k: v for k, v in kw.items()}
        for red in ["mean", "none"]:
            xt, yt = _t(x, True), _t(y, True)
            assert gradcheck(lambda a, b: fn(a, b, reduction=red, **kw), [xt, yt]), name


def test_kl_div_batchmean_and_module(rng):
    logp = rng.standard_normal((4, 5))
    q = rng.random((4, 5))
    out = nn.KLDivLoss(reduction="batchmean")(_t(logp), _t(q))
    assert_close(out.numpy(), np.float64(R.kl_div_ref(logp, q, "batchmean")))
    xt = _t(logp, True)
    assert gradcheck(lambda a: F.kl_div(a, _t(q), reduction="batchmean"), [xt])


def test_bce_with_logits_stable_for_large_logits(isa):
    x = np.array([1e4, -1e4, 88.0, -88.0, 200.0, -200.0, 0.0], np.float32)
    y = np.array([1, 0, 1, 0, 0, 1, 0.5], np.float32)
    out, gx = _run(lambda a: F.binary_cross_entropy_with_logits(a, _t(y), reduction="none"), x,
                   np.ones(7, np.float32))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(gx))
    exp = R.binary_cross_entropy_with_logits_ref(x, y, reduction="none")
    assert_close(out, exp.astype(np.float32), rtol=1e-6, atol=1e-30)
    assert_close(gx, np.array([0, 0, 0, 0, 1, -1, 0], np.float32), atol=1e-6)


def test_bce_clamps_log_and_rejects_out_of_range(isa):
    x = np.array([0.0, 1.0, 0.5], np.float32)
    y = np.array([1.0, 0.0, 1.0], np.float32)
    out = F.binary_cross_entropy(_t(x), _t(y), reduction="none").numpy()
    assert_close(out, np.array([100.0, 100.0, np.log(2)], np.float32), rtol=1e-6)
    for bad in ([1.5, 0.2], [-0.1, 0.2], [np.nan, 0.2]):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.binary_cross_entropy(_t(np.array(bad, np.float32)), _t(np.zeros(2, np.float32)))


def test_weighted_mse_l1_huber(rng):
    x, y, w = rng.standard_normal(10), rng.standard_normal(10), rng.random(10)
    assert_close(F.mse_loss(_t(x), _t(y), weight=_t(w)).numpy(),
                 np.float64(((x - y) ** 2 * w).sum() / w.sum()))
    assert_close(F.l1_loss(_t(x), _t(y), weight=_t(w), reduction="sum").numpy(),
                 np.float64((np.abs(x - y) * w).sum()))
    assert_close(F.huber_loss(_t(x), _t(y), weight=_t(w)).numpy(),
                 np.float64((R.huber_loss_ref(x, y, "none") * w).mean()))


def test_broadcast_target(rng):
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal(4)
    xt = _t(x, True)
    out = F.mse_loss(xt, _t(y), reduction="sum")
    out.backward()
    assert_close(out.detach().numpy(), np.float64(((x - y) ** 2).sum()))
    assert_close(xt.grad.numpy(), 2 * (x - y))


def test_pointwise_extremes_and_nan(isa):
    x = np.array([1e4, -1e4, np.inf, np.nan, 0.0], np.float32)
    y = np.zeros(5, np.float32)
    for fn in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss):
        out = fn(_t(x), _t(y), reduction="none").numpy()
        assert np.isnan(out[3]) and np.isinf(out[2]) and np.all(np.isfinite(out[[0, 1, 4]]))
    assert np.isnan(F.mse_loss(_t(x), _t(y)).numpy())


def test_errors(rng):
    x = _t(rng.standard_normal((3, 4)).astype(np.float32))
    t = _t(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.cross_entropy(x, t, weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="target has shape"):
        F.cross_entropy(x, _t(np.array([0, 1])))
    with pytest.raises(ValueError, match="probability target"):
        F.cross_entropy(x, _t(np.ones((3, 5), np.float32)))
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(x, np.array([True, False, True]))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy(_t(np.full(3, 0.5, np.float32)), _t(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match="do not broadcast"):
        F.mse_loss(x, _t(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match="float64 but input is fastdl.float32"):
        F.mse_loss(x, _t(np.ones((3, 4))))
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, x, delta=0.0)


# ---- threads, modules, torch -----------------------------------------------------------------

@pytest.mark.parametrize("isa_name", isa_paths())
def test_bitwise_same_for_1_and_2_threads(rng, isa_name):
    x = rng.standard_normal((300, 500)).astype(np.float32)
    t = rng.integers(0, 500, 300)
    xs = rng.standard_normal((4, 6, 50, 30)).astype(np.float32)
    ts = rng.integers(0, 6, (4, 50, 30))
    a = rng.standard_normal(200001).astype(np.float32)
    b = rng.standard_normal(200001).astype(np.float32)

    def run():
        out = []
        out += _run(lambda z: F.cross_entropy(z, _t(t), label_smoothing=0.1), x, np.float32(1))
        out += _run(lambda z: F.cross_entropy(z, _t(ts)), xs, np.float32(1))
        for fn in (F.mse_loss, F.binary_cross_entropy_with_logits, F.l1_loss):
            out += _run(lambda z: fn(z, _t(b), reduction="sum"), a, np.float32(1))
        return out

    assert_thread_invariant(run, isa_name)


def test_loss_modules(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    t = rng.integers(0, 4, 5)
    w = (rng.random(4) + 0.5).astype(np.float32)
    m = nn.CrossEntropyLoss(weight=_t(w), ignore_index=2, label_smoothing=0.1, reduction="sum")
    assert list(m.state_dict()) == ["weight"]
    assert_close(m(_t(x), _t(t)).numpy(),
                 np.float32(R.cross_entropy_ref(x, t, w, 2, "sum", 0.1)), rtol=1e-5)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert_close(nn.NLLLoss()(_t(logp), _t(t)).numpy(), np.float32(R.nll_loss_ref(logp, t)),
                 rtol=1e-5)
    y = rng.standard_normal((5, 4)).astype(np.float32)
    assert_close(nn.MSELoss(reduction="sum")(_t(x), _t(y)).numpy(),
                 np.float32(R.mse_loss_ref(x, y, "sum")), rtol=1e-5)
    assert_close(nn.L1Loss()(_t(x), _t(y)).numpy(), np.float32(R.l1_loss_ref(x, y)), rtol=1e-5)
    assert_close(nn.SmoothL1Loss(beta=0.5)(_t(x), _t(y)).numpy(),
                 np.float32(R.smooth_l1_loss_ref(x, y, beta=0.5)), rtol=1e-5)
    assert_close(nn.HuberLoss(delta=0.5)(_t(x), _t(y)).numpy(),
                 np.float32(R.huber_loss_ref(x, y, delta=0.5)), rtol=1e-5)
    p = (rng.random((5, 4)) * 0.98 + 0.01).astype(np.float32)
    yb = (rng.random((5, 4)) > 0.5).astype(np.float32)
    assert_close(nn.BCELoss()(_t(p), _t(yb)).numpy(),
                 np.float32(R.binary_cross_entropy_ref(p, yb)), rtol=1e-5)
    pw = np.full(4, 2.0, np.float32)
    assert_close(nn.BCEWithLogitsLoss(pos_weight=_t(pw))(_t(x), _t(yb)).numpy(),
                 np.float32(R.binary_cross_entropy_with_logits_ref(x, yb, pos_weight=pw)),
                 rtol=1e-5)
    assert nn.MSELoss(size_average=False).reduction == "sum"


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x = rng.standard_normal((6, 5, 3)).astype(np.float32)
    t = rng.integers(0, 5, (6, 3))
    t[0, 0] = -100
    w = (rng.random(5) + 0.5).astype(np.float32)
    for red in ["none", "mean", "sum"]:
        xf, xt = _t(x, True), torch.tensor(x, requires_grad=True)
        lf = F.cross_entropy(xf, _t(t), weight=w, reduction=red, label_smoothing=0.2)
        lt = TF.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w), reduction=red,
                              label_smoothing=0.2)
        assert_close(lf.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
        lf.sum().backward()
        lt.sum().backward()
        assert_close(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    a = (rng.standard_normal((4, 3)) * 20).astype(np.float32)
    b = rng.random((4, 3)).astype(np.float32)
    pw = np.array([0.5, 2.0, 3.0], np.float32)
    for fn, tfn, kw in [(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                         {"pos_weight": pw}), (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.3}),
                        (F.huber_loss, TF.huber_loss, {"delta": 0.3})]:
        kwt = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        af, at = _t(a, True), torch.tensor(a, requires_grad=True)
        lf, lt = fn(af, _t(b), **kw), tfn(at, torch.tensor(b), **kwt)
        assert_close(lf.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
        lf.backward()
        lt.backward()
        assert_close(af.grad.numpy(), at.grad.numpy(), rtol=1e-5, atol=1e-7)
