"""The nn fast paths: adaptive_avg_pool3d's kernel (pool3d/), embedding_bag's checks in C++
and its register-blocked sums (embag/), conv3d's direct forward (conv3d/), and
``padding_mode`` 'reflect' / 'replicate' / 'circular' on the convolution layers. Each on every
ISA path the machine has, in float32 and float64, against the NumPy references and PyTorch;
bitwise-identical results on 1 and 2 threads; gradcheck of every backward."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference.conv3d import conv3d_ref
from fastdl.testing.reference.embag import embedding_bag_ref
from fastdl.testing.reference.pool3d import (adaptive_avg_pool3d_backward_ref,
                                             adaptive_avg_pool3d_ref, avg_pool3d_backward_ref,
                                             avg_pool3d_ref)
from nn_twin import load_torch_weights, torch_or_skip, twin


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-5) if dt == np.float32 else dict(rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------ adaptive_avg_pool3d
# (input D, H, W), output: divisible, overlapping windows, output larger than input, W wider
# than several vectors with a tail
POOL3D = [((4, 6, 8), (2, 3, 4)), ((5, 7, 9), (3, 4, 5)), ((3, 2, 5), (4, 5, 7)),
          ((2, 3, 37), (1, 2, 6)), ((1, 1, 1), (2, 1, 3))]


@pytest.mark.parametrize("shape,out", POOL3D)
def test_adaptive_avg_pool3d_every_isa_matches_reference(isa, shape, out, rng):
    x = rng.standard_normal((2, 3) + shape)
    gy = rng.standard_normal((2, 3) + out)
    ref, gref = adaptive_avg_pool3d_ref(x, out), adaptive_avg_pool3d_backward_ref(gy, x.shape)
    for dt in (np.float64, np.float32):
        X = fastdl.tensor(x.astype(dt), requires_grad=True)
        y = F.adaptive_avg_pool3d(X, out)
        assert y.dtype == X.dtype and tuple(y.shape) == (2, 3) + out
        assert_close(y.detach().numpy(), ref, **_tol(dt))
        y.backward(fastdl.tensor(gy.astype(dt)))
        assert_close(X.grad.numpy(), gref, **_tol(dt))


def test_adaptive_avg_pool3d_against_torch_gradcheck_threads(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x = rng.standard_normal((2, 3, 5, 7, 9))
    for o in (1, (3, 4, 5), (None, 2, 6), (6, 8, 10)):
        twin(lambda a: F.adaptive_avg_pool3d(a, o), lambda a: tF.adaptive_avg_pool3d(a, o), [x])
    twin(lambda a: nn.AdaptiveAvgPool3d((2, 3, 4))(a),
         lambda a: torch.nn.AdaptiveAvgPool3d((2, 3, 4))(a), [x[0]])            # unbatched
    X = fastdl.tensor(rng.standard_normal((1, 2, 3, 4, 5)), requires_grad=True)
    gradcheck(lambda a: F.adaptive_avg_pool3d(a, (2, 3, 3)), [X])
    big = rng.standard_normal((4, 16, 9, 17, 19)).astype(np.float32)   # several plane chunks
    res = []
    for n in (1, 2):
        with use_threads(n):
            X = fastdl.tensor(big, requires_grad=True)
            y = F.adaptive_avg_pool3d(X, (4, 5, 6))
            (y * y).sum().backward()
            res.append((y.detach().numpy(), X.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)


# ---------------------------------------------------------------------------------- avg_pool3d
# (input D, H, W), kwargs: non-overlapping, overlapping with padding and ceil mode (a last
# window hanging into the padding), padding not counted, divisor_override, stride 1 (every
# input row summing several spread rows), W of several vectors with a tail
AVG3D = [((4, 6, 8), dict(kernel_size=2)),
         ((5, 7, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
         ((5, 7, 9), dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=(1, 1, 1),
                          count_include_pad=False)),
         ((4, 5, 6), dict(kernel_size=(2, 3, 2), stride=1, divisor_override=5)),
         ((3, 4, 37), dict(kernel_size=(1, 2, 3), stride=(1, 2, 2), padding=(0, 1, 1),
                           ceil_mode=True, count_include_pad=False))]


@pytest.mark.parametrize("shape,kw", AVG3D)
def test_avg_pool3d_every_isa_matches_reference(isa, shape, kw, rng):
    x = rng.standard_normal((2, 3) + shape)
    k = kw["kernel_size"]
    k = (k,) * 3 if isinstance(k, int) else k
    s = kw.get("stride", k)
    s = (s,) * 3 if isinstance(s, int) else s
    p = kw.get("padding", 0)
    p = (p,) * 3 if isinstance(p, int) else p
    args = (k, s, p, kw.get("ceil_mode", False), kw.get("count_include_pad", True),
            kw.get("divisor_override"))
    ref = avg_pool3d_ref(x, *args)
    gy = rng.standard_normal(ref.shape)
    gref = avg_pool3d_backward_ref(gy, x.shape, *args)
    for dt in (np.float64, np.float32):
        X = fastdl.tensor(x.astype(dt), requires_grad=True)
        y = F.avg_pool3d(X, **kw)
        assert y.dtype == X.dtype and tuple(y.shape) == ref.shape
        assert_close(y.detach().numpy(), ref, **_tol(dt))
        y.backward(fastdl.tensor(gy.astype(dt)))
        assert_close(X.grad.numpy(), gref, **_tol(dt))


def test_avg_pool3d_against_torch_gradcheck_threads(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x = rng.standard_normal((2, 3, 5, 7, 9))
    for kw in (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
               dict(kernel_size=(2, 3, 3), stride=(1, 2, 1), padding=(1, 1, 0),
                    count_include_pad=False),
               dict(kernel_size=2, divisor_override=3)):
        twin(lambda a: F.avg_pool3d(a, **kw), lambda a: tF.avg_pool3d(a, **kw), [x])
    twin(lambda a: nn.AvgPool3d(3, 2, 1)(a), lambda a: torch.nn.AvgPool3d(3, 2, 1)(a), [x[0]])
    X = fastdl.tensor(rng.standard_normal((1, 2, 4, 5, 5)), requires_grad=True)
    gradcheck(lambda a: F.avg_pool3d(a, 3, (2, 1, 2), 1, True, False), [X])
    big = rng.standard_normal((4, 16, 9, 17, 19)).astype(np.float32)   # several plane chunks
    res = []
    for n in (1, 2):
        with use_threads(n):
            X = fastdl.tensor(big, requires_grad=True)
            y = F.avg_pool3d(X, 3, 2, 1)
            (y * y).sum().backward()
            res.append((y.detach().numpy(), X.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)


def test_avg_pool3d_errors():
    x = fastdl.randn(1, 2, 4, 4, 4)
    with pytest.raises(ValueError, match="half of kernel_size"):
        F.avg_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.avg_pool3d(x, (2, 0, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="avg_pool3d: input"):
        F.avg_pool3d(fastdl.randn(1, 2, 1, 4, 4), 2)
    from fastdl import _C
    with pytest.raises(ValueError, match="grad_output"):
        _C.avg_pool3d_backward(np.zeros((1, 2, 2, 2, 2), np.float32), [1, 3, 4, 4, 4],
                               [2, 2, 2], [2, 2, 2], [0, 0, 0], True, 0)
    with pytest.raises(ValueError, match="bad window"):
        _C.avg_pool3d(np.zeros((1, 1, 4, 4, 4), np.float32), [2, 2, 2], [2, 2, 2], [2, 2, 2],
                      [2, 2, 2], True, 0)


def test_adaptive_avg_pool3d_errors():
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool3d(fastdl.randn(1, 2, 3, 4, 5), (2, 0, 2))
    with pytest.raises(ValueError, match="non-zero"):
        F.adaptive_avg_pool3d(fastdl.randn(1, 2, 0, 4, 5), 2)
    with pytest.raises(ValueError, match="4-D or 5-D"):
        F.adaptive_avg_pool3d(fastdl.randn(4, 5, 6), 2)
    from fastdl import _C
    with pytest.raises(ValueError, match="grad_output"):
        _C.adaptive_avg_pool3d_backward(np.zeros((1, 2, 2, 2, 2), np.float32), [1, 3, 4, 4, 4])
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.adaptive_avg_pool3d(np.zeros((1, 1, 2, 2, 2), np.int64), [1, 1, 1])


# ------------------------------------------------------------------------------ embedding_bag
@pytest.mark.parametrize("D", [1, 5, 16, 37, 64, 100, 131])
def test_embedding_bag_widths_every_isa(isa, D, rng):
    """Every register-block width (1..8 vectors per pass, several passes, partial tails),
    with padding, per-sample weights and an empty bag."""
    n = 50
    idx = rng.integers(0, n, 120)
    idx[::7] = 3                                     # padding entries
    offs = np.array([0, 4, 4, 30, 31, 77, 100])
    w64 = rng.standard_normal((n, D))
    psw = rng.standard_normal(120)
    for mode in ("sum", "mean", "max"):
        p = psw if mode == "sum" else None
        ref = embedding_bag_ref(w64, idx, offs, mode, p, padding_idx=3)
        for dt in (np.float64, np.float32):
            out = F.embedding_bag(fastdl.tensor(idx), fastdl.tensor(w64.astype(dt)),
                                  fastdl.tensor(offs), mode=mode, padding_idx=3,
                                  per_sample_weights=None if p is None else
                                  fastdl.tensor(p.astype(dt)))
            assert_close(out.numpy(), ref, **_tol(dt))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_padding_and_2d_against_torch(mode, rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    w = rng.standard_normal((9, 6))
    idx = np.array([[1, 0, 4, 0], [0, 0, 0, 0], [8, 2, 2, 5]])       # a bag of padding only
    twin(lambda a, i: F.embedding_bag(i, a, mode=mode, padding_idx=0),
         lambda a, i: tF.embedding_bag(i, a, mode=mode, padding_idx=0), [w, idx])
    twin(lambda a, i: F.embedding_bag(i, a, mode=mode, padding_idx=-1),
         lambda a, i: tF.embedding_bag(i, a, mode=mode, padding_idx=-1), [w, idx])
    empty = F.embedding_bag(fastdl.tensor(np.zeros((3, 0), np.int64)), fastdl.tensor(w),
                            mode=mode)                       # (torch: "step must be nonzero")
    assert empty.shape == (3, 6) and not empty.numpy().any()
    if mode == "sum":                              # per-sample weights, with padding entries
        psw = rng.standard_normal(12)
        twin(lambda a, p, i, o: F.embedding_bag(i, a, o, mode="sum", per_sample_weights=p,
                                                padding_idx=0),
             lambda a, p, i, o: tF.embedding_bag(i, a, o, mode="sum", per_sample_weights=p,
                                                 padding_idx=0),
             [w, psw, idx.reshape(-1), np.array([0, 5, 5, 9])])


def test_embedding_bag_offset_and_index_errors_from_cpp():
    w = fastdl.randn(5, 2)
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(fastdl.tensor([1, 2]), w, fastdl.tensor([1]))
    with pytest.raises(RuntimeError, match="non-decreasing.*offsets\\[2\\] = 1 after 3"):
        F.embedding_bag(fastdl.tensor([1, 2, 3, 4]), w, fastdl.tensor([0, 3, 1]))
    with pytest.raises(RuntimeError, match="greater than input's length 4 .* of 6"):
        F.embedding_bag(fastdl.tensor([1, 2, 3, 4]), w, fastdl.tensor([0, 6]))
    with pytest.raises(IndexError, match="index 7 \\(entry 1 of input\\).* 5 embeddings"):
        F.embedding_bag(fastdl.tensor([1, 7, 9]), w, fastdl.tensor([0]))
    with pytest.raises(IndexError, match="index -1 \\(entry 2"):        # not taken as padding
        F.embedding_bag(fastdl.tensor([1, 2, -1]), w, fastdl.tensor([0, 1]), padding_idx=4)
    with pytest.raises(IndexError, match="index 5 \\(entry 3"):           # first bad, in order
        F.embedding_bag(fastdl.tensor([[0, 1], [2, 5], [9, 1]]), w)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding_bag(fastdl.tensor([1, 7]), w, fastdl.tensor([0]), max_norm=1.0)
    from fastdl import _C
    with pytest.raises(ValueError, match="bag size"):
        _C.embedding_bag(np.zeros((5, 2), np.float32), np.zeros(4, np.int64), None, 3, None, 0,
                         -1)
    with pytest.raises(ValueError, match="padding_idx 5"):
        _C.embedding_bag(np.zeros((5, 2), np.float32), np.zeros(4, np.int64), None, 2, None, 0,
                         5)
    with pytest.raises(IndexError, match="index 6"):
        _C.embedding_bag_backward(np.zeros((2, 2), np.float32), np.zeros((5, 2), np.float32),
                                  np.array([0, 6], np.int64), None, 1, None, 0, -1, None, True,
                                  False)


def test_embedding_bag_gradcheck_with_padding(rng):
    idx = fastdl.tensor(np.array([1, 0, 4, 0, 3, 3, 0]))
    offs = fastdl.tensor(np.array([0, 2, 2, 5]))
    W = fastdl.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    P = fastdl.tensor(rng.standard_normal(7), requires_grad=True)
    gradcheck(lambda a, p: F.embedding_bag(idx, a, offs, mode="sum", per_sample_weights=p,
                                           padding_idx=0), [W, P])
    for mode in ("mean", "max"):
        gradcheck(lambda a: F.embedding_bag(idx, a, offs, mode=mode, padding_idx=0), [W])


# ----------------------------------------------------------------------- conv3d direct path
# (input (C, D, H, W), weight (K, C/groups, kd, kh, kw), kwargs): output rows of 1 to 3
# vectors with and without a tail, rows of one vector blocked down the height (with a
# remainder), k-blocks with unused channels, dilation and stride in depth
# and height (width stride 1), groups, 'same' with an even kernel, more than 64 channels per
# group (the GEMM path).
DIRECT = [((3, 4, 5, 5), (5, 3, 3, 3, 3), dict(padding=1)),
          ((2, 3, 4, 16), (8, 2, 2, 3, 3), dict(padding=(0, 1, 1))),
          ((2, 3, 4, 17), (9, 2, 1, 2, 3), dict(padding=(1, 0, 2), dilation=(1, 1, 2))),
          ((4, 5, 6, 33), (12, 2, 3, 3, 2), dict(groups=2, stride=(2, 3, 1))),
          ((2, 4, 5, 50), (20, 2, 2, 1, 5), dict(padding="same", dilation=(2, 1, 1))),
          ((3, 3, 3, 70), (4, 3, 1, 3, 4), dict(padding=(0, 2, 3), dilation=(1, 2, 1))),
          ((3, 5, 9, 7), (10, 3, 2, 3, 3), dict(stride=(1, 2, 1), padding=(1, 1, 0),
                                                dilation=(1, 2, 1))),
          ((2, 2, 3, 9), (66, 2, 1, 2, 2), dict(padding=1))]


@pytest.mark.parametrize("xs,ws,kw", DIRECT)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_direct_every_isa_matches_reference(isa, xs, ws, kw, rng):
    x = rng.standard_normal((2,) + xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    if kw.get("padding") == "same":
        out = F.conv3d(fastdl.tensor(x), fastdl.tensor(w), fastdl.tensor(b), **kw).numpy()
        d = kw["dilation"]
        tot = [d[i] * (ws[2 + i] - 1) for i in range(3)]
        xp = np.pad(x, [(0, 0), (0, 0)] + [(t // 2, t - t // 2) for t in tot])
        ref = conv3d_ref(xp, w, b, dilation=d)
    else:
        ref = conv3d_ref(x, w, b, **kw)
    for dt in (np.float64, np.float32):
        for bias in (True, False):
            out = F.conv3d(fastdl.tensor(x.astype(dt)), fastdl.tensor(w.astype(dt)),
                           fastdl.tensor(b.astype(dt)) if bias else None, **kw)
            want = ref if bias else ref - b.reshape(1, -1, 1, 1, 1)
            assert_close(out.numpy(), want, **_tol(dt))


def test_conv3d_direct_threads_bitwise_and_torch(rng):
    torch = torch_or_skip()
    x = rng.standard_normal((2, 8, 12, 20, 20)).astype(np.float32)       # several slab tiles
    w = (rng.standard_normal((16, 8, 3, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    want = torch.nn.functional.conv3d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                      padding=1).numpy()
    res = []
    for n in (1, 2):
        with use_threads(n):
            res.append(F.conv3d(fastdl.tensor(x), fastdl.tensor(w), fastdl.tensor(b),
                                padding=1).numpy())
    assert np.array_equal(res[0], res[1])
    assert_close(res[0], want, rtol=2e-4, atol=2e-4)


# The backward's direct kernels (input gradient: the forward of dy with the flipped kernel,
# all strides 1; weight gradient: outer products over output channels, all strides 1 and
# width dilation 1, else flat slab planes), on the DIRECT shapes plus padding beyond
# d·(k − 1) (input gradient back on GEMM + col2vol) and 40 output channels of 6 inputs with a
# width-4 kernel (a 2-vector and a partial 1-vector channel block, partial channel and width
# blocks); the strided shapes and more than 64 channels per group take GEMM.
BACKWARD = DIRECT + [((2, 3, 4, 5), (4, 2, 1, 2, 1), dict(padding=(1, 1, 1))),
                     ((1, 2, 16, 16), (32, 1, 3, 3, 3), dict(padding=1)),
                     ((6, 4, 5, 9), (40, 6, 3, 3, 4), dict(padding=1))]


@pytest.mark.parametrize("xs,ws,kw", BACKWARD)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_direct_backward_every_isa_against_torch(isa, xs, ws, kw, rng):
    torch = torch_or_skip()
    x = rng.standard_normal((2,) + xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    for dt, tol in ((np.float64, dict(rtol=1e-9, atol=1e-10)),
                    (np.float32, dict(rtol=2e-4, atol=2e-4))):
        twin(lambda a, c, e: F.conv3d(a, c, e, **kw),
             lambda a, c, e: torch.nn.functional.conv3d(a, c, e, **kw),
             [x.astype(dt), w.astype(dt), b.astype(dt)], **tol)


def test_conv3d_direct_backward_threads_bitwise(rng):
    """Several slab tiles and weight-gradient chunks: the gradients are bitwise the same on 1
    and 2 threads, and torch's."""
    torch = torch_or_skip()
    x = rng.standard_normal((3, 8, 12, 20, 20)).astype(np.float32)
    w = (rng.standard_normal((16, 8, 3, 3, 3)) * 0.1).astype(np.float32)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (torch.nn.functional.conv3d(tx, tw, padding=1) ** 2).sum().backward()
    res = []
    for n in (1, 2):
        with use_threads(n):
            a = fastdl.tensor(x, requires_grad=True)
            c = fastdl.tensor(w, requires_grad=True)
            (F.conv3d(a, c, padding=1) ** 2).sum().backward()
            res.append((a.grad.numpy(), c.grad.numpy()))
    for u, v in zip(*res):
        assert np.array_equal(u, v)
    assert_close(res[0][0], tx.grad.numpy(), rtol=1e-3, atol=1e-3)
    assert_close(res[0][1], tw.grad.numpy(), rtol=1e-3, atol=1e-2)


# ------------------------------------------------------------------------------ padding_mode
MODES = ["reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_padding_modes_match_torch(mode, nd, rng):
    torch = torch_or_skip()
    cls = {1: "Conv1d", 2: "Conv2d", 3: "Conv3d"}[nd]
    for kw in (dict(padding=1), dict(padding=(2,) + (1,) * (nd - 1), stride=2),
               dict(padding="same", dilation=2)):
        fm = getattr(nn, cls)(4, 6, 3, padding_mode=mode, dtype=fastdl.float64, **kw)
        tm = getattr(torch.nn, cls)(4, 6, 3, padding_mode=mode, dtype=torch.float64, **kw)
        load_torch_weights(fm, tm)
        x = rng.standard_normal((2, 4) + (7,) * nd)
        twin(lambda a: fm(a), lambda a: tm(a), [x],
             f_params=list(fm.named_parameters()), t_params=list(tm.named_parameters()))
        twin(lambda a: fm(a), lambda a: tm(a), [x[0]])                          # unbatched
        assert f"padding_mode={mode}" in repr(fm)
    X = fastdl.tensor(rng.standard_normal((1, 2) + (4,) * nd), requires_grad=True)
    m = getattr(nn, cls)(2, 3, 3, padding=1, padding_mode=mode, dtype=fastdl.float64)
    gradcheck(lambda a: m(a), [X])


def test_conv_padding_mode_errors():
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match='Only "zeros"'):
        nn.ConvTranspose3d(2, 2, 3, padding_mode="circular")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(2, 2, 3, padding_mode="wrap")
    m = nn.Conv2d(2, 2, 3, padding=3, padding_mode="reflect")
    with pytest.raises(ValueError):                      # reflect pad wider than the input
        m(fastdl.randn(1, 2, 3, 3))
