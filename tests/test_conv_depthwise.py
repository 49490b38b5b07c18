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


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [SHAPES[1], SHAPES[3], SHAPES[8], SHAPES[9], SHAPES[13],
                                   (5, 40, 7, 7, 3, 1, 1, 1, 1)], ids=_ids)
def test_depthwise_bitwise_one_vs_two_threads(shape, dt):
    x, w, b, gy, kw, _ = _operands(shape, dt, seed=2)
    for isa in isa_paths():
        with use_isa(isa):
            with use_threads(1):
                a = _run(x, w, b, gy, **kw)
            with use_threads(2):
                c = _run(x, w, b, gy, **kw)
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
