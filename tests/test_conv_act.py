"""The activation fused into the convolution forward (``_C.conv2d_forward`` /
``conv2d_forward_packed`` with ``act_lo``/``act_hi``; ``fastdl.optimize_for_inference``'s
conv + ReLU / ReLU6 / Hardtanh): on every forward path (each algorithm forced, the packed
plans, depthwise, 1×1, grouped) and every ISA, the fused result equals the unfused
convolution clamped afterwards, element for element, NaN kept; bad bounds are a ValueError."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, isa_paths, use_isa
from fastdl.testing import reference as R

# (N, C, H, W, K, kernel, stride, padding, groups) and what it reaches on AVX-512 float32
SHAPES = [
    (2, 8, 20, 20, 12, 1, 1, 0, 1),     # 1×1 batch: one GEMM, the bias pass
    (1, 16, 7, 7, 40, 1, 1, 0, 1),      # 1×1 batch 1, 49 pixels: Yᵀ = Xᵀ·Wᵀ (rows)
    (1, 12, 14, 13, 36, 1, 2, 0, 1),    # 1×1 stride 2
    (3, 5, 20, 20, 7, 3, 1, 1, 1),      # wide map: direct
    (2, 20, 30, 29, 70, 3, 2, 1, 1),    # stride 2: the strided kernel
    (1, 64, 4, 4, 40, 3, 1, 1, 1),      # small map batch 1: packed "rows"
    (2, 32, 4, 4, 20, 3, 1, 1, 1),      # batch of small maps: packed "col"
    (2, 16, 12, 12, 16, 3, 1, 1, 1),    # 3×3 stride 1: Winograd when chosen
    (2, 8, 6, 6, 10, 3, 1, 1, 2),       # grouped
    (2, 24, 40, 40, 24, 3, 1, 1, 24),   # depthwise, rows of 40: plane kernels (AVX-512)
    (2, 20, 9, 9, 20, 3, 2, 1, 20),     # depthwise stride 2: channel-blocked
    (1, 3, 33, 33, 8, 3, 2, 1, 1),      # a stem: 3 channels, stride 2
    (1, 3, 20, 64, 24, 3, 2, 1, 1),     # a stem on 32-pixel rows (the short-sum tile)
]
BOUNDS = [(0.0, np.inf), (0.0, 6.0), (-0.5, 0.7)]


def _ids(s):
    return "N{}C{}H{}W{}K{}k{}s{}p{}g{}".format(*s)


def _operands(s, dt=np.float32, seed=0):
    N, C, H, W, K, k, st, p, g = s
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C, H, W)) * 2).astype(dt)
    w = rng.standard_normal((K, C // g, k, k)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    return x, w, b, (st, st, p, p, p, p, 1, 1, g)


def _clamped(y, lo, hi):
    return np.minimum(np.maximum(y, lo), hi)  # NaN propagates, as the kernels keep it


@pytest.mark.parametrize("algo", ["auto", "direct", "gemm", "winograd"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_fused_act_equals_clamped_conv_every_path(algo, shape):
    x, w, b, geo = _operands(shape)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm(algo):
            for bias in (b, None):
                y = _C.conv2d_forward(x, w, bias, *geo)
                pk = _C.conv2d_pack_weight(x, w, *geo)
                for lo, hi in BOUNDS:
                    want = _clamped(y, lo, hi)
                    got = _C.conv2d_forward(x, w, bias, *geo, lo, hi)
                    assert np.array_equal(got, want), (isa, algo, lo, hi, bias is None)
                    if pk is not None:
                        yp = _C.conv2d_forward_packed(x, w, pk, bias, *geo)
                        gotp = _C.conv2d_forward_packed(x, w, pk, bias, *geo, act_lo=lo,
                                                        act_hi=hi)
                        assert np.array_equal(gotp, _clamped(yp, lo, hi)), (isa, algo, lo, hi)
    # and the values are the convolution's: against the float64 reference
    y64 = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                       stride=geo[0], padding=geo[2], groups=geo[-1])
    assert_close(_C.conv2d_forward(x, w, b, *geo, 0.0, 6.0), np.clip(y64, 0.0, 6.0),
                 rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[1], SHAPES[9], SHAPES[10], SHAPES[4]],
                         ids=_ids)
def test_fused_act_keeps_nan(shape):
    x, w, b, geo = _operands(shape)
    x[0, 0, 1, 1] = np.nan
    for isa in isa_paths():
        with use_isa(isa):
            y = _C.conv2d_forward(x, w, b, *geo)
            got = _C.conv2d_forward(x, w, b, *geo, 0.0, 6.0)
        assert np.isnan(y).any()
        assert np.array_equal(got, _clamped(y, 0.0, 6.0), equal_nan=True), isa
        assert np.array_equal(np.isnan(got), np.isnan(y)), isa


def test_fused_act_float64_and_errors():
    x, w, b, geo = _operands(SHAPES[3], np.float64)
    y = _C.conv2d_forward(x, w, b, *geo)
    assert np.array_equal(_C.conv2d_forward(x, w, b, *geo, -0.5, 0.7), _clamped(y, -0.5, 0.7))
    for lo, hi in ((1.0, 0.0), (np.nan, 1.0), (0.0, np.nan)):
        with pytest.raises(ValueError, match="act_lo"):
            _C.conv2d_forward(x, w, b, *geo, lo, hi)
    xf, wf, bf, _ = _operands(SHAPES[5])
    pk = _C.conv2d_pack_weight(xf, wf, *geo)
    with pytest.raises(ValueError, match="act_lo"):
        _C.conv2d_forward_packed(xf, wf, pk if pk is not None else wf.ravel(), bf, *geo,
                                 act_lo=2.0, act_hi=1.0)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6, lambda: nn.Hardtanh(-0.5, 0.7)])
@pytest.mark.parametrize("kind", ["pointwise", "depthwise", "strided", "small"])
def test_optimize_for_inference_fuses_act_into_the_kernel(act, kind, rng):
    C, H = (8, 20) if kind != "small" else (32, 4)
    conv = {"pointwise": nn.Conv2d(C, 16, 1), "depthwise": nn.Conv2d(C, C, 3, padding=1,
                                                                      groups=C),
            "strided": nn.Conv2d(C, 16, 3, stride=2, padding=1),
            "small": nn.Conv2d(C, 24, 3, padding=1)}[kind]
    k = conv.out_channels
    m = nn.Sequential(conv, nn.BatchNorm2d(k), act())
    m[1].running_mean.data[...] = rng.standard_normal(k)
    m[1].running_var.data[...] = rng.uniform(0.5, 2.0, k)
    m.eval()
    fast = fastdl.optimize_for_inference(m)
    assert type(fast[0]).__name__ == "_ConvAct"
    for n in (1, 3):
        x = fastdl.tensor((rng.standard_normal((n, C, H, H)) * 3).astype(np.float32))
        with fastdl.no_grad():
            got = fast(x).numpy()
            unfused = fast[0].conv(x).numpy()
            want = m(x).numpy()
        lo, hi = fast[0]._bounds
        assert np.array_equal(got, _clamped(unfused, lo, hi))
        assert_close(got, want, rtol=1e-4, atol=1e-5)
    # with grad mode on and an input that requires grad: the recorded op, then the clamp
    xg = fastdl.tensor(rng.standard_normal((2, C, H, H)).astype(np.float32),
                       requires_grad=True)
    y = fast(xg)
    y.sum().backward()
    assert xg.grad is not None and xg.grad.shape == xg.shape
    with fastdl.no_grad():
        assert_close(y.detach().numpy(), fast(xg.detach()).numpy(), rtol=1e-5, atol=1e-6)


def test_fused_act_module_with_hook_runs_the_module(rng):
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    fast = fastdl.optimize_for_inference(m)
    seen = []
    fast[0].conv.register_forward_hook(lambda mod, a, out: seen.append(out.shape))
    x = fastdl.tensor(rng.standard_normal((1, 3, 6, 6)).astype(np.float32))
    with fastdl.no_grad():
        got = fast(x).numpy()
    assert seen == [(1, 8, 6, 6)] and got.min() >= 0.0
    with fastdl.no_grad():
        assert_close(got, F.relu(m(x)).numpy(), rtol=1e-4, atol=1e-5)
