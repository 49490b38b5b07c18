"""Deferred training batch-norm outputs (``fastdl/_deferred.py``): the output written by the
first op that reads it, a residual add and a ReLU / ReLU6 / Hardtanh after it folded into that
one pass (``_C.batch_norm_apply``). Every value and gradient must be bitwise those of the eager
ops (deferral off), on every ISA and in both memory formats; the graph must be the eager one;
reading the output any other way must compute it; a source modified in place before the read
must raise; and deferral must not happen where it cannot be undone (no grad, eval, switch off).
"""
import contextlib

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl import _C
from fastdl._deferred import DeferredTensor
from fastdl.nn.functional.normalization import set_norm_act_fusion
from fastdl.testing import assert_close, gradcheck
from fastdl.testing.reference.norm import batch_norm_backward_ref, batch_norm_ref

ACTS = {
    "relu": (lambda t: F.relu(t), lambda y: np.maximum(y, 0)),
    "torch_relu": (lambda t: fastdl.relu(t), lambda y: np.maximum(y, 0)),
    "relu6": (lambda t: F.relu6(t), lambda y: np.clip(y, 0, 6)),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 0.75), lambda y: np.clip(y, -0.5, 0.75)),
    "none": (lambda t: t * 1.0, lambda y: y),
}


@contextlib.contextmanager
def deferral(on):
    prev = set_norm_act_fusion(on, None)
    try:
        yield
    finally:
        set_norm_act_fusion(*prev)


def _bn(C, dtype):
    m = nn.BatchNorm2d(C, dtype=dtype)
    with fastdl.no_grad():
        m.weight.copy_(fastdl.linspace(0.5, 1.5, C, dtype=m.weight.dtype))
        m.bias.copy_(fastdl.linspace(-0.3, 0.4, C, dtype=m.weight.dtype))
    return m


def _block(x0, r0, g0, act, residual, cl, reflected, defer):
    """act(bn(h) [+ r]) with h = 2·x (a non-leaf, as a conv output), its backward with g0:
    the output, the deferred tensors' values read afterwards, and every gradient."""
    with deferral(defer):
        bn = _bn(x0.shape[1], x0.dtype)
        x = fastdl.from_numpy(x0.copy()).requires_grad_()
        r = fastdl.from_numpy(r0.copy()).requires_grad_()
        h, ri = x * 2.0, r * 1.0
        if cl:
            h = h.contiguous(memory_format=fastdl.channels_last)
            ri = ri.contiguous(memory_format=fastdl.channels_last)
        y = bn(h)
        assert (type(y) is DeferredTensor) == defer
        z = (ri + y if reflected else y + ri) if residual else y
        assert (type(z) is DeferredTensor) == defer
        o = ACTS[act][0](z)
        assert type(o) is not DeferredTensor
        o.backward(fastdl.from_numpy(g0))
        if act != "none":
            assert (type(y) is DeferredTensor) == defer  # never computed by the step itself
        if x0.shape[2] * x0.shape[3] > 1:
            assert o.is_contiguous(memory_format=fastdl.channels_last) == cl
        return [o.detach().numpy(), y.detach().numpy(), z.detach().numpy(), x.grad.numpy(),
                np.zeros(0) if r.grad is None else r.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
                bn.running_mean.numpy(), bn.running_var.numpy()]


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("shape", [(4, 6, 5, 7), (2, 17, 9, 9), (3, 40, 1, 1), (2, 3, 20, 31)],
                         ids=str)
@pytest.mark.parametrize("cl", [False, True], ids=["nchw", "cl"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_deferred_equals_eager_bitwise(isa, rng, act, shape, cl, dtype):
    x0 = rng.standard_normal(shape).astype(dtype)
    r0 = rng.standard_normal(shape).astype(dtype)
    g0 = rng.standard_normal(shape).astype(dtype)
    for residual, reflected in ((True, False), (True, True), (False, False)):
        a = _block(x0, r0, g0, act, residual, cl, reflected, True)
        b = _block(x0, r0, g0, act, residual, cl, reflected, False)
        for u, v in zip(a, b):
            assert u.dtype == v.dtype and u.shape == v.shape
            np.testing.assert_array_equal(u, v)
        # and against NumPy: the normalisation of h = 2x with the batch statistics
        y_ref = batch_norm_ref(2.0 * x0.astype(np.float64), None, None,
                               np.linspace(0.5, 1.5, shape[1]), np.linspace(-0.3, 0.4, shape[1]),
                               True, 0.1, 1e-5)[0]
        z_ref = y_ref + r0 if residual else y_ref
        tol = 2e-5 if dtype == np.float32 else 1e-12
        assert_close(a[1], y_ref, atol=tol * 10, rtol=tol)
        assert_close(a[0], ACTS[act][1](z_ref), atol=tol * 10, rtol=tol)


def test_graph_is_the_eager_one(rng):
    x = fastdl.randn(2, 3, 4, 4, requires_grad=True)
    bn = _bn(3, np.float32)
    y = bn(x * 1.0)
    z = y + x
    o = F.relu(z)
    assert type(y) is DeferredTensor and type(z) is DeferredTensor
    assert type(o.grad_fn).__name__ == "_Act" and o.grad_fn.next_functions[0][0] is z.grad_fn
    assert z.grad_fn.name() == "AddBackward"
    assert z.grad_fn.next_functions[0][0] is y.grad_fn
    assert y.grad_fn.name() == "BatchNormBackward"
    assert y.shape == (2, 3, 4, 4) and y.size(1) == 3 and y.size() == (2, 3, 4, 4)
    assert y.dim() == 4 and y.ndim == 4 and y.dtype == fastdl.float32 and z.requires_grad
    assert type(y) is DeferredTensor  # none of the above computed it


def test_reading_computes_once(rng):
    x0 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    with deferral(False):
        ref = _bn(3, np.float32)(fastdl.from_numpy(x0).requires_grad_()).detach().numpy()
    readers = [lambda t: t.detach().numpy().copy(), lambda t: (t * 1.0).detach().numpy(),
               lambda t: t.sum().item(), lambda t: repr(t), lambda t: t[0].detach().numpy(),
               lambda t: t.view(-1).detach().numpy(), lambda t: t.data.numpy().copy(),
               lambda t: F.conv2d(t, fastdl.ones(1, 3, 1, 1)).detach().numpy()]
    for read in readers:
        y = _bn(3, np.float32)(fastdl.from_numpy(x0).requires_grad_())
        assert type(y) is DeferredTensor
        read(y)
        assert type(y) is fastdl.Tensor
        np.testing.assert_array_equal(y.detach().numpy(), ref)


def test_in_place_on_deferred_output(rng):
    x0 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    r0 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = {}
    for defer in (True, False):
        with deferral(defer):
            x = fastdl.from_numpy(x0.copy()).requires_grad_()
            r = fastdl.from_numpy(r0)
            bn = _bn(3, np.float32)
            y = bn(x * 1.0)
            y += r          # torchvision's `out += identity`
            assert (type(y) is DeferredTensor) == defer and y._version == 1
            names = [y.grad_fn.name()]
            nn.ReLU(inplace=True)(y)
            assert type(y) is fastdl.Tensor and y._version == 2
            names.append(y.grad_fn.name())
            y2 = bn(x * 1.0)
            y2.relu_()      # and in place on the batch norm's output itself
            names.append(y2.grad_fn.name())
            (y.sum() + (y2 * y2).sum()).backward()
            out[defer] = (y.detach().numpy(), y2.detach().numpy(), x.grad.numpy(),
                          bn.weight.grad.numpy(), names)
    for u, v in zip(out[True], out[False]):
        np.testing.assert_array_equal(u, v)
    assert out[True][-1] == ["AddBackward", "ActInplaceBackward", "ActInplaceBackward"]


def test_modified_source_raises(rng):
    x = fastdl.randn(2, 3, 4, 4, requires_grad=True)
    h = x * 1.0
    y = _bn(3, np.float32)(h)
    with fastdl.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="input of a batch norm's deferred output"):
        y.sum()
    # the residual: folded, then modified before the sum is read
    y = _bn(3, np.float32)(x * 1.0)
    r = fastdl.randn(2, 3, 4, 4)
    z = y + r
    r.mul_(2.0)
    with pytest.raises(RuntimeError, match="residual of a batch norm's deferred output"):
        z.numpy() if not z.requires_grad else z.detach().numpy()
    # a ReLU that read the sum before the change is unaffected
    y = _bn(3, np.float32)(x * 1.0)
    r = fastdl.randn(2, 3, 4, 4)
    o = F.relu(y + r)
    before = o.detach().numpy().copy()
    r.mul_(2.0)
    np.testing.assert_array_equal(o.detach().numpy(), before)


def test_no_deferral_where_it_cannot_apply(rng):
    bn = _bn(3, np.float32)
    x = fastdl.randn(2, 3, 4, 4, requires_grad=True)
    assert type(bn(x * 1.0)) is DeferredTensor
    assert type(bn(fastdl.randn(2, 3, 4, 4))) is fastdl.Tensor          # no grad needed
    with fastdl.no_grad():
        assert type(bn(x)) is fastdl.Tensor
    with deferral(False):
        assert type(bn(x * 1.0)) is fastdl.Tensor
    bn.eval()
    assert type(bn(x * 1.0)) is fastdl.Tensor
    bn.train()
    with fastdl.inference_mode():
        assert type(bn(x.detach())) is fastdl.Tensor
    assert type(bn(x * 1.0)) is DeferredTensor  # and again after an inference-mode region
    with fastdl.autograd.set_detect_anomaly(True):
        assert type(bn(x * 1.0)) is fastdl.Tensor
    # a residual the recipe cannot take: broadcast, other dtype, other layout, a number
    y = bn(x * 1.0)
    for other in (fastdl.randn(1, 3, 1, 1), fastdl.randn(2, 3, 4, 4, dtype=fastdl.float64),
                  fastdl.randn(2, 3, 4, 4).contiguous(memory_format=fastdl.channels_last),
                  1.5):
        yy = bn(x * 1.0)
        s = yy + other
        assert type(s) is fastdl.Tensor
        with deferral(False):
            ref = bn(x * 1.0) + other
        np.testing.assert_array_equal(s.detach().numpy(), ref.detach().numpy())
    # the deferred tensor itself as the residual, out of place and in place
    with deferral(False):
        ref = bn(x * 1.0)
        ref = (ref + ref).detach().numpy()
    yy = bn(x * 1.0)
    np.testing.assert_array_equal((yy + yy).detach().numpy(), ref)
    yy = bn(x * 1.0)
    yy += yy
    np.testing.assert_array_equal(yy.detach().numpy(), ref)
    # two deferred outputs (a ResNet's downsample branch): one recipe of both, either layout
    for cl in (False, True):
        g0 = fastdl.randn(2, 3, 4, 4)
        grads = []
        for defer in (False, True):
            with deferral(defer):
                xi = x.contiguous(memory_format=fastdl.channels_last) if cl else x
                x.grad = None
                a, b2 = bn(xi * 1.0), bn(xi * 2.0)
                s = F.relu(a + b2)
                assert (type(a + b2) is DeferredTensor) == defer
                s.backward(g0)
                grads.append((s.detach().numpy(), x.grad.numpy().copy()))
        for u, v in zip(*grads):
            np.testing.assert_array_equal(u, v)


def test_autograd_grad_and_hooks_on_deferred(rng):
    x0 = rng.standard_normal((2, 3, 4, 4)).astype(np.float64)
    res = {}
    for defer in (True, False):
        with deferral(defer):
            x = fastdl.from_numpy(x0.copy()).requires_grad_()
            bn = _bn(3, np.float64)
            y = bn(x * 1.0)
            y.retain_grad()
            seen = []
            y.register_hook(lambda g: seen.append(g.numpy().copy()))
            z = y + x
            o = F.relu(z)
            (gy,) = fastdl.autograd.grad((o * o).sum(), [y], retain_graph=True)
            (o * o).sum().backward()
            res[defer] = (gy.numpy(), y.grad.numpy(), seen[-1], x.grad.numpy())
    for u, v in zip(res[True], res[False]):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("cl", [False, True], ids=["nchw", "cl"])
def test_gradcheck_float64(rng, cl):
    bn = _bn(3, np.float64)
    x = fastdl.from_numpy(rng.standard_normal((2, 3, 3, 3))).requires_grad_()
    r = fastdl.from_numpy(rng.standard_normal((2, 3, 3, 3))).requires_grad_()

    def f(x, r):
        h = x * 1.0
        if cl:
            h = h.contiguous(memory_format=fastdl.channels_last)
            r = r.contiguous(memory_format=fastdl.channels_last)
        y = bn(h)
        assert (type(y) is DeferredTensor) == fastdl.is_grad_enabled()  # (the differences: not)
        return F.relu(y + r)

    assert gradcheck(f, [x, r])


def test_apply_kernel_and_errors(isa, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    y, mean, var, invstd, ss = _C.batch_norm_train(x, w, b, 1e-5)
    none, *stats = _C.batch_norm_train(x, w, b, 1e-5, output=False)
    assert none is None
    for u, v in zip(stats, (mean, var, invstd, ss)):
        np.testing.assert_array_equal(u, v)
    r = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(_C.batch_norm_apply(x, ss), y)
    np.testing.assert_array_equal(_C.batch_norm_apply(x, ss, r, "relu"), np.maximum(y + r, 0))
    np.testing.assert_array_equal(_C.batch_norm_apply(x, ss, r, "clamp", -0.5, 0.5),
                                  np.clip(y + r, -0.5, 0.5))
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1).reshape(-1, 4))  # S == 1: per column
    yr = _C.batch_norm_apply(rows, ss, rows * 0.5, "relu")
    ref = np.maximum(rows * ss[0] + ss[1] + rows * 0.5, 0)
    assert_close(yr, ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="scale_shift must be a C-contiguous array of shape"):
        _C.batch_norm_apply(x, ss[:, :3].copy())
    with pytest.raises(ValueError, match="residual has shape"):
        _C.batch_norm_apply(x, ss, r[:, :, :4].copy())
    with pytest.raises((ValueError, TypeError), match="residual"):
        _C.batch_norm_apply(x, ss, r.astype(np.float64))
    with pytest.raises(ValueError, match="residual.*C-contiguous"):
        _C.batch_norm_apply(x, ss, np.asfortranarray(r))
    with pytest.raises(ValueError, match="input.*C-contiguous"):
        _C.batch_norm_apply(np.asfortranarray(x), ss)
    with pytest.raises(ValueError, match="activation must be"):
        _C.batch_norm_apply(x, ss, None, "gelu")
    with pytest.raises(TypeError, match="residual must be an array"):
        _C.batch_norm_apply(x, ss, [1.0])
    # the residual another batch norm's output: r·ss2[0] + ss2[1]
    y2, *_, ss2 = _C.batch_norm_train(r, b, w, 1e-5)
    np.testing.assert_array_equal(_C.batch_norm_apply(x, ss, r, "relu", 0.0, 0.0, ss2),
                                  np.maximum(y + y2, 0))
    ry = _C.batch_norm_apply(rows, ss, rows * 0.5, "none", 0.0, 0.0, ss2)
    assert_close(ry, rows * ss[0] + ss[1] + (rows * 0.5 * ss2[0] + ss2[1]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="residual_scale_shift needs a residual"):
        _C.batch_norm_apply(x, ss, None, "none", 0.0, 0.0, ss2)
    with pytest.raises(ValueError, match="residual_scale_shift must be a C-contiguous array"):
        _C.batch_norm_apply(x, ss, r, "none", 0.0, 0.0, ss2[:, :2].copy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_streamed_outputs_of_16mb(isa, rng, dtype):
    """Outputs of 16 MB and more with planes on 64-byte boundaries are written with
    non-temporal stores (the residual form of batch_norm_apply, the backward's gx): against
    NumPy, and the activation-masked backward against the plain one of the masked gradient."""
    C = 16 if dtype == np.float64 else 32
    shape = (2, C, 256, 256)  # 16.8 MB, S·itemsize a multiple of 64
    x = rng.standard_normal(shape).astype(dtype)
    r = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = np.linspace(0.5, 1.5, C).astype(dtype)
    b = np.linspace(-0.3, 0.4, C).astype(dtype)
    y, mean, var, invstd, ss = _C.batch_norm_train(x, w, b, 1e-5)
    z = _C.batch_norm_apply(x, ss, r, "relu")
    np.testing.assert_array_equal(z, np.maximum(y + r, 0))
    gx, gw, gb = _C.batch_norm_backward(g, x, mean, invstd, w, True, True, True, True)
    ref = batch_norm_backward_ref(g, x, w)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for u, v in zip((gx, gw, gb), ref):
        assert_close(u, v, atol=tol * 10, rtol=tol)
    gxa, *_ = _C.batch_norm_backward_act(g, x, mean, invstd, w, ss, "relu", 0.0, 0.0, True,
                                         True, True)
    mask = (y > 0)
    gm = np.where(mask, g, 0).astype(dtype)
    gxm, *_ = _C.batch_norm_backward(gm, x, mean, invstd, w, True, True, True, True)
    np.testing.assert_array_equal(gxa, gxm)
