"""Depthwise convolution (groups = in_channels, one output channel each: MobileNet's 3×3),
the channel-blocked AVX-512 kernels (16 channels in a vector's lanes; small maps, stride 2,
dilation) and the plane kernels: forward and gradients against the NumPy reference and torch,
float32 and float64, on every ISA, bitwise 1 = 2 threads, gradcheck."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

# (N, C, H, W, kernel, stride, padding, dilation)
SHAPES = [
    (2, 20, 9, 7, 3, 1, 1, 1),     # rows shorter than a vector; a 4-channel tail block
    (2, 33, 11, 11, 3, 2, 1, 1),   # stride 2, three blocks
    (1, 16, 14, 14, 3, 2, 1, 1),   # MobileNet's down-sampling form at batch 1
    (3, 17, 20, 20, 3, 1, 1, 1),   # wide rows: the plane kernel
    (2, 8, 10, 9, 5, 2, 2, 1),     # 5×5 stride 2
    (2, 18, 9, 9, 3, 1, 2, 2),     # dilation 2
    (1, 5, 6, 7, 3, 2, 0, 1),      # no padding, odd sizes
]


def _ids(s):
    return "N{}C{}H{}W{}k{}s{}p{}d{}".format(*s)


def _operands(s, dt, seed=0):
    N, C, H, W, k, st, p, d = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((C, 1, k, k)).astype(dt)
    b = rng.standard_normal(C).astype(dt)
    kw = dict(stride=st, padding=p, dilation=d, groups=C)
    y = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    return x, w, b, gy, kw, y


def _run(x, w, b, gy, **kw):
    xt, wt, bt = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    with fastdl.no_grad():
        yi = F.conv2d(fastdl.tensor(x), fastdl.tensor(w), fastdl.tensor(b), **kw).numpy()
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
        assert_close(y, yref, msg=f"{isa} forward: ", **tol)
        assert_close(yi, yref, msg=f"{isa} inference forward: ", **tol)
        assert_close(gx, gx_r, msg=f"{isa} grad_input: ", **tol)
        assert_close(gw, gw_r, msg=f"{isa} grad_weight: ", **tol)
        assert_close(gb, gb_r, msg=f"{isa} grad_bias: ", **tol)


@pytest.mark.parametrize("shape", SHAPES[:3], ids=_ids)
def test_depthwise_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _operands(shape, np.float32, seed=1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(gy))
    y, gx, gw, gb, _ = _run(x, w, b, gy, **kw)
    for u, v in ((y, ty), (gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        assert_close(u, v.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [SHAPES[1], SHAPES[3], (5, 40, 7, 7, 3, 1, 1, 1)],
                         ids=_ids)
def test_depthwise_bitwise_one_vs_two_threads(shape):
    x, w, b, gy, kw, _ = _operands(shape, np.float32, seed=2)
    for isa in isa_paths():
        with use_isa(isa):
            with use_threads(1):
                a = _run(x, w, b, gy, **kw)
            with use_threads(2):
                c = _run(x, w, b, gy, **kw)
        for u, v in zip(a, c):
            assert np.array_equal(u, v), isa


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_gradcheck(stride):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((2, 3, 5, 6)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1, groups=3),
                     [x, w, b])
