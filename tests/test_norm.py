"""Batch, layer and group normalisation: kernels vs the NumPy reference (every ISA path,
float32 and float64), gradcheck, thread-count independence, layers, running statistics,
errors, and PyTorch where installed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.nn.functional as F
from fastdl import nn
from fastdl.testing import assert_close, assert_thread_invariant, gradcheck, isa_paths
from fastdl.testing.reference import norm as RN

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}

# the last two: channels of more than 256 KB
SHAPES = [(8, 3), (5, 4, 7), (3, 5, 6, 4), (2, 3, 33, 17), (1, 2, 4097), (2, 2, 40000),
          (3, 2, 100, 250),
          (1100, 270)]  # rows: three row chunks and two column blocks of the backward sums


def _tensor(a, grad=False):
    return fastdl.tensor(a, requires_grad=grad)


def _fwd_bwd(fn, x, params, g):
    xt = _tensor(x, True)
    pt = [None if p is None else _tensor(p, True) for p in params]
    y = fn(xt, *pt)
    y.backward(_tensor(g))
    return (y.detach().numpy(), xt.grad.numpy(),
            *[None if p is None else p.grad.numpy() for p in pt])


# ---- batch norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_matches_reference(isa, rng, dtype, shape, affine):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    rm, rv = _tensor(np.zeros(C, dtype)), _tensor(np.ones(C, dtype))

    def fn(xt, wt, bt):
        return F.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=0.3, eps=1e-5)
    y, gx, *pg = _fwd_bwd(fn, x, [w, b], g)
    ye, rme, rve = RN.batch_norm_ref(x, np.zeros(C), np.ones(C), w, b, True, 0.3, 1e-5)
    gxe, gwe, gbe = RN.batch_norm_backward_ref(g, x, w, True)
    tol = TOL[dtype]
    assert y.dtype == dtype
    assert_close(y, ye.astype(dtype), **tol)
    assert_close(gx, gxe.astype(dtype), **tol)
    assert_close(rm.numpy(), rme.astype(dtype), **tol)
    assert_close(rv.numpy(), rve.astype(dtype), **tol)
    if affine:
        assert_close(pg[0], gwe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
        assert_close(pg[1], gbe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 3), (3, 5, 6, 4)])
def test_batch_norm_eval_matches_reference(isa, rng, dtype, shape):
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    rm = rng.standard_normal(C).astype(dtype)
    rv = (rng.random(C) + 0.5).astype(dtype)

    def fn(xt, wt, bt):
        return F.batch_norm(xt, _tensor(rm), _tensor(rv), wt, bt, training=False)
    y, gx, gw, gb = _fwd_bwd(fn, x, [w, b], g)
    ye, _, _ = RN.batch_norm_ref(x, rm, rv, w, b, False)
    gxe, gwe, gbe = RN.batch_norm_backward_ref(g, x, w, False, rm, rv)
    tol = TOL[dtype]
    assert_close(y, ye.astype(dtype), **tol)
    assert_close(gx, gxe.astype(dtype), **tol)
    assert_close(gw, gwe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    assert_close(gb, gbe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 6), C=st.integers(1, 5), S=st.lists(st.integers(1, 9), max_size=2),
       training=st.booleans())
def test_batch_norm_property_shapes(N, C, S, training):
    rng = np.random.default_rng(N * 100 + C)
    shape = (N, C, *S)
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    y = F.batch_norm(_tensor(x), _tensor(rm.copy()), _tensor(rv.copy()), _tensor(w), _tensor(b),
                     training=training)
    ye, _, _ = RN.batch_norm_ref(x, rm, rv, w, b, training)
    assert_close(y.numpy(), ye, rtol=1e-10, atol=1e-10)


def test_batch_norm_large_offset_is_accurate(isa, rng):
    # variance of data far from zero: a one-pass E[x²] − E[x]² would lose it in float32
    x = (1e4 + rng.standard_normal((16, 4, 300))).astype(np.float32)
    y = F.batch_norm(_tensor(x), None, None, training=True)
    ye, _, _ = RN.batch_norm_ref(x, training=True)
    assert_close(y.numpy(), ye.astype(np.float32), rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("layout", ["rows", "channels_last"])
def test_batch_norm_rows_statistics_accurate(isa, rng, layout):
    """The per-column statistics of (N, C) rows (BatchNorm1d, and channels-last maps as their
    NHWC rows): data far from zero, an outlier in the rows a block's shift is taken from,
    several row chunks and column blocks with tails; mean and variance (the running stats)
    against float64."""
    n, c = 1100, 300
    x = (1e4 + rng.standard_normal((n, c))).astype(np.float32)
    x[0, :7] += 50.0  # the first row block's shift far from its mean in a few columns
    x[3, 7:9] = -1e3
    if layout == "rows":
        xt = _tensor(x)
    else:  # (N·H·W, C) = (1100, 300) as a (4, 300, 25, 11) channels-last map
        xt = _tensor(np.ascontiguousarray(x.reshape(4, 25, 11, c).transpose(0, 3, 1, 2))).contiguous(
            memory_format=fastdl.channels_last)
        assert xt.is_contiguous(memory_format=fastdl.channels_last)
    rm, rv = _tensor(np.zeros(c, np.float32)), _tensor(np.ones(c, np.float32))
    F.batch_norm(xt, rm, rv, training=True, momentum=1.0)
    xd = x.astype(np.float64)
    assert_close(rm.numpy(), xd.mean(0).astype(np.float32), rtol=1e-6, atol=0)
    assert_close(rv.numpy(), xd.var(0, ddof=1).astype(np.float32), rtol=1e-4, atol=0)


def test_batch_norm_gradcheck(rng):
    for shape in [(4, 3), (3, 2, 5)]:
        x = _tensor(rng.standard_normal(shape), True)
        w = _tensor(rng.standard_normal(shape[1]), True)
        b = _tensor(rng.standard_normal(shape[1]), True)
        assert gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True),
                         [x, w, b])
        rm, rv = _tensor(rng.standard_normal(shape[1])), _tensor(rng.random(shape[1]) + 0.5)
        assert gradcheck(lambda a, c, d: F.batch_norm(a, rm, rv, c, d, training=False), [x, w, b])


def test_batchnorm_module_running_stats_and_state_dict(rng):
    bn = nn.BatchNorm2d(3, momentum=0.2)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    sd = bn.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].shape == ()
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * (step + 1)
        bn(_tensor(x))
        _, rm, rv = RN.batch_norm_ref(x, rm, rv, training=True, momentum=0.2)
    assert int(bn.num_batches_tracked.numpy()) == 3
    assert_close(bn.running_mean.numpy(), rm.astype(np.float32), rtol=1e-5, atol=1e-6)
    assert_close(bn.running_var.numpy(), rv.astype(np.float32), rtol=1e-5, atol=1e-6)
    bn.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    ye, _, _ = RN.batch_norm_ref(x, rm, rv, np.ones(3), np.zeros(3), False)
    assert_close(bn(_tensor(x)).detach().numpy(), ye.astype(np.float32), rtol=1e-5, atol=1e-5)
    assert int(bn.num_batches_tracked.numpy()) == 3


def test_batchnorm_momentum_none_is_cumulative_average(rng):
    bn = nn.BatchNorm1d(2, momentum=None)
    xs = [rng.standard_normal((6, 2)) * (i + 1) for i in range(4)]
    for x in xs:
        bn(_tensor(x.astype(np.float32)))
    means = np.mean([x.mean(0) for x in xs], axis=0)
    vars_ = np.mean([x.var(0, ddof=1) for x in xs], axis=0)
    assert_close(bn.running_mean.numpy(), means.astype(np.float32), rtol=1e-5, atol=1e-6)
    assert_close(bn.running_var.numpy(), vars_.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_batchnorm_no_running_stats_and_no_affine(rng):
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == [] and bn.weight is None and bn.running_mean is None
    bn.eval()  # no running statistics: batch statistics in eval too
    x = rng.standard_normal((5, 4, 3)).astype(np.float32)
    ye, _, _ = RN.batch_norm_ref(x, training=True)
    assert_close(bn(_tensor(x)).detach().numpy(), ye.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_batchnorm_eval_module_same_as_functional(rng):
    """A BatchNorm2d module in eval mode: bitwise F.batch_norm's result (the module's direct
    kernel call on plain float32 operands), with the fused activation of nn.Sequential too;
    operands outside that case (channels-last input, an input requiring grad with grad on,
    float64 input or parameters, a wrong channel count) take the checking path with its
    results and errors."""
    from fastdl.nn.functional.normalization import _eval_plain as plain
    x32 = rng.standard_normal((2, 6, 5, 7)).astype(np.float32) * 3 + 1
    for affine in (True, False):
        bn = nn.BatchNorm2d(6, affine=affine)
        bn.running_mean._array[...] = rng.standard_normal(6)
        bn.running_var._array[...] = rng.random(6) + 0.5
        if affine:
            bn.weight._array[...] = rng.standard_normal(6)
            bn.bias._array[...] = rng.standard_normal(6)
        bn.eval()
        for cl, grad, fast in ((False, False, True), (True, False, False), (False, True, False)):
            xt = fastdl.tensor(x32, requires_grad=grad)
            if cl:
                xt = xt.to(memory_format=fastdl.channels_last)
                assert not xt.is_contiguous()
            want = F.batch_norm(xt, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                False, 0.1, bn.eps)
            with fastdl.no_grad() if not grad else fastdl.enable_grad():
                got = bn(xt)
            assert np.array_equal(got.detach().numpy(), want.detach().numpy())
            assert got.detach().numpy().strides == want.detach().numpy().strides
            assert got.requires_grad == grad
            with fastdl.no_grad() if not grad else fastdl.enable_grad():
                y = plain(xt, 6, bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)
            assert (y is not None) == fast, (affine, cl, grad)
        seq = nn.Sequential(bn, nn.ReLU6()).eval()
        with fastdl.no_grad():
            got = seq(fastdl.tensor(x32)).numpy()
            want = F.batch_norm(fastdl.tensor(x32), bn.running_mean, bn.running_var, bn.weight,
                                bn.bias, False, 0.1, bn.eps).numpy()
        assert np.array_equal(got, np.minimum(np.maximum(want, 0), 6))
    bn64 = nn.BatchNorm2d(6).double().eval()
    x64 = fastdl.tensor(x32.astype(np.float64))
    with fastdl.no_grad():
        assert plain(x64, 6, bn64.running_mean, bn64.running_var, bn64.weight, bn64.bias,
                     bn64.eps) is None
        assert plain(fastdl.tensor(x32), 6, bn64.running_mean, bn64.running_var, bn64.weight,
                     bn64.bias, bn64.eps) is None
        assert np.array_equal(bn64(x64).numpy(), F.batch_norm(
            x64, bn64.running_mean, bn64.running_var, bn64.weight, bn64.bias, False, 0.1,
            bn64.eps).numpy())
        with pytest.raises(TypeError, match="float32"):
            bn64(fastdl.tensor(x32))
    with pytest.raises(ValueError, match="channels"):
        with fastdl.no_grad():
            nn.BatchNorm2d(5).eval()(fastdl.tensor(x32))


# ---- layer norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# (100, 300): one block of rows summed kLaneTerms rows at a time, columns in runs of four
# vectors, then single vectors and a tail, the parameter partials over two column runs;
# (1200, 70): three blocks of rows
@pytest.mark.parametrize("shape,ns", [((6, 10), (10,)), ((3, 4, 33), (33,)), ((2, 3, 4, 5), (4, 5)),
                                      ((3, 5000), (5000,)), ((100, 300), (300,)),
                                      ((1200, 70), (70,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_reference(isa, rng, dtype, shape, ns, affine):
    x = (rng.standard_normal(shape) * 3 - 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(ns).astype(dtype) if affine != "none" else None
    b = rng.standard_normal(ns).astype(dtype) if affine == "both" else None
    y, gx, *pg = _fwd_bwd(lambda a, c, d: F.layer_norm(a, ns, c, d), x, [w, b], g)
    ye = RN.layer_norm_nd_ref(x, ns, w, b)
    gxe, gwe, gbe = RN.layer_norm_backward_ref(g, x, ns, w)
    tol = TOL[dtype]
    assert_close(y, ye.astype(dtype), **tol)
    assert_close(gx, gxe.astype(dtype), rtol=tol["rtol"] * 5, atol=tol["atol"] * 5)
    if w is not None:
        assert_close(pg[0], gwe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    if b is not None:
        assert_close(pg[1], gbe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_layer_norm_large_backward_matches_reference(isa, rng):
    """An input gradient of 16 MB (4096 rows of 1024) goes out with non-temporal stores."""
    shape, ns = (4096, 1024), (1024,)
    x = (rng.standard_normal(shape) * 3 - 1).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(ns).astype(np.float32)
    b = rng.standard_normal(ns).astype(np.float32)
    _, gx, gw, gb = _fwd_bwd(lambda a, c, d: F.layer_norm(a, ns, c, d), x, [w, b], g)
    gxe, gwe, gbe = RN.layer_norm_backward_ref(g, x, ns, w)
    tol = TOL[np.float32]
    assert_close(gx, gxe.astype(np.float32), rtol=tol["rtol"] * 5, atol=tol["atol"] * 5)
    assert_close(gw, gwe.astype(np.float32), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    assert_close(gb, gbe.astype(np.float32), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_layer_norm_gradcheck(rng):
    x = _tensor(rng.standard_normal((3, 2, 5)), True)
    w = _tensor(rng.standard_normal((2, 5)), True)
    b = _tensor(rng.standard_normal((2, 5)), True)
    assert gradcheck(lambda a, c, d: F.layer_norm(a, (2, 5), c, d), [x, w, b])


def test_layernorm_module(rng):
    ln = nn.LayerNorm((4, 6), eps=1e-6, bias=False)
    assert [n for n, _ in ln.named_parameters()] == ["weight"] and ln.weight.shape == (4, 6)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    assert_close(ln(_tensor(x)).detach().numpy(), RN.layer_norm_nd_ref(x, (4, 6), eps=1e-6).astype(np.float32),
                 rtol=1e-5, atol=1e-5)


# ---- group norm ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,G", [((2, 6, 5), 3), ((3, 4, 7, 5), 2), ((2, 8, 3, 3), 8),
                                     ((2, 4, 1), 1)])
def test_group_norm_matches_reference(isa, rng, dtype, shape, G):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    y, gx, gw, gb = _fwd_bwd(lambda a, c, d: F.group_norm(a, G, c, d), x, [w, b], g)
    ye = RN.group_norm_ref(x, G, w, b)
    gxe, gwe, gbe = RN.group_norm_backward_ref(g, x, G, w)
    tol = TOL[dtype]
    assert_close(y, ye.astype(dtype), **tol)
    assert_close(gx, gxe.astype(dtype), rtol=tol["rtol"] * 5, atol=tol["atol"] * 5)
    assert_close(gw, gwe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    assert_close(gb, gbe.astype(dtype), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_group_norm_gradcheck(rng):
    x = _tensor(rng.standard_normal((2, 4, 3)), True)
    w, b = _tensor(rng.standard_normal(4), True), _tensor(rng.standard_normal(4), True)
    assert gradcheck(lambda a, c, d: F.group_norm(a, 2, c, d), [x, w, b])


def test_groupnorm_module(rng):
    gn = nn.GroupNorm(2, 6)
    assert gn.weight.shape == (6,) and list(gn.state_dict()) == ["weight", "bias"]
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    assert_close(gn(_tensor(x)).detach().numpy(), RN.group_norm_ref(x, 2).astype(np.float32),
                 rtol=1e-5, atol=1e-5)


# ---- threads, errors, torch ----------------------------------------------------------------

@pytest.mark.parametrize("isa_name", isa_paths())
def test_bitwise_same_for_1_and_2_threads(rng, isa_name):
    x = rng.standard_normal((16, 8, 40, 40)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    xb = rng.standard_normal((4, 2, 20000)).astype(np.float32)  # channels beyond 256 KB
    gb_ = rng.standard_normal(xb.shape).astype(np.float32)
    x2 = x.reshape(256, -1)[:, :800].copy()
    g2 = g.reshape(256, -1)[:, :800].copy()

    def run():
        out = []
        for fn, xx, gg, ps in [
            (lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), x, g, [w, b]),
            (lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), xb, gb_,
             [w[:2], b[:2]]),
            (lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), x2, g2,
             [np.ones(800, np.float32), np.zeros(800, np.float32)]),
            (lambda a, c, d: F.layer_norm(a, (800,), c, d), x2, g2,
             [np.ones(800, np.float32), np.zeros(800, np.float32)]),
            (lambda a, c, d: F.group_norm(a, 4, c, d), x, g, [w, b]),
        ]:
            out.extend(_fwd_bwd(fn, xx, ps, gg))
        return out

    assert_thread_invariant(run, isa_name)


def test_errors(rng):
    x = _tensor(rng.standard_normal((4, 3, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="weight"):
        F.batch_norm(x, None, None, fastdl.ones(4), training=True)
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(x, fastdl.zeros(2), fastdl.ones(3), training=False)
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(_tensor(np.ones((1, 3), np.float32)), None, None, training=True)
    with pytest.raises(TypeError, match="float32"):
        F.batch_norm(x, None, None, fastdl.ones(3, dtype=fastdl.float64), training=True)
    with pytest.raises(TypeError, match="input must be float"):
        F.layer_norm(fastdl.ones(3, 4, dtype=fastdl.int64), (4,))
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match="divisible"):
        F.group_norm(x, 2)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(x)
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(4)(x)


def test_against_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 4, 5, 3)).astype(np.float32)
    bn_f, bn_t = nn.BatchNorm2d(4, momentum=0.3), torch.nn.BatchNorm2d(4, momentum=0.3)
    for _ in range(2):
        xf, xt = _tensor(x, True), torch.tensor(x, requires_grad=True)
        bn_f(xf).sum().backward()
        bn_t(xt).sum().backward()
        assert_close(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert list(bn_f.state_dict()) == list(bn_t.state_dict())
    for k, v in bn_t.state_dict().items():
        assert_close(bn_f.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    assert_close(bn_f.weight.grad.numpy(), bn_t.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    bn_f.eval()
    bn_t.eval()
    assert_close(bn_f(_tensor(x)).detach().numpy(), bn_t(torch.tensor(x)).detach().numpy(),
                 rtol=1e-5, atol=1e-5)
    ln_t = torch.nn.LayerNorm((5, 3))
    ln_f = nn.LayerNorm((5, 3))
    assert list(ln_f.state_dict()) == list(ln_t.state_dict())
    assert_close(ln_f(_tensor(x)).detach().numpy(), ln_t(torch.tensor(x)).detach().numpy(),
                 rtol=1e-5, atol=1e-5)
    gn_t, gn_f = torch.nn.GroupNorm(2, 4), nn.GroupNorm(2, 4)
    assert_close(gn_f(_tensor(x)).detach().numpy(), gn_t(torch.tensor(x)).detach().numpy(),
                 rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (4, 3, 10)),
                                       ("InstanceNorm2d", (4, 3, 5, 6)),
                                       ("InstanceNorm2d", (3, 5, 6))])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True),
                                          (False, True)])
def test_instance_norm_against_torch(cls, shape, affine, track):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    m = getattr(nn, cls)(3, affine=affine, track_running_stats=track, momentum=0.3)
    tm = getattr(torch.nn, cls)(3, affine=affine, track_running_stats=track, momentum=0.3)
    if affine:
        w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
        m.weight._array[...] = w
        m.bias._array[...] = b
        with torch.no_grad():
            tm.weight.copy_(torch.from_numpy(w))
            tm.bias.copy_(torch.from_numpy(b))
    for step in range(3):
        x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        xt = fastdl.tensor(x, requires_grad=True)
        y = m(xt)
        (y * fastdl.tensor(g)).sum().backward()
        xtt = torch.from_numpy(x).requires_grad_(True)
        yt = tm(xtt)
        (yt * torch.from_numpy(g)).sum().backward()
        assert_close(y.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        assert_close(xt.grad.numpy(), xtt.grad.numpy(), rtol=1e-4, atol=1e-4)
        if track:
            assert_close(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-5, atol=1e-6)
            assert_close(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-5, atol=1e-6)
    m.eval()
    tm.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    assert_close(m(fastdl.tensor(x)).detach().numpy(), tm(torch.from_numpy(x)).detach().numpy(),
                 rtol=1e-4, atol=1e-5)
    assert sorted(m.state_dict()) == sorted(tm.state_dict())


def test_instance_norm_functional_and_errors():
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 4))
    y = F.instance_norm(fastdl.tensor(x)).numpy()
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    assert_close(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    gradcheck(lambda t: F.instance_norm(t), [fastdl.tensor(x[:1, :2], requires_grad=True)])
    with pytest.raises(ValueError, match="3 dimensions"):
        F.instance_norm(fastdl.tensor(x[0, 0]))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.instance_norm(fastdl.tensor(x), use_input_stats=False)
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm2d(5, affine=True)(fastdl.tensor(x))
    with pytest.raises(ValueError, match="4D"):
        nn.InstanceNorm2d(3)(fastdl.tensor(x[0, 0]))
