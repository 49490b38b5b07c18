"""Pooling: forward and backward against the NumPy reference (primary oracle) and torch,
gradcheck, output-size rule, NaN/-inf semantics, every ISA path, 1-vs-2-thread bitwise
equality, argument errors, and the layers (incl. Flatten)."""
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


@st.composite
def pool_cases(draw, dilation=True):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 10))
    n, c = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    dt = draw(st.sampled_from([np.float32, np.float64]))
    return dict(k=(kh, kw), s=(sh, sw), p=(ph, pw), d=(dh, dw), ceil_mode=ceil_mode,
                shape=(n, c, h, w), dt=dt, seed=draw(st.integers(0, 2**31)),
                cip=draw(st.booleans()), dov=draw(st.sampled_from([None, None, 1, 3, -2])))


def _x(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal(c["shape"]).astype(c["dt"])
    if x.size and rng.random() < 0.3:   # ties: max must pick the first
        x = np.round(x)
    return x, rng


@SETTINGS
@given(pool_cases())
def test_max_pool2d_matches_reference_every_isa(c):
    x, rng = _x(c)
    yr, ir = R.max_pool2d_ref(x, c["k"], c["s"], c["p"], c["d"], c["ceil_mode"])
    gy = rng.standard_normal(yr.shape).astype(c["dt"])
    gr = R.max_pool2d_backward_ref(gy, ir, *c["shape"][2:])
    for isa in isa_paths():
        with use_isa(isa):
            xt = fastdl.tensor(x, requires_grad=True)
            y, i = F.max_pool2d(xt, c["k"], c["s"], c["p"], c["d"], c["ceil_mode"], True)
            y.backward(fastdl.tensor(gy))
        assert_close(y, yr, rtol=0, atol=0, msg=f"{isa}: ")
        assert np.array_equal(i.numpy(), ir), isa
        assert_close(xt.grad, gr, msg=f"{isa} grad: ")


@SETTINGS
@given(pool_cases(dilation=False))
def test_avg_pool2d_matches_reference_every_isa(c):
    x, rng = _x(c)
    args = (c["k"], c["s"], c["p"], c["ceil_mode"], c["cip"], c["dov"])
    yr = R.avg_pool2d_ref(x, *args)
    gy = rng.standard_normal(yr.shape).astype(c["dt"])
    gr = R.avg_pool2d_backward_ref(gy, *c["shape"][2:], *args)
    for isa in isa_paths():
        with use_isa(isa):
            xt = fastdl.tensor(x, requires_grad=True)
            y = F.avg_pool2d(xt, *args)
            y.backward(fastdl.tensor(gy))
        assert_close(y, yr, msg=f"{isa}: ")
        assert_close(xt.grad, gr, msg=f"{isa} grad: ")


@settings(max_examples=40, deadline=None)
@given(pool_cases())
def test_pooling_matches_torch(c):
    torch = pytest.importorskip("torch")
    x, rng = _x(c)
    tx = torch.tensor(x)
    y, i = F.max_pool2d(x, c["k"], c["s"], c["p"], c["d"], c["ceil_mode"], True)
    yt, it = torch.nn.functional.max_pool2d(tx, c["k"], c["s"], c["p"], c["d"],
                                            c["ceil_mode"], True)
    assert_close(y, yt.numpy(), rtol=0, atol=0)
    inside = yt.numpy() > -np.inf   # PyTorch's index of an empty dilated window may lie outside
    assert np.array_equal(i.numpy()[inside], it.numpy()[inside])
    assert ((i.numpy() >= 0) & (i.numpy() < c["shape"][2] * c["shape"][3])).all()
    args = (c["k"], c["s"], c["p"], c["ceil_mode"], c["cip"], c["dov"])
    assert_close(F.avg_pool2d(x, *args), torch.nn.functional.avg_pool2d(tx, *args).numpy())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**31))
def test_adaptive_pooling_matches_reference_and_torch(h, w, oh, ow, dt, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w)).astype(dt)
    gy = rng.standard_normal((2, 3, oh, ow)).astype(dt)
    for isa in isa_paths():
        with use_isa(isa):
            xt = fastdl.tensor(x, requires_grad=True)
            y = F.adaptive_avg_pool2d(xt, (oh, ow))
            y.backward(fastdl.tensor(gy))
            assert_close(y, R.adaptive_avg_pool2d_ref(x, (oh, ow)))
            assert_close(xt.grad, R.adaptive_avg_pool2d_backward_ref(gy, h, w))
            xt = fastdl.tensor(x, requires_grad=True)
            y, i = F.adaptive_max_pool2d(xt, (oh, ow), return_indices=True)
            y.backward(fastdl.tensor(gy))
            yr, ir = R.adaptive_max_pool2d_ref(x, (oh, ow))
            assert_close(y, yr, rtol=0, atol=0)
            assert np.array_equal(i.numpy(), ir)
            assert_close(xt.grad, R.max_pool2d_backward_ref(gy, ir, h, w))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x)
    assert_close(F.adaptive_avg_pool2d(x, (oh, ow)),
                 torch.nn.functional.adaptive_avg_pool2d(tx, (oh, ow)).numpy())
    yt, it = torch.nn.functional.adaptive_max_pool2d(tx, (oh, ow), True)
    y, i = F.adaptive_max_pool2d(x, (oh, ow), True)
    assert_close(y, yt.numpy(), rtol=0, atol=0)
    assert np.array_equal(i.numpy(), it.numpy())


def test_pool_output_size_rule():
    assert F.pool_output_size(112, 2) == 56
    assert F.pool_output_size(112, 3, 2, 1, ceil_mode=True) == 57
    assert F.pool_output_size(6, 3, 2, ceil_mode=True) == 3
    assert F.pool_output_size(6, 3, 2) == 2
    assert F.pool_output_size(5, 2, 2, 1) == 3 and F.pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert F.pool_output_size((7, 8), (3, 2), None, (1, 0), (2, 1), True) == (3, 4)
    with pytest.raises(ValueError, match=r"floor\(\(1 \+ 2·0 − 1·\(2 − 1\) − 1\) / 2\) \+ 1"):
        F.pool_output_size(1, 2)
    for size in range(1, 12):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(k // 2 + 1):
                    for d in range(1, 3):
                        for cm in (False, True):
                            ref = R.pool_output_size_ref(size, k, s, p, d, cm)
                            if ref < 1:
                                with pytest.raises(ValueError):
                                    F.pool_output_size(size, k, s, p, d, cm)
                            else:
                                assert F.pool_output_size(size, k, s, p, d, cm) == ref
                                assert _C.pool_output_size(size, k, s, p, d, cm) == ref


def test_ceil_mode_divisor_excludes_overhang():
    # 1x1x1x5, kernel 3, stride 2, pad 1, ceil: windows [-1,2) [1,4) [3,6): the last
    # hangs 1 past the right padding (padded input is [-1, 6)), so its divisor is 3 not 3·...
    x = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    y = F.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True).numpy().ravel()
    assert np.allclose(y, [(0 + 1 + 2) / 3, (2 + 3 + 4) / 3, (4 + 5 + 0) / 3])
    x = np.arange(1.0, 7.0).reshape(1, 1, 1, 6)  # windows [-1,2) [1,4) [3,6) [5,8)->[5,7)
    y = F.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True).numpy().ravel()
    assert np.allclose(y, [3 / 3, 9 / 3, 15 / 3, 6 / 2])
    y = F.avg_pool2d(x, (1, 3), (1, 2), (0, 1), ceil_mode=True,
                     count_include_pad=False).numpy().ravel()
    assert np.allclose(y, [3 / 2, 9 / 3, 15 / 3, 6 / 1])


def test_max_pool_nan_and_neg_inf(isa):
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 2, 3] = 5.0
    x[0, 0, 3, 2] = np.nan
    y, i = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and i.numpy()[0, 0, 0, 0] == 1
    assert y.numpy()[0, 0, 0, 1] == -np.inf and i.numpy()[0, 0, 0, 1] == 2  # all -inf
    assert np.isnan(y.numpy()[0, 0, 1, 1]) and i.numpy()[0, 0, 1, 1] == 14
    assert y.numpy()[0, 0, 1, 0] == -np.inf and i.numpy()[0, 0, 1, 0] == 8
    y, i = F.max_pool2d(x, 3, 1, 1, return_indices=True)   # padding never wins
    assert (i.numpy() >= 0).all() and (i.numpy() < 16).all()
    ya, ia = F.adaptive_max_pool2d(x, 2, return_indices=True)
    assert np.array_equal(ia.numpy(), np.array([[[[1, 2], [8, 14]]]]))


@pytest.mark.parametrize("n,c", [(1, 3), (4, 5), (16, 4)])
def test_bitwise_one_vs_two_threads(isa, n, c, rng):
    x = rng.standard_normal((n, c, 23, 21)).astype(np.float32)
    outs = []
    for t in (1, 2):
        with use_threads(t):
            res = []
            for fn in (lambda z: F.max_pool2d(z, 3, 2, 1, ceil_mode=True),
                       lambda z: F.max_pool2d(z, 2),
                       lambda z: F.avg_pool2d(z, 3, 2, 1, ceil_mode=True),
                       lambda z: F.adaptive_avg_pool2d(z, 5),
                       lambda z: F.adaptive_max_pool2d(z, (4, 3))):
                xt = fastdl.tensor(x, requires_grad=True)
                y = fn(xt)
                (y * fastdl.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape)
                                   .astype(np.float32))).sum().backward()
                res += [y.detach().numpy(), xt.grad.numpy()]
            outs.append(res)
    for a, b in zip(*outs):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["max", "avg", "aavg", "amax"])
def test_gradcheck(name, rng):
    # distinct values keep max pooling differentiable at the test point
    x = fastdl.tensor(rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0 +
                      rng.uniform(0, 0.01, (2, 2, 7, 6)), requires_grad=True)
    fn = {"max": lambda t: F.max_pool2d(t, 3, 2, 1, 1, True),
          "avg": lambda t: F.avg_pool2d(t, (3, 2), (2, 1), 1, True, False),
          "aavg": lambda t: F.adaptive_avg_pool2d(t, (3, 4)),
          "amax": lambda t: F.adaptive_max_pool2d(t, (3, 4))}[name]
    assert gradcheck(fn, [x])


def test_unbatched_and_1d(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 9, 8)).astype(np.float32)
    tx = torch.tensor(x)
    assert_close(F.max_pool2d(x, 2), torch.nn.functional.max_pool2d(tx, 2).numpy())
    assert_close(F.avg_pool2d(x, 3, 2, 1, True), torch.nn.functional.avg_pool2d(tx, 3, 2, 1,
                                                                              True).numpy())
    assert_close(F.adaptive_avg_pool2d(x, (2, None)),
                 torch.nn.functional.adaptive_avg_pool2d(tx, (2, None)).numpy())
    x1 = rng.standard_normal((2, 3, 11)).astype(np.float32)
    t1 = torch.tensor(x1)
    y, i = F.max_pool1d(x1, 3, 2, 1, ceil_mode=True, return_indices=True)
    yt, it = torch.nn.functional.max_pool1d(t1, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert_close(y, yt.numpy())
    assert np.array_equal(i.numpy(), it.numpy())
    assert_close(F.avg_pool1d(x1, 3, 2, 1, True, False),
                 torch.nn.functional.avg_pool1d(t1, 3, 2, 1, True, False).numpy())
    xt = fastdl.tensor(x1, requires_grad=True)
    F.max_pool1d(xt, 2).sum().backward()
    assert xt.grad.shape == x1.shape and xt.grad.numpy().sum() == 2 * 3 * 5


@pytest.mark.parametrize("call,match", [
    (lambda x: F.max_pool2d(x, 3, padding=2), "half"),
    (lambda x: F.max_pool2d(x, 0), "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, stride=0), "stride"),
    (lambda x: F.max_pool2d(x, 2, padding=-1), "padding"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), "dilation"),
    (lambda x: F.max_pool2d(x, 7), "output size would be 0"),
    (lambda x: F.max_pool2d(x[0, 0], 2), "3-D"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.avg_pool2d(x, (2, 2, 2)), "kernel_size"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), "output_size"),
    (lambda x: F.adaptive_max_pool2d(x, (1, 2, 3)), "output_size"),
])
def test_bad_arguments(call, match):
    x = np.zeros((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x)


def test_binding_rejects_what_would_be_unsafe():
    x = np.zeros((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.max_pool2d(np.zeros((1, 2, 5, 10), np.float32)[..., ::2], 2, 2, 2, 2, 0, 0, 1, 1,
                      False, False)
    with pytest.raises(ValueError, match="half"):
        _C.max_pool2d(x, 2, 2, 2, 2, 2, 0, 1, 1, False, False)
    with pytest.raises(ValueError, match="too small"):
        _C.avg_pool2d(x, 6, 6, 1, 1, 0, 0, False, True, 0)
    with pytest.raises(IndexError, match="outside"):
        _C.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32),
                               np.full((1, 2, 2, 2), 25, np.int64), 5, 5)
    with pytest.raises(ValueError, match="does not match"):
        _C.avg_pool2d_backward(np.ones((1, 2, 3, 3), np.float32), 5, 5, 2, 2, 2, 2, 0, 0,
                               False, True, 0)
    with pytest.raises(TypeError):
        F.max_pool2d(x.astype(np.int32), 2)


def test_layers_and_flatten(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert fastdl.nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert fastdl.nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x).shape == (2, 3, 5, 5)
    y, i = fastdl.nn.MaxPool2d(2, return_indices=True)(x)
    assert i.dtype == np.int64
    assert_close(fastdl.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)(x),
                 R.avg_pool2d_ref(x, 3, 2, 1, True, False))
    assert fastdl.nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert fastdl.nn.AdaptiveMaxPool2d((2, 3))(x).shape == (2, 3, 2, 3)
    assert fastdl.nn.MaxPool1d(2)(x[:, :, 0]).shape == (2, 3, 4)
    assert fastdl.nn.AvgPool1d(2)(x[:, :, 0]).shape == (2, 3, 4)
    xt = fastdl.tensor(x, requires_grad=True)
    f = fastdl.nn.Flatten()(xt)
    assert f.shape == (2, 192)
    f.sum().backward()
    assert np.array_equal(xt.grad.numpy(), np.ones_like(x))
    assert fastdl.nn.Flatten(0, 2)(x).shape == (48, 8)
    assert fastdl.nn.Unflatten(1, (16, 12))(f).shape == (2, 16, 12)
    with pytest.raises(ValueError, match="multiply"):
        fastdl.nn.Unflatten(1, (5, 5))(f)
    # a LeNet-like stack trains end to end
    net = fastdl.nn.Sequential(fastdl.nn.Conv2d(1, 4, 5), fastdl.nn.MaxPool2d(2),
                               fastdl.nn.Flatten())
    out = net(rng.standard_normal((3, 1, 12, 12)).astype(np.float32))
    assert out.shape == (3, 64)
    out.sum().backward()
    assert net[0].weight.grad.shape == (4, 1, 5, 5)


@pytest.mark.parametrize("k,s,p,d,cm", [(2, 2, 0, 1, False), (3, 2, 1, 1, True),
                                        (3, 1, 1, 1, False), (2, 3, 1, 2, True),
                                        ((2, 3), (1, 2), (1, 1), (1, 2), False)])
def test_wide_rows_vector_paths(isa, k, s, p, d, cm, rng):
    # rows wide enough for full 16-lane vectors plus tails (stride 1: loads, stride 2:
    # permutes, stride 3: gathers), with ties, NaN and -inf among the values
    x = np.round(rng.standard_normal((2, 3, 9, 75)) * 2).astype(np.float32)
    x[0, 0, 3, 10:14] = np.nan
    x[1, 2, :, 40:60] = -np.inf
    yr, ir = R.max_pool2d_ref(x, k, s, p, d, cm)
    y, i = F.max_pool2d(x, k, s, p, d, cm, True)
    assert_close(y, yr, rtol=0, atol=0)
    assert np.array_equal(i.numpy(), ir)
    if d == 1:
        x2 = rng.standard_normal((2, 3, 9, 75)).astype(np.float32)
        for cip in (True, False):
            assert_close(F.avg_pool2d(x2, k, s, p, cm, cip),
                         R.avg_pool2d_ref(x2, k, s, p, cm, cip), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k,s,p,hw", [(2, 2, 0, (9, 75)), (3, 2, 0, (10, 72)),
                                      (3, 2, 0, (11, 112)), (2, 3, 0, (5, 67))])
def test_max_pool_values_outside_windows_never_leak(isa, k, s, p, hw, rng):
    # the vector path reads whole vectors past a row's last window column (into the next
    # row, unmasked, when the plane holds them): NaN and +inf in the columns and rows no
    # window covers must not reach any output or index
    h, w = hw
    x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
    yr0, _ = R.max_pool2d_ref(x, k, s, p, 1, False)
    oh, ow = yr0.shape[2:]
    last_c = (ow - 1) * s - p + k - 1    # last column / row any window reads
    last_r = (oh - 1) * s - p + k - 1
    x[:, :, :, last_c + 1:] = np.nan
    x[:, :, last_r + 1:, :] = np.inf
    assert last_c + 1 < w or last_r + 1 < h
    yr, ir = R.max_pool2d_ref(x, k, s, p, 1, False)
    assert np.array_equal(yr, yr0)
    y, i = F.max_pool2d(x, k, s, p, 1, False, True)
    assert_close(y, yr, rtol=0, atol=0)
    assert np.array_equal(i.numpy(), ir)
