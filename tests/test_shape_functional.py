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
