"""Memory formats: channels_last (NCHW shape over NHWC storage) and channels_last_3d through
contiguous / to / clone / is_contiguous / Module.to, strides as torch reports them, and
elementwise ops that keep the layout — against NumPy always and torch when installed."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.testing import assert_close, gradcheck

CL, CL3, CF, PF = (fastdl.channels_last, fastdl.channels_last_3d, fastdl.contiguous_format,
                   fastdl.preserve_format)


def _x(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _nhwc_strides(n, c, h, w):
    return (h * w * c, 1, w * c, c)


def test_channels_last_layout_and_values():
    a = _x(2, 3, 4, 5)
    t = fastdl.tensor(a).contiguous(memory_format=CL)
    assert t.shape == (2, 3, 4, 5) and t.stride() == _nhwc_strides(2, 3, 4, 5)
    assert t.is_contiguous(memory_format=CL) and not t.is_contiguous()
    assert_close(t, a, rtol=0, atol=0)
    # the storage really is NHWC: the NumPy view in NHWC order is C-contiguous
    assert t.numpy().transpose(0, 2, 3, 1).flags.c_contiguous
    back = t.contiguous()
    assert back.is_contiguous() and back.stride() == (60, 20, 5, 1)
    assert_close(back, a, rtol=0, atol=0)
    assert t.contiguous(memory_format=CL) is t  # already in the format: no copy
    t3 = fastdl.tensor(_x(2, 3, 4, 5, 6)).contiguous(memory_format=CL3)
    assert t3.stride() == (360, 1, 90, 18, 3) and t3.is_contiguous(memory_format=CL3)


def test_strides_and_flags_match_torch():
    torch = pytest.importorskip("torch")
    cases = [(2, 3, 4, 5), (2, 1, 4, 5), (2, 3, 1, 1), (1, 3, 4, 1)]
    for shape in cases:
        a = _x(*shape)
        for fmt_f, fmt_t in ((CL, torch.channels_last), (CF, torch.contiguous_format)):
            t = fastdl.tensor(a).contiguous(memory_format=fmt_f)
            r = torch.from_numpy(a).contiguous(memory_format=fmt_t)
            assert t.stride() == r.stride(), (shape, fmt_f)
            for q_f, q_t in ((CL, torch.channels_last), (CF, torch.contiguous_format)):
                assert t.is_contiguous(memory_format=q_f) == \
                    r.is_contiguous(memory_format=q_t), (shape, fmt_f, q_f)
    assert fastdl.zeros(0, 3, 2, 2).stride() == torch.zeros(0, 3, 2, 2).stride()
    # a 2-D tensor is never channels_last; asking to convert it is torch's RuntimeError
    assert not fastdl.zeros(3, 4).is_contiguous(memory_format=CL)
    with pytest.raises(RuntimeError, match="rank 4"):
        fastdl.zeros(3, 4).contiguous(memory_format=CL)
    with pytest.raises(RuntimeError, match="rank 4"):
        fastdl.zeros(3, 4).to(memory_format=CL)
    with pytest.raises(RuntimeError, match="preserve memory format"):
        fastdl.zeros(2, 3, 4, 5).contiguous(memory_format=PF)
    with pytest.raises(TypeError, match="memory_format"):
        fastdl.zeros(2, 3, 4, 5).contiguous(memory_format="channels_last")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 16, 32, 32)])  # small and pool-sized
def test_elementwise_ops_keep_channels_last_as_torch(shape):
    torch = pytest.importorskip("torch")
    a, b = _x(*shape), _x(*shape, seed=1)
    bias = _x(shape[1], 1, 1, seed=2)
    x = fastdl.tensor(a).contiguous(memory_format=CL)
    y = fastdl.tensor(b).contiguous(memory_format=CL)
    xt = torch.from_numpy(a).contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(b).contiguous(memory_format=torch.channels_last)
    pairs = [(x + y, xt + yt), (x * 2.5, xt * 2.5), (x.exp(), xt.exp()), (-x, -xt),
             (x + fastdl.tensor(bias), xt + torch.from_numpy(bias)), (x.clone(), xt.clone()),
             (x.to(fastdl.float64), xt.to(torch.float64)),
             (x.clone(memory_format=CF), xt.clone(memory_format=torch.contiguous_format))]
    for i, (f, t) in enumerate(pairs):
        assert f.stride() == t.stride(), i
        assert_close(f, t.numpy(), rtol=1e-6, atol=1e-6)
    # the activation kernels take a C-order copy at their entry (values agree, layout is C)
    assert_close(x.relu(), xt.relu().numpy(), rtol=0, atol=0)


def test_to_memory_format():
    a = _x(2, 3, 4, 5)
    t = fastdl.tensor(a)
    c = t.to(memory_format=CL)
    assert c.is_contiguous(memory_format=CL) and c is not t
    assert c.to(memory_format=CL) is c
    d = t.to(fastdl.float64, memory_format=CL)
    assert d.dtype == fastdl.float64 and d.is_contiguous(memory_format=CL)
    assert_close(d, a.astype(np.float64), rtol=0, atol=0)
    assert t.to(memory_format=PF) is t


def test_to_channels_last_is_differentiable():
    x = fastdl.tensor(_x(2, 3, 3, 2, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda t: (t.contiguous(memory_format=CL) * 2).sin(), [x])
    assert gradcheck(lambda t: t.to(memory_format=CL).contiguous(), [x])


def test_module_to_channels_last_gives_the_same_outputs():
    fastdl.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 2, 1), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))
    x = fastdl.tensor(_x(2, 3, 8, 8))
    ref = net(x)
    ref.sum().backward()
    g_ref = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    net.to(memory_format=CL)
    w = net[0].weight
    assert w.is_contiguous(memory_format=CL) and w.stride() == (27, 1, 9, 3)
    assert net[5].weight.is_contiguous()  # 2-D parameters are untouched
    out = net(x.to(memory_format=CL))
    assert_close(out, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    for p, g in zip(net.parameters(), g_ref):
        assert_close(p.grad, g, rtol=1e-4, atol=1e-5)


def test_module_to_matches_torch_strides():
    torch = pytest.importorskip("torch")
    m = nn.Conv2d(3, 4, 3).to(memory_format=CL)
    r = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    assert m.weight.stride() == r.weight.stride() and m.bias.stride() == r.bias.stride()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int8, np.float16,
                                   np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 37, 9, 11), (1, 16, 4, 4), (2, 70, 3, 35),
                                   (2, 5, 3, 4, 6)], ids=str)
def test_layout_copies_both_ways_any_dtype(dtype, shape):
    """The C++ layout copy (16×16 register blocks for 4-byte elements on AVX-512, tiles
    otherwise; edges of every size) gives NumPy's values in both directions."""
    a = (np.random.default_rng(1).standard_normal(shape) * 50).astype(dtype)
    mf = CL if len(shape) == 4 else CL3
    t = fastdl.tensor(a).contiguous(memory_format=mf)
    assert t.is_contiguous(memory_format=mf)
    assert np.array_equal(t.numpy(), a)
    back = t.contiguous()
    assert back.is_contiguous() and np.array_equal(back.numpy(), a)


@pytest.mark.parametrize("shape", [(2, 1100, 37), (3, 49, 20), (1, 17, 16), (2, 513, 512),
                                   (1, 512, 511), (2, 37, 1100), (4, 3136, 64)], ids=str)
def test_layout_copy_kernel_tall_and_wide_every_isa(isa, shape):
    """The float32 kernel in both loop orders (more rows than columns: bands of 512 rows by
    column blocks; else rows first): several bands with tails, edges of every size."""
    from fastdl import _C
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    out = np.full((shape[0], shape[2], shape[1]), np.nan, np.float32)
    _C.tensorops_transpose(x, out)
    assert np.array_equal(out, x.transpose(0, 2, 1))


def test_layout_copy_kernel_other_element_sizes():
    """Element sizes without a typed tile (16-byte complex) copy byte by byte."""
    from fastdl import _C
    x = np.random.default_rng(2).standard_normal((3, 17, 40, 2)).view(np.complex128)[..., 0]
    out = np.empty((3, 40, 17), np.complex128)
    _C.tensorops_transpose(np.ascontiguousarray(x), out)
    assert np.array_equal(out, x.transpose(0, 2, 1))


def test_layout_copy_binding_errors():
    from fastdl import _C
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"needs out \(batch, c, r\)"):
        _C.tensorops_transpose(x, np.zeros((2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        _C.tensorops_transpose(x, np.zeros((2, 4, 3), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.tensorops_transpose(x.transpose(0, 2, 1), np.zeros((2, 3, 4), np.float32))
    ro = np.zeros((2, 4, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.tensorops_transpose(x, ro)


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like", "full_like",
                                "rand_like", "randn_like"])
def test_like_factories_preserve_memory_format(fn):
    """torch's ``memory_format=preserve_format`` default of the ``*_like`` factories: a
    channels-last input gives a channels-last result; an explicit format wins; a format of
    the wrong rank is torch's RuntimeError."""
    f = getattr(fastdl, fn)
    args = (2.5,) if fn == "full_like" else ()
    x = fastdl.tensor(_x(2, 3, 4, 5)).contiguous(memory_format=CL)
    x3 = fastdl.tensor(_x(2, 3, 2, 4, 5)).contiguous(memory_format=CL3)
    y = f(x, *args)
    assert y.shape == x.shape and y.is_contiguous(memory_format=CL) and not y.is_contiguous()
    assert f(x3, *args).is_contiguous(memory_format=CL3)
    assert f(x, *args, memory_format=CF).is_contiguous()
    assert f(fastdl.tensor(_x(2, 3, 4, 5)), *args, memory_format=CL).is_contiguous(
        memory_format=CL)
    if fn in ("zeros_like", "ones_like", "full_like"):
        assert np.all(y.numpy() == {"zeros_like": 0, "ones_like": 1, "full_like": 2.5}[fn])
    with pytest.raises(RuntimeError, match="rank 4"):
        f(fastdl.tensor(_x(2, 3, 4)), *args, memory_format=CL)
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(_x(2, 3, 4, 5)).contiguous(memory_format=torch.channels_last)
    assert getattr(torch, fn)(tx, *args).stride() == y.stride()
