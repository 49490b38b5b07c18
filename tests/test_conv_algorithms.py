"""Every convolution algorithm (direct, batched im2col + GEMM, Winograd F(2×2, 3×3)), forced
through ``fastdl.nn.functional.conv``: against the NumPy reference and torch in float32 and
float64, on every ISA, bitwise 1 = 2 threads (chunk boundaries included), gradcheck, the
automatic choice and the override's errors."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

ALGOS = ["direct", "gemm", "winograd"]

# (N, C, H, W, K, kernel, stride, padding, dilation, groups)
SHAPES = [
    (3, 5, 9, 8, 7, 3, 1, 1, 1, 1),      # 3×3 stride 1: Winograd's shape (odd output width)
    (2, 4, 7, 7, 6, 3, 1, 0, 1, 1),      # 3×3 no padding (odd output size)
    (2, 3, 6, 6, 5, 3, 1, 2, 1, 1),      # padding 2 (output larger than the input)
    (3, 6, 11, 10, 8, 3, 2, 1, 1, 1),    # stride 2 (ResNet's down-sampling)
    (2, 8, 9, 9, 6, 1, 2, 0, 1, 1),      # 1×1 stride 2 (shortcut)
    (2, 6, 8, 9, 4, 3, 1, 1, 1, 2),      # grouped
    (2, 4, 9, 9, 5, 3, 1, 2, 2, 1),      # dilated
    (1, 16, 4, 4, 12, 3, 1, 1, 1, 1),    # deep-layer form: small map, more channels
    # >= 128 input channels per group: gemm's stride-1 input gradient runs as the forward
    # convolution of dY with the flipped filters (padding 1 → 1; 0 → 2; dilated, grouped)
    (2, 128, 5, 5, 4, 3, 1, 1, 1, 1),
    (2, 128, 6, 5, 3, 3, 1, 0, 1, 1),
    (2, 256, 4, 5, 4, 3, 1, 2, 2, 2),
    # OH·OW a multiple of every ISA's NR (32 at most): gemm writes the batch's output planes
    # in place in NCHW (the GEMM's C in per-image segments), the bias added after
    (3, 6, 8, 8, 10, 3, 1, 1, 1, 1),
    (2, 8, 8, 4, 6, 3, 1, 1, 1, 2),      # grouped: segments K·OH·OW apart, group offset
    (2, 4, 16, 15, 5, 3, 2, 1, 1, 1),    # stride 2: 8×8 output
    (2, 128, 8, 4, 4, 3, 1, 1, 1, 1),    # the input gradient as a forward, 8×4 output
    # one image of a grouped layer: whole groups per thread, each padding (stride 1) or
    # phase-copying (stride 2) its own channels
    (1, 12, 10, 11, 8, 3, 1, 1, 1, 4),
    (1, 12, 11, 13, 8, 3, 2, 1, 1, 4),
]


def _ids(s):
    return "N{}C{}H{}W{}K{}k{}s{}p{}d{}g{}".format(*s)


@functools.lru_cache(maxsize=None)
def _operands(s, dt, seed=0):
    N, C, H, W, K, k, st, p, d, g = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, k, k)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    kw = dict(stride=st, padding=p, dilation=d, groups=g)
    y = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    return x, w, b, gy, kw, y


@functools.lru_cache(maxsize=None)
def _backward_ref(shape, dt):
    x, w, b, gy, kw, _ = _operands(shape, dt)
    return R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                 gy.astype(np.float64), **kw)


def _run(x, w, b, gy, **kw):
    xt = fastdl.tensor(x, requires_grad=True)
    wt = fastdl.tensor(w, requires_grad=True)
    bt = fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_every_algorithm_matches_reference_every_isa(algo, dt, shape):
    x, w, b, gy, kw, yref = _operands(shape, dt)
    gx_r, gw_r, gb_r = _backward_ref(shape, dt)
    tol = _tol(dt)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm(algo):
            y, gx, gw, gb = _run(x, w, b, gy, **kw)
        assert y.dtype == dt
        assert_close(y, yref, msg=f"{algo} {isa} forward: ", **tol)
        assert_close(gx, gx_r, msg=f"{algo} {isa} grad_input: ", **tol)
        assert_close(gw, gw_r, msg=f"{algo} {isa} grad_weight: ", **tol)
        assert_close(gb, gb_r, msg=f"{algo} {isa} grad_bias: ", **tol)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES[:5], ids=_ids)
def test_every_algorithm_matches_torch(algo, dt, shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _operands(shape, dt, seed=1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(gy))
    with fconv.conv_algorithm(algo):
        y, gx, gw, gb = _run(x, w, b, gy, **kw)
    tol = _tol(dt)
    assert_close(y, ty.detach().numpy(), **tol)
    assert_close(gx, tx.grad.numpy(), **tol)
    assert_close(gw, tw.grad.numpy(), **tol)
    assert_close(gb, tb.grad.numpy(), **tol)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("shape", [
    (30, 3, 9, 9, 4, 3, 1, 1, 1, 1),     # 2430 columns: two GEMM chunks
    (45, 2, 9, 10, 3, 3, 1, 1, 1, 1),    # 1125 Winograd tiles: two chunks
    (7, 4, 19, 17, 6, 3, 2, 1, 1, 2),    # strided, grouped, odd sizes
    (35, 4, 8, 8, 6, 3, 1, 1, 1, 1),     # in-place output planes: chunks of 32 and 3 images
    (1, 15, 12, 11, 10, 3, 1, 1, 1, 5),  # one image, 5 groups: whole groups per thread
    (1, 15, 13, 12, 10, 3, 2, 1, 1, 5),  # the same, strided
], ids=_ids)
def test_bitwise_one_vs_two_threads(algo, shape):
    x, w, b, gy, kw, _ = _operands(shape, np.float32, seed=2)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm(algo):
            with use_threads(1):
                a = _run(x, w, b, gy, **kw)
            with use_threads(2):
                c = _run(x, w, b, gy, **kw)
        for u, v in zip(a, c):
            assert np.array_equal(u, v), (algo, isa)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("kw", [
    dict(stride=1, padding=1, dilation=1, groups=1),
    dict(stride=2, padding=(0, 1), dilation=1, groups=2),
    dict(stride=1, padding=0, dilation=2, groups=1),
])
def test_gradcheck_every_algorithm(algo, kw):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((1, 2, 6, 5)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((2, 2 // kw["groups"], 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(2), requires_grad=True)
    with fconv.conv_algorithm(algo):
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b])


def test_winograd_accuracy_against_float64():
    """The docstring's figure: float32 Winograd within the conv tests' tolerance of float64."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 64, 8, 8))
    w = rng.standard_normal((32, 64, 3, 3)) / 24
    ref = R.conv2d_ref(x, w, None, padding=1)
    with fconv.conv_algorithm("winograd"):
        y = F.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1).numpy()
    with fconv.conv_algorithm("direct"):
        yd = F.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1).numpy()
    err_w = np.max(np.abs(y - ref)) / np.max(np.abs(ref))
    err_d = np.max(np.abs(yd - ref)) / np.max(np.abs(ref))
    assert err_w < 1e-5
    assert err_w < 10 * err_d + 1e-7


def test_algorithm_choice_and_override():
    assert fconv.get_conv_algorithm() in ("auto", "direct", "gemm", "winograd")
    with fconv.conv_algorithm("gemm"):
        assert fconv.get_conv_algorithm() == "gemm"
        assert fconv.conv2d_algorithm((2, 4, 8, 8), (4, 4, 3, 3), padding=1) == ("gemm",) * 3
        # depthwise convolutions keep their own kernels
        assert fconv.conv2d_algorithm((2, 4, 8, 8), (4, 1, 3, 3), padding=1,
                                      groups=4) == ("direct",) * 3
    with fconv.conv_algorithm("winograd"):
        a = fconv.conv2d_algorithm((2, 4, 8, 8), (4, 4, 3, 3), padding=1)
        assert a == ("winograd",) * 3  # forward, input and weight gradient alike
        # 3×3 stride 2: the stride-2 tile for the forward and the weight gradient, the
        # automatic choice for the input gradient
        with fconv.conv_algorithm("auto"):
            auto = fconv.conv2d_algorithm((2, 4, 8, 8), (4, 4, 3, 3), stride=2, padding=1)
        assert fconv.conv2d_algorithm((2, 4, 8, 8), (4, 4, 3, 3), stride=2,
                                      padding=1) == ("winograd", auto[1], "winograd")
        # not a Winograd shape (5×5; 3×3 at strides (2, 1)): the automatic choice
        for wshape, stride in (((4, 4, 5, 5), 1), ((4, 4, 3, 3), (2, 1))):
            with fconv.conv_algorithm("auto"):
                auto = fconv.conv2d_algorithm((2, 4, 8, 8), wshape, stride=stride, padding=1)
            assert fconv.conv2d_algorithm((2, 4, 8, 8), wshape, stride=stride,
                                          padding=1) == auto
    with fconv.conv_algorithm("auto"):
        for a in fconv.conv2d_algorithm((32, 512, 4, 4), (512, 512, 3, 3), padding=1):
            assert a in ("direct", "gemm", "winograd")


def test_override_errors():
    with pytest.raises(ValueError, match="set_conv_algorithm: name must be one of"):
        fconv.set_conv_algorithm("fft")
    with pytest.raises(ValueError, match="conv2d_algorithm"):
        fconv.conv2d_algorithm((2, 4, 8, 8), (4, 3, 3, 3))
    env = dict(os.environ, FASTDL_CONV_ALGO="fft")
    r = subprocess.run([sys.executable, "-c", "import fastdl"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "unknown convolution algorithm 'fft'" in r.stderr
    env["FASTDL_CONV_ALGO"] = "gemm"
    r = subprocess.run([sys.executable, "-c", "from fastdl.nn.functional import conv; "
                        "print(conv.get_conv_algorithm())"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "gemm", r.stderr


# A thin weight gradient (C/groups·k·k <= 32: an RGB stem) over several GEMM chunks: its
# chunks' products run in fixed groups, one group per thread, the groups' sums added in order.
THIN_DW = [
    (20, 3, 32, 32, 8, 3, 1, 1, 1, 1),     # 1024 pixels an image: 10 chunks in 8 groups
    (40, 3, 12, 12, 16, 3, 1, 1, 1, 1),    # 3 chunks (the last one short)
    (9, 4, 16, 16, 8, 3, 1, 1, 1, 2),      # grouped: 2 channels a group, 2 chunks
    (12, 3, 31, 31, 8, 3, 2, 1, 1, 1),     # stride 2
    (10, 1, 40, 40, 5, 5, 1, 2, 1, 1),     # 5×5, one channel
]


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", THIN_DW, ids=_ids)
def test_thin_weight_gradient_in_groups(dt, shape):
    """Against the float64 reference on every ISA (the input gradient, computed chunk by chunk
    beside it, too), and bitwise the same on 1 and 2 threads."""
    x, w, b, gy, kw, yref = _operands(shape, dt, seed=3)
    gx_r, gw_r, gb_r = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                             gy.astype(np.float64), **kw)
    tol = _tol(dt)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("gemm"):
            with use_threads(1):
                a = _run(x, w, b, gy, **kw)
            with use_threads(2):
                c = _run(x, w, b, gy, **kw)
        for u, v in zip(a, c):
            assert np.array_equal(u, v), isa
        assert_close(a[1], gx_r, msg=f"{isa} grad_input: ", **tol)
        assert_close(a[2], gw_r, msg=f"{isa} grad_weight: ", **tol)
        assert_close(a[3], gb_r, msg=f"{isa} grad_bias: ", **tol)
