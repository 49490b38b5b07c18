"""Strided convolutions (stride 2 to 4, the direct kernels of strided_impl.h on AVX-512 float32:
forward and input gradient on one micro-kernel, the weight gradient on shifted planes;
im2col + GEMM or the batched GEMM elsewhere), forced through ``fastdl.nn.functional.conv``
and with the automatic rule: forward, input and weight gradients against the NumPy float64
reference (float32 and float64, every ISA) and torch, kernels 3×3, 2×2, 5×5, 7×7 and 1×1,
odd and even map sizes, padding 0–3, batch 1, channel counts that are not a multiple of the
vector width, groups, bias and no bias, asymmetric strides, output maps wider than one
64-pixel segment, short sums (an RGB stem's forward tile), output rows of 4–7 pixels (the
forward's two-row blocks), bitwise 1 = 2 threads, float64 gradcheck."""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, assert_thread_invariant, gradcheck, isa_paths, use_isa
from fastdl.testing import reference as R

ALGOS = ["direct", "gemm", "auto"]

# (N, C, H, W, K, kernel (R, S), stride, padding, groups, bias)
SHAPES = [
    (2, 5, 9, 8, 7, (3, 3), 2, 1, 1, True),        # odd H, even W, channels below a vector
    (1, 19, 7, 11, 21, (3, 3), 2, 0, 1, False),    # batch 1, no padding, channel tails
    (2, 3, 6, 5, 4, (3, 3), 2, 2, 1, True),        # padding 2
    (2, 17, 40, 37, 33, (3, 3), 2, 1, 1, True),    # 20×19 outputs: several pixel segments
    (1, 4, 12, 13, 5, (5, 5), 2, 2, 1, True),      # 5×5 s2
    (2, 3, 23, 22, 6, (7, 7), 2, 3, 1, False),     # 7×7 s2 (a ResNet stem, small)
    (2, 6, 15, 14, 5, (3, 3), 3, 1, 1, True),      # stride 3
    (2, 6, 15, 14, 5, (3, 2), (2, 1), 1, 1, True),  # asymmetric stride and kernel
    (3, 8, 10, 10, 8, (2, 2), 2, 0, 1, True),      # 2×2 s2 (patchify)
    (2, 8, 9, 9, 12, (3, 3), 2, 1, 2, True),       # groups
    (2, 9, 8, 7, 10, (1, 1), 2, 0, 1, True),       # 1×1 s2
    (1, 16, 1, 1, 3, (3, 3), 2, 1, 1, True),       # a 1×1 map
    (2, 3, 30, 30, 32, (3, 3), 2, 1, 1, False),    # an RGB stem: 3 channels
    (2, 7, 30, 27, 70, (3, 3), 2, 1, 1, True),     # 70 channels: blocks of 64 and a tail
    (2, 8, 12, 12, 40, (3, 3), 2, 1, 2, True),     # groups of 20 output channels
    (2, 3, 31, 29, 5, (11, 11), 4, 2, 1, True),    # 11×11 stride 4 (an AlexNet stem)
    (2, 4, 10, 10, 6, (3, 3), 3, 0, 1, True),      # 3-pixel rows, input columns unused
    (1, 5, 64, 61, 9, (3, 3), 2, 1, 1, True),      # 31-pixel rows (blocks of one row)
    (2, 4, 11, 13, 6, (2, 2), 3, 0, 1, True),      # stride above the kernel: dx phases
                                                   # without taps (zero rows and columns)
    (2, 40, 20, 18, 36, (3, 3), 2, 1, 1, False),   # dx: 40 channels (blocks and a tail)
    # short sums (C·R·S <= 160) on rows of whole vectors: the forward's transposed tile
    # (ukr_bxt, 16 channels × 16 pixels)
    (1, 3, 26, 96, 24, (3, 3), 2, 1, 1, True),     # a MobileNet stem: 48-pixel rows
    (2, 3, 40, 64, 20, (7, 7), 2, 3, 1, True),     # a ResNet stem (a sum of 147), 32 pixels
    # output rows of 4–7 pixels and 128 or more output channels per group: the forward's
    # blocks of two whole rows (ukr_bx2), with taps only one row of a pair reads
    (2, 20, 13, 11, 130, (3, 3), 2, 1, 1, True),   # 7×6 outputs: a last row alone, a tail of 2
    (2, 24, 8, 8, 128, (3, 3), 2, 1, 1, True),     # 4×4 outputs (R18's 256→512 8² s2, small)
    (1, 24, 14, 14, 144, (3, 3), 2, 1, 1, False),  # 7×7 outputs at batch 1, 16-channel tail
    (1, 16, 9, 9, 256, (3, 3), 2, 1, 2, False),    # groups of 128 output channels
    (2, 20, 15, 14, 128, (3, 3), 3, 1, 1, True),   # stride 3: rows three plane rows apart
    (1, 8, 12, 12, 128, (5, 5), 2, 2, 1, True),    # 5×5: two padding rows at the top
]


def _ids(s):
    N, C, H, W, K, k, st, p, g, b = s
    return f"N{N}C{C}H{H}W{W}K{K}k{k[0]}x{k[1]}s{st}p{p}g{g}{'b' if b else ''}"


@functools.lru_cache(maxsize=None)
def _operands(s, dt, seed=0):
    N, C, H, W, K, (kh, kw), st, p, g, has_b = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, kh, kw)).astype(dt)
    b = rng.standard_normal(K).astype(dt) if has_b else None
    kw_ = dict(stride=st, padding=p, groups=g)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    y = R.conv2d_ref(x64, w64, None if b is None else b.astype(np.float64), **kw_)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx, gw, gb = R.conv2d_backward_ref(x64, w64, gy.astype(np.float64), **kw_)
    return x, w, b, gy, kw_, (y, gx, gw, gb)


def _run(x, w, b, gy, **kw):
    xt = fastdl.tensor(x, requires_grad=True)
    wt = fastdl.tensor(w, requires_grad=True)
    bt = None if b is None else fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    out = [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()]
    if bt is not None:
        out.append(bt.grad.numpy())
    return out


def _tol(dt):
    return dict(rtol=1e-10, atol=1e-10) if dt == np.float64 else dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_strided_against_reference(shape, dt, algo):
    x, w, b, gy, kw, ref = _operands(shape, dt)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm(algo):
            got = _run(x, w, b, gy, **kw)
        for name, u, v in zip(("y", "dx", "dw", "db"), got, ref):
            assert u.dtype == dt
            assert_close(u, v, **_tol(dt), msg=f"{isa} {algo} {name}: ")


@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_strided_against_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _operands(shape, np.float32, seed=1)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(gy))
    want = [ty, tx.grad, tw.grad] + ([] if tb is None else [tb.grad])
    for algo in ALGOS:
        with fconv.conv_algorithm(algo):
            got = _run(x, w, b, gy, **kw)
        for u, v in zip(got, want):
            assert_close(u, v.detach().numpy(), rtol=1e-4, atol=1e-4, msg=f"{algo}: ")


@pytest.mark.parametrize("algo", ["direct", "auto"])
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[1], SHAPES[3], SHAPES[6], SHAPES[9],
                                   (5, 24, 18, 18, 20, (3, 3), 2, 1, 1, True),
                                   (3, 20, 13, 11, 130, (3, 3), 2, 1, 1, True)], ids=_ids)
def test_strided_bitwise_one_vs_two_threads(shape, dt, algo):
    x, w, b, gy, kw, _ = _operands(shape, dt, seed=2)
    for isa in isa_paths():
        with fconv.conv_algorithm(algo):
            assert_thread_invariant(lambda: list(_run(x, w, b, gy, **kw)), isa)


def test_strided_direct_matches_unforced_rule_choice():
    # the automatic rule picks the stride-2 Winograd tile for the forward of a 3×3 stride-2
    # layer of 32 to 256 channels each way and 256 or more output pixels
    a = fconv.conv2d_algorithm((8, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1)
    assert a == ("winograd", "direct", "direct")
    a = fconv.conv2d_algorithm((1, 64, 32, 32), (128, 64, 3, 3), stride=2, padding=1)
    assert a[0] == "winograd"
    # and the direct kernel for a strided float32 forward otherwise: 512 channels, fewer
    # pixels, fewer channels, stride 3 (float64: never Winograd)
    for shape, wshape, stride in [((32, 256, 8, 8), (512, 256, 3, 3), 2),
                                  ((1, 256, 28, 28), (256, 256, 3, 3), 2),
                                  ((8, 16, 56, 56), (128, 16, 3, 3), 2),
                                  ((8, 128, 56, 56), (128, 128, 3, 3), 3)]:
        a = fconv.conv2d_algorithm(shape, wshape, stride=stride, padding=1)
        assert a[0] == "direct", (shape, wshape, stride, a)
    a = fconv.conv2d_algorithm((8, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1,
                               dtype=np.float64)
    assert a[0] != "winograd"
    # but the batched GEMM for output rows of at most 3 pixels in a batch, not at batch 1
    a = fconv.conv2d_algorithm((32, 512, 4, 4), (512, 512, 3, 3), stride=2, padding=1)
    assert a[0] == "gemm"
    a = fconv.conv2d_algorithm((1, 512, 4, 4), (512, 512, 3, 3), stride=2, padding=1)
    assert a[0] == "direct" and a[1] == "gemm"
    # the input gradient on the phases of dx; the weight gradient by the stride-2 tile from
    # C·K = 128·256 (to 256 channels each way)
    a = fconv.conv2d_algorithm((8, 256, 28, 28), (256, 256, 3, 3), stride=2, padding=1)
    assert a[1:] == ("direct", "winograd")
    a = fconv.conv2d_algorithm((32, 128, 16, 16), (256, 128, 3, 3), stride=2, padding=1)
    assert a == ("winograd", "direct", "winograd")
    # else the weight gradient direct from 256 output pixels per image, or from 64 with a
    # weight of 2²⁰ floats or fewer, the batched GEMM for a larger one
    a = fconv.conv2d_algorithm((8, 128, 56, 56), (128, 128, 3, 3), stride=2, padding=1)
    assert a[2] == "direct"
    a = fconv.conv2d_algorithm((8, 64, 56, 56), (128, 64, 3, 3), stride=2, padding=1)
    assert a[2] == "direct"
    a = fconv.conv2d_algorithm((8, 512, 28, 28), (256, 512, 3, 3), stride=2, padding=1)
    assert a[2] == "gemm"
    a = fconv.conv2d_algorithm((8, 512, 14, 14), (512, 512, 3, 3), stride=2, padding=1)
    assert a[2] == "gemm"


@pytest.mark.parametrize("stride,kernel,padding", [(2, 3, 1), (2, 5, 2), (3, 3, 0),
                                                   ((2, 1), 3, 1)])
def test_strided_gradcheck(stride, kernel, padding):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((2, 3, 7, 8)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((4, 3, kernel, kernel)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    for isa in isa_paths():
        for algo in ("direct", "gemm", "winograd"):  # winograd: 3×3 stride 2's forward
            with use_isa(isa), fconv.conv_algorithm(algo):
                assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride,
                                                          padding=padding), [x, w, b]), isa


def _random_strided_shapes(count, seed):
    """Random small strided geometries: strides 2–4 each way, kernels 1–6, padding up to
    beyond the kernel, groups, channel counts around the 16-lane blocks."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        g = int(rng.choice([1, 1, 2, 3]))
        C, K = g * int(rng.integers(1, 20)), g * int(rng.integers(1, 40))
        kh, kw = (int(v) for v in rng.integers(1, 7, 2))
        sh, sw = (int(v) for v in rng.integers(2, 5, 2))
        ph, pw = (int(v) for v in rng.integers(0, 6, 2))
        H, W = (int(v) for v in rng.integers(1, 24, 2))
        if H + 2 * ph < kh or W + 2 * pw < kw:
            continue
        out.append((int(rng.integers(1, 4)), C, H, W, K, (kh, kw), (sh, sw), (ph, pw), g,
                    bool(rng.integers(0, 2))))
    return out


@pytest.mark.parametrize("shape", _random_strided_shapes(24, 7), ids=_ids)
def test_strided_random_geometries_direct(shape):
    """The direct kernels (forward and input gradient on the phases of dx, forced) on random
    geometries — padding larger than the kernel, strides above it, empty phases — against
    the float64 reference, and 1 = 2 threads bitwise."""
    x, w, b, gy, kw, ref = _operands(shape, np.float32, seed=4)
    with fconv.conv_algorithm("direct"):
        got = _run(x, w, b, gy, **kw)
    for name, u, v in zip(("y", "dx", "dw", "db"), got, ref):
        assert_close(u, v, **_tol(np.float32), msg=f"{name}: ")
    with fconv.conv_algorithm("direct"):
        assert_thread_invariant(lambda: list(_run(x, w, b, gy, **kw)), "avx512"
                                if "avx512" in isa_paths() else isa_paths()[-1])
