"""conv2d / conv1d: forward and gradients against the NumPy reference (primary oracle) and
torch (when importable), gradcheck, every ISA path, 1-vs-2-thread bitwise equality, the
output-size rule, argument errors, and the Conv1d/Conv2d layers."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _run(x, w, b, gy, **kw):
    """fastdl forward and the three gradients (via autograd) as NumPy arrays."""
    xt = fastdl.tensor(x, requires_grad=True)
    wt = fastdl.tensor(w, requires_grad=True)
    bt = None if b is None else fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(),
            None if bt is None else bt.grad.numpy())


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans()) and groups > 1
    cg = 1 if depthwise else draw(st.integers(1, 3))
    kg = draw(st.integers(1, 3))
    n = draw(st.integers(0, 3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dh * (r - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (s - 1) + 1 - 2 * pw), 9))
    bias = draw(st.booleans())
    dt = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**31))
    return dict(groups=groups, cg=cg, kg=kg, n=n, r=r, s=s, stride=(sh, sw),
                dilation=(dh, dw), padding=(ph, pw), h=h, w=w, bias=bias, dt=dt, seed=seed)


def _arrays(c):
    rng = np.random.default_rng(c["seed"])
    C, K = c["cg"] * c["groups"], c["kg"] * c["groups"]
    x = rng.standard_normal((c["n"], C, c["h"], c["w"])).astype(c["dt"])
    w = rng.standard_normal((K, c["cg"], c["r"], c["s"])).astype(c["dt"])
    b = rng.standard_normal(K).astype(c["dt"]) if c["bias"] else None
    kw = dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
              groups=c["groups"])
    y = R.conv2d_ref(x, w, b, **kw)
    gy = rng.standard_normal(y.shape).astype(c["dt"])
    return x, w, b, gy, kw, y


@SETTINGS
@given(conv_cases())
def test_conv2d_matches_reference_every_isa(c):
    x, w, b, gy, kw, yref = _arrays(c)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x, w, gy, **kw)
    tol = _tol(c["dt"])
    for isa in isa_paths():
        with use_isa(isa):
            y, gx, gw, gb = _run(x, w, b, gy, **kw)
        assert y.dtype == c["dt"]
        assert_close(y, yref, msg=f"{isa} forward: ", **tol)
        assert_close(gx, gx_r, msg=f"{isa} grad_input: ", **tol)
        assert_close(gw, gw_r, msg=f"{isa} grad_weight: ", **tol)
        if b is not None:
            assert_close(gb, gb_r, msg=f"{isa} grad_bias: ", **tol)


@settings(max_examples=30, deadline=None)
@given(conv_cases())
def test_conv2d_matches_torch(c):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _arrays(c)
    y, gx, gw, gb = _run(x, w, b, gy, **kw)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, **kw)
    yt.backward(torch.tensor(gy))
    tol = _tol(c["dt"])
    assert_close(y, yt.detach().numpy(), **tol)
    if c["n"] > 0:
        assert_close(gx, xt.grad.numpy(), **tol)
        assert_close(gw, wt.grad.numpy(), **tol)
        if b is not None:
            assert_close(gb, bt.grad.numpy(), **tol)


@pytest.mark.parametrize("cfg", [
    dict(C=8, K=8, groups=8, r=3, stride=1, padding=1),        # depthwise
    dict(C=4, K=8, groups=4, r=3, stride=2, padding=1),        # depthwise, multiplier 2
    dict(C=6, K=5, groups=1, r=1, stride=1, padding=0),        # 1x1 (pointwise GEMM)
    dict(C=6, K=4, groups=2, r=1, stride=1, padding=0),        # grouped 1x1
    dict(C=3, K=4, groups=1, r=1, stride=2, padding=0),        # strided 1x1 (im2col)
    dict(C=5, K=7, groups=1, r=5, stride=1, padding=2),        # generic
])
@pytest.mark.parametrize("n", [1, 2, 11])
def test_special_paths_and_batch_sizes(isa, cfg, n, rng):
    x = rng.standard_normal((n, cfg["C"], 13, 12))
    w = rng.standard_normal((cfg["K"], cfg["C"] // cfg["groups"], cfg["r"], cfg["r"]))
    b = rng.standard_normal(cfg["K"])
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], groups=cfg["groups"])
    yref = R.conv2d_ref(x, w, b, **kw)
    gy = rng.standard_normal(yref.shape)
    y, gx, gw, gb = _run(x, w, b, gy, **kw)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x, w, gy, **kw)
    assert_close(y, yref)
    assert_close(gx, gx_r)
    assert_close(gw, gw_r)
    assert_close(gb, gb_r)
    # float32 too
    y32, gx32, gw32, _ = _run(*(a.astype(np.float32) for a in (x, w, b, gy)), **kw)
    assert_close(y32, yref, rtol=1e-4, atol=1e-4)
    assert_close(gw32, gw_r, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("cfg", [
    dict(n=5, C=4, K=6, groups=2, r=3, stride=1, padding=1),
    dict(n=1, C=4, K=6, groups=1, r=3, stride=2, padding=1),
    dict(n=9, C=8, K=8, groups=8, r=3, stride=1, padding=1),
    dict(n=17, C=16, K=16, groups=1, r=1, stride=1, padding=0),
    dict(n=3, C=3, K=5, groups=1, r=5, stride=1, padding=0),
])
def test_bitwise_one_vs_two_threads(isa, cfg, rng):
    x = rng.standard_normal((cfg["n"], cfg["C"], 19, 17)).astype(np.float32)
    w = rng.standard_normal((cfg["K"], cfg["C"] // cfg["groups"], cfg["r"], cfg["r"])) \
        .astype(np.float32)
    b = rng.standard_normal(cfg["K"]).astype(np.float32)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], groups=cfg["groups"])
    gy = rng.standard_normal(R.conv2d_ref(x, w, b, **kw).shape).astype(np.float32)
    with use_threads(1):
        a = _run(x, w, b, gy, **kw)
    with use_threads(2):
        c = _run(x, w, b, gy, **kw)
    for u, v in zip(a, c):
        assert np.array_equal(u, v)


@pytest.mark.parametrize("kw", [
    dict(stride=1, padding=1, dilation=1, groups=1),
    dict(stride=2, padding=(0, 1), dilation=(2, 1), groups=2),
    dict(stride=1, padding="same", dilation=2, groups=1),
    dict(stride=(1, 2), padding=0, dilation=1, groups=4),
])
def test_gradcheck(kw, rng):
    x = fastdl.tensor(rng.standard_normal((2, 4, 6, 5)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 4 // kw["groups"], 3, 2)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


def test_gradcheck_conv1d(rng):
    x = fastdl.tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 3, 4)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, None, stride=2, padding=1, dilation=2),
                     [x, w])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k,d", [(2, 1), (3, 1), (4, 2), (5, 1)])
def test_same_and_valid_padding_match_torch(k, d, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, k, k)).astype(np.float32)
    for pad in ("same", "valid"):
        y = F.conv2d(x, w, padding=pad, dilation=d).numpy()
        yt = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=pad,
                                        dilation=d).numpy()
        assert y.shape == yt.shape
        assert_close(y, yt, rtol=1e-4, atol=1e-4)
    # 'same' is the reference with the extra pad at the bottom/right
    tot = d * (k - 1)
    yref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), None,
                        padding=(tot // 2, tot - tot // 2, tot // 2, tot - tot // 2),
                        dilation=d)
    assert_close(F.conv2d(x, w, padding="same", dilation=d), yref, rtol=1e-4, atol=1e-4)


def test_conv1d_and_unbatched_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 20)).astype(np.float32)
    w = rng.standard_normal((6, 2, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    for kw in (dict(stride=2, padding=2, groups=2), dict(padding="same", dilation=3, groups=2)):
        xt = fastdl.tensor(x, requires_grad=True)
        y = F.conv1d(xt, w, b, **kw)
        y.sum().backward()
        tx = torch.tensor(x, requires_grad=True)
        yt = torch.nn.functional.conv1d(tx, torch.tensor(w), torch.tensor(b), **kw)
        yt.sum().backward()
        assert_close(y, yt.detach().numpy(), rtol=1e-4, atol=1e-4)
        assert_close(xt.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        # unbatched (C, L)
        assert_close(F.conv1d(x[0], w, b, **kw), yt.detach().numpy()[0], rtol=1e-4, atol=1e-4)
    x2 = rng.standard_normal((4, 9, 9)).astype(np.float32)
    w2 = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    xt = fastdl.tensor(x2, requires_grad=True)
    y = F.conv2d(xt, w2, padding=1)
    assert y.shape == (5, 9, 9)
    y.sum().backward()
    assert xt.grad.shape == (4, 9, 9)
    assert_close(y, R.conv2d_ref(x2[None], w2, padding=1)[0], rtol=1e-4, atol=1e-4)


def test_only_needed_gradients(rng):
    x = fastdl.tensor(rng.standard_normal((2, 3, 5, 5)))
    w = fastdl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4))
    F.conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    _, gw, _ = R.conv2d_backward_ref(x.numpy(), w.detach().numpy(), np.ones((2, 4, 3, 3)))
    assert_close(w.grad, gw)
    # the kernel honours the flags: nothing computed, nothing returned
    gx, gw2, gb = _C.conv2d_backward(x.numpy(), w.detach().numpy(), np.ones((2, 4, 3, 3)), 1, 1,
                                     0, 0, 0, 0, 1, 1, 1, False, False, True)
    assert gx is None and gw2 is None and gb.tolist() == [18.0] * 4


def test_empty_batch_and_noncontiguous_inputs(rng):
    x = fastdl.tensor(np.zeros((0, 3, 5, 5), np.float32), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (0, 2, 5, 5)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 5, 5) and np.array_equal(w.grad.numpy(), np.zeros((2, 3, 3, 3)))
    xs = rng.standard_normal((2, 5, 6, 3)).transpose(0, 3, 1, 2)   # non-contiguous view
    ws = rng.standard_normal((3, 3, 2, 2))[:, :, ::-1, :]
    assert_close(F.conv2d(xs, ws), R.conv2d_ref(xs, np.ascontiguousarray(ws)))


def test_conv_output_size():
    assert F.conv_output_size(28, 5) == 24
    assert F.conv_output_size(56, 3, 2, 1) == 28
    assert F.conv_output_size((56, 7), 3, (1, 2), (1, 0), (1, 2)) == (56, 2)
    assert F.conv_output_size(7, 3, dilation=3, padding=1) == 3
    with pytest.raises(ValueError, match=r"floor\(\(2 \+ 2·0 − 1·\(3 − 1\) − 1\) / 1\) \+ 1"):
        F.conv_output_size(2, 3)
    for size in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(3):
                    for d in range(1, 3):
                        ref = R.conv_output_size_ref(size, k, s, p, p, d)
                        if ref < 1:
                            with pytest.raises(ValueError):
                                F.conv_output_size(size, k, s, p, d)
                        else:
                            assert F.conv_output_size(size, k, s, p, d) == ref


@pytest.mark.parametrize("call,match", [
    (lambda x, w: F.conv2d(x, w[:, :2]), "input channels"),
    (lambda x, w: F.conv2d(x, w, groups=2), "divisible by groups"),
    (lambda x, w: F.conv2d(x[:, :, :2], w, groups=1), r"output size would be 0"),
    (lambda x, w: F.conv2d(x, w, stride=0), "stride"),
    (lambda x, w: F.conv2d(x, w, padding=-1), "padding"),
    (lambda x, w: F.conv2d(x, w, dilation=0), "dilation"),
    (lambda x, w: F.conv2d(x, w, padding="full"), "padding"),
    (lambda x, w: F.conv2d(x, w, stride=2, padding="same"), "strided"),
    (lambda x, w: F.conv2d(x[0, 0], w), "input"),
    (lambda x, w: F.conv2d(x, w[0]), "weight"),
    (lambda x, w: F.conv2d(x, w, np.zeros(3, np.float32)), "bias"),
    (lambda x, w: F.conv2d(x, w, groups=0), "groups"),
    (lambda x, w: F.conv2d(x, w, stride=(1, 2, 3)), "stride"),
    (lambda x, w: F.conv1d(x, w), "input"),
])
def test_bad_arguments(call, match):
    x = np.zeros((2, 3, 5, 5), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x, w)


@pytest.mark.parametrize("call,err", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=True), ValueError),      # True == 1 as a key
    (lambda x, w, b: F.conv2d(x, w, b, padding=(True, 1)), ValueError),
    (lambda x, w, b: F.conv2d(x, w, b[:3]), ValueError),               # bias shape
    (lambda x, w, b: F.conv2d(x, w.to(fastdl.int64), b), TypeError),  # weight dtype
    (lambda x, w, b: F.conv2d(x[:, :2], w, b), ValueError),            # input channels
])
def test_cached_geometry_still_checks(call, err):
    # a geometry seen once is remembered; calls that differ only in what the cache key
    # must tell apart are still checked
    x = fastdl.zeros(2, 3, 5, 5)
    w = fastdl.zeros(4, 3, 3, 3)
    b = fastdl.zeros(4)
    for _ in range(2):
        assert F.conv2d(x, w, b, stride=1, padding=(1, 1)).shape == (2, 4, 5, 5)
    with pytest.raises(err):
        call(x, w, b)


def test_cached_geometry_same_result(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    ref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), stride=2, padding=1)
    _, gw_ref = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                      np.ones(ref.shape), stride=2, padding=1)[:2]
    xt, wt = fastdl.from_numpy(x), fastdl.from_numpy(w).requires_grad_()
    for _ in range(3):  # first call: checked path; later calls: remembered geometry
        y = F.conv2d(xt, wt, stride=(2, 2), padding=1)
        assert_close(y.detach(), ref, rtol=1e-4, atol=1e-4)
        with fastdl.no_grad():  # the packed inference path
            assert_close(F.conv2d(xt, wt, stride=(2, 2), padding=1), ref, rtol=1e-4,
                         atol=1e-4)
        wt.grad = None
        y.sum().backward()
        assert_close(wt.grad, gw_ref, rtol=1e-4, atol=1e-4)


def test_binding_rejects_what_would_be_unsafe():
    x = np.zeros((2, 3, 5, 5), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(TypeError, match="weight"):
        F.conv2d(x, w.astype(np.float64))
    with pytest.raises(TypeError):
        F.conv2d(x.astype(np.int64), w)
    args = (1, 1, 0, 0, 0, 0, 1, 1, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.conv2d_forward(np.zeros((2, 3, 5, 10), np.float32)[..., ::2], w, None, *args)
    with pytest.raises(ValueError, match="larger than the padded input"):
        _C.conv2d_forward(np.zeros((2, 3, 2, 5), np.float32), w, None, *args)
    with pytest.raises(ValueError, match="stride"):
        _C.conv2d_forward(x, w, None, 0, 1, 0, 0, 0, 0, 1, 1, 1)
    with pytest.raises(ValueError, match="grad_output"):
        _C.conv2d_backward(x, w, np.zeros((2, 4, 2, 3), np.float32), *args, True, True, True)
    with pytest.raises(ValueError, match="bias"):
        _C.conv2d_forward(x, w, np.zeros(5, np.float32), *args)


def test_conv2d_layer_parameters_init_and_torch_state_dict(rng):
    fastdl.manual_seed(0)
    m = fastdl.nn.Conv2d(6, 8, (3, 2), stride=2, padding=1, groups=2)
    assert m.weight.shape == (8, 3, 3, 2) and m.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 3 * 2)
    assert np.abs(m.weight.detach().numpy()).max() <= bound and np.abs(m.bias.detach().numpy()).max() <= bound
    assert np.abs(m.weight.detach().numpy()).max() > 0.5 * bound
    fastdl.manual_seed(0)
    m2 = fastdl.nn.Conv2d(6, 8, (3, 2), stride=2, padding=1, groups=2)
    assert np.array_equal(m.weight.detach().numpy(), m2.weight.detach().numpy())
    assert fastdl.nn.Conv2d(2, 2, 1, bias=False).bias is None
    assert fastdl.nn.Conv2d(2, 2, 1, dtype=fastdl.float64).weight.dtype == np.float64
    assert "Conv2d(6, 8, kernel_size=(3, 2), stride=(2, 2)" in repr(m)
    with pytest.raises(ValueError, match="divisible"):
        fastdl.nn.Conv2d(6, 7, 3, groups=2)
    torch = pytest.importorskip("torch")
    tm = torch.nn.Conv2d(6, 8, (3, 2), stride=2, padding=1, groups=2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 6, 9, 9)).astype(np.float32)
    assert_close(m(x), tm(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    c1 = fastdl.nn.Conv1d(4, 2, 3, padding="same", bias=False)
    assert c1.weight.shape == (2, 4, 3) and c1(np.zeros((1, 4, 7), np.float32)).shape == (1, 2, 7)


@pytest.mark.parametrize("kw", [dict(stride=1, padding=1, groups=1),
                                dict(stride=2, padding=(1, 0), groups=2)])
def test_many_im2col_tiles(isa, kw, rng):
    # C/g·R·S = 576 (or 288): the im2col tile holds only a few output rows, so the output,
    # the input gradient (col2im per tile) and the weight gradient (accumulated over tiles)
    # cross many tile boundaries, with an uneven last tile.
    x = rng.standard_normal((2, 64, 23, 21))
    w = rng.standard_normal((8, 64 // kw["groups"], 3, 3))
    b = rng.standard_normal(8)
    yref = R.conv2d_ref(x, w, b, **kw)
    gy = rng.standard_normal(yref.shape)
    y, gx, gw, gb = _run(x, w, b, gy, **kw)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x, w, gy, **kw)
    assert_close(y, yref, rtol=1e-9, atol=1e-9)
    assert_close(gx, gx_r, rtol=1e-9, atol=1e-9)
    assert_close(gw, gw_r, rtol=1e-9, atol=1e-9)
    assert_close(gb, gb_r, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("cfg", [
    dict(C=5, K=13, H=6, W=70, r=3, s=3, padding=1, groups=1),      # two row segments, K tail
    dict(C=4, K=6, H=5, W=40, r=2, s=5, padding=(1, 2), groups=2),  # 3-vector rows, groups
    dict(C=3, K=7, H=4, W=20, r=2, s=2, padding=(2, 2), groups=1),  # padding > kernel − 1
    dict(C=2, K=30, H=9, W=3, r=3, s=1, padding="same", groups=1),  # narrow rows, many K
    dict(C=26, K=3, H=7, W=17, r=4, s=4, padding="same", groups=1), # asymmetric 'same'
])
def test_direct_kernel_shapes(isa, cfg, rng):
    # stride-1 float32 convolutions take the direct kernel on AVX-512: row segments, masked
    # tails, channel-block remainders, and the flipped-weight input gradient
    x = rng.standard_normal((2, cfg["C"], cfg["H"], cfg["W"])).astype(np.float32)
    w = rng.standard_normal((cfg["K"], cfg["C"] // cfg["groups"], cfg["r"], cfg["s"])) \
        .astype(np.float32)
    b = rng.standard_normal(cfg["K"]).astype(np.float32)
    kw = dict(padding=cfg["padding"], groups=cfg["groups"])
    xt = fastdl.tensor(x, requires_grad=True)
    wt = fastdl.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, b, **kw)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(fastdl.tensor(gy))
    if cfg["padding"] == "same":
        tot_h, tot_w = cfg["r"] - 1, cfg["s"] - 1
        pad = (tot_h // 2, tot_h - tot_h // 2, tot_w // 2, tot_w - tot_w // 2)
    else:
        pad = cfg["padding"]
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, gy))
    yr = R.conv2d_ref(x64, w64, b.astype(np.float64), padding=pad, groups=cfg["groups"])
    gx_r, gw_r, _ = R.conv2d_backward_ref(x64, w64, g64, padding=pad, groups=cfg["groups"])
    assert_close(y, yr, rtol=1e-4, atol=1e-4)
    assert_close(xt.grad, gx_r, rtol=1e-4, atol=1e-4)
    assert_close(wt.grad, gw_r, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("cfg", [
    dict(C=6, mult=1, r=3, s=3, padding=1, W=70),
    dict(C=4, mult=2, r=5, s=5, padding=2, W=21),
    dict(C=3, mult=3, r=2, s=3, padding=(1, 0), W=17),
    dict(C=5, mult=1, r=1, s=1, padding=0, W=9),
    dict(C=4, mult=1, r=3, s=3, padding=(2, 0), W=33),
])
def test_depthwise_direct_float32(isa, cfg, rng):
    C, K = cfg["C"], cfg["C"] * cfg["mult"]
    x = rng.standard_normal((3, C, 11, cfg["W"])).astype(np.float32)
    w = rng.standard_normal((K, 1, cfg["r"], cfg["s"])).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    kw = dict(padding=cfg["padding"], groups=C)
    xt = fastdl.tensor(x, requires_grad=True)
    wt = fastdl.tensor(w, requires_grad=True)
    bt = fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(fastdl.tensor(gy))
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, gy))
    assert_close(y, R.conv2d_ref(x64, w64, b.astype(np.float64), **kw), rtol=1e-4, atol=1e-4)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x64, w64, g64, **kw)
    assert_close(xt.grad, gx_r, rtol=1e-4, atol=1e-4)
    assert_close(wt.grad, gw_r, rtol=1e-4, atol=1e-3)
    assert_close(bt.grad, gb_r, rtol=1e-4, atol=1e-3)
    with use_threads(1):
        xt1 = fastdl.tensor(x, requires_grad=True)
        wt1 = fastdl.tensor(w, requires_grad=True)
        y1 = F.conv2d(xt1, wt1, b, **kw)
        y1.backward(fastdl.tensor(gy))
    assert np.array_equal(y1.detach().numpy(), y.detach().numpy())
    assert np.array_equal(wt1.grad.numpy(), wt.grad.numpy())
    assert np.array_equal(xt1.grad.numpy(), xt.grad.numpy())


CT_CASES = [(2, 4, 5, 6, 6, 3, 1, 0, 0, 1, 1), (2, 4, 5, 6, 6, 3, 2, 1, 1, 2, 1),
            (1, 8, 7, 7, 4, 4, 2, 1, 0, 1, 1), (2, 3, 4, 5, 3, 2, 3, 0, 2, 1, 1),
            (1, 4, 5, 5, 8, 3, 1, 2, 0, 4, 2), (2, 6, 3, 4, 4, 5, 2, 3, 1, 2, 2)]


@pytest.mark.parametrize("case", CT_CASES)
def test_conv_transpose2d_against_torch_and_gradcheck(case, isa):
    N, C, H, W, K, k, s, p, op, g, d = case
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((N, C, H, W)), rng.standard_normal((C, K // g, k, k))
    b = rng.standard_normal(K)
    gradcheck(lambda a, ww, bb: F.conv_transpose2d(a, ww, bb, s, p, op, g, d),
              [fastdl.tensor(x[:1], requires_grad=True), fastdl.tensor(w, requires_grad=True),
               fastdl.tensor(b, requires_grad=True)])
    torch = pytest.importorskip("torch")
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, s, p, op, g, d)
    gy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.from_numpy(gy))
    xf, wf, bf = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
    yf = F.conv_transpose2d(xf, wf, bf, s, p, op, g, d)
    (yf * fastdl.tensor(gy)).sum().backward()
    assert_close(yf.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, t in ((xf, xt), (wf, wt), (bf, bt)):
        assert_close(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose_layers():
    nn = fastdl.nn
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    m = nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, groups=2)
    tm = torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, groups=2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((2, 6, 5, 5)).astype(np.float32)
    for size in (None, (10, 10), (9, 10)):
        got = m(fastdl.tensor(x), output_size=size).detach().numpy()
        want = tm(torch.from_numpy(x), output_size=size).detach().numpy()
        assert_close(got, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes"):
        m(fastdl.tensor(x), output_size=(12, 12))
    m1 = nn.ConvTranspose1d(4, 2, 3, stride=2)
    t1 = torch.nn.ConvTranspose1d(4, 2, 3, stride=2)
    m1.load_state_dict({k: v.detach().numpy() for k, v in t1.state_dict().items()})
    x1 = rng.standard_normal((4, 10)).astype(np.float32)  # unbatched
    assert_close(m1(fastdl.tensor(x1)).detach().numpy(), t1(torch.from_numpy(x1)).detach().numpy(),
                 rtol=1e-5, atol=1e-5)
    assert m.weight.shape == (6, 2, 3, 3)
    with pytest.raises(ValueError, match="output padding must be smaller"):
        F.conv_transpose2d(fastdl.randn(1, 2, 3, 3), fastdl.randn(2, 2, 3, 3), stride=1,
                           output_padding=1)
