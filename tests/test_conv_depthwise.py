"""Depthwise convolution (groups = in_channels, K = m·C output channels: MobileNet's 3×3 with
m = 1): the channel-blocked kernels (AVX2/AVX-512: a vector's lanes are channels; block
buffers up to ~1 MB, any stride, dilation and multiplier) and the plane loops and kernels (the
generic build, maps over 16384 pixels): forward and gradients against the NumPy reference and torch, float32 and float64, on
every ISA, channels_last inputs, bitwise 1 = 2 threads, gradcheck."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

# (N, C, H, W, kernel, stride, padding, dilation, multiplier)
SHAPES = [
    (2, 20, 9, 7, 3, 1, 1, 1, 1),     # rows shorter than a vector; a 4-channel tail block
    (2, 33, 11, 11, 3, 2, 1, 1, 1),   # stride 2, three blocks
    (1, 16, 14, 14, 3, 2, 1, 1, 1),   # MobileNet's down-sampling form at batch 1
    (3, 17, 20, 20, 3, 1, 1, 1, 1),
    (2, 8, 10, 9, 5, 2, 2, 1, 1),     # 5×5 stride 2
    (2, 18, 9, 9, 3, 1, 2, 2, 1),     # dilation 2
    (1, 5, 6, 7, 3, 2, 0, 1, 1),      # no padding, odd sizes
    (2, 6, 8, 7, 3, 1, 1, 1, 3),      # depth multiplier 3 (K = 18)
    (2, 19, 7, 9, 3, 2, 1, 1, 2),     # multiplier 2, stride 2, a tail block
    (1, 3, 15, 13, 3, 3, 2, 2, 1),    # stride 3, dilation 2: nine phases
    (2, 4, 5, 5, 1, 2, 0, 1, 1),      # 1×1 stride 2: input pixels no tap reads
    (2, 40, 4, 4, 3, 1, 3, 1, 1),     # padding wider than the map (border outputs all bias)
    (1, 7, 2, 3, 7, 1, 3, 1, 2),      # kernel larger than the map
    (1, 2, 131, 129, 3, 1, 1, 1, 1),  # large map: the plane loops / AVX-512 plane kernels
    (1, 3, 133, 130, 3, 2, 1, 1, 1),  # large map, stride 2: the plane loops
    (2, 3, 40, 66, 3, 1, 1, 1, 1),    # rows over 32: AVX-512's plane kernel forward
]


def _ids(s):
    return "N{}C{}H{}W{}k{}s{}p{}d{}m{}".format(*s)


def _operands(s, dt, seed=0):
    N, C, H, W, k, st, p, d, m = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((C * m, 1, k, k)).astype(dt)
    b = rng.standard_normal(C * m).astype(dt)
    kw = dict(stride=st, padding=p, dilation=d, groups=C)
    y = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    return x, w, b, gy, kw, y


def _run(x, w, b, gy, channels_last=False, **kw):
    xt, wt, bt = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
    xin = xt.contiguous(memory_format=fastdl.channels_last) if channels_last else xt
    y = F.conv2d(xin, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    with fastdl.no_grad():
        xi = fastdl.tensor(x)
        if channels_last:
            xi = xi.contiguous(memory_format=fastdl.channels_last)
        yi = F.conv2d(xi, fastdl.tensor(w), fastdl.tensor(b), **kw).numpy()
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), yi


def _tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_depthwise_matches_reference_every_isa(shape, dt):
    x, w, b, gy, kw, yref = _operands(shape, dt)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                             gy.astype(np.float64), **kw)
    tol = _tol(dt)
    for isa in isa_paths():
        with use_isa(isa):
            y, gx, gw, gb, yi = _run(x, w, b, gy, **kw)
        assert y.dtype == dt and gx.dtype == dt and gw.dtype == dt
        assert_close(y, yref, msg=f"{isa} forward: ", **tol)
        assert_close(yi, yref, msg=f"{isa} inference forward: ", **tol)
        assert_close(gx, gx_r, msg=f"{isa} grad_input: ", **tol)
        assert_close(gw, gw_r, msg=f"{isa} grad_weight: ", **tol)
        assert_close(gb, gb_r, msg=f"{isa} grad_bias: ", **tol)


@pytest.mark.parametrize("hw", list(range(1, 16)))
def test_depthwise_every_small_map(hw):
    """Square maps 1×1 .. 15×15 (the sizes where a row is shorter than a vector), 3×3 stride
    1 and 2, 37 channels (two full AVX-512 blocks and a 5-channel tail), every ISA."""
    for st in (1, 2):
        shape = (2, 37, hw, hw, 3, st, 1, 1, 1)
        x, w, b, gy, kw, yref = _operands(shape, np.float32, seed=hw)
        gx_r, gw_r, gb_r = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                                 gy.astype(np.float64), **kw)
        for isa in isa_paths():
            with use_isa(isa):
                y, gx, gw, gb, yi = _run(x, w, b, gy, **kw)
            for got, ref, what in ((y, yref, "y"), (yi, yref, "inference y"),
                                   (gx, gx_r, "grad_input"), (gw, gw_r, "grad_weight"),
                                   (gb, gb_r, "grad_bias")):
                assert_close(got, ref, rtol=1e-4, atol=1e-4, msg=f"{isa} s{st} {what}: ")


@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[1], SHAPES[7], SHAPES[13]], ids=_ids)
def test_depthwise_channels_last_input(shape):
    """A channels_last (NHWC storage) input gives the NCHW result and gradients."""
    x, w, b, gy, kw, yref = _operands(shape, np.float32, seed=4)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                             gy.astype(np.float64), **kw)
    for isa in isa_paths():
        with use_isa(isa):
            y, gx, gw, gb, yi = _run(x, w, b, gy, channels_last=True, **kw)
        for got, ref in ((y, yref), (yi, yref), (gx, gx_r), (gw, gw_r), (gb, gb_r)):
            assert_close(got, ref, rtol=1e-4, atol=1e-4, msg=f"{isa}: ")


@pytest.mark.parametrize("shape", SHAPES[:3] + SHAPES[7:10], ids=_ids)
def test_depthwise_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _operands(shape, np.float32, seed=1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(gy))
    y, gx, gw, gb, _ = _run(x, w, b, gy, **kw)
    for u, v in ((y, ty), (gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        assert_close(u, v.detach().numpy(), rtol=1e-4, atol=1e-4)


# (the channels-last cases: the NHWC kernels' two forward schemes, see CL_SHAPES below)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,cl", [(s, False) for s in (SHAPES[1], SHAPES[3], SHAPES[8],
                                                           SHAPES[9], SHAPES[13])] +
                         [(SHAPES[1], True), ((2, 21, 12, 50, 3, 1, 1, 1, 1), True),
                          ((1, 32, 9, 100, 3, 2, 1, 1, 1), True)] +
                         [((5, 40, 7, 7, 3, 1, 1, 1, 1), c) for c in (False, True)],
                         ids=lambda v: _ids(v) if isinstance(v, tuple) else ("CL" if v else "NCHW"))
def test_depthwise_bitwise_one_vs_two_threads(shape, cl, dt):
    x, w, b, gy, kw, _ = _operands(shape, dt, seed=2)
    for isa in isa_paths():
        with use_isa(isa):
            with use_threads(1):
                a = _run(x, w, b, gy, channels_last=cl, **kw)
            with use_threads(2):
                c = _run(x, w, b, gy, channels_last=cl, **kw)
        for u, v in zip(a, c):
            assert np.array_equal(u, v), isa


@pytest.mark.parametrize("stride,dilation,mult", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 1, 2),
                                                  (3, 1, 1)])
def test_depthwise_gradcheck(stride, dilation, mult):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((2, 3, 5, 6)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((3 * mult, 1, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(3 * mult), requires_grad=True)
    for isa in isa_paths():
        with use_isa(isa):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1,
                                                      dilation=dilation, groups=3),
                             [x, w, b]), isa


# ---- channels-last operands: the NHWC kernels (_C.conv2d_depthwise_nhwc_*) -----------------
# rows of at least 48 outputs (14 when strided) take the in-place forward (depthwise_impl.h:
# nhwc_forward), the shorter ones the blocked scheme on NHWC; a multiplier or a vector-less
# ISA: the NCHW path
CL_SHAPES = SHAPES + [
    (2, 21, 12, 50, 3, 1, 1, 1, 1),   # in-place forward, a 5-channel tail block
    (1, 32, 9, 100, 3, 2, 1, 1, 1),   # in-place forward, stride 2
    (2, 9, 7, 52, 5, 1, 2, 2, 1),     # in-place forward, 5×5 dilation 2 (48 outputs a row)
    (1, 48, 4, 61, 3, 2, 0, 1, 1),    # in-place forward, stride 2, no padding, odd width
    (2, 19, 8, 29, 3, 2, 1, 1, 1),    # in-place forward, stride 2, 15 outputs a row: border
                                      # columns inside the 4-pixel groups, a 3-channel tail
    (1, 24, 5, 59, 3, 1, 1, 1, 1),    # in-place forward, stride 1 (8-pixel groups): the row's
                                      # last 3 outputs an interior pair and a border single
    (2, 20, 6, 53, 3, 1, 1, 1, 1),    # ... last 5: two interior pairs, a border single
    (1, 16, 4, 51, 3, 1, 0, 1, 1),    # ... no padding: every output interior, a single last
    (2, 17, 4, 62, 3, 1, 1, 1, 1),    # ... last 5: an interior group of 4, a border single
    (1, 32, 6, 28, 3, 2, 1, 1, 1),    # in-place forward, stride 2, 14 outputs a row: a border
]                                     # single, 4-pixel groups from column 1, an interior single


def _nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", CL_SHAPES, ids=_ids)
def test_depthwise_channels_last_every_isa(shape, dt):
    """channels_last input: forward, inference forward and the three gradients against the
    reference, the output and input gradient channels-last, on every ISA."""
    x, w, b, gy, kw, yref = _operands(shape, dt, seed=5)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                             gy.astype(np.float64), **kw)
    tol = _tol(dt)
    for isa in isa_paths():
        with use_isa(isa):
            xt, wt, bt = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
            xin = xt.contiguous(memory_format=fastdl.channels_last)
            y = F.conv2d(xin, wt, bt, **kw)
            assert y.is_contiguous(memory_format=fastdl.channels_last), isa
            y.backward(fastdl.tensor(gy).contiguous(memory_format=fastdl.channels_last))
            with fastdl.no_grad():
                yi = F.conv2d(fastdl.tensor(x).contiguous(memory_format=fastdl.channels_last),
                              fastdl.tensor(w), fastdl.tensor(b), **kw)
        for got, ref, what in ((y.detach().numpy(), yref, "y"), (yi.numpy(), yref, "inference y"),
                               (xt.grad.numpy(), gx_r, "grad_input"),
                               (wt.grad.numpy(), gw_r, "grad_weight"),
                               (bt.grad.numpy(), gb_r, "grad_bias")):
            assert_close(got, ref, msg=f"{isa} {what}: ", **tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [s for s in CL_SHAPES if s[-1] == 1], ids=_ids)
def test_depthwise_nhwc_kernels_match_nchw(shape, dt):
    """The NHWC kernels themselves (vector ISAs): forward with and without a fused clamp,
    and each gradient alone, against the NCHW kernels on the transposed operands."""
    x, w, b, gy, kw, _ = _operands(shape, dt, seed=6)
    s, p, d = kw["stride"], kw["padding"], kw["dilation"]
    geo = (s, s, p, p, p, p, d, d)
    C = fastdl._C
    tol = _tol(dt)
    for isa in isa_paths():
        with use_isa(isa):
            y0 = C.conv2d_forward(x, w, b, *geo, kw["groups"])
            g0 = C.conv2d_backward(x, w, gy, *geo, kw["groups"], True, True, True)
            y1 = C.conv2d_depthwise_nhwc_forward(_nhwc(x), w, b, *geo)
            if isa == "generic":  # no vectors: the caller's NCHW path
                assert y1 is None
                continue
            assert y1 is not None and y1.shape == _nhwc(y0).shape, isa
            assert_close(y1, _nhwc(y0), msg=f"{isa} forward: ", **tol)
            y2 = C.conv2d_depthwise_nhwc_forward(_nhwc(x), w, None, *geo, act_lo=-0.5, act_hi=1.0)
            ref = np.clip(_nhwc(C.conv2d_forward(x, w, None, *geo, kw["groups"])), -0.5, 1.0)
            assert_close(y2, ref, msg=f"{isa} clamped forward: ", **tol)
            for i, name in enumerate(("grad_input", "grad_weight", "grad_bias")):
                need = [j == i for j in range(3)]
                r = C.conv2d_depthwise_nhwc_backward(_nhwc(x), w, _nhwc(gy), *geo, *need)
                if r is None:  # maps beyond the blocked scheme's buffers: the NCHW path
                    assert x.shape[2] * x.shape[3] > 16384, (isa, name)
                    continue
                assert all((r[j] is None) == (j != i) for j in range(3)), (isa, name)
                got = r[i].transpose(0, 3, 1, 2) if i == 0 else r[i]
                assert_close(got, g0[i], msg=f"{isa} {name}: ", **tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_nhwc_forward_streamed_output(stride, dt):
    """An NHWC output of 16 MB or more (written with non-temporal stores) against the NCHW
    kernel, with and without a fused clamp, on every vector ISA."""
    N, Ch, H = (2, 32, 260) if stride == 1 else (2, 32, 520)
    if dt == np.float64:
        N = 1
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, Ch, H, H)).astype(dt)
    w = rng.standard_normal((Ch, 1, 3, 3)).astype(dt)
    b = rng.standard_normal(Ch).astype(dt)
    geo = (stride, stride, 1, 1, 1, 1, 1, 1)
    C = fastdl._C
    xl = _nhwc(x)
    for isa in isa_paths():
        if isa == "generic":
            continue
        with use_isa(isa):
            y0 = _nhwc(C.conv2d_forward(x, w, b, *geo, Ch))
            assert y0.nbytes >= 16 << 20
            y1 = C.conv2d_depthwise_nhwc_forward(xl, w, b, *geo)
            assert_close(y1, y0, msg=f"{isa} forward: ", **_tol(dt))
            y2 = C.conv2d_depthwise_nhwc_forward(xl, w, b, *geo, act_lo=0.0, act_hi=6.0)
            assert_close(y2, np.clip(y0, 0.0, 6.0), msg=f"{isa} clamped forward: ", **_tol(dt))


@pytest.mark.parametrize("stride,width", [(1, 6), (2, 6), (1, 50), (2, 99)])
def test_depthwise_channels_last_gradcheck(stride, width):
    rng = np.random.default_rng(8)
    x = fastdl.tensor(rng.standard_normal((2, 3, 3, width))).contiguous(
        memory_format=fastdl.channels_last).requires_grad_()
    assert x.is_contiguous(memory_format=fastdl.channels_last)
    w = fastdl.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    for isa in isa_paths():
        with use_isa(isa):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1,
                                                      groups=3), [x, w, b]), isa


def test_depthwise_nhwc_binding_errors():
    C = fastdl._C
    x = np.zeros((2, 5, 6, 4), np.float32)  # (N, H, W, C)
    geo = (1, 1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"depthwise weight must be \(4, 1, kh, kw\)"):
        C.conv2d_depthwise_nhwc_forward(x, np.zeros((8, 1, 3, 3), np.float32), None, *geo)
    with pytest.raises(ValueError, match="input channels per group"):
        C.conv2d_depthwise_nhwc_forward(x, np.zeros((4, 2, 3, 3), np.float32), None, *geo)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        C.conv2d_depthwise_nhwc_forward(x, np.zeros((4, 1, 3, 3), np.float32),
                                        np.zeros(3, np.float32), *geo)
    with pytest.raises(ValueError, match=r"grad_output \(N, OH, OW, C\) has shape"):
        C.conv2d_depthwise_nhwc_backward(x, np.zeros((4, 1, 3, 3), np.float32),
                                         np.zeros((2, 5, 6, 3), np.float32), *geo,
                                         True, True, True)
    with pytest.raises(ValueError, match="C-contiguous"):
        C.conv2d_depthwise_nhwc_forward(x.transpose(0, 3, 1, 2), np.zeros((6, 1, 3, 3),
                                                                           np.float32), None, *geo)
    with pytest.raises(TypeError):
        C.conv2d_depthwise_nhwc_forward(x, np.zeros((4, 1, 3, 3), np.float64), None, *geo)
