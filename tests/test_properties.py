"""Property tests: shapes and parameters drawn by hypothesis, every kernel family held to its
NumPy reference (``fastdl.testing.reference``), on the default ISA path.

Profiles (registered in conftest.py): ``ci`` (the default, a few dozen examples per test) and
``long`` (``HYPOTHESIS_PROFILE=long pytest tests/test_properties.py``, a thousand each).
``pytest --hypothesis-show-statistics`` prints the example counts.
"""
from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, strategies as st  # noqa: E402

import fastdl  # noqa: E402
import fastdl.nn.functional as F  # noqa: E402
from fastdl.testing import assert_close  # noqa: E402
from fastdl.testing import reference as R  # noqa: E402
from fastdl.testing.reference.eltwise import ACTIVATIONS  # noqa: E402

DTYPES = st.sampled_from([np.float32, np.float64])


def _arr(seed, shape, dt, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dt)


def _tol(dt, f32=(2e-5, 2e-5), f64=(1e-9, 1e-9)):
    rtol, atol = f32 if dt == np.float32 else f64
    return dict(rtol=rtol, atol=atol)


# ---- gemm -----------------------------------------------------------------------------------------

@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 70), ta=st.booleans(),
       tb=st.booleans(), dt=DTYPES, seed=st.integers(0, 2**31))
def test_matmul_matches_reference(m, n, k, ta, tb, dt, seed):
    a = _arr(seed, (k, m) if ta else (m, k), dt)
    b = _arr(seed + 1, (n, k) if tb else (k, n), dt)
    at, bt = fastdl.tensor(a), fastdl.tensor(b)
    y = (at.T if ta else at) @ (bt.T if tb else bt)
    assert_close(y, R.gemm_ref(a, b, trans_a=ta, trans_b=tb), **_tol(dt, (1e-5, 1e-4)))


@given(batch=st.integers(1, 40), fin=st.integers(1, 50), fout=st.integers(1, 50),
       bias=st.booleans(), dt=DTYPES, seed=st.integers(0, 2**31))
def test_linear_forward_backward(batch, fin, fout, bias, dt, seed):
    x, w = _arr(seed, (batch, fin), dt), _arr(seed + 1, (fout, fin), dt)
    b = _arr(seed + 2, (fout,), dt) if bias else None
    xt, wt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    y = F.linear(xt, wt, None if b is None else fastdl.tensor(b))
    g = _arr(seed + 3, (batch, fout), dt)
    y.backward(fastdl.tensor(g))
    tol = _tol(dt, (1e-5, 1e-4))
    assert_close(y, R.linear_ref(x, w, b), **tol)
    gx, gw, _ = R.linear_backward_ref(x, w, g)
    assert_close(xt.grad, gx, **tol)
    assert_close(wt.grad, gw, **tol)


# ---- conv -----------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    dil = draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    n = draw(st.integers(1, 3))
    return n, cin, cout, h, w, kh, kw, stride, pad, dil, groups


@given(case=conv_cases(), dt=DTYPES, seed=st.integers(0, 2**31))
def test_conv2d_matches_reference(case, dt, seed):
    n, cin, cout, h, w, kh, kw, stride, pad, dil, groups = case
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    x, wt = _arr(seed, (n, cin, h, w), dt), _arr(seed + 1, (cout, cin // groups, kh, kw), dt)
    xt, wtt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(wt, requires_grad=True)
    if oh <= 0 or ow <= 0:
        with pytest.raises((ValueError, RuntimeError)):
            F.conv2d(xt, wtt, stride=stride, padding=pad, dilation=dil, groups=groups)
        return
    y = F.conv2d(xt, wtt, stride=stride, padding=pad, dilation=dil, groups=groups)
    ref = R.conv2d_ref(x, wt, stride=stride, padding=pad, dilation=dil, groups=groups)
    tol = _tol(dt, (1e-4, 1e-4))
    assert_close(y, ref, **tol)
    g = _arr(seed + 2, ref.shape, dt)
    y.backward(fastdl.tensor(g))
    gx, gw = R.conv2d_backward_ref(x, wt, g, stride=stride, padding=pad, dilation=dil,
                                   groups=groups)[:2]
    assert_close(xt.grad, gx, **tol)
    assert_close(wtt.grad, gw, **tol)


# ---- pool -----------------------------------------------------------------------------------------

@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 12),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans(),
       dt=DTYPES, seed=st.integers(0, 2**31))
def test_pool2d_matches_reference(n, c, h, w, k, s, p, ceil, dt, seed):
    assume(2 * p <= k)
    x = _arr(seed, (n, c, h, w), dt)
    oh = R.pool_output_size_ref(h, k, s, p, 1, ceil)
    ow = R.pool_output_size_ref(w, k, s, p, 1, ceil)
    xt = fastdl.tensor(x)
    if oh <= 0 or ow <= 0:
        with pytest.raises((ValueError, RuntimeError)):
            F.max_pool2d(xt, k, s, p, ceil_mode=ceil)
        return
    assert_close(F.max_pool2d(xt, k, s, p, ceil_mode=ceil),
                 R.max_pool2d_ref(x, k, s, p, ceil_mode=ceil)[0])
    assert_close(F.avg_pool2d(xt, k, s, p, ceil_mode=ceil),
                 R.avg_pool2d_ref(x, k, s, p, ceil_mode=ceil), **_tol(dt))


@given(h=st.integers(1, 13), w=st.integers(1, 13), oh=st.integers(1, 6), ow=st.integers(1, 6),
       dt=DTYPES, seed=st.integers(0, 2**31))
def test_adaptive_pool_matches_reference(h, w, oh, ow, dt, seed):
    x = _arr(seed, (2, 2, h, w), dt)
    assert_close(F.adaptive_avg_pool2d(fastdl.tensor(x), (oh, ow)),
                 R.adaptive_avg_pool2d_ref(x, (oh, ow)), **_tol(dt))


# ---- eltwise -------------------------------------------------------------------------------------

_ACTS = ["relu", "relu6", "leaky_relu", "hardtanh", "elu", "selu", "celu", "gelu", "silu",
         "mish", "sigmoid", "tanh", "softplus", "softsign", "hardsigmoid", "hardswish",
         "logsigmoid"]


@given(name=st.sampled_from(_ACTS), n=st.integers(1, 300), scale=st.sampled_from([0.5, 4, 30]),
       dt=DTYPES, seed=st.integers(0, 2**31))
def test_activation_forward_backward(name, n, scale, dt, seed):
    x = _arr(seed, (n,), dt, scale)
    # kinks (relu at 0, hardtanh at ±1, ...) are measure-zero: keep draws off them
    x[np.isin(np.round(x, 3), [0.0, 1.0, -1.0, 3.0, -3.0, 6.0])] += dt(0.01)
    g = _arr(seed + 1, (n,), dt)
    fwd, bwd = ACTIVATIONS[name]
    xt = fastdl.tensor(x, requires_grad=True)
    y = getattr(F, name)(xt)
    y.backward(fastdl.tensor(g))
    tol = _tol(dt, (3e-6, 3e-6), (1e-12, 1e-12))
    assert_close(y, fwd(x), **tol)
    assert_close(xt.grad, bwd(x, g), **_tol(dt, (2e-5, 2e-5), (1e-11, 1e-12)))


@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), data=st.data(),
       log=st.booleans(), dt=DTYPES, seed=st.integers(0, 2**31))
def test_softmax_any_dim(shape, data, log, dt, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = _arr(seed, shape, dt, 5)
    g = _arr(seed + 1, shape, dt)
    xt = fastdl.tensor(x, requires_grad=True)
    y = (F.log_softmax if log else F.softmax)(xt, dim)
    y.backward(fastdl.tensor(g))
    d = dim % len(shape)
    ref = (R.log_softmax_ref if log else R.softmax_ref)(x.astype(np.float64), d)
    gref = (R.log_softmax_grad_ref if log else R.softmax_grad_ref)(ref, g.astype(np.float64), d)
    assert_close(y, ref, **_tol(dt, (1e-5, 1e-6)))
    assert_close(xt.grad, gref, **_tol(dt, (1e-5, 1e-5)))


# ---- norm ----------------------------------------------------------------------------------------

@given(n=st.integers(2, 5), c=st.integers(1, 6), s=st.integers(1, 20), dt=DTYPES,
       seed=st.integers(0, 2**31))
def test_batch_norm_train(n, c, s, dt, seed):
    x = _arr(seed, (n, c, s), dt, 3) + dt(2)
    rm, rv = np.zeros(c, dt), np.ones(c, dt)
    rmt, rvt = fastdl.tensor(rm), fastdl.tensor(rv)
    y = F.batch_norm(fastdl.tensor(x), rmt, rvt, training=True, momentum=0.3)
    ry, rrm, rrv = R.batch_norm_ref(x, rm, rv, training=True, momentum=0.3)
    tol = _tol(dt, (2e-4, 2e-4))
    assert_close(y, ry, **tol)
    assert_close(rmt, rrm, **tol)
    assert_close(rvt, rrv, **tol)


@given(rows=st.integers(1, 8), k=st.integers(1, 300), dt=DTYPES, seed=st.integers(0, 2**31))
def test_layer_norm(rows, k, dt, seed):
    x = _arr(seed, (rows, k), dt, 2) + dt(1)
    w, b = _arr(seed + 1, (k,), dt), _arr(seed + 2, (k,), dt)
    y = F.layer_norm(fastdl.tensor(x), (k,), fastdl.tensor(w), fastdl.tensor(b))
    assert_close(y, R.layer_norm_nd_ref(x, (k,), w, b), **_tol(dt, (2e-4, 2e-4)))


@given(n=st.integers(1, 3), groups=st.integers(1, 4), per=st.integers(1, 3),
       s=st.integers(1, 30), dt=DTYPES, seed=st.integers(0, 2**31))
def test_group_norm(n, groups, per, s, dt, seed):
    c = groups * per
    x = _arr(seed, (n, c, s), dt, 2)
    assert_close(F.group_norm(fastdl.tensor(x), groups), R.group_norm_ref(x, groups),
                 **_tol(dt, (2e-4, 2e-4)))


# ---- loss ----------------------------------------------------------------------------------------

@given(n=st.integers(1, 20), c=st.integers(1, 40), spatial=st.lists(st.integers(1, 6), max_size=2),
       red=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(),
       smooth=st.sampled_from([0.0, 0.1]), target=st.sampled_from(["index", "ignore", "probs"]),
       dt=DTYPES, seed=st.integers(0, 2**31))
def test_cross_entropy(n, c, spatial, red, weighted, smooth, target, dt, seed):
    # input (N, C, *spatial): the row path without spatial dims, the strided path with them;
    # class-index targets (some ignored) or class-probability targets
    rng = np.random.default_rng(seed)
    sp = tuple(spatial)
    x = _arr(seed, (n, c) + sp, dt, 3)
    ii = -100
    if target == "probs":
        t = rng.random((n, c) + sp).astype(dt)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = rng.integers(0, c, (n,) + sp).astype(np.int64)
        if target == "ignore":
            ii = int(t.flat[0])
            assume(not (red == "mean" and np.all(t == ii)))
    w = np.abs(_arr(seed + 1, (c,), dt)) + dt(0.1) if weighted else None
    xt = fastdl.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, fastdl.tensor(t), None if w is None else fastdl.tensor(w),
                          ignore_index=ii, reduction=red, label_smoothing=smooth)
    ref = R.cross_entropy_ref(x, t, w, ii, red, smooth)
    assert_close(out, np.asarray(ref), **_tol(dt, (1e-5, 1e-5)))
    g = _arr(seed + 2, (n,) + sp, dt) if red == "none" else 1.0
    out.backward(fastdl.tensor(g) if red == "none" else None)
    assert_close(xt.grad, R.cross_entropy_backward_ref(x, t, g, w, ii, red, smooth),
                 **_tol(dt, (1e-5, 1e-5)))


@given(name=st.sampled_from(["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]),
       n=st.integers(1, 500), red=st.sampled_from(["mean", "sum", "none"]), dt=DTYPES,
       seed=st.integers(0, 2**31))
def test_pointwise_losses(name, n, red, dt, seed):
    x, y = _arr(seed, (n,), dt, 2), _arr(seed + 1, (n,), dt, 2)
    xt = fastdl.tensor(x, requires_grad=True)
    out = getattr(F, name)(xt, fastdl.tensor(y), reduction=red)
    ref = getattr(R, name + "_ref")(x, y, reduction=red)
    assert_close(out, np.asarray(ref), **_tol(dt, (1e-5, 1e-5)))
    g = _arr(seed + 2, (n,), dt) if red == "none" else np.asarray(1.0, dt)
    out.backward(fastdl.tensor(g) if red == "none" else None)
    assert_close(xt.grad, getattr(R, name + "_backward_ref")(x, y, g, reduction=red),
                 **_tol(dt, (1e-5, 1e-5)))


# ---- optim ---------------------------------------------------------------------------------------

_OPT = {
    "SGD": (dict(lr=0.1, momentum=0.9, nesterov=True), R.sgd_step),
    "Adam": (dict(lr=1e-2, weight_decay=0.1), R.adam_step),
    "AdamW": (dict(lr=1e-2), R.adamw_step),
    "RMSprop": (dict(lr=1e-2, centered=True, momentum=0.5), R.rmsprop_step),
    "Adagrad": (dict(lr=1e-1), R.adagrad_step),
    "Adadelta": (dict(lr=1.0), R.adadelta_step),
    "Adamax": (dict(lr=2e-3), R.adamax_step),
    "NAdam": (dict(lr=2e-3), R.nadam_step),
    "RAdam": (dict(lr=1e-3), R.radam_step),
    "Rprop": (dict(lr=1e-2), R.rprop_step),
    "ASGD": (dict(lr=1e-2), R.asgd_step),
}


@given(name=st.sampled_from(sorted(_OPT)), sizes=st.lists(st.integers(1, 3000), min_size=1,
       max_size=4), steps=st.integers(1, 3), dt=DTYPES, seed=st.integers(0, 2**31))
def test_optimizer_steps(name, sizes, steps, dt, seed):
    kw, ref_step = _OPT[name]
    ps = [_arr(seed + i, (s,), dt) for i, s in enumerate(sizes)]
    gs = [[_arr(seed + 100 * j + i, (s,), dt) for i, s in enumerate(sizes)] for j in range(steps)]
    params = [fastdl.nn.Parameter(fastdl.tensor(p)) for p in ps]
    opt = getattr(fastdl.optim, name)(params, **kw)
    refs, states = [p.copy() for p in ps], [{} for _ in ps]
    for j in range(steps):
        for p, g in zip(params, gs[j]):
            p.grad = fastdl.tensor(g)
        opt.step()
        for r, g, s in zip(refs, gs[j], states):
            ref_step(r, g, s, **kw)
    for p, r in zip(params, refs):
        assert_close(p.detach(), r, **_tol(dt, (1e-5, 1e-6), (1e-11, 1e-12)))


# ---- rnn -----------------------------------------------------------------------------------------

@given(mode=st.sampled_from(["LSTM", "GRU", "RNN_TANH"]), t=st.integers(1, 6),
       b=st.integers(1, 4), fin=st.integers(1, 6), h=st.integers(1, 8), bidir=st.booleans(),
       layers=st.integers(1, 2), seed=st.integers(0, 2**31))
def test_rnn_matches_reference(mode, t, b, fin, h, bidir, layers, seed):
    fastdl.manual_seed(seed % 1000)
    cls = {"LSTM": fastdl.nn.LSTM, "GRU": fastdl.nn.GRU, "RNN_TANH": fastdl.nn.RNN}[mode]
    m = cls(fin, h, num_layers=layers, bidirectional=bidir)
    x = _arr(seed, (t, b, fin), np.float32)
    out = m(fastdl.tensor(x))
    params = {k: v.detach().numpy().astype(np.float64) for k, v in m.state_dict().items()}
    ref = R.rnn_ref(mode, params, x.astype(np.float64), num_layers=layers, bidirectional=bidir)
    assert_close(out[0].detach(), ref[0], rtol=1e-4, atol=1e-5)
