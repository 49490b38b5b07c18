"""Winograd convolution, F(2×2, 3×3) and F(4×4, 3×3) (``FASTDL_WINOGRAD_TILE`` 2 / 4 / auto),
forced through ``fastdl.nn.functional.conv``: forward, input gradient and weight gradient
against the NumPy reference (float32 and float64, every ISA) and torch, odd map sizes, padding
0–3 (the input gradient's crop), batch 1, 1×1 maps, channel counts that are not a multiple of
the vector width or of the micro-kernel's rows, several blocks of tiles and transform segments,
gradcheck, bitwise 1 = 2 threads, channels_last, the stated float32 accuracy, the automatic
rule and tile, the tile setting's error, grouped layers (group by group, in turn or shared
out among the threads), and the stride-2 tile (the forward and the weight gradient of 3×3
stride-2 layers)."""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, gradcheck, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

TILES = ["2", "4", "auto"]

# (N, C, H, W, K, padding)
SHAPES = [
    (2, 5, 9, 8, 7, 1),      # odd output width, channels below one vector
    (1, 19, 7, 11, 21, 0),   # batch 1, no padding, channel tails (19, 21)
    (2, 3, 6, 5, 4, 2),      # padding 2: output larger than the input
    (1, 4, 5, 6, 3, 3),      # padding 3: the input gradient's convolution crops
    (3, 17, 4, 4, 33, 1),    # deep-layer form: one 4×4 output tile per image
    (1, 6, 1, 1, 2, 1),      # a 1×1 map
    (2, 40, 33, 30, 36, 1),  # the weight gradient's blocks of tiles, with channel tails
]
# several blocks of tiles (a block ending inside a tile row) and several 16-tile transform
# segments per tile row; an odd number of blocks in the forward and input gradient (at 2
# threads the last is split into slices of produced channels), and with F(2×2) a weight
# gradient of 11 blocks in 8 chunks of 1 or 2 blocks (the longer chunks handed out first)
BIG = (3, 64, 9, 200, 64, 1)
# few blocks of tiles and 128 or more channels each way: at 2 threads each block's produced
# channels are split into slices that share one input transform (forward and input gradient)
WIDE = (1, 130, 10, 11, 136, 1)
# batch 1, a 14×13 map (16 tiles of F(4×4)) and over 256 produced channels: one block of
# tiles, its produced channels split into one slice per panel (the filters read once)
FEW = (1, 136, 14, 13, 264, 1)
# the automatic tile: F(4×4) when the pass sums over <= 256 channels
AUTO_F4_MAX = 256


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
    gx, gw, _ = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                      gy.astype(np.float64), padding=p)
    return x, w, b, gy, y, gx, gw


def _run(x, w, b, gy, p):
    """(y, grad_input, grad_weight) of conv2d with grad_output gy."""
    xt, wt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, fastdl.tensor(b), padding=p)
    y.backward(fastdl.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def _check(y, yref, dt, tile, msg):
    if dt == np.float64:
        assert_close(y, yref, rtol=1e-10, atol=1e-10, msg=msg)
    elif tile == "2":
        assert_close(y, yref, rtol=1e-4, atol=1e-4, msg=msg)
    else:  # F(4×4) (or auto, which may pick it): the docstring's bound, relative to max |y|
        err = np.max(np.abs(y - yref)) / np.max(np.abs(yref))
        assert err < 1e-5, f"{msg}max |error| / max |y| = {err:.3g}"


def _check_dw(gw, gwref, dt, msg):
    """The weight gradient sums N·OH·OW products: float32 relative to max |dW| (the docstring's
    figures are 2.6e-7 to 1.7e-6), float64 to rounding."""
    err = np.max(np.abs(gw - gwref)) / np.max(np.abs(gwref))
    assert err < (1e-12 if dt == np.float64 else 5e-6), f"{msg}max |error| / max |dW| = {err:.3g}"


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES + [BIG, WIDE, FEW], ids=_ids)
def test_forward_and_gradients_match_reference_every_isa(tile, dt, shape):
    x, w, b, gy, yref, gxref, gwref = _operands(shape, dt)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("winograd"):
            assert fconv.conv2d_algorithm(x.shape, w.shape, padding=shape[-1],
                                          dtype=dt) == ("winograd",) * 3
            y, gx, gw = _run(x, w, b, gy, shape[-1])
        assert y.dtype == dt and gx.dtype == dt and gw.dtype == dt
        _check(y, yref, dt, tile, f"F({tile}) {isa} forward: ")
        _check(gx, gxref, dt, tile, f"F({tile}) {isa} grad_input: ")
        _check_dw(gw, gwref, dt, f"F({tile}) {isa} grad_weight: ")


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_matches_torch(tile, dt, shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy = _operands(shape, dt, seed=1)[:4]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=shape[-1])
    ty.backward(torch.tensor(gy))
    with fconv.conv_algorithm("winograd"):
        y, gx, gw = _run(x, w, b, gy, shape[-1])
    _check(y, ty.detach().numpy().astype(np.float64), dt, tile, "forward: ")
    _check(gx, tx.grad.numpy().astype(np.float64), dt, tile, "grad_input: ")
    _check_dw(gw, tw.grad.numpy().astype(np.float64), dt, "grad_weight: ")


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("shape", [BIG, WIDE, FEW], ids=_ids)
def test_bitwise_one_vs_two_threads(tile, shape):
    x, w, b, gy = _operands(shape, np.float32, seed=2)[:4]
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


# conv_algorithm's docstring: measured F(2×2) / F(4×4) 2.5e-7 / 7.6e-7 (C = 32), 3.2e-7 /
# 1.4e-6 (64), 4.7e-7 / 1.7e-6 (128), 4.9e-7 / 1.7e-6 (256), 7.4e-7 / 2.9e-6 (512) forward;
# 2.3e-7 / 7.7e-7, 3.3e-7 / 1.2e-6, 3.4e-7 / 1.4e-6, 5.3e-7 / 2.3e-6, 6.6e-7 / 2.7e-6 input
@pytest.mark.parametrize("tile,C,bound", [("2", 32, 5e-7), ("4", 32, 1.5e-6),
                                          ("2", 64, 8e-7), ("4", 64, 3e-6),
                                          ("2", 128, 1e-6), ("4", 128, 3.5e-6),
                                          ("2", 256, 1e-6), ("4", 256, 4.5e-6),
                                          ("2", 512, 1.5e-6), ("4", 512, 6e-6)])
def test_stated_accuracy(monkeypatch, tile, C, bound):
    """float32 against float64, unit-normal data, max |error| / max |y|: the forward of a
    (2, C, 8, 8) input with 16 filters, and the input gradient of a C-channel sum (16 input
    channels, C filters), padding 1."""
    monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, C, 8, 8)).astype(np.float32)
    w = rng.standard_normal((16, C, 3, 3)).astype(np.float32)
    ref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), None, padding=1)
    w2 = rng.standard_normal((C, 16, 3, 3)).astype(np.float32)
    x2 = rng.standard_normal((2, 16, 8, 8)).astype(np.float32)
    gy2 = rng.standard_normal((2, C, 8, 8)).astype(np.float32)
    gref = R.conv2d_backward_ref(x2.astype(np.float64), w2.astype(np.float64),
                                 gy2.astype(np.float64), padding=1)[0]
    with fconv.conv_algorithm("winograd"):
        y = F.conv2d(x, w, padding=1).numpy()
        xt = fastdl.tensor(x2, requires_grad=True)
        F.conv2d(xt, fastdl.tensor(w2), padding=1).backward(fastdl.tensor(gy2))
    assert np.max(np.abs(y - ref)) / np.max(np.abs(ref)) < bound
    g = xt.grad.numpy()
    assert np.max(np.abs(g - gref)) / np.max(np.abs(gref)) < bound


# conv_algorithm's docstring, weight gradient (16 → 16 channels, padding 1): measured
# 2.6e-7 / 1.0e-6 (2×8²), 5.2e-7 / 1.3e-6 (8×32²), 8.7e-7 / 1.7e-6 (32×32²)
@pytest.mark.parametrize("tile,N,H,bound", [("2", 2, 8, 5e-7), ("4", 2, 8, 2e-6),
                                            ("2", 8, 32, 1e-6), ("4", 8, 32, 2.5e-6),
                                            ("2", 32, 32, 1.5e-6), ("4", 32, 32, 3e-6)])
def test_stated_weight_grad_accuracy(monkeypatch, tile, N, H, bound):
    """float32 against float64, unit-normal x and grad_output, max |error| / max |dW|: the
    weight gradient of a (N, 16, H, H) input with 16 filters, padding 1 (a sum over the
    N·H·H output pixels, in blocks of tiles)."""
    monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, 16, H, H)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((N, 16, H, H)).astype(np.float32)
    ref = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                gy.astype(np.float64), padding=1)[1]
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("winograd"):
            gw = _C.conv2d_backward(x, w, gy, 1, 1, 1, 1, 1, 1, 1, 1, 1, False, True, False)[1]
        err = np.max(np.abs(gw - ref)) / np.max(np.abs(ref))
        assert err < bound, (isa, err)


@pytest.mark.parametrize("summed", [AUTO_F4_MAX, AUTO_F4_MAX + 1])
def test_auto_tile_is_f4_up_to_256_summed_channels(monkeypatch, summed):
    """The automatic tile gives bitwise the forced tile's result: F(4×4) when the pass sums
    over <= 256 channels (forward: input channels; input gradient: output channels)."""
    want = "4" if summed <= AUTO_F4_MAX else "2"
    other = 24  # the channels the pass does not sum over
    rng = np.random.default_rng(5)
    for C, K, grad in ((summed, other, False), (other, summed, True)):
        x = rng.standard_normal((2, C, 10, 9)).astype(np.float32)
        w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((2, K, 10, 9)).astype(np.float32)
        got = {}
        for tile in ("auto", "2", "4"):
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
            with fconv.conv_algorithm("winograd"):
                got[tile] = (_C.conv2d_backward(x, w, gy, 1, 1, 1, 1, 1, 1, 1, 1, 1, True,
                                                False, False)[0] if grad else
                             _C.conv2d_forward(x, w, None, 1, 1, 1, 1, 1, 1, 1, 1, 1))
        assert np.array_equal(got["auto"], got[want]), (C, K, grad)
        assert not np.array_equal(got["auto"], got["2" if want == "4" else "4"]), (C, K, grad)


def test_auto_tile_of_weight_grad(monkeypatch):
    """The weight gradient's automatic tile is F(4×4) when both channel counts are <= 256,
    else F(2×2): bitwise the forced tile's result."""
    rng = np.random.default_rng(8)
    for C, K in ((8, 24), (40, 36), (AUTO_F4_MAX + 1, 8), (8, AUTO_F4_MAX + 1)):
        want = "4" if max(C, K) <= AUTO_F4_MAX else "2"
        x = rng.standard_normal((2, C, 10, 9)).astype(np.float32)
        w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
        gy = rng.standard_normal((2, K, 10, 9)).astype(np.float32)
        got = {}
        for tile in ("auto", "2", "4"):
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
            with fconv.conv_algorithm("winograd"):
                got[tile] = _C.conv2d_backward(x, w, gy, 1, 1, 1, 1, 1, 1, 1, 1, 1, False, True,
                                               False)[1]
        assert np.array_equal(got["auto"], got[want]), (C, K)
        assert not np.array_equal(got["auto"], got["2" if want == "4" else "4"]), (C, K)


@pytest.mark.parametrize("tile", TILES, indirect=True)
def test_channels_last_matches_nchw(tile):
    x, w, b, gy = _operands(SHAPES[0], np.float32, seed=6)[:4]
    with fconv.conv_algorithm("winograd"):
        y, gx, _ = _run(x, w, b, gy, 1)
        xt = fastdl.tensor(x).contiguous(memory_format=fastdl.channels_last).requires_grad_()
        yc = F.conv2d(xt, fastdl.tensor(w), fastdl.tensor(b), padding=1)
        yc.backward(fastdl.tensor(gy))
    assert_close(yc.detach().numpy(), y, rtol=1e-5, atol=1e-5)
    assert_close(xt.grad.numpy(), gx, rtol=1e-5, atol=1e-5)


def test_automatic_choice_is_a_measured_rule(monkeypatch):
    with fconv.conv_algorithm("auto"):
        for tile in TILES:
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", tile)
            # the ResNet/VGG layers of batch 32 (and ResNet-50's of batch 8) take Winograd for
            # all three passes, never in float64; strided layers the forward (and from
            # 128·256 channel pairs the weight gradient) by the stride-2 tile
            # (tests/test_conv_strided.py holds its rule)
            for shape in [(32, 64, 32, 32), (32, 128, 16, 16), (32, 512, 4, 4),
                          (32, 512, 2, 2), (8, 512, 7, 7), (8, 64, 56, 56)]:
                a = fconv.conv2d_algorithm(shape, (shape[1], shape[1], 3, 3), padding=1)
                assert a == ("winograd",) * 3, (shape, a)
                d = fconv.conv2d_algorithm(shape, (shape[1], shape[1], 3, 3), padding=1,
                                           dtype=np.float64)
                assert "winograd" not in d
            s = fconv.conv2d_algorithm((32, 128, 16, 16), (128, 128, 3, 3), stride=2, padding=1)
            assert s[0] == "winograd" and "winograd" not in s[1:]
            # too few output pixels (the filter transform is not amortised), too few channels
            assert "winograd" not in fconv.conv2d_algorithm((1, 512, 4, 4), (512, 512, 3, 3),
                                                            padding=1)
            assert "winograd" not in fconv.conv2d_algorithm((32, 3, 32, 32), (64, 3, 3, 3),
                                                            padding=1)
            assert "winograd" not in fconv.conv2d_algorithm((8, 32, 32, 32), (16, 32, 3, 3),
                                                            padding=1)
            # the thresholds: 128 output pixels for the forward and the weight gradient, 96
            # input pixels for the input gradient
            assert fconv.conv2d_algorithm((2, 256, 8, 8), (256, 256, 3, 3), padding=1) == \
                ("winograd",) * 3
            a = fconv.conv2d_algorithm((2, 256, 8, 8), (256, 256, 3, 3), padding=0)  # 72 px
            assert a[0] != "winograd" and a[1] == "winograd" and a[2] != "winograd", a


def test_tile_setting_error(monkeypatch):
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((2, 2, 3, 3), np.float32)
    with fconv.conv_algorithm("winograd"):
        for bad in ("3", "F4", "Auto"):
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", bad)
            with pytest.raises(ValueError,
                               match=f"FASTDL_WINOGRAD_TILE must be 2, 4 or auto, got '{bad}'"):
                F.conv2d(x, w, padding=1)
        monkeypatch.setenv("FASTDL_WINOGRAD_TILE", "auto")
        assert F.conv2d(x, w, padding=1).shape == (1, 2, 5, 5)


def test_inference_caches_the_transformed_filter(monkeypatch):
    """A graph-free forward that runs Winograd uses the transformed filter packed once per
    weight version (the packed path, every ISA): bitwise the graph forward's result, re-packed
    after an in-place weight update, and a plan gone stale (another tile) still gives the
    right result."""
    rng = np.random.default_rng(7)
    x = fastdl.tensor(rng.standard_normal((4, 40, 8, 7)).astype(np.float32))
    b = fastdl.tensor(rng.standard_normal(36).astype(np.float32))
    geo = (1, 1, 1, 1, 1, 1, 1, 1, 1)
    for isa in isa_paths():
        fconv.clear_weight_cache()
        w = fastdl.tensor(rng.standard_normal((36, 40, 3, 3)).astype(np.float32),
                          requires_grad=True)
        with use_isa(isa), fconv.conv_algorithm("auto"):
            assert fconv.conv2d_algorithm((4, 40, 8, 7), (36, 40, 3, 3), padding=1)[0] == \
                "winograd"
            packed = _C.conv2d_pack_weight(x.numpy(), w.detach().numpy(), *geo)
            assert packed is not None and packed[0] == 100.0  # the Winograd plan's tag
            for step in range(2):
                ref = F.conv2d(x, w, b, padding=1).detach().numpy()  # records a graph
                with fastdl.no_grad():
                    y1 = F.conv2d(x, w, b, padding=1).numpy()  # packs (or re-packs)
                    y2 = F.conv2d(x, w, b, padding=1).numpy()  # the cached pack
                    assert np.array_equal(y1, ref) and np.array_equal(y2, ref), (isa, step)
                    w.mul_(1.5)  # a new weight version
            # 40 summed channels: the automatic tile is F(4×4); forced F(2×2) makes the cached
            # plan stale
            monkeypatch.setenv("FASTDL_WINOGRAD_TILE", "2")
            with fastdl.no_grad():
                y2 = F.conv2d(x, w, b, padding=1).numpy()
            assert np.array_equal(y2, F.conv2d(x, w, b, padding=1).detach().numpy())
            stale = _C.conv2d_forward_packed(x.numpy(), w.detach().numpy(), packed, b.numpy(),
                                             *geo)
            assert np.array_equal(stale, y2), isa
            monkeypatch.delenv("FASTDL_WINOGRAD_TILE")


# Grouped layers (N, C, H, W, K, padding, groups): Winograd runs each group on its channels'
# planes inside the whole images. 2 groups of 32 channels (in turn at 2 threads), 3 groups of
# 4 → 6 (channel tails), 8 groups of 12 → 8 (shared out among the threads), 16 groups of 2 →
# 2 on a map of several blocks of tiles.
GROUPED = [
    (2, 64, 9, 8, 64, 1, 2),
    (1, 12, 7, 6, 18, 0, 3),
    (3, 96, 6, 7, 64, 1, 8),
    (2, 32, 13, 40, 32, 2, 16),
]


def _gids(s):
    return "N{}C{}H{}W{}K{}p{}g{}".format(*s)


@functools.lru_cache(maxsize=None)
def _grouped_operands(s, dt, seed=5, stride=1):
    N, C, H, W, K, p, g = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, 3, 3)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    kw = dict(stride=stride, padding=p, groups=g)
    y = R.conv2d_ref(x64, w64, b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx, gw, _ = R.conv2d_backward_ref(x64, w64, gy.astype(np.float64), **kw)
    return x, w, b, gy, y, gx, gw


def _run_grouped(x, w, b, gy, p, g, stride=1):
    xt, wt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    bt = fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, stride=stride, padding=p, groups=g)
    y.backward(fastdl.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", GROUPED, ids=_gids)
def test_grouped_matches_reference_every_isa(tile, dt, shape):
    x, w, b, gy, yref, gxref, gwref = _grouped_operands(shape, dt)
    p, g = shape[-2:]
    for isa in isa_paths():
        for threads in (1, 2):
            with use_isa(isa), use_threads(threads), fconv.conv_algorithm("winograd"):
                y, gx, gw, gb = _run_grouped(x, w, b, gy, p, g)
            msg = f"{isa}, {threads} thread(s): "
            _check(y, yref, dt, tile, msg + "forward: ")
            _check(gx, gxref, dt, tile, msg + "grad_input: ")
            _check_dw(gw, gwref, dt, msg + "grad_weight: ")
            assert_close(gb, gy.astype(np.float64).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("tile", TILES, indirect=True)
@pytest.mark.parametrize("shape", GROUPED, ids=_gids)
def test_grouped_bitwise_one_vs_two_threads_and_per_group(tile, shape):
    """1 and 2 threads give the same bits (the groups in turn or shared out), and each group's
    outputs are bitwise the same layer run on that group's channels alone (groups=1)."""
    x, w, b, gy = _grouped_operands(shape, np.float32)[:4]
    p, g = shape[-2:]
    Cg, Kg = x.shape[1] // g, w.shape[0] // g
    with fconv.conv_algorithm("winograd"):
        with use_threads(1):
            a = _run_grouped(x, w, b, gy, p, g)
        with use_threads(2):
            c = _run_grouped(x, w, b, gy, p, g)
        for u, v in zip(a, c):
            assert np.array_equal(u, v)
        for i in (0, g - 1):
            cs, ks = slice(i * Cg, (i + 1) * Cg), slice(i * Kg, (i + 1) * Kg)
            y, gx, gw, _ = _run_grouped(np.ascontiguousarray(x[:, cs]), w[ks], b[ks],
                                        np.ascontiguousarray(gy[:, ks]), p, 1)
            assert np.array_equal(a[0][:, ks], y), i
            assert np.array_equal(a[1][:, cs], gx), i
            assert np.array_equal(a[2][ks], gw), i


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", GROUPED[:3], ids=_gids)
def test_grouped_matches_torch(dt, shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy = _grouped_operands(shape, dt)[:4]
    p, g = shape[-2:]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=p, groups=g)
    ty.backward(torch.tensor(gy))
    with fconv.conv_algorithm("winograd"):
        y, gx, gw, gb = _run_grouped(x, w, b, gy, p, g)
    _check(y, ty.detach().numpy().astype(np.float64), dt, "auto", "forward: ")
    _check(gx, tx.grad.numpy().astype(np.float64), dt, "auto", "grad_input: ")
    _check_dw(gw, tw.grad.numpy().astype(np.float64), dt, "grad_weight: ")


@pytest.mark.parametrize("tile", TILES, indirect=True)
def test_grouped_gradcheck(tile):
    rng = np.random.default_rng(6)
    x = fastdl.tensor(rng.standard_normal((2, 6, 6, 7)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    with fconv.conv_algorithm("winograd"):
        assert fconv.conv2d_algorithm((2, 6, 6, 7), (4, 3, 3, 3), padding=1, groups=2,
                                      dtype=np.float64) == ("winograd",) * 3
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [x, w, b])


def test_grouped_automatic_choice():
    """A grouped layer is judged by its groups' channels: Winograd from 32 each way (the
    same rule as an ungrouped layer of that size), the direct kernel below; depthwise layers
    keep their own kernels even when Winograd is forced."""
    with fconv.conv_algorithm("auto"):
        for shape, groups in [((8, 128, 28, 28), 2), ((8, 256, 28, 28), 8),
                              ((8, 1024, 7, 7), 32), ((32, 64, 16, 16), 2)]:
            C = shape[1]
            a = fconv.conv2d_algorithm(shape, (C, C // groups, 3, 3), padding=1, groups=groups)
            assert a == ("winograd",) * 3, (shape, groups, a)
            assert "winograd" not in fconv.conv2d_algorithm(
                shape, (C, C // groups, 3, 3), padding=1, groups=groups, dtype=np.float64)
        # from 32 pixels (the weight gradient so from 8 groups on; with fewer, from 128)
        for shape, groups in [((1, 1024, 7, 7), 32), ((2, 512, 4, 4), 16)]:
            C = shape[1]
            a = fconv.conv2d_algorithm(shape, (C, C // groups, 3, 3), padding=1, groups=groups)
            assert a == ("winograd",) * 3, (shape, groups, a)
        a = fconv.conv2d_algorithm((1, 128, 8, 8), (128, 64, 3, 3), padding=1, groups=2)
        assert a[:2] == ("winograd",) * 2 and a[2] != "winograd", a
        a = fconv.conv2d_algorithm((1, 256, 5, 5), (256, 64, 3, 3), padding=1, groups=4)
        assert "winograd" not in a, a  # 25 pixels
        for shape, groups in [((8, 512, 14, 14), 32), ((8, 256, 28, 28), 32)]:  # 16, 8 each
            C = shape[1]
            a = fconv.conv2d_algorithm(shape, (C, C // groups, 3, 3), padding=1, groups=groups)
            assert "winograd" not in a, (shape, groups, a)
    with fconv.conv_algorithm("winograd"):
        assert fconv.conv2d_algorithm((2, 16, 8, 8), (16, 1, 3, 3), padding=1,
                                      groups=16) == ("direct",) * 3


# ---- the stride-2 tile (forward and weight gradient of 3×3 stride-2 layers) ----------------
# (N, C, H, W, K, padding, groups): odd and even maps (the last tile row / column cut), padding
# 0–2, channel tails, batch 1, several blocks of tiles and transform segments, groups
S2_SHAPES = [
    (2, 5, 9, 8, 7, 1, 1),
    (1, 19, 7, 11, 21, 0, 1),
    (2, 3, 6, 5, 4, 2, 1),
    (3, 17, 4, 4, 33, 1, 1),
    (1, 6, 3, 3, 2, 1, 1),        # a 2×2 output: one tile
    (2, 40, 66, 61, 36, 1, 1),    # 33×31 outputs: several blocks, segments of 16 tiles
    (1, 130, 20, 21, 136, 1, 1),  # few blocks, 128+ produced channels (slices at 2 threads)
    (2, 12, 13, 12, 10, 1, 2),    # grouped: each group's channels by the tile
]


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", S2_SHAPES, ids=_gids)
def test_stride2_matches_reference_every_isa(dt, shape):
    """The forward and the weight gradient of a 3×3 stride-2 layer by the stride-2 tile
    (forced; the input gradient by the automatic choice), against the float64 reference on
    every ISA, and bitwise the same on 1 and 2 threads."""
    x, w, b, gy, yref, gxref, gwref = _grouped_operands(shape, dt, stride=2)
    p, g = shape[-2:]
    with fconv.conv_algorithm("winograd"):
        a = fconv.conv2d_algorithm(x.shape, w.shape, stride=2, padding=p, groups=g, dtype=dt)
    assert a[0] == a[2] == "winograd"
    for isa in isa_paths():
        outs = []
        for threads in (1, 2):
            with use_isa(isa), use_threads(threads), fconv.conv_algorithm("winograd"):
                outs.append(_run_grouped(x, w, b, gy, p, g, stride=2))
            msg = f"{isa}, {threads} thread(s): "
            _check(outs[-1][0], yref, dt, "2", msg + "forward: ")
            _check(outs[-1][1], gxref, dt, "2", msg + "grad_input: ")
            _check_dw(outs[-1][2], gwref, dt, msg + "grad_weight: ")
        for u, v in zip(*outs):
            assert np.array_equal(u, v), isa


@pytest.mark.parametrize("shape", S2_SHAPES[:4], ids=_gids)
def test_stride2_forward_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b = _grouped_operands(shape, np.float32, seed=1, stride=2)[:3]
    p, g = shape[-2:]
    ty = torch.nn.functional.conv2d(*(torch.tensor(a) for a in (x, w, b)), stride=2,
                                    padding=p, groups=g)
    with fconv.conv_algorithm("winograd"):
        y = F.conv2d(x, w, b, stride=2, padding=p, groups=g).numpy()
    assert_close(y, ty.numpy(), rtol=1e-4, atol=1e-4)


def test_stride2_channels_last_and_gradients():
    """channels_last gives the NCHW result, and the gradients (the input gradient by another
    algorithm, as conv2d_algorithm says) match the reference."""
    x, w, b, gy, yref, gxref, gwref = _grouped_operands((2, 40, 15, 14, 36, 1, 1),
                                                         np.float32, seed=3, stride=2)
    with fconv.conv_algorithm("winograd"):
        y, gx, gw, _ = _run_grouped(x, w, b, gy, 1, 1, stride=2)
        xcl = fastdl.tensor(x).to(memory_format=fastdl.channels_last)
        ycl = F.conv2d(xcl, fastdl.tensor(w), fastdl.tensor(b), stride=2, padding=1)
    _check(y, yref, np.float32, "2", "forward: ")
    assert_close(ycl.numpy(), y, rtol=1e-5, atol=1e-5)
    _check(gx, gxref, np.float32, "2", "grad_input: ")
    _check_dw(gw, gwref, np.float32, "grad_weight: ")


# conv_algorithm's docstring: measured 2.8e-7 (C = 32), 3.4e-7 (64), 5.1e-7 (128), 7.0e-7
# (256), 9.8e-7 (512); the direct kernel 5.7e-7, 8.0e-7, 1.3e-6, 1.4e-6, 2.0e-6
@pytest.mark.parametrize("C,bound", [(32, 5e-7), (64, 6e-7), (128, 8e-7), (256, 1e-6),
                                     (512, 1.5e-6)])
def test_stride2_stated_accuracy(C, bound):
    """float32 against float64, unit-normal data, max |error| / max |y|: the forward of a
    (2, C, 16, 16) input with 16 filters, stride 2, padding 1."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, C, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, C, 3, 3)).astype(np.float32)
    ref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), None, stride=2, padding=1)
    with fconv.conv_algorithm("winograd"):
        y = F.conv2d(x, w, stride=2, padding=1).numpy()
    assert np.max(np.abs(y - ref)) / np.max(np.abs(ref)) < bound


# conv_algorithm's docstring: measured 2.9e-7 (2 × 16²), 7.8e-7 (8 × 64²), 8.4e-7 (32 × 64²);
# the direct kernel 2.1e-7, 7.7e-7, 6.4e-7
@pytest.mark.parametrize("N,H,bound", [(2, 16, 5e-7), (8, 64, 1.2e-6), (32, 64, 1.5e-6)])
def test_stride2_stated_weight_grad_accuracy(N, H, bound):
    """float32 against float64, unit-normal x and grad_output, max |error| / max |dW|: the
    weight gradient of a (N, 16, H, H) input with 16 filters, stride 2, padding 1."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, 16, H, H)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((N, 16, H // 2, H // 2)).astype(np.float32)
    ref = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                gy.astype(np.float64), stride=2, padding=1)[1]
    with fconv.conv_algorithm("winograd"):
        gw = _run_grouped(x, w, np.zeros(16, np.float32), gy, 1, 1, stride=2)[2]
    assert np.max(np.abs(gw - ref)) / np.max(np.abs(ref)) < bound


def test_stride2_gradcheck():
    rng = np.random.default_rng(8)
    x = fastdl.tensor(rng.standard_normal((2, 3, 9, 8)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    for padding in (0, 1, 2):
        with fconv.conv_algorithm("winograd"):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=padding),
                             [x, w, b])
