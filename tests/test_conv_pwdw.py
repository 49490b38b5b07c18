"""A 1×1 expansion fused into a depthwise convolution (``_C.conv2d_pw_dw_forward``;
``fastdl.optimize_for_inference`` on MobileNet's inverted residual block): against the
float64 reference of the two convolutions with their clamps on every ISA that has the fused
kernel, on NCHW and channels-last (NHWC) storage, bitwise 1 = 2 threads, NaN kept, argument
errors, and the module's fallbacks (grad mode, float64, too many input channels)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl import _C
from fastdl.testing import assert_close, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

# (N, Ci, C, H, W, kernel, stride, padding, dilation)
SHAPES = [
    (1, 16, 96, 28, 28, 3, 2, 1, 1),    # MobileNetV2's 16→96 s2 (smaller map)
    (2, 24, 40, 14, 14, 3, 1, 1, 1),    # stride 1, 40 channels: a 8-lane tail block
    (3, 5, 33, 10, 9, 3, 1, 1, 1),      # odd sizes, 33 channels
    (1, 7, 20, 9, 9, 3, 2, 1, 1),       # stride 2, odd map: the last input row unread
    (2, 8, 16, 11, 12, 5, 1, 2, 1),     # 5×5, padding 2
    (1, 4, 17, 12, 12, 3, 1, 2, 2),     # dilated
    (1, 1, 8, 6, 7, 3, 2, 0, 1),        # one input channel, no padding
    (1, 64, 24, 7, 7, 3, 1, 1, 1),      # the largest input depth the kernel takes
]
BOUNDS = [((0.0, 6.0), (0.0, 6.0)), ((0.0, np.inf), (-np.inf, np.inf)),
          ((0.25, 0.75), (-0.5, 0.5))]


def _ids(s):
    return "N{}Ci{}C{}H{}W{}k{}s{}p{}d{}".format(*s)


def _operands(s, dt=np.float32, seed=0):
    N, Ci, C, H, W, k, st, p, d = s
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, Ci, H, W)) * 2).astype(dt)
    w1 = rng.standard_normal((C, Ci, 1, 1)).astype(dt)
    b1 = rng.standard_normal(C).astype(dt)
    w2 = rng.standard_normal((C, 1, k, k)).astype(dt)
    b2 = rng.standard_normal(C).astype(dt)
    return x, w1, b1, w2, b2, (st, st, p, p, p, p, d, d)


def _ref(x, w1, b1, w2, b2, s, a1, a2):
    _, _, C, _, _, _, st, p, d = s
    f = [a.astype(np.float64) if a is not None else None for a in (x, w1, b1, w2, b2)]
    e = np.clip(R.conv2d_ref(f[0], f[1], f[2]), *a1)
    return np.clip(R.conv2d_ref(e, f[3], f[4], stride=st, padding=p, dilation=d, groups=C),
                   *a2)


def _fused(x, w1, b1, w2, b2, geo, a1, a2):
    return _C.conv2d_pw_dw_forward(x, w1, b1, w2, b2, *geo, *a1, *a2)


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_fused_matches_reference_every_isa(shape):
    x, w1, b1, w2, b2, geo = _operands(shape)
    ran = []
    for isa in isa_paths():
        with use_isa(isa):
            for a1, a2 in BOUNDS:
                for bias in (True, False):
                    bb1, bb2 = (b1, b2) if bias else (None, None)
                    y = _fused(x, w1, bb1, w2, bb2, geo, a1, a2)
                    if y is None:  # an ISA without the fused kernel (generic)
                        assert isa == "generic"
                        continue
                    ran.append(isa)
                    want = _ref(x, w1, bb1, w2, bb2, shape, a1, a2)
                    assert y.shape == want.shape and y.dtype == np.float32
                    assert_close(y, want, rtol=1e-4, atol=1e-4, msg=f"{isa} {a1} {a2}: ")
    assert ran or isa_paths() == ["generic"]


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_fused_channels_last_matches_nchw_every_isa(shape):
    """channels_last=True: the NHWC storage in, the NHWC output out, bitwise the NCHW kernel's
    values (the same sums in the same order)."""
    x, w1, b1, w2, b2, geo = _operands(shape, seed=3)
    xn = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    for isa in isa_paths():
        with use_isa(isa):
            for a1, a2 in BOUNDS:
                y = _fused(x, w1, b1, w2, b2, geo, a1, a2)
                yc = _C.conv2d_pw_dw_forward(xn, w1, b1, w2, b2, *geo, *a1, *a2,
                                             channels_last=True)
                if y is None:
                    assert yc is None and isa == "generic"
                    continue
                assert yc.shape == (y.shape[0], y.shape[2], y.shape[3], y.shape[1])
                assert np.array_equal(yc.transpose(0, 3, 1, 2), y), (isa, a1, a2)
    with pytest.raises(ValueError, match=r"the 1x1 weight must be \(C, 3, 1, 1\)"):
        _C.conv2d_pw_dw_forward(np.zeros((1, 6, 6, 3), np.float32), w1, b1, w2, b2, *geo,
                                channels_last=True)


@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2]], ids=_ids)
def test_fused_bitwise_one_and_two_threads(shape):
    x, w1, b1, w2, b2, geo = _operands(shape)
    x = np.concatenate([x] * 3)  # a few items per thread
    with use_threads(1):
        y1 = _fused(x, w1, b1, w2, b2, geo, (0.0, 6.0), (0.0, 6.0))
    with use_threads(2):
        y2 = _fused(x, w1, b1, w2, b2, geo, (0.0, 6.0), (0.0, 6.0))
    if y1 is not None:
        assert np.array_equal(y1, y2)


def test_fused_keeps_nan():
    x, w1, b1, w2, b2, geo = _operands(SHAPES[1])
    x[0, 3, 5, 5] = np.nan
    y = _fused(x, w1, b1, w2, b2, geo, (0.0, 6.0), (0.0, 6.0))
    if y is None:
        pytest.skip("no fused kernel on this machine's ISA")
    # a NaN input pixel reaches every channel's expansion at that pixel, then its 3×3
    # neighbourhood in the depthwise output
    assert np.isnan(y[0, :, 4:7, 4:7]).all()
    assert np.isnan(y).sum() == y.shape[1] * 9 and not np.isnan(y[1:]).any()


def test_too_deep_input_or_float64_returns_none():
    s = (1, 65, 16, 6, 6, 3, 1, 1, 1)
    x, w1, b1, w2, b2, geo = _operands(s)
    assert _fused(x, w1, b1, w2, b2, geo, (0.0, 6.0), (0.0, 6.0)) is None
    x, w1, b1, w2, b2, geo = _operands(SHAPES[1], np.float64)
    assert _fused(x, w1, b1, w2, b2, geo, (0.0, 6.0), (0.0, 6.0)) is None


def test_argument_errors():
    x, w1, b1, w2, b2, geo = _operands(SHAPES[1])
    a = (0.0, 6.0, 0.0, 6.0)
    with pytest.raises(ValueError, match="1x1 weight"):
        _C.conv2d_pw_dw_forward(x, w1[:, :-1].copy(), b1, w2, b2, *geo, *a)
    with pytest.raises(ValueError, match="depthwise weight|input channels"):
        _C.conv2d_pw_dw_forward(x, w1, b1, w2[:-1].copy(), b2, *geo, *a)
    with pytest.raises(ValueError, match="bias"):
        _C.conv2d_pw_dw_forward(x, w1, b1[:-1], w2, b2, *geo, *a)
    with pytest.raises(TypeError):
        _C.conv2d_pw_dw_forward(x, w1, b1, w2.astype(np.float64), b2, *geo, *a)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.conv2d_pw_dw_forward(x[:, :, :, ::2], w1, b1, w2, b2, *geo, *a)
    with pytest.raises(ValueError, match="act_lo"):
        _C.conv2d_pw_dw_forward(x, w1, b1, w2, b2, *geo, 1.0, 0.0, 0.0, 6.0)
    with pytest.raises(ValueError, match="stride"):
        _C.conv2d_pw_dw_forward(x, w1, b1, w2, b2, 0, 1, *geo[2:], *a)


def _block(rng, cin=8, hidden=24, stride=2):
    layers = [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
              nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
              nn.BatchNorm2d(hidden), nn.ReLU6(), nn.Conv2d(hidden, cin, 1, bias=False),
              nn.BatchNorm2d(cin)]
    m = nn.Sequential(*layers)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            k = mod.num_features
            mod.running_mean.data[...] = rng.standard_normal(k) * 0.1
            mod.running_var.data[...] = rng.uniform(0.5, 2.0, k)
            mod.weight.data[...] = rng.uniform(0.5, 1.5, k)
    return m.eval()


def test_optimize_for_inference_fuses_expansion_and_depthwise(rng):
    m = _block(rng)
    fast = fastdl.optimize_for_inference(m)
    kinds = [type(c).__name__ for c in fast.children()]
    assert kinds.count("_PwDw") == 1 and kinds.count("Conv2d") == 1
    pwdw = next(c for c in fast.children() if type(c).__name__ == "_PwDw")
    for n in (1, 3):
        x = fastdl.tensor((rng.standard_normal((n, 8, 15, 15)) * 2).astype(np.float32))
        with fastdl.no_grad():
            got = fast(x).numpy()
            want = m(x).numpy()
            two = pwdw.second(pwdw.first(x)).numpy()   # the modules the fused op replaces
            one = pwdw(x).numpy()
        assert_close(got, want, rtol=1e-4, atol=1e-4)
        assert_close(one, two, rtol=1e-5, atol=1e-5)
    # fallbacks: grad recorded, float64, unbatched input; a channels_last input runs the
    # fused kernel on its NHWC storage and gives a channels_last output
    xg = fastdl.tensor(rng.standard_normal((2, 8, 15, 15)).astype(np.float32),
                       requires_grad=True)
    y = fast(xg)
    y.sum().backward()
    assert xg.grad.shape == xg.shape
    with fastdl.no_grad():
        assert_close(y.detach().numpy(), fast(xg.detach()).numpy(), rtol=1e-5, atol=1e-5)
        x = fastdl.tensor(rng.standard_normal((2, 8, 15, 15)).astype(np.float32))
        ref = fast(x).numpy()
        xcl = x.contiguous(memory_format=fastdl.channels_last)
        ycl = pwdw(xcl)
        assert ycl.is_contiguous(memory_format=fastdl.channels_last)
        assert_close(ycl.numpy(), pwdw(x).numpy(), rtol=1e-6, atol=1e-6)
        assert_close(fast(xcl).numpy(), ref, rtol=1e-5, atol=1e-5)
        assert_close(fast(x[0]).numpy(), ref[0], rtol=1e-5, atol=1e-5)
    m64 = _block(rng).double()
    fast64 = fastdl.optimize_for_inference(m64)
    x64 = fastdl.tensor(rng.standard_normal((1, 8, 9, 9)))
    with fastdl.no_grad():
        assert_close(fast64(x64).numpy(), m64(x64).numpy(), rtol=1e-10, atol=1e-10)


def test_optimize_for_inference_leaves_hooked_or_unfit_pairs(rng):
    m = _block(rng)
    m[3].register_forward_hook(lambda *a: None)  # a hook on the depthwise conv
    fast = fastdl.optimize_for_inference(m)
    assert "_PwDw" not in [type(c).__name__ for c in fast.children()]
    m2 = nn.Sequential(nn.Conv2d(4, 8, 1), nn.Conv2d(8, 8, 3, padding=1, groups=4)).eval()
    assert "_PwDw" not in [type(c).__name__ for c in fastdl.optimize_for_inference(m2).children()]
    m3 = nn.Sequential(nn.Conv2d(4, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8))
    fast3 = fastdl.optimize_for_inference(m3.eval())  # no BatchNorm: the ReLU stays between
    assert "_PwDw" not in [type(c).__name__ for c in fast3.children()]
    m4 = nn.Sequential(nn.Conv2d(4, 8, 1), nn.Conv2d(8, 8, 3, padding=1, groups=8)).eval()
    fast4 = fastdl.optimize_for_inference(m4)  # plain convs, no activation: fused
    assert [type(c).__name__ for c in fast4.children()] == ["_PwDw", "Identity"]
    x = fastdl.tensor(rng.standard_normal((2, 4, 10, 10)).astype(np.float32))
    with fastdl.no_grad():
        assert_close(fast4(x).numpy(), m4(x).numpy(), rtol=1e-4, atol=1e-5)
