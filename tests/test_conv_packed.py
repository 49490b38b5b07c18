"""The inference path of conv2d: a forward that records no graph runs on the weight packed
once per weight version and input geometry (``_C.conv2d_pack_weight``; plans "rows",
"direct", "strided" and "col", see csrc/kernels/conv/conv_avx512.cpp). Checked against the NumPy reference and torch on every
ISA, bitwise 1 = 2 threads, re-packed after every kind of weight update, and equal to the
recording (training) path within rounding."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, isa_paths, use_isa, use_threads
from fastdl.testing import reference as R

# (N, C, H, W, K, kernel, stride, padding, groups): Winograd's plan (3×3 stride 1, 32 or more
# channels each way, 16 or more output pixels: the transformed filters), plan "rows" (batch 1:
# stride-1 maps of at most 64 output pixels, 1×1 layers of at most 256; the weight as GEMM
# panels), plan "col" (a batch of small maps), plan "direct", plan "strided" (stride 2: the
# strided kernel's panels), and shapes without a plan (the plain forward, still graph-free).
SHAPES = [
    (1, 64, 4, 4, 40, 3, 1, 1, 1),     # deep-layer form at batch 1 (Winograd's plan: 16 pixels)
    (1, 16, 8, 8, 24, 3, 1, 1, 1),     # 8×8: 64 pixel rows
    (1, 12, 9, 9, 20, 3, 2, 1, 1),     # stride 2, odd map (5-pixel rows: a masked tail)
    (2, 8, 7, 7, 12, 1, 1, 0, 1),      # 1×1 at batch 2 (98 columns: no plan)
    (1, 8, 6, 6, 10, 3, 1, 1, 2),      # grouped (rows, per group)
    (3, 5, 20, 20, 7, 3, 1, 1, 1),     # wide map: the direct kernel's packed panels
    (2, 3, 12, 33, 9, 5, 1, 2, 1),     # 5×5, a row longer than two vectors
    (2, 20, 30, 29, 70, 3, 2, 1, 1),   # stride 2: 15-pixel rows, 70 channels (a tail block)
    (1, 40, 7, 7, 70, 1, 1, 0, 1),     # 1×1 7² (rows: 49 pixels, 70 channels: a tail panel)
    (1, 24, 14, 13, 36, 1, 2, 0, 1),   # 1×1 stride 2 (rows on the subsampled image)
    (1, 20, 16, 16, 33, 1, 1, 0, 1),   # 1×1, 256 pixels (rows, read in place)
    (1, 9, 5, 9, 18, 3, 1, 1, 3),      # 5×9 map, 3 groups of 3 channels (rows)
    (2, 32, 4, 4, 20, 3, 1, 1, 1),     # batch 2 of 4×4 maps (col)
    (1, 3, 33, 64, 24, 3, 2, 1, 1),    # an RGB stem (strided, the short-sum tile)
    (1, 260, 4, 5, 36, 3, 1, 1, 1),    # Winograd's plan at F(2×2) (over 256 summed channels)
    (1, 48, 6, 7, 136, 3, 1, 1, 1),    # Winograd, one block of tiles, 136 produced channels:
                                       # slices sharing one input transform at 2 threads
    (1, 24, 13, 11, 144, 3, 2, 1, 1),  # stride 2, 7×6 outputs, 144 channels: the strided
                                       # plan's blocks of two rows, a last row alone
    (1, 16, 12, 12, 20, 3, 1, 1, 4),   # plan direct at batch 1, 4 groups: whole groups per
                                       # thread
    (1, 15, 13, 13, 30, 3, 2, 1, 5),   # plan strided at batch 1, 5 groups, likewise
]


def _ids(s):
    return "N{}C{}H{}W{}K{}k{}s{}p{}g{}".format(*s)


def _operands(s, dt=np.float32, seed=0):
    N, C, H, W, K, k, st, p, g = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, k, k)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    return x, w, b, dict(stride=st, padding=p, groups=g)


def _ref(x, w, b, kw):
    return R.conv2d_ref(x.astype(np.float64), w.astype(np.float64),
                        None if b is None else b.astype(np.float64), **kw)


TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_packed_forward_matches_reference_every_isa(shape):
    x, w, b, kw = _operands(shape)
    yref = _ref(x, w, b, kw)
    wt, bt = fastdl.tensor(w), fastdl.tensor(b)
    for isa in isa_paths():
        with use_isa(isa), fastdl.no_grad():
            y1 = F.conv2d(fastdl.tensor(x), wt, bt, **kw).numpy()
            y2 = F.conv2d(fastdl.tensor(x), wt, bt, **kw).numpy()  # from the cache
        assert_close(y1, yref, msg=f"{isa}: ", **TOL)
        assert np.array_equal(y1, y2), isa
    # without bias, and unbatched
    with fastdl.no_grad():
        y = F.conv2d(fastdl.tensor(x[0]), wt, None, **kw).numpy()
    assert_close(y, _ref(x[:1], w, None, kw)[0], **TOL)


def test_packing_happens_where_documented():
    """Winograd's transformed filters for a 3×3 stride-1 layer of at least 32 channels each
    way and 16 output pixels (any ISA); plan "rows" at batch 1 on small maps and 1×1 layers,
    "col" for a batch of small maps, "direct" on wide stride-1 maps and "strided" for strided
    layers (AVX-512 float32 only); None for float64 and depthwise convolutions."""
    x, w, _, _ = _operands(SHAPES[0])
    geo = (1, 1, 1, 1, 1, 1, 1, 1, 1)
    with fconv.conv_algorithm("auto"):
        pk = _C.conv2d_pack_weight(x, w, *geo)  # 64→40 4² at batch 1
        assert pk is not None and pk[0] == 100.0 and pk[1] == 4.0  # Winograd F(4×4)
        # fewer than 16 pixels, or fewer than 32 channels: not Winograd
        pk = _C.conv2d_pack_weight(np.ones((1, 64, 3, 3), np.float32), w, *geo)
        assert pk is None or pk[0] != 100.0
        pk = _C.conv2d_pack_weight(np.ones((1, 16, 8, 8), np.float32),
                                    np.ascontiguousarray(w[:, :16]), *geo)
        assert pk is None or pk[0] != 100.0
    with fconv.conv_algorithm("direct"):  # a forced algorithm: its own plan
        pk = _C.conv2d_pack_weight(x, w, *geo)
        assert pk is None or pk[0] != 100.0
    if _C.get_isa() == "avx512":
        with fconv.conv_algorithm("auto"):
            x16, w16 = _operands(SHAPES[1])[:2]  # 16→24 8²
            pk = _C.conv2d_pack_weight(x16, w16, *geo)
            assert pk is not None and pk.dtype == np.float32 and pk[0] == 4.0  # plan rows
            # rows: a batch-1 1×1 of up to 256 pixels, any stride; none at 1024 pixels or in
            # a batch (the plain GEMM reads the image in place)
            w1 = np.ones((40, 64, 1, 1), np.float32)
            assert _C.conv2d_pack_weight(np.ones((1, 64, 16, 16), np.float32), w1,
                                         1, 1, 0, 0, 0, 0, 1, 1, 1)[0] == 4.0
            assert _C.conv2d_pack_weight(np.ones((1, 64, 32, 32), np.float32), w1,
                                         2, 2, 0, 0, 0, 0, 1, 1, 1)[0] == 4.0
            assert _C.conv2d_pack_weight(np.ones((1, 64, 32, 32), np.float32), w1,
                                         1, 1, 0, 0, 0, 0, 1, 1, 1) is None
            assert _C.conv2d_pack_weight(np.ones((2, 64, 4, 4), np.float32), w1,
                                         1, 1, 0, 0, 0, 0, 1, 1, 1) is None
            x32, w32 = _operands(SHAPES[12])[:2]  # 32→20 4² at batch 2
            pk = _C.conv2d_pack_weight(x32, w32, *geo)
            assert pk is not None and pk[0] == 2.0  # plan col
            x20 = np.ones((1, 64, 20, 20), np.float32)  # stride 2, 10-pixel rows
            pk = _C.conv2d_pack_weight(x20, w, 2, 2, 1, 1, 1, 1, 1, 1, 1)
            assert pk is not None and pk[0] == 3.0  # plan strided
        # 2-pixel rows in a batch: the batched GEMM, no plan (over 64 columns)
        assert _C.conv2d_pack_weight(np.ones((20, 64, 4, 4), np.float32), w,
                                     2, 2, 1, 1, 1, 1, 1, 1, 1) is None
    assert _C.conv2d_pack_weight(x.astype(np.float64), w.astype(np.float64), *geo) is None
    xd, wd = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 1, 3, 3), np.float32)
    assert _C.conv2d_pack_weight(xd, wd, 1, 1, 1, 1, 1, 1, 1, 1, 4) is None


@pytest.mark.parametrize("shape", SHAPES[:3] + SHAPES[5:6] + SHAPES[8:], ids=_ids)
def test_packed_forward_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b, kw = _operands(shape, seed=1)
    with torch.no_grad():
        ty = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                        torch.from_numpy(b), **kw).numpy()
    with fastdl.no_grad():
        y = F.conv2d(fastdl.tensor(x), fastdl.tensor(w), fastdl.tensor(b), **kw).numpy()
    assert_close(y, ty, **TOL)


@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2], SHAPES[5], SHAPES[8], SHAPES[10],
                                   SHAPES[11], SHAPES[14], SHAPES[15], SHAPES[16]], ids=_ids)
def test_packed_bitwise_one_vs_two_threads(shape):
    x, w, b, kw = _operands(shape, seed=2)
    wt, bt = fastdl.tensor(w), fastdl.tensor(b)
    for isa in isa_paths():
        with use_isa(isa), fastdl.no_grad():
            with use_threads(1):
                a = F.conv2d(fastdl.tensor(x), wt, bt, **kw).numpy()
            with use_threads(2):
                c = F.conv2d(fastdl.tensor(x), wt, bt, **kw).numpy()
        assert np.array_equal(a, c), isa


def test_repacked_after_every_weight_update():
    """In-place ops, optimizer steps, load_state_dict and a replaced array all invalidate the
    cached packed weight; the training path gives the same numbers within rounding."""
    x, w, b, kw = _operands(SHAPES[0], seed=3)
    conv = fastdl.nn.Conv2d(64, 40, 3, padding=1)
    conv.load_state_dict({"weight": fastdl.tensor(w), "bias": fastdl.tensor(b)})
    xt = fastdl.tensor(x)

    def infer():
        with fastdl.no_grad():
            return conv(xt).numpy()

    def check():
        ref = _ref(x, conv.weight.detach().numpy(), conv.bias.detach().numpy(), dict(padding=1))
        assert_close(infer(), ref, **TOL)

    check()
    with fastdl.no_grad():
        conv.weight.mul_(0.5)                           # in-place op
    check()
    opt = fastdl.optim.SGD(conv.parameters(), lr=0.1)
    conv(xt).sum().backward()                           # training path: records a graph
    opt.step()                                          # optimizer step
    check()
    w2 = np.random.default_rng(4).standard_normal(w.shape).astype(np.float32)
    conv.load_state_dict({"weight": fastdl.tensor(w2), "bias": conv.bias.detach()})
    check()
    with fastdl.no_grad():
        conv.weight[0] = 0.0                            # indexed assignment
    check()
    y_train = conv(xt).detach().numpy()
    assert_close(infer(), y_train, **TOL)
    # a batch of a different size is a different geometry: packed on its own
    with fastdl.no_grad():
        y3 = conv(fastdl.tensor(np.concatenate([x, x]))).numpy()
    assert_close(y3[1], y_train[0], **TOL)


def test_forced_algorithm_changes_are_honoured():
    """A weight packed under one plan is not used under another (the kernels check the
    packed plan and fall back to the weight)."""
    x, w, b, kw = _operands(SHAPES[5], seed=5)
    yref = _ref(x, w, b, kw)
    wt, bt, xt = fastdl.tensor(w), fastdl.tensor(b), fastdl.tensor(x)
    for algo in ("auto", "gemm", "direct", "winograd", "auto"):
        with fconv.conv_algorithm(algo), fastdl.no_grad():
            assert_close(F.conv2d(xt, wt, bt, **kw).numpy(), yref, msg=algo, **TOL)
    fconv.clear_weight_cache()


def test_packed_errors_name_the_argument():
    x, w, b, kw = _operands(SHAPES[0])
    with pytest.raises(ValueError, match="bias must have shape"):
        with fastdl.no_grad():
            F.conv2d(fastdl.tensor(x), fastdl.tensor(w), fastdl.tensor(b[:3]), padding=1)
    with pytest.raises(ValueError, match="input channels"):
        with fastdl.no_grad():
            F.conv2d(fastdl.tensor(x[:, :10]), fastdl.tensor(w), padding=1)
