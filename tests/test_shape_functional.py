"""F.pad (every mode, negative constant pads), F.one_hot, F.normalize, F.cosine_similarity:
against NumPy / torch, gradcheck in float64, errors."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck

PADS = [(1, 2), (0, 3, 2, 1), (2, 2, 1, 0, 1, 1), (3, 0)]


def _np_pad(x, pad, mode, value=0.0):
    k = len(pad) // 2
    pairs = [(0, 0)] * (x.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in range(k)][::-1]
    npmode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}[mode]
    kw = dict(constant_values=value) if mode == "constant" else {}
    return np.pad(x, pairs, mode=npmode, **kw)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PADS)
def test_pad_matches_numpy_and_gradcheck(mode, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 6))
    y = F.pad(fastdl.tensor(x), pad, mode=mode, **({"value": 1.5} if mode == "constant" else {}))
    assert_close(y, _np_pad(x, pad, mode, 1.5), rtol=0, atol=0)
    xs = fastdl.tensor(x[:1, :2], requires_grad=True)
    gradcheck(lambda t: F.pad(t, pad, mode=mode), [xs])


def test_pad_negative_crops_and_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 7))
    y = F.pad(fastdl.tensor(x), (-1, 2, 0, -3))
    assert_close(y, np.pad(x, [(0, 0), (0, 0), (0, 0), (0, 2)])[:, :, :3, 1:], rtol=0, atol=0)
    gradcheck(lambda t: F.pad(t, (-1, 2, 0, -3), value=2.0),
              [fastdl.tensor(x[:1, :1], requires_grad=True)])
    torch = pytest.importorskip("torch")
    # (torch allows only some rank/padding combinations for the non-constant modes; fastdl
    # pads any trailing dimensions)
    for mode in ("constant", "reflect", "replicate", "circular"):
        for xx, pad in [(x, (1, 2, 2, 1)), (x[0], (3, 3)), (x[0], (2, 0, 1, 2))]:
            want = torch.nn.functional.pad(torch.from_numpy(xx), pad, mode=mode).numpy()
            assert_close(F.pad(xx, pad, mode=mode), want, rtol=0, atol=0, msg=mode)


def test_pad_errors():
    x = fastdl.tensor(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="less than the corresponding"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="more than once"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(ValueError, match="negative padding"):
        F.pad(x, (-1, 0), mode="replicate")
    with pytest.raises(ValueError, match="mode"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(ValueError, match="negative"):
        F.pad(x, (-2, -2))


def test_one_hot():
    idx = np.array([[0, 3], [2, 1]])
    out = F.one_hot(fastdl.tensor(idx), 5).numpy()
    assert out.dtype == np.int64 and out.shape == (2, 2, 5)
    assert np.array_equal(out, np.eye(5, dtype=np.int64)[idx])
    assert F.one_hot(fastdl.tensor(np.array([1, 0, 2]))).shape == (3, 3)
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(fastdl.tensor(np.array([0, 5])), 5)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(fastdl.tensor(np.array([-1])), 3)
    with pytest.raises(TypeError, match="index tensor"):
        F.one_hot(fastdl.tensor(np.array([0.0])), 3)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1)])
def test_normalize(p, dim):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5))
    x[1] = 0.0  # a zero row: the eps branch
    n = np.linalg.norm(x, ord=p, axis=dim, keepdims=True) if p != float("inf") else \
        np.abs(x).max(axis=dim, keepdims=True)
    assert_close(F.normalize(fastdl.tensor(x), p, dim), x / np.maximum(n, 1e-12), rtol=1e-12,
                 atol=1e-15)
    xg = fastdl.tensor(x + 0.01 * (x == 0) * np.arange(1, 6), requires_grad=True)  # no ties
    gradcheck(lambda t: F.normalize(t, p, dim), [xg])
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.normalize(torch.from_numpy(x), p, dim).numpy()
    assert_close(F.normalize(x, p, dim), want, rtol=1e-12, atol=1e-15)


def test_cosine_similarity():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((6, 8)), rng.standard_normal((1, 8))
    got = F.cosine_similarity(fastdl.tensor(a), fastdl.tensor(b), dim=1)
    want = (a @ b.T).ravel() / (np.linalg.norm(a, axis=1) * np.linalg.norm(b))
    assert_close(got, want, rtol=1e-12, atol=1e-14)
    gradcheck(lambda s, t: F.cosine_similarity(s, t, dim=1),
              [fastdl.tensor(a, requires_grad=True), fastdl.tensor(b, requires_grad=True)])
    torch = pytest.importorskip("torch")
    z = np.zeros((2, 8))
    want = torch.nn.functional.cosine_similarity(torch.from_numpy(z), torch.from_numpy(a[:2]),
                                                 dim=1).numpy()
    assert_close(F.cosine_similarity(z, a[:2], dim=1), want, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="broadcast"):
        F.cosine_similarity(a, rng.standard_normal((6, 7)))


def test_padding_layers_match_torch():
    torch = pytest.importorskip("torch")
    import fastdl.nn as nn
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 6))
    x3 = x[0]
    for name, args, inp in [("ZeroPad2d", (2,), x), ("ConstantPad2d", ((1, 0, 2, 1), 0.5), x),
                            ("ReflectionPad2d", ((1, 2, 3, 0),), x),
                            ("ReplicationPad2d", (2,), x), ("CircularPad2d", (1,), x),
                            ("ZeroPad1d", ((1, 3),), x3), ("ConstantPad1d", (2, -1.0), x3),
                            ("ReflectionPad1d", (2,), x3), ("ReplicationPad1d", ((0, 3),), x3),
                            ("CircularPad1d", (2,), x3)]:
        got = getattr(nn, name)(*args)(fastdl.tensor(inp))
        want = getattr(torch.nn, name)(*args)(torch.from_numpy(inp)).numpy()
        assert_close(got, want, rtol=0, atol=0, msg=name)
    a, b = x.reshape(6, 30), x[::-1].reshape(6, 30)
    want = torch.nn.CosineSimilarity(dim=1)(torch.from_numpy(a), torch.from_numpy(b.copy()))
    assert_close(nn.CosineSimilarity(dim=1)(a, b), want.numpy(), rtol=1e-12, atol=1e-14)


def test_padding_layer_errors():
    import fastdl.nn as nn
    with pytest.raises(ValueError, match="4-tuple"):
        nn.ZeroPad2d((1, 2))


INTERP = [((2, 3, 7), "nearest", None), ((2, 3, 7), "linear", False),
          ((2, 3, 7), "linear", True), ((1, 2, 5, 6), "nearest-exact", None),
          ((1, 2, 5, 6), "bilinear", False), ((1, 2, 5, 6), "bilinear", True),
          ((1, 2, 3, 4, 5), "trilinear", False), ((1, 2, 3, 4, 5), "nearest", None)]


@pytest.mark.parametrize("shape,mode,ac", INTERP)
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=1.7),
                                dict(scale_factor=0.6), "grow", "shrink"])
def test_interpolate_against_torch_and_gradcheck(shape, mode, ac, kw):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    if kw == "grow":
        kw = dict(size=tuple(2 * s - 1 for s in shape[2:]))
    elif kw == "shrink":
        kw = dict(size=tuple(max(1, s // 2) for s in shape[2:]))
    xs = fastdl.tensor(x[:1, :1], requires_grad=True)
    gradcheck(lambda t: F.interpolate(t, mode=mode, align_corners=ac, **kw), [xs])
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(x).requires_grad_(True)
    want = torch.nn.functional.interpolate(xt, mode=mode, align_corners=ac, **kw)
    g = rng.standard_normal(tuple(want.shape))
    want.backward(torch.from_numpy(g))
    t = fastdl.tensor(x, requires_grad=True)
    got = F.interpolate(t, mode=mode, align_corners=ac, **kw)
    (got * fastdl.tensor(g)).sum().backward()
    assert_close(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-13)
    assert_close(t.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_upsample_layers_and_errors():
    import fastdl.nn as nn
    x = fastdl.randn(1, 2, 3, 4)
    assert nn.Upsample(scale_factor=2, mode="bilinear")(x).shape == (1, 2, 6, 8)
    assert nn.UpsamplingNearest2d(size=(5, 5))(x).shape == (1, 2, 5, 5)
    y = nn.UpsamplingBilinear2d(size=(5, 7))(x).detach().numpy()
    assert_close(y, F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True),
                 rtol=0, atol=0)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="4-D input"):
        F.interpolate(fastdl.randn(1, 2, 3), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        F.interpolate(x, scale_factor=2, mode="lanczos")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, mode="area", align_corners=False)


UF = [((2, 3, 6, 7), 3, 1, 0, 1), ((2, 3, 6, 7), (2, 3), (2, 1), (1, 2), (2, 1)),
      ((3, 5, 5), 2, 1, 1, 2)]


@pytest.mark.parametrize("shape,k,d,p,s", UF)
def test_unfold_fold_against_torch_and_gradcheck(shape, k, d, p, s):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    cols = F.unfold(fastdl.tensor(x), k, d, p, s)
    gradcheck(lambda t: F.unfold(t, k, d, p, s), [fastdl.tensor(x[:1], requires_grad=True)])
    c = rng.standard_normal(tuple(cols.shape))
    gradcheck(lambda t: F.fold(t, shape[-2:], k, d, p, s),
              [fastdl.tensor(c[:1] if c.ndim == 3 else c, requires_grad=True)])
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    assert_close(cols, tf.unfold(torch.from_numpy(x), k, d, p, s).numpy(), rtol=0, atol=0)
    assert_close(F.fold(c, shape[-2:], k, d, p, s),
                 tf.fold(torch.from_numpy(c), shape[-2:], k, d, p, s).numpy(), rtol=1e-12,
                 atol=1e-13)
    import fastdl.nn as nn
    assert_close(nn.Unfold(k, d, p, s)(x), cols.numpy(), rtol=0, atol=0)


def test_unfold_fold_errors():
    with pytest.raises(ValueError, match="no sliding block"):
        F.unfold(fastdl.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="divisible"):
        F.fold(fastdl.randn(1, 5, 4), (4, 4), 2, stride=2)
    with pytest.raises(ValueError, match="number of sliding blocks"):
        F.fold(fastdl.randn(1, 4, 5), (4, 4), 2, stride=2)
