"""The nn kernel families' fast paths — grid_sample (sample/), embedding_bag (embag/),
conv3d (conv3d/) — on every ISA path the machine has, in float32 and float64, against their
NumPy references and PyTorch; bitwise-identical results on 1 and 2 threads; gradcheck of the
new modes (5-D grid_sample, bicubic)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference.conv3d import conv3d_ref
from fastdl.testing.reference.embag import embedding_bag_ref
from fastdl.testing.reference.sample import grid_sample_ref
from nn_twin import torch_or_skip, twin

PADS = ["zeros", "border", "reflection"]


def _vol(rng, N=2, C=3, D=3, H=4, W=5, Do=2, Ho=3, Wo=4):
    return rng.standard_normal((N, C, D, H, W)), rng.uniform(-1.4, 1.4, (N, Do, Ho, Wo, 3))


def _img(rng, N=2, C=3, H=5, W=6, Ho=4, Wo=7):
    return rng.standard_normal((N, C, H, W)), rng.uniform(-1.4, 1.4, (N, Ho, Wo, 2))


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-5) if dt == np.float32 else dict(rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------ grid_sample
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", PADS)
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_5d_matches_reference_and_torch(mode, padding, ac, rng):
    x, grid = _vol(rng)
    ref = grid_sample_ref(x, grid, mode, padding, ac)
    for dt in (np.float64, np.float32):
        out = F.grid_sample(fastdl.tensor(x.astype(dt)), fastdl.tensor(grid.astype(dt)), mode,
                            padding, ac)
        assert out.shape == ref.shape
        assert_close(out.numpy(), ref, **_tol(dt))
    torch = torch_or_skip()
    twin(lambda a, g: F.grid_sample(a, g, mode, padding, ac),
         lambda a, g: torch.nn.functional.grid_sample(a, g, mode, padding, ac),
         [x, grid], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("padding", PADS)
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_bicubic_matches_reference_and_torch(padding, ac, rng):
    x, grid = _img(rng)
    ref = grid_sample_ref(x, grid, "bicubic", padding, ac)
    for dt in (np.float64, np.float32):
        out = F.grid_sample(fastdl.tensor(x.astype(dt)), fastdl.tensor(grid.astype(dt)),
                            "bicubic", padding, ac)
        assert_close(out.numpy(), ref, **_tol(dt))
    torch = torch_or_skip()
    twin(lambda a, g: F.grid_sample(a, g, "bicubic", padding, ac),
         lambda a, g: torch.nn.functional.grid_sample(a, g, "bicubic", padding, ac),
         [x, grid], rtol=1e-6, atol=1e-9)


def test_grid_sample_new_modes_gradcheck(rng):
    x, grid = _vol(rng, N=1, C=2, D=2, H=3, W=3, Do=1, Ho=2, Wo=2)
    for padding in PADS:
        gradcheck(lambda a, g: F.grid_sample(a, g, padding_mode=padding, align_corners=False),
                  [fastdl.tensor(x, requires_grad=True),
                   fastdl.tensor(grid * 0.9, requires_grad=True)])
    x, grid = _img(rng, N=1, C=2, H=4, W=4, Ho=2, Wo=3)
    for padding in PADS:
        for ac in (False, True):
            gradcheck(lambda a, g: F.grid_sample(a, g, "bicubic", padding, ac),
                      [fastdl.tensor(x, requires_grad=True),
                       fastdl.tensor(grid * 0.9, requires_grad=True)])
    with pytest.raises(ValueError, match="bicubic"):
        F.grid_sample(fastdl.tensor(_vol(rng)[0]), fastdl.tensor(_vol(rng)[1]), "bicubic")
    with pytest.raises(ValueError, match="grid must be"):
        F.grid_sample(fastdl.tensor(_vol(rng)[0]), fastdl.tensor(_img(rng)[1]))


@pytest.mark.parametrize("mode,dims", [("bilinear", 2), ("nearest", 2), ("bicubic", 2),
                                       ("bilinear", 3), ("nearest", 3)])
def test_grid_sample_every_isa_against_torch(isa, mode, dims, rng):
    torch = torch_or_skip()
    # more than one block of points (256) and more than one block of channels (16)
    if dims == 2:
        x, grid = _img(rng, N=2, C=19, H=9, W=11, Ho=13, Wo=23)
    else:
        x, grid = _vol(rng, N=2, C=18, D=4, H=5, W=6, Do=3, Ho=7, Wo=15)
    for dt, tol in ((np.float64, dict(rtol=1e-9, atol=1e-11)),
                    (np.float32, dict(rtol=2e-4, atol=2e-4))):
        for padding in PADS:
            twin(lambda a, g: F.grid_sample(a, g, mode, padding, False),
                 lambda a, g: torch.nn.functional.grid_sample(a, g, mode, padding, False),
                 [x.astype(dt), grid.astype(dt)], **tol)


@pytest.mark.parametrize("dims", [2, 3])
def test_grid_sample_threads_bitwise(dims, rng):
    x, grid = (_img(rng, N=2, C=20, H=12, W=12, Ho=20, Wo=20) if dims == 2 else
               _vol(rng, N=2, C=20, D=5, H=6, W=6, Do=4, Ho=5, Wo=20))
    go = rng.standard_normal(x.shape[:2] + grid.shape[1:-1]).astype(np.float32)
    res = []
    for n in (1, 2):
        with use_threads(n):
            a = fastdl.tensor(x.astype(np.float32), requires_grad=True)
            g = fastdl.tensor(grid.astype(np.float32), requires_grad=True)
            out = F.grid_sample(a, g, align_corners=True)
            (out * fastdl.tensor(go)).sum().backward()
            res.append((out.detach().numpy(), a.grad.numpy(), g.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)


@pytest.mark.parametrize("dims", [2, 3])
def test_grid_sample_non_finite_grid_matches_torch(dims, rng):
    """NaN / ±inf grid coordinates: NaN out under bilinear-zeros and bicubic, the clamp's
    value (NaN -> 0) under border and reflection, 0 for nearest-zeros — PyTorch's results."""
    torch = torch_or_skip()
    x, grid = _img(rng, N=1, C=2) if dims == 2 else _vol(rng, N=1, C=2)
    flat = grid.reshape(-1)
    flat[[0, 3, 7, 10]] = [np.nan, np.inf, -np.inf, np.nan]
    modes = ["bilinear", "nearest"] + (["bicubic"] if dims == 2 else [])
    for mode in modes:
        for padding in PADS:
            for ac in (False, True):
                out = F.grid_sample(fastdl.tensor(x), fastdl.tensor(grid), mode, padding, ac)
                want = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid),
                                                       mode, padding, ac)
                assert_close(out.numpy(), want.numpy(), rtol=1e-7, atol=1e-9,
                             msg=f"{mode}/{padding}/{ac}: ")


# ---------------------------------------------------------------------------- embedding_bag
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_every_isa(isa, mode, rng):
    n, D = 300, 37                          # D not a multiple of any vector width
    idx = rng.integers(0, n, 400)
    offs = np.sort(rng.choice(np.arange(1, 400), 60, replace=False))
    offs = np.concatenate([[0], offs])
    offs[5] = offs[4]                       # an empty bag
    w64 = rng.standard_normal((n, D))
    psw = rng.standard_normal(400) if mode == "sum" else None
    ref = embedding_bag_ref(w64, idx, offs, mode, psw)
    for dt in (np.float64, np.float32):
        out = F.embedding_bag(fastdl.tensor(idx), fastdl.tensor(w64.astype(dt)),
                              fastdl.tensor(offs), mode=mode,
                              per_sample_weights=None if psw is None else
                              fastdl.tensor(psw.astype(dt)))
        assert_close(out.numpy(), ref, **_tol(dt))
    torch = torch_or_skip()
    extra = [psw] if psw is not None else []
    twin(lambda w_, i, o, *p: F.embedding_bag(i, w_, o, mode=mode,
                                              per_sample_weights=p[0] if p else None),
         lambda w_, i, o, *p: torch.nn.functional.embedding_bag(
             i, w_, o, mode=mode, per_sample_weights=p[0] if p else None),
         [w64, idx, offs] + extra, rtol=1e-9, atol=1e-11)


def test_embedding_bag_threads_bitwise(rng):
    w = rng.standard_normal((500, 64)).astype(np.float32)
    idx = rng.integers(0, 500, 3000)
    offs = np.arange(0, 3000, 20)
    res = []
    for n in (1, 2):
        with use_threads(n):
            W = fastdl.tensor(w, requires_grad=True)
            out = F.embedding_bag(fastdl.tensor(idx), W, fastdl.tensor(offs), mode="mean")
            (out * out).sum().backward()
            res.append((out.detach().numpy(), W.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)


# ----------------------------------------------------------------------------------- conv3d
CONV3D = [dict(), dict(stride=2, padding=1), dict(stride=(1, 2, 3), padding=(2, 0, 1),
                                                  dilation=(2, 1, 2)), dict(groups=2),
          dict(padding="same", dilation=(1, 2, 1))]


@pytest.mark.parametrize("kw", CONV3D)
def test_conv3d_matches_reference(kw, rng):
    x = rng.standard_normal((2, 4, 5, 6, 7))
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 2, 3))
    b = rng.standard_normal(6)
    if kw.get("padding") == "same":    # d·(k − 1) = (2, 2, 2): one on each side
        ref = conv3d_ref(x, w, b, padding=1, dilation=kw["dilation"])
        assert ref.shape[2:] == x.shape[2:]
    else:
        ref = conv3d_ref(x, w, b, **kw)
    for dt in (np.float64, np.float32):
        out = F.conv3d(fastdl.tensor(x.astype(dt)), fastdl.tensor(w.astype(dt)),
                       fastdl.tensor(b.astype(dt)), **kw)
        assert_close(out.numpy(), ref, **_tol(dt))


@pytest.mark.parametrize("kw", CONV3D)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_every_isa_against_torch(isa, kw, rng):
    torch = torch_or_skip()
    x = rng.standard_normal((2, 4, 5, 6, 7))
    w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 2, 3))
    b = rng.standard_normal(6)
    for dt, tol in ((np.float64, dict(rtol=1e-9, atol=1e-10)),
                    (np.float32, dict(rtol=2e-4, atol=2e-4))):
        twin(lambda a, c, e: F.conv3d(a, c, e, **kw),
             lambda a, c, e: torch.nn.functional.conv3d(a, c, e, **kw),
             [x.astype(dt), w.astype(dt), b.astype(dt)], **tol)


def test_conv3d_tiled_and_chunked_against_torch(rng):
    """Column matrices over 1 MB: one output-depth plane per tile, several weight-gradient
    chunks summed in order; and bitwise the same on 1 and 2 threads."""
    torch = torch_or_skip()
    x = rng.standard_normal((2, 8, 4, 32, 32))
    w = rng.standard_normal((4, 8, 3, 3, 3)) * 0.1
    twin(lambda a, c: F.conv3d(a, c, padding=1),
         lambda a, c: torch.nn.functional.conv3d(a, c, padding=1),
         [x.astype(np.float32), w.astype(np.float32)], rtol=2e-4, atol=2e-4)
    res = []
    for n in (1, 2):
        with use_threads(n):
            a = fastdl.tensor(x.astype(np.float32), requires_grad=True)
            c = fastdl.tensor(w.astype(np.float32), requires_grad=True)
            out = F.conv3d(a, c, padding=1)
            (out * out).sum().backward()
            res.append((out.detach().numpy(), a.grad.numpy(), c.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)


def test_conv3d_gradcheck_and_errors(rng):
    x = fastdl.tensor(rng.standard_normal((2, 2, 3, 3, 4)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 1, 2, 2, 2)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    gradcheck(lambda a, c, e: F.conv3d(a, c, e, stride=(1, 2, 1), padding=(1, 0, 1),
                                       dilation=(1, 1, 2), groups=2), [x, w, b])
    with pytest.raises(ValueError, match="smaller than"):
        F.conv3d(fastdl.randn(1, 2, 2, 2, 2), fastdl.randn(1, 2, 3, 3, 3))
    with pytest.raises(ValueError, match="groups"):
        F.conv3d(fastdl.randn(1, 4, 4, 4, 4), fastdl.randn(3, 2, 1, 1, 1), groups=2)
    with pytest.raises(ValueError, match="padding"):
        F.conv3d(fastdl.randn(1, 2, 4, 4, 4), fastdl.randn(1, 2, 1, 1, 1), padding=-1)
