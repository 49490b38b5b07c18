"""Batch norm fused with the ReLU / ReLU6 / Hardtanh after it (``nn/functional/normalization``):
the backward fusion the autograd engine makes (the activation's mask applied inside the
batch-norm backward kernel) and the forward fusion ``nn.Sequential`` makes (one kernel pass).
Both must give bitwise the results of the unfused ops, on every ISA and thread count, and
must not happen where the batch norm's own output or gradient can be observed."""
import contextlib

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.nn.functional import normalization as NM
from fastdl.nn.functional.normalization import set_norm_act_fusion
from fastdl.testing import assert_close, assert_thread_invariant, gradcheck
from fastdl.testing.reference.norm import batch_norm_backward_ref, batch_norm_ref

ACTS = {
    "relu": (lambda: nn.ReLU(), lambda y: np.maximum(y, 0), lambda y: y > 0),
    "relu6": (lambda: nn.ReLU6(), lambda y: np.clip(y, 0, 6), lambda y: (y > 0) & (y < 6)),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.75), lambda y: np.clip(y, -0.5, 0.75),
                 lambda y: (y > -0.5) & (y < 0.75)),
}
# small planes (the sweeps), planes of >= 256 values in a channel that fits L2 (the per-channel
# path of the kernels), a channel too large for it (the sweeps again)
SHAPES = [(4, 6, 5, 7), (64, 33), (3, 20, 1, 1), (2, 5, 3, 4, 3), (5, 17, 9), (4, 5, 16, 20),
          (3, 4, 300), (2, 2, 300, 121), (1100, 270)]


@contextlib.contextmanager
def fusion(forward, backward):
    prev = set_norm_act_fusion(forward, backward)
    try:
        yield
    finally:
        set_norm_act_fusion(*prev)


@contextlib.contextmanager
def count_kernels():
    """Counts of the fused kernel calls: forward with an activation, backward with one."""
    calls = {"fwd": 0, "bwd": 0}
    real = NM._C

    class Spy:
        def __getattr__(self, k):
            return getattr(real, k)

        def batch_norm_train(self, *a):
            calls["fwd"] += len(a) > 4 and a[4] != "none"
            return real.batch_norm_train(*a)

        def batch_norm_eval(self, *a):
            calls["fwd"] += len(a) > 6 and a[6] != "none"
            return real.batch_norm_eval(*a)

        def batch_norm_backward_act(self, *a):
            calls["bwd"] += 1
            return real.batch_norm_backward_act(*a)

    NM._C = Spy()
    try:
        yield calls
    finally:
        NM._C = real


def _bn_for(shape, dtype=np.float32):
    C = shape[1]
    bn = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}.get(len(shape))
    if bn is None:
        bn = nn.BatchNorm3d
    m = bn(C, dtype=dtype)
    with fastdl.no_grad():
        m.weight.copy_(fastdl.linspace(0.5, 1.5, C, dtype=m.weight.dtype))
        m.bias.copy_(fastdl.linspace(-0.3, 0.4, C, dtype=m.weight.dtype))
    return m


def _run(shape, act, x0, g0, fwd, bwd, train=True, seq=True):
    """x.grad, weight.grad, bias.grad, the output, the running stats: BN then `act`,
    through nn.Sequential (seq) or as two calls."""
    with fusion(fwd, bwd):
        bn = _bn_for(shape, x0.dtype)
        a = ACTS[act][0]()
        model = nn.Sequential(bn, a) if seq else None
        bn.train(train)
        x = fastdl.from_numpy(x0.copy()).requires_grad_()
        y = model(x) if seq else a(bn(x))
        y.backward(fastdl.from_numpy(g0))
        return [x.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
                y.detach().numpy(), bn.running_mean.numpy(), bn.running_var.numpy()]


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_fused_equals_unfused_bitwise(isa, rng, act, shape, train):
    x0 = rng.standard_normal(shape).astype(np.float32)
    x0.flat[::7] = 0.0  # values on the activation's kinks
    g0 = rng.standard_normal(shape).astype(np.float32)
    ref = _run(shape, act, x0, g0, False, False, train)
    with count_kernels() as calls:
        for fwd, bwd, seq in ((True, True, True), (False, True, True), (True, False, True),
                              (False, True, False)):
            got = _run(shape, act, x0, g0, fwd, bwd, train, seq)
            for k, (u, v) in enumerate(zip(ref, got)):
                assert np.array_equal(u, v), (k, fwd, bwd, seq)
    # the forward fusion ran twice (Sequential with fwd on); the backward one in training
    # for every combination with a fused forward or bwd on
    assert calls["fwd"] == 2
    assert calls["bwd"] == (4 if train else 0)


@pytest.mark.parametrize("shape", [(6, 4, 3, 5), (90, 7)], ids=str)
def test_outputs_exactly_on_the_kinks(isa, rng, shape):
    """Batch-norm outputs exactly on the activations' kinks: each channel holds 0, 1, 2 in
    equal counts (mean 1, so x = 1 gives y = 1·scale − scale = 0 exactly: ReLU's kink), and
    with eps = 0 a channel of 0 and 1 gives y = ±1 exactly (Hardtanh(−1, 1)'s bounds). The
    fused backward recomputes the activation's input from x: the same masks, bitwise."""
    n = int(np.prod(shape)) // shape[1]
    x3 = np.stack([rng.permutation(np.arange(n) % 3) for _ in range(shape[1])], 1)
    x2 = np.stack([rng.permutation(np.arange(n) % 2) for _ in range(shape[1])], 1)
    if len(shape) == 4:
        x3, x2 = (a.reshape(shape[0], shape[2], shape[3], shape[1]).transpose(0, 3, 1, 2)
                  for a in (x3, x2))
    g0 = rng.standard_normal(shape).astype(np.float32)
    for x0, act, eps in ((x3, lambda: nn.ReLU(), 1e-5), (x3, lambda: nn.ReLU6(), 1e-5),
                         (x2, lambda: nn.Hardtanh(), 0.0)):
        x0 = np.ascontiguousarray(x0, dtype=np.float32)
        got = []
        for fwd, bwd in ((False, False), (True, True), (False, True)):
            with fusion(fwd, bwd):
                bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], eps=eps)
                x = fastdl.from_numpy(x0.copy()).requires_grad_()
                y = nn.Sequential(bn, act())(x)
                y.backward(fastdl.from_numpy(g0))
                got.append((x.grad.numpy(), bn.weight.grad.numpy(), y.detach().numpy()))
        bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1], eps=eps)
        yb = bn(fastdl.from_numpy(x0)).detach().numpy()  # the activation's input
        assert np.all(yb[x0 == 1.0] == 0.0) if eps else np.all(np.abs(yb) == 1.0)
        for other in got[1:]:
            for u, v in zip(got[0], other):
                assert np.array_equal(u, v)


@pytest.mark.parametrize("act", list(ACTS))
def test_against_reference_and_torch(rng, act):
    shape = (6, 5, 4, 3)
    x0 = rng.standard_normal(shape).astype(np.float32)
    g0 = rng.standard_normal(shape).astype(np.float32)
    gx, gw, gb, y, rm, rv = _run(shape, act, x0, g0, True, True)
    w = np.linspace(0.5, 1.5, 5)
    b = np.linspace(-0.3, 0.4, 5)
    z, _, _ = batch_norm_ref(x0, weight=w, bias=b, training=True)
    _, fwd, mask = ACTS[act]
    np.testing.assert_allclose(y, fwd(z), rtol=1e-5, atol=1e-5)
    rgx, rgw, rgb = batch_norm_backward_ref(g0 * mask(z), x0, weight=w, training=True)
    np.testing.assert_allclose(gx, rgx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, rgw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gb, rgb, rtol=1e-4, atol=1e-4)
    torch = pytest.importorskip("torch")
    tb = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        tb.weight.copy_(torch.tensor(w, dtype=torch.float32))
        tb.bias.copy_(torch.tensor(b, dtype=torch.float32))
    ta = {"relu": torch.nn.ReLU(), "relu6": torch.nn.ReLU6(),
          "hardtanh": torch.nn.Hardtanh(-0.5, 0.75)}[act]
    xt = torch.tensor(x0, requires_grad=True)
    yt = torch.nn.Sequential(tb, ta)(xt)
    yt.backward(torch.tensor(g0))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, tb.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rv, tb.running_var.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rm, tb.running_mean.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("mode", ["forward", "backward"])
def test_gradcheck_float64(rng, act, mode):
    x = fastdl.from_numpy(rng.standard_normal((3, 4, 3, 2))).requires_grad_()
    bn = _bn_for((3, 4, 3, 2), np.float64)
    a = ACTS[act][0]()
    model = nn.Sequential(bn, a)
    with fusion(mode == "forward", mode == "backward"), count_kernels() as calls:
        assert gradcheck(lambda x, w, b: model(x), (x, bn.weight, bn.bias), eps=1e-6,
                         atol=1e-5)
    assert calls["bwd"] > 0
    if mode == "forward":
        assert calls["fwd"] > 0


@pytest.mark.parametrize("act", list(ACTS))
def test_double_backward_fused_forward(rng, act):
    """create_graph through the fused forward node: the gradient's own gradient matches the
    unfused graph's."""
    x0 = rng.standard_normal((4, 3, 3, 3))
    res = []
    for fwd in (False, True):
        with fusion(fwd, False):
            bn = _bn_for((4, 3, 3, 3), np.float64)
            model = nn.Sequential(bn, ACTS[act][0]())
            x = fastdl.from_numpy(x0.copy()).requires_grad_()
            y = model(x)
            (gx,) = fastdl.autograd.grad((y * y).sum(), x, create_graph=True)
            gx.pow(2).sum().backward()
            res.append((gx.detach().numpy(), x.grad.numpy(), bn.weight.grad.numpy()))
    for u, v in zip(*res):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


def test_hooks_and_observers_disable_fusion(rng):
    x0 = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    seen = []
    # a forward hook on the batch norm: it must see the batch norm's own output
    bn, r = _bn_for(x0.shape), nn.ReLU()
    bn.register_forward_hook(lambda m, a, out: seen.append(out.detach().numpy().min()))
    with count_kernels() as calls:
        nn.Sequential(bn, r)(fastdl.from_numpy(x0))
    assert calls["fwd"] == 0 and seen and seen[0] < 0
    # a forward hook on the activation
    bn, r = _bn_for(x0.shape), nn.ReLU()
    r.register_forward_hook(lambda m, a, out: seen.append(a[0].detach().numpy().min()))
    with count_kernels() as calls:
        nn.Sequential(bn, r)(fastdl.from_numpy(x0))
    assert calls["fwd"] == 0 and seen[-1] < 0
    # a tensor hook on the batch norm's output sees the masked gradient, not a fused one
    bn = _bn_for(x0.shape)
    x = fastdl.from_numpy(x0).requires_grad_()
    z = bn(x)
    got = []
    z.register_hook(lambda g: got.append(g.numpy().copy()))
    with count_kernels() as calls:
        F.relu(z).sum().backward()
    assert calls["bwd"] == 0
    assert np.array_equal(got[0], (z.detach().numpy() > 0).astype(np.float32))
    # retain_grad on the batch norm's output
    x = fastdl.from_numpy(x0).requires_grad_()
    z = bn(x)
    z.retain_grad()
    with count_kernels() as calls:
        F.relu(z).sum().backward()
    assert calls["bwd"] == 0 and z.grad is not None
    # the batch norm's output feeds a second consumer
    x = fastdl.from_numpy(x0).requires_grad_()
    z = bn(x)
    with count_kernels() as calls:
        (F.relu(z).sum() + (z * 2).sum()).backward()
    assert calls["bwd"] == 0
    # autograd.grad asks for the batch norm's output
    x = fastdl.from_numpy(x0).requires_grad_()
    z = bn(x)
    with count_kernels() as calls:
        (gz,) = fastdl.autograd.grad(F.relu(z).sum(), z)
    assert calls["bwd"] == 0
    assert np.array_equal(gz.numpy(), (z.detach().numpy() > 0).astype(np.float32))
    # a hook removed again, a process-wide module hook
    bn, r = _bn_for(x0.shape), nn.ReLU()
    bn.register_forward_hook(lambda m, a, out: None).remove()
    with count_kernels() as calls:
        nn.Sequential(bn, r)(fastdl.from_numpy(x0))
    assert calls["fwd"] == 1
    h = nn.modules.module.register_module_forward_hook(lambda m, a, out: None)
    try:
        with count_kernels() as calls:
            nn.Sequential(_bn_for(x0.shape), nn.ReLU())(fastdl.from_numpy(x0))
        assert calls["fwd"] == 0
    finally:
        h.remove()
    # a full backward hook on the batch norm
    bn = _bn_for(x0.shape)
    bn.register_full_backward_hook(lambda m, gi, go: seen.append("bwd"))
    with count_kernels() as calls:
        x = fastdl.from_numpy(x0).requires_grad_()
        nn.Sequential(bn, nn.ReLU())(x).sum().backward()
    assert calls["fwd"] == 0 and seen[-1] == "bwd"
    # an activation not fused (leaky_relu) and a subclassed batch norm
    with count_kernels() as calls:
        x = fastdl.from_numpy(x0).requires_grad_()
        F.leaky_relu(bn(x)).sum().backward()

        class MyBN(nn.BatchNorm2d):
            def forward(self, x):
                return super().forward(x) * 1.0
        nn.Sequential(MyBN(3), nn.ReLU())(fastdl.from_numpy(x0))
    assert calls == {"fwd": 0, "bwd": 0}


def test_fused_forward_keeps_module_semantics(rng):
    """Running statistics, num_batches_tracked, momentum=None and eval with the fused forward."""
    x0 = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    out = []
    for fwd in (False, True):
        with fusion(fwd, True):
            bn = nn.BatchNorm2d(3, momentum=None)
            m = nn.Sequential(bn, nn.ReLU6())
            for _ in range(3):
                m(fastdl.from_numpy(x0 * 2))
            m.eval()
            y = m(fastdl.from_numpy(x0))
            out.append([y.detach().numpy(), bn.running_mean.numpy(), bn.running_var.numpy(),
                        bn.num_batches_tracked.numpy()])
    for u, v in zip(*out):
        assert np.array_equal(u, v)


def test_channels_last(rng):
    x0 = rng.standard_normal((4, 6, 5, 5)).astype(np.float32)
    g0 = rng.standard_normal((4, 6, 5, 5)).astype(np.float32)
    res = []
    for fuse, cl in ((False, False), (True, True)):
        with fusion(fuse, fuse):
            bn = _bn_for(x0.shape)
            x = fastdl.from_numpy(x0.copy())
            if cl:
                x = x.contiguous(memory_format=fastdl.channels_last)
            x.requires_grad_()
            y = nn.Sequential(bn, nn.ReLU())(x)
            y.backward(fastdl.from_numpy(g0))
            res.append([y.detach().numpy(), x.grad.numpy(), bn.weight.grad.numpy()])
    # channels_last runs batch norm on the NHWC rows: the same values up to the order of the
    # per-channel sums
    for u, v in zip(*res):
        assert_close(u, v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act", list(ACTS))
def test_thread_invariant(isa, rng, act):
    shape = (16, 24, 13, 11)
    x0 = rng.standard_normal(shape).astype(np.float32)
    g0 = rng.standard_normal(shape).astype(np.float32)
    assert_thread_invariant(lambda: _run(shape, act, x0, g0, True, True))
    x1, g1 = (a.reshape(-1)[:300 * 70].reshape(300, 70).copy() for a in (x0, g0))
    assert_thread_invariant(lambda: _run((300, 70), act, x1, g1, True, True))
    x2, g2 = (rng.standard_normal((1100, 270)).astype(np.float32) for _ in range(2))
    assert_thread_invariant(lambda: _run((1100, 270), act, x2, g2, True, True))


def test_backward_act_binding_errors(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    m = np.zeros(3, np.float32)
    s = np.ones(3, np.float32)
    ss = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="activation"):
        fastdl._C.batch_norm_backward_act(x, x, m, s, None, ss, "gelu", 0.0, 0.0, True, False,
                                          False)
    with pytest.raises(ValueError, match="min_val"):
        fastdl._C.batch_norm_backward_act(x, x, m, s, None, ss, "clamp", 1.0, 0.0, True, False,
                                          False)
    with pytest.raises(ValueError, match=r"scale_shift must .*\(2, 3\)"):
        fastdl._C.batch_norm_backward_act(x, x, m, s, None, x, "relu", 0.0, 0.0,
                                          True, False, False)
    with pytest.raises(TypeError, match="scale_shift"):
        fastdl._C.batch_norm_backward_act(x, x, m, s, None, ss.astype(np.float64), "relu", 0.0,
                                          0.0, True, False, False)
    with pytest.raises(ValueError, match="activation"):
        fastdl._C.batch_norm_train(x, None, None, 1e-5, "tanh")


@pytest.mark.parametrize("act", ["relu", "relu6", "hardtanh"])
def test_inplace_activation_recorded(isa, rng, act):
    """ReLU(inplace=True) on a recorded tensor writes into its storage; values and gradients
    equal the out-of-place op's bitwise (also followed by the batch-norm fusion), and an op that
    saved the old values refuses to backward."""
    make = {"relu": lambda ip: nn.ReLU(inplace=ip), "relu6": lambda ip: nn.ReLU6(inplace=ip),
            "hardtanh": lambda ip: nn.Hardtanh(-0.5, 0.75, inplace=ip)}[act]
    x0 = rng.standard_normal((4, 6, 5, 5))
    x0.flat[::5] = 0.0
    res = []
    for ip in (False, True):
        fastdl.manual_seed(0)
        conv, bn = nn.Conv2d(6, 6, 3, padding=1, dtype=np.float64), _bn_for(x0.shape, np.float64)
        x = fastdl.from_numpy(x0.copy()).requires_grad_()
        z = bn(conv(x))
        arr = z._array
        y = make(ip)(z)
        assert (y is z and y._array is arr) if ip else y is not z
        out = make(ip)(y * 2.0)
        (out * out).sum().backward()
        res.append([out.detach().numpy(), x.grad.numpy(), conv.weight.grad.numpy(),
                    bn.weight.grad.numpy()])
    for u, v in zip(*res):
        assert np.array_equal(u, v)
    x = fastdl.from_numpy(x0.copy()).requires_grad_()
    t = x * 1.0
    u = t * t
    make(True)(t)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        u.sum().backward()
    # gradcheck through the in-place op
    x = fastdl.from_numpy(rng.standard_normal((2, 2, 5, 5))).requires_grad_()  # off the kinks
    assert gradcheck(lambda x: make(True)(x * 1.5), (x,))


def test_residual_gradient_sum(rng):
    """Two gradients meeting at one output (a residual junction) are summed into a new buffer:
    neither addend is modified, and the result is their sum."""
    x0 = rng.standard_normal((8, 64, 9, 9)).astype(np.float32)
    x = fastdl.from_numpy(x0).requires_grad_()
    h = x * 1.0
    g1, g2 = [], []
    a = h * 2.0
    b = h * 3.0
    a.register_hook(lambda g: g1.append(g.numpy().copy()))
    b.register_hook(lambda g: g2.append(g.numpy().copy()))
    ga = rng.standard_normal(x0.shape).astype(np.float32)
    gb = rng.standard_normal(x0.shape).astype(np.float32)
    fastdl.autograd.backward([a, b], [fastdl.from_numpy(ga), fastdl.from_numpy(gb)])
    assert np.array_equal(x.grad.numpy(), ga * 2.0 + gb * 3.0)
    assert np.array_equal(g1[0], ga) and np.array_equal(g2[0], gb)


@pytest.mark.parametrize("shape", [(4, 6, 5, 7), (64, 33)], ids=str)
@pytest.mark.parametrize("cl", [False, True], ids=["nchw", "cl"])
def test_eval_without_grad_runs_graph_free_bitwise(rng, shape, cl):
    """An eval-mode batch norm (alone and fused with the ReLU6 after it) under no_grad runs
    the kernel without recording a graph, with bitwise the recorded op's output and layout."""
    if cl and len(shape) != 4:
        pytest.skip("channels_last is 4-D")
    x0 = rng.standard_normal(shape).astype(np.float32)
    out = {}
    for grad in (True, False):
        bn = _bn_for(shape)
        with fastdl.no_grad():
            bn.running_mean.copy_(fastdl.linspace(-0.2, 0.3, shape[1]))
            bn.running_var.copy_(fastdl.linspace(0.5, 2.0, shape[1]))
        bn.eval()
        x = fastdl.from_numpy(x0.copy())
        if cl:
            x = x.to(memory_format=fastdl.channels_last)
        for name, model in (("bn", bn), ("bn+relu6", nn.Sequential(bn, nn.ReLU6()))):
            if grad:
                y = model(x.detach().requires_grad_())
                assert y.grad_fn is not None
            else:
                with fastdl.no_grad():
                    y = model(x)
                assert y.grad_fn is None
            out[grad, name] = (y.detach().numpy(), y.is_contiguous(
                memory_format=fastdl.channels_last) and not y.is_contiguous())
    for name in ("bn", "bn+relu6"):
        a, b = out[True, name], out[False, name]
        assert np.array_equal(a[0], b[0]) and a[1] == b[1] == (cl and len(shape) == 4)
