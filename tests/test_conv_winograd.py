"""Winograd convolution, F(2×2, 3×3) and F(4×4, 3×3) (``FASTDL_WINOGRAD_TILE`` 2 / 4), forced
through ``fastdl.nn.functional.conv``: forward and input gradient against the NumPy reference
(float32 and float64, every ISA) and torch, odd map sizes, padding 0–3 (the input gradient's
crop), batch 1, channel counts that are not a multiple of the vector width, several chunks and
transform segments, gradcheck, bitwise 1 = 2 threads, the stated float32 accuracy, the
automatic choice and the tile setting's error."""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

TILES = ["2", "4"]

# (N, C, H, W, K, padding)
SHAPES = [
    (2, 5, 9, 8, 7, 1),      # odd output width, channels below one vector
    (1, 19, 7, 11, 21, 0),   # batch 1, no padding, channel tails (19, 21)
    (2, 3, 6, 5, 4, 2),      # padding 2: output larger than the input
    (1, 4, 5, 6, 3, 3),      # padding 3: the input gradient's convolution crops
    (3, 17, 4, 4, 33, 1),    # deep-layer form: one 4×4 output tile per image
    (1, 6, 1, 1, 2, 1),      # a 1×1 map
]
# several chunks (tile rows per chunk < rows) and several 16-tile transform segments per row
BIG = (3, 64, 9, 200, 64, 1)


@pytest.fixture
def tile(request, monkeypatch):
    monkeypatch.setenv("FASTDL_WINOGRAD_TILE", request.param)
    return request.param


def _ids(s):
    return "N{}C{}H{}W{}K{}p{}".format(*s)


@functools.lru_cache(maxsize=None)
def _operands(s, dt, seed=0):
    N, C, H, W, K, p = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C, 3, 3)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    y = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                     padding=p)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                               gy.astype(np.float64), padding=p)[0]
    return x, w, b, gy, y, gx


def _run(x, w, b, gy, p):
    xt = fastdl.tensor(x, requires_grad=True)
    y = F.conv2d(xt, fastdl.tensor(w), fastdl.tensor(b), padding=p)
    y.backward(fastdl.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy()


def _check(y, yref, dt, tile, msg):
    if dt == np.float64:
        assert_close(y, yref, rtol=1e-10, atol=1e-10, msg=msg)
    elif tile == "2":
        assert_close(y, yref, rtol=1e-4, atol=1e-4, msg=msg)
    else:  # F(4×4): the header's bound, relative to the largest output
        err = np.max(np.abs(y - yref)) / np.max(np.abs(yref))
        assert err < 2e-5, f"{msg}max |error| / max |y| = {err:.3g}"


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES + [BIG], ids=_ids)
def test_forward_and_input_grad_match_reference_every_isa(tile, dt, shape):
    x, w, b, gy, yref, gxref = _operands(shape, dt)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("winograd"):
            y, gx = _run(x, w, b, gy, shape[-1])
        assert y.dtype == dt and gx.dtype == dt
        _check(y, yref, dt, tile, f"F({tile}) {isa} forward: ")
        _check(gx, gxref, dt, tile, f"F({tile}) {isa} grad_input: ")


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES[:4], ids=_ids)
def test_matches_torch(tile, dt, shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, _, _ = _operands(shape, dt, seed=1)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=shape[-1])
    ty.backward(torch.tensor(gy))
    with fconv.conv_algorithm("winograd"):
        y, gx = _run(x, w, b, gy, shape[-1])
    _check(y, ty.detach().numpy().astype(np.float64), dt, tile, "forward: ")
    _check(gx, tx.grad.numpy().astype(np.float64), dt, tile, "grad_input: ")


@pytest.mark.parametrize("tile", TILES, indirect=True)
def test_bitwise_one_vs_two_threads(tile):
    x, w, b, gy, _, _ = _operands(BIG, np.float32, seed=2)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("winograd"):
            with use_threads(1):
                a = _run(x, w, b, gy, 1)
            with use_threads(2):
                c = _run(x, w, b, gy, 1)
        for u, v in zip(a, c):
            assert np.array_equal(u, v), isa


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_gradcheck(tile, padding):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((2, 3, 6, 7)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    with fconv.conv_algorithm("winograd"):
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=padding), [x, w, b])


@pytest.mark.parametrize("tile,C,bound", [("2", 64, 1e-6), ("2", 512, 2e-6),
                                          ("4", 64, 1e-5), ("4", 512, 2e-5)])
def test_stated_accuracy(monkeypatch, tile, C, bound):
    """The header's figures: float32, unit-normal x and w, 8×8 maps, padding 1, max |error| /
    max |y| against float64."""
    monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, C, 8, 8)).astype(np.float32)
    w = rng.standard_normal((16, C, 3, 3)).astype(np.float32)
    ref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), None, padding=1)
    with fconv.conv_algorithm("winograd"):
        y = F.conv2d(x, w, padding=1).numpy()
    assert np.max(np.abs(y - ref)) / np.max(np.abs(ref)) < bound


def test_automatic_choice_is_a_measured_rule(monkeypatch):
    with fconv.conv_algorithm("auto"):
        for tile in TILES:
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
            # never the weight gradient, never float64, never a strided or grouped layer
            for shape in [(32, 64, 32, 32), (32, 128, 16, 16), (32, 512, 4, 4)]:
                a = fconv.conv2d_algorithm(shape, (shape[1], shape[1], 3, 3), padding=1)
                assert a[2] != "winograd"
                d = fconv.conv2d_algorithm(shape, (shape[1], shape[1], 3, 3), padding=1,
                                           dtype=np.float64)
                assert "winograd" not in d
            s = fconv.conv2d_algorithm((32, 128, 16, 16), (128, 128, 3, 3), stride=2, padding=1)
            assert "winograd" not in s


def test_tile_setting_error(monkeypatch):
    monkeypatch.setenv("FASTDL_WINOGRAD_TILE", "3")
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((2, 2, 3, 3), np.float32)
    with fconv.conv_algorithm("winograd"):
        with pytest.raises(ValueError, match="FASTDL_WINOGRAD_TILE must be 2, 4 or auto, got '3'"):
            F.conv2d(x, w, padding=1)
