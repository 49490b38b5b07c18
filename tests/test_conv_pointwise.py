"""1×1 ("pointwise") convolutions without padding, the whole batch as one GEMM
(csrc/kernels/conv/pointwise_impl.h; the "gemm" algorithm of these shapes; one image of at
most 64 output pixels as the transposed product): forward, input,
weight and bias gradients at stride 1 and 2, grouped, maps 1² .. 50², batch 1 and 16, channel
counts off the micro-kernel's multiples, against the NumPy float64 reference and torch, on every
ISA, next to the per-image path (forced "direct"), bitwise 1 = 2 threads, gradcheck."""
import functools

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.functional import conv as fconv
from fastdl.testing import assert_close, assert_thread_invariant, gradcheck, isa_paths, use_isa
from fastdl.testing import reference as R

# (N, C, H, W, K, stride, groups)
SHAPES = [
    (16, 19, 7, 7, 21, 1, 1),     # 7² maps: panels straddle images (49 columns per image)
    (1, 37, 7, 7, 45, 1, 1),      # batch 1
    (16, 24, 1, 1, 17, 1, 1),     # 1² maps: many images per micro-tile
    (3, 13, 13, 13, 50, 1, 1),    # 13²: 169 columns per image
    (2, 33, 28, 28, 9, 1, 1),     # 28²: 784 columns, fewer output channels than MR
    (16, 20, 28, 28, 3, 1, 1),    # batch 16 of 28², 3 output channels
    (1, 130, 13, 13, 140, 1, 1),  # more channels than a k block of some ISAs
    (2, 12, 8, 8, 10, 1, 1),      # 64 columns per image: segments on panel boundaries
    (16, 18, 14, 14, 22, 2, 1),   # stride 2: 7² output
    (1, 40, 13, 13, 30, 2, 1),    # stride 2, odd map: 7² output
    (2, 9, 28, 28, 20, 2, 1),     # stride 2: 14² output
    (3, 17, 2, 2, 11, 2, 1),      # stride 2 of a 2² map: 1² output
    (2, 10, 7, 9, 12, 3, 1),      # stride 3, non-square
    (4, 12, 7, 7, 18, 1, 3),      # grouped
    (2, 16, 9, 9, 8, 2, 4),       # grouped, stride 2
    (1, 12, 8, 8, 70, 1, 2),      # batch 1 of 64 pixels (the transposed product), grouped
    (1, 300, 5, 5, 33, 1, 1),     # batch 1, transposed product deeper than a k block
    # maps of 512 pixels or more: the weight gradient per image with the larger operand read
    # in place (dY when K >= C, else the input, the product then dWᵀ)
    (2, 10, 28, 28, 40, 1, 1),    # dY in place: 40 rows (3 row tiles and a packed edge)
    (2, 12, 24, 24, 30, 1, 3),    # grouped, 576 pixels
    (2, 14, 50, 50, 26, 2, 1),    # stride 2: 625 output pixels from the subsampled input
]


def _ids(s):
    return "N{}C{}H{}W{}K{}s{}g{}".format(*s)


@functools.lru_cache(maxsize=None)
def _operands(s, dt, bias, seed=0):
    N, C, H, W, K, st, g = s
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, 1, 1)).astype(dt)
    b = rng.standard_normal(K).astype(dt) if bias else None
    kw = dict(stride=st, groups=g)
    y = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64),
                     None if b is None else b.astype(np.float64), **kw)
    gy = rng.standard_normal(y.shape).astype(dt)
    gx, gw, gb = R.conv2d_backward_ref(x.astype(np.float64), w.astype(np.float64),
                                       gy.astype(np.float64), **kw)
    return x, w, b, gy, kw, (y, gx, gw, gb)


def _run(x, w, b, gy, **kw):
    """(y, dx, dw, db or None, inference y) from fastdl."""
    xt, wt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    bt = None if b is None else fastdl.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, **kw)
    y.backward(fastdl.tensor(gy))
    with fastdl.no_grad():
        yi = F.conv2d(fastdl.tensor(x), fastdl.tensor(w),
                      None if b is None else fastdl.tensor(b), **kw).numpy()
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(),
            None if bt is None else bt.grad.numpy(), yi)


def _tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _check(got, ref, tol, msg):
    y, gx, gw, gb, yi = got
    assert_close(y, ref[0], msg=f"{msg} forward: ", **tol)
    assert_close(yi, ref[0], msg=f"{msg} inference forward: ", **tol)
    assert_close(gx, ref[1], msg=f"{msg} grad_input: ", **tol)
    assert_close(gw, ref[2], msg=f"{msg} grad_weight: ", **tol)
    if gb is not None:
        assert_close(gb, ref[3], msg=f"{msg} grad_bias: ", **tol)


def test_pointwise_shapes_take_the_batched_gemm():
    """The automatic choice runs the whole-batch GEMM for every pass of these 1×1 shapes (so
    the reference tests below exercise pointwise_impl.h), but the batch-1 forward of a thin
    product."""
    for s in SHAPES:
        N, C, H, W, K, st, g = s
        for dt in (np.float32, np.float64):
            a = fconv.conv2d_algorithm((N, C, H, W), (K, C // g, 1, 1), stride=st, groups=g,
                                       dtype=dt)
            # one image of a thin product over more than 64 pixels: the forward keeps the
            # plain GEMM, which reads the image in place
            thin = N == 1 and st == 1 and K // g <= 128 and C // g <= 800 and \
                (H * W) % 1024 and H * W > 64
            assert a == ("direct" if thin else "gemm", "gemm", "gemm"), (s, a)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_pointwise_matches_reference_every_isa(shape, dt, bias):
    x, w, b, gy, kw, ref = _operands(shape, dt, bias)
    for isa in isa_paths():
        with use_isa(isa):
            got = _run(x, w, b, gy, **kw)
        assert got[0].dtype == dt and got[1].dtype == dt and got[2].dtype == dt
        _check(got, ref, _tol(dt), isa)


@pytest.mark.parametrize("algo", ["direct", "gemm"])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[4], SHAPES[8], SHAPES[13]], ids=_ids)
def test_pointwise_forced_algorithms_agree(shape, algo):
    """Forced "direct" (per-image products) and "gemm" (the batched GEMM) both match the
    reference, on every ISA."""
    x, w, b, gy, kw, ref = _operands(shape, np.float32, True)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm(algo):
            _check(_run(x, w, b, gy, **kw), ref, _tol(np.float32), f"{isa} {algo}")


@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2], SHAPES[4], SHAPES[5], SHAPES[8],
                                   SHAPES[11], SHAPES[14], SHAPES[17]], ids=_ids)
def test_pointwise_matches_torch(shape):
    torch = pytest.importorskip("torch")
    x, w, b, gy, kw, _ = _operands(shape, np.float32, True)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(gy))
    y, gx, gw, gb, _ = _run(x, w, b, gy, **kw)
    # dW and db sum up to 16·28² float32 products on either side (each rounded its own way)
    for u, v, atol in ((y, ty, 1e-4), (gx, tx.grad, 1e-4), (gw, tw.grad, 5e-4),
                       (gb, tb.grad, 5e-4)):
        assert_close(u, v.detach().numpy(), rtol=1e-4, atol=atol)


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES[:6] + SHAPES[8:9] + SHAPES[13:], ids=_ids)
def test_pointwise_bitwise_one_vs_two_threads(shape, dt):
    x, w, b, gy, kw, _ = _operands(shape, dt, True)
    for isa in isa_paths():
        assert_thread_invariant(lambda: list(_run(x, w, b, gy, **kw)), isa)


def test_pointwise_weight_gradient_chunks_bitwise():
    """A batch long enough for several weight-gradient chunks (each a GEMM accumulated into
    dW in chunk order): against the reference, and bitwise 1 = 2 threads."""
    s = (40, 6, 13, 13, 5, 1, 1)  # 169 columns per image, a few images per chunk
    x, w, b, gy, kw, ref = _operands(s, np.float32, True, seed=5)
    for isa in isa_paths():
        with use_isa(isa):
            _check(_run(x, w, b, gy, **kw), ref, dict(rtol=1e-4, atol=2e-4), isa)
        assert_thread_invariant(lambda: list(_run(x, w, b, gy, **kw)), isa)


@pytest.mark.parametrize("stride,groups", [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_pointwise_gradcheck(stride, groups):
    rng = np.random.default_rng(3)
    x = fastdl.tensor(rng.standard_normal((3, 4, 5, 6)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((6, 4 // groups, 1, 1)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(6), requires_grad=True)
    for isa in isa_paths():
        with use_isa(isa):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, groups=groups),
                             [x, w, b]), isa


# (N, C, H, W, K, stride, groups): maps of 2,500 to 3,600 output pixels (micro-tiles straddle
# two images), the bias and activation applied by the GEMM's epilogue (gemm.h: RowEpilogue)
EPILOGUE_SHAPES = [
    (1, 24, 50, 50, 300, 1, 1),
    (2, 10, 60, 60, 40, 1, 1),    # batch 2
    (1, 16, 99, 99, 64, 2, 1),    # stride 2: 2,500 columns of the subsampled input
    (1, 12, 48, 48, 256, 1, 2),   # grouped: each group's 128 channels
]


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", EPILOGUE_SHAPES, ids=_ids)
def test_pointwise_forward_bias_and_activation_passes(shape, dt):
    """The forward with a bias and/or an activation (the GEMM's epilogue on each finished
    micro-tile): bitwise the plain product followed by the bias and the clamp in NumPy, the
    product against the float64 reference, on every ISA, bitwise 1 = 2 threads."""
    N, C, H, W, K, st, g = shape
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N, C, H, W)).astype(dt)
    w = rng.standard_normal((K, C // g, 1, 1)).astype(dt)
    b = rng.standard_normal(K).astype(dt)
    geo = (st, st, 0, 0, 0, 0, 1, 1, g)
    ref = R.conv2d_ref(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                       stride=st, groups=g)
    for isa in isa_paths():
        with use_isa(isa), fconv.conv_algorithm("gemm"):
            plain = fastdl._C.conv2d_forward(x, w, None, *geo)
            with_b = fastdl._C.conv2d_forward(x, w, b, *geo)
            relu = fastdl._C.conv2d_forward(x, w, b, *geo, 0.0)
            assert np.array_equal(with_b, plain + b[:, None, None]), isa
            assert np.array_equal(relu, np.maximum(plain + b[:, None, None], 0)), isa
            clamp = fastdl._C.conv2d_forward(x, w, None, *geo, -0.5, 0.7)
            assert np.array_equal(clamp, np.clip(plain, dt(-0.5), dt(0.7))), isa
            assert_close(with_b, ref, msg=f"{isa}: ", **_tol(dt))
        assert_thread_invariant(lambda: [fastdl._C.conv2d_forward(x, w, b, *geo, 0.0)], isa)
