"""Gradients meeting at one tensor (residual junctions) are summed correctly: against torch,
with the pass-through gradients the adds share between their inputs observed by hooks after
the whole backward (a sum written into one of them in place would show there)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F


def _net(lib, fn, x, w1, w2, w3, c, seen):
    h = fn.conv2d(x, w1, padding=1)
    a = fn.conv2d(h, w2, padding=1)
    b = fn.conv2d(h, w3, padding=1)
    a.register_hook(lambda g: seen.append(("a", g)))
    b.register_hook(lambda g: seen.append(("b", g)))
    h.register_hook(lambda g: seen.append(("h", g)))
    # h gets four gradients: two fresh input gradients of the convolutions and two shared
    # pass-throughs of the adds (each also the gradient of a or b)
    out = (a + h) + (b + h)
    return (out * c).sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels_last", [False, True])
def test_residual_junctions_match_torch(dtype, channels_last):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 16, 24, 24)).astype(dtype)  # >= 2^15 values: the C++ add
    ws = [(rng.standard_normal((16, 16, 3, 3)) * 0.1).astype(dtype) for _ in range(3)]
    c = rng.standard_normal((4, 16, 24, 24)).astype(dtype)
    fx = fastdl.tensor(xs, requires_grad=True)
    if channels_last:
        fx = fx.detach().to(memory_format=fastdl.channels_last).requires_grad_()
    fws = [fastdl.tensor(w, requires_grad=True) for w in ws]
    fseen, tseen = [], []
    _net(fastdl, F, fx, *fws, fastdl.tensor(c), fseen).backward()
    tx = torch.tensor(xs, requires_grad=True)
    tws = [torch.tensor(w, requires_grad=True) for w in ws]
    _net(torch, torch.nn.functional, tx, *tws, torch.tensor(c), tseen).backward()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    for fw, tw in zip(fws, tws):
        np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=tol, atol=tol * 10)
    assert [n for n, _ in fseen] == [n for n, _ in tseen]
    for (n, fg), (_, tg) in zip(fseen, tseen):  # checked after the whole backward
        np.testing.assert_allclose(fg.numpy(), tg.numpy(), rtol=tol, atol=tol, err_msg=n)


# ---- a junction feeding an activation: the sum computed inside the activation's backward ----
import contextlib  # noqa: E402

from fastdl import _C  # noqa: E402
from fastdl.nn.functional import activation as _act  # noqa: E402
from fastdl.nn.functional import normalization as _norm  # noqa: E402


@contextlib.contextmanager
def _folding(on, bn_sums=True):
    """The junction fold on or off (``_Act._sum_up``), and with it the batch norms' sums taken
    in the same sweep (``bn_sums``: normalization's ``_RES_SUMS``); yields a list that gets
    one entry per call of a two-gradient kernel: "sum" (``_C.eltwise_backward`` with
    ``grad2``) or "bn" (``_C.activation_backward_bn_sums``)."""
    saved, orig, orig_bn, calls = _act._Act._sum_up, _C.eltwise_backward, \
        _C.activation_backward_bn_sums, []
    prev = _norm._RES_SUMS[0]

    def spy(*a, **k):
        if k.get("grad2") is not None:
            calls.append("sum")
        return orig(*a, **k)

    def spy_bn(*a, **k):
        calls.append("bn")
        return orig_bn(*a, **k)

    _act._Act._sum_up = saved if on else None
    _norm._RES_SUMS[0] = bn_sums
    _C.eltwise_backward = spy
    _C.activation_backward_bn_sums = spy_bn
    try:
        yield calls
    finally:
        _act._Act._sum_up = saved
        _norm._RES_SUMS[0] = prev
        _C.eltwise_backward = orig
        _C.activation_backward_bn_sums = orig_bn


class _Block(fastdl.nn.Module):
    """A residual block whose output reaches two consumers: the next block's convolution and
    its identity branch (the junction). `style`: "relu" (F.relu), "inplace" (torchvision's
    ``out += identity`` then ``ReLU(inplace=True)``), "silu" (an activation whose backward
    reads its input)."""

    def __init__(self, c, style):
        super().__init__()
        nn = fastdl.nn
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.style = style

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.style == "inplace":
            out += x
            return self.relu(out)
        if self.style == "silu":
            return F.silu(out + x)
        return F.relu(out + x)


def _junction_net(style, cl, dtype):
    fastdl.manual_seed(0)
    nn = fastdl.nn
    net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), *[_Block(16, style) for _ in range(3)])
    net = net.to(dtype=fastdl.float64 if dtype == np.float64 else fastdl.float32)
    if cl:
        net = net.to(memory_format=fastdl.channels_last)
    return net


def _grads(net, x, c, fused, bn_sums=True):
    with _folding(fused, bn_sums) as calls:
        for p in net.parameters():
            p.grad = None
        xt = fastdl.tensor(x, requires_grad=True)
        if x.ndim == 4 and not x.flags.c_contiguous:
            xt = fastdl.tensor(np.ascontiguousarray(x)).to(
                memory_format=fastdl.channels_last).requires_grad_()
        (net(xt) * fastdl.tensor(c)).sum().backward()
    return [xt.grad.numpy()] + [p.grad.numpy() for p in net.parameters()], calls


@pytest.mark.parametrize("style", ["relu", "inplace", "silu"])
@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bn_sums", [True, False])
def test_junction_into_activation_is_bitwise_the_separate_sum(isa, style, cl, dtype, bn_sums):
    """Each block output's two gradients are summed inside the activation's backward (one
    kernel call per junction: two of the three block outputs here, the last one feeds only
    the loss) and every gradient is bitwise the one of the separate sum. A ReLU after
    ``bn2(...) + x`` on C-contiguous arrays also takes bn2's backward sums in that call
    (``bn_sums``; channels last and SiLU sum alone)."""
    rng = np.random.default_rng(1)
    net = _junction_net(style, cl, dtype)
    x = rng.standard_normal((4, 8, 12, 12)).astype(dtype)
    if cl:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    c = rng.standard_normal((4, 16, 12, 12)).astype(dtype)
    want, sep = _grads(net, x, c, fused=False)
    got, fused = _grads(net, x, c, fused=True, bn_sums=bn_sums)
    # (channels-last silu: its backward gives an NCHW gradient -- torch's layout rule -- so
    # the junction's two gradients differ in layout and are summed separately)
    assert sep == []
    if cl and style == "silu":
        assert fused == []
    else:
        assert fused == ["bn" if bn_sums and not cl and style != "silu" else "sum"] * 2
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape and g.strides == w.strides
        assert np.array_equal(np.ascontiguousarray(g).view(np.uint8),
                              np.ascontiguousarray(w).view(np.uint8))


def test_junction_into_activation_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 6, 6))
    ws = [rng.standard_normal((4, 4, 3, 3)) * 0.3 for _ in range(4)]
    c = rng.standard_normal((2, 4, 6, 6))

    def run(lib, fn, xt, wts):
        h = fn.relu(fn.conv2d(xt, wts[0], padding=1))
        for w in wts[1:]:  # h: the next conv's input and its identity
            h = fn.relu(fn.conv2d(h, w, padding=1) + h)
        return (h * lib.tensor(c)).sum()

    fx = fastdl.tensor(x, requires_grad=True)
    fws = [fastdl.tensor(w, requires_grad=True) for w in ws]
    run(fastdl, F, fx, fws).backward()
    tx = torch.tensor(x, requires_grad=True)
    tws = [torch.tensor(w, requires_grad=True) for w in ws]
    run(torch, torch.nn.functional, tx, tws).backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for fw, tw in zip(fws, tws):
        np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def _observed(kind):
    """One junction y = relu(x·w) read by two consumers, observed in a way that needs the sum
    (or, for "three", with a third consumer): the gradients and how many fused calls ran."""
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((64, 600))
    ws = rng.standard_normal((600, 600)) * 0.05
    res = {}
    for fused in (False, True):
        with _folding(fused) as calls:
            x = fastdl.tensor(xs, requires_grad=True)
            w = fastdl.tensor(ws, requires_grad=True)
            y = F.relu(x @ w)
            seen = []
            if kind == "hook":
                y.register_hook(lambda g: seen.append(g.numpy().copy()))
            if kind == "retain":
                y.retain_grad()
            z = (y @ w).tanh() + y * 2.0
            if kind == "three":
                z = z + y.sin()
            loss = z.sum()
            if kind == "grad":
                gy, gx = fastdl.autograd.grad(loss, [y, x])
                out = [gy.numpy(), gx.numpy()]
            elif kind == "root":  # y given a gradient of its own: a third one
                fastdl.autograd.backward([loss, y], [None, fastdl.ones_like(y)])
                out = [x.grad.numpy(), w.grad.numpy()]
            else:
                loss.backward()
                out = [x.grad.numpy(), w.grad.numpy()]
            if kind == "hook":
                out.append(seen[0])
            if kind == "retain":
                out.append(y.grad.numpy())
        res[fused] = (out, len(calls))
    return res


@pytest.mark.parametrize("kind", ["plain", "hook", "retain", "grad", "root", "three"])
def test_junction_sum_observed_or_incomplete_is_not_folded(kind):
    """The sum is folded only when it is the last of exactly two gradients and nothing reads
    it: a hook, retain_grad, autograd.grad on the junction, a gradient given to it as a root
    or a third consumer keep the separate sum -- every gradient is the same either way."""
    res = _observed(kind)
    (want, n0), (got, n1) = res[False], res[True]
    assert n0 == 0 and n1 == (1 if kind == "plain" else 0)
    for w, g in zip(want, got):
        assert np.array_equal(w, g)


def test_junction_sum_with_create_graph_is_recorded():
    """create_graph: the sum stays a recorded add (the double backward differentiates it)."""
    x = fastdl.tensor(np.random.default_rng(4).standard_normal((5, 7)), requires_grad=True)
    y = (x * 1.5).tanh()
    z = (y * y.detach() + y.sin()).sum()
    (gx,) = fastdl.autograd.grad(z, x, create_graph=True)
    assert gx.requires_grad
    ggx = fastdl.autograd.grad(gx.sum(), x)[0]
    xt = x.detach().numpy()
    # numeric second derivative of sum(d z / d x) by central differences
    def first(v):
        t = fastdl.tensor(v, requires_grad=True)
        yy = (t * 1.5).tanh()
        return fastdl.autograd.grad((yy * yy.detach() + yy.sin()).sum(), t)[0].numpy().sum()
    eps = 1e-6
    num = np.zeros_like(xt)
    for i in np.ndindex(xt.shape):
        d = np.zeros_like(xt)
        d[i] = eps
        num[i] = (first(xt + d) - first(xt - d)) / (2 * eps)
    np.testing.assert_allclose(ggx.numpy(), num, rtol=1e-5, atol=1e-6)


class _DownBlock(fastdl.nn.Module):
    """``act(bn1(conv1(x)) + bn2(conv2(x)))``: a block end with a batch norm on both sides of
    the add (ResNet's downsampling shortcut), its output read twice by the caller."""

    def __init__(self, c, act):
        super().__init__()
        nn = fastdl.nn
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.act = nn.ReLU() if act == "relu" else nn.ReLU6()

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)) + self.bn2(self.conv2(x)))
        return y * 2.0 + y.sin()


def _down_grads(act, dtype, fused, bn_sums, hook=None):
    fastdl.manual_seed(3)
    blk = _DownBlock(6, act).to(dtype=fastdl.float64 if dtype == np.float64 else fastdl.float32)
    rng = np.random.default_rng(4)
    x = fastdl.tensor(rng.standard_normal((3, 6, 7, 5)).astype(dtype) * 3, requires_grad=True)
    with _folding(fused, bn_sums) as calls:
        if hook == "bn":  # a hook reads (and replaces) bn1's output gradient
            def on_output(m, i, o):
                o.register_hook(lambda g: g * 0.5)

            blk.bn1.register_forward_hook(on_output)
        out = blk(x)
        out.sum().backward()
    return [x.grad.numpy()] + [p.grad.numpy() for p in blk.parameters()], calls


@pytest.mark.parametrize("act", ["relu", "relu6"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_end_takes_both_batch_norms_sums_bitwise(isa, act, dtype):
    """A ReLU / ReLU6 after the sum of two training batch norms' outputs takes both batch
    norms' backward sums in its own backward's sweep (one call) and every gradient is bitwise
    the one of the separate activation backward, sum and batch-norm reductions."""
    want, sep = _down_grads(act, dtype, fused=False, bn_sums=False)
    plain, summed = _down_grads(act, dtype, fused=True, bn_sums=False)
    got, fused = _down_grads(act, dtype, fused=True, bn_sums=True)
    assert sep == [] and summed == ["sum"] and fused == ["bn"]
    for w, p, g in zip(want, plain, got):
        assert np.array_equal(w.view(np.uint8), g.view(np.uint8))
        assert np.array_equal(p.view(np.uint8), g.view(np.uint8))


def test_block_end_sums_match_torch():
    torch = pytest.importorskip("torch")
    got, calls = _down_grads("relu", np.float64, fused=True, bn_sums=True)
    assert calls == ["bn"]
    fastdl.manual_seed(3)
    blk = _DownBlock(6, "relu").to(dtype=fastdl.float64)
    tn = torch.nn
    tb = tn.ModuleDict({"conv1": tn.Conv2d(6, 6, 3, padding=1, bias=False),
                        "bn1": tn.BatchNorm2d(6), "conv2": tn.Conv2d(6, 6, 1, bias=False),
                        "bn2": tn.BatchNorm2d(6)}).double()
    tb.load_state_dict({k: torch.tensor(v.numpy()) for k, v in blk.state_dict().items()
                        if not k.startswith("act")})
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((3, 6, 7, 5)) * 3, requires_grad=True)
    y = torch.relu(tb["bn1"](tb["conv1"](x)) + tb["bn2"](tb["conv2"](x)))
    (y * 2.0 + y.sin()).sum().backward()
    want = [x.grad] + [p.grad for p in (tb["conv1"].weight, tb["bn1"].weight, tb["bn1"].bias,
                                        tb["conv2"].weight, tb["bn2"].weight, tb["bn2"].bias)]
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-11)


def test_block_end_sums_skip_an_observed_batch_norm_gradient():
    """A hook on one batch norm's output gradient: that batch norm sums its (hooked) gradient
    itself; the other still takes its sums from the activation's sweep; gradients are those
    of the unfused backward."""
    want, sep = _down_grads("relu", np.float64, fused=False, bn_sums=False, hook="bn")
    got, fused = _down_grads("relu", np.float64, fused=True, bn_sums=True, hook="bn")
    assert sep == [] and fused == ["bn"]
    for w, g in zip(want, got):
        assert np.array_equal(w, g)


def test_activation_backward_bn_sums_errors():
    y = np.zeros((2, 3, 4), np.float32)
    m = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="grad_output has shape"):
        _C.activation_backward_bn_sums(y, y[:1], y, "relu", 0.0, 0.0, y, m)
    with pytest.raises(TypeError, match="float32"):
        _C.activation_backward_bn_sums(y, y.astype(np.float64), y, "relu", 0.0, 0.0, y, m)
    with pytest.raises(ValueError, match="mean1 must have shape \\(3,\\)"):
        _C.activation_backward_bn_sums(y, y, y, "relu", 0.0, 0.0, y, m[:2])
    with pytest.raises(ValueError, match="'relu' or 'clamp'"):
        _C.activation_backward_bn_sums(y, y, y, "none", 0.0, 0.0, y, m)
    with pytest.raises(ValueError, match="both be given"):
        _C.activation_backward_bn_sums(y, y, y, "relu", 0.0, 0.0, y, m, y, None)
    with pytest.raises(ValueError, match="sum_gxc must be a C-contiguous float64"):
        _C.batch_norm_backward_sums(y, y, m, m, None, np.zeros(3), np.zeros(3, np.float32),
                                    True, True, True)


@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 1), (2, 3, 5, 4), (2, 18, 7, 7)])
@pytest.mark.parametrize("act", ["relu", "clamp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_backward_bn_sums_is_bitwise_the_separate_kernels(isa, shape, act, dtype):
    """The kernel against the calls it replaces, on planes of one value (rows: the batch
    norm's own row sweep) and of several (its plane sweep, 7² with a vector tail): g bitwise
    eltwise_backward's of the sum, the sums bitwise what batch_norm_backward's gradients of
    weight and bias are made of, the input gradient then bitwise batch_norm_backward's."""
    from fastdl.nn.functional.normalization import _HARDTANH, _RELU
    rng = np.random.default_rng(5)
    y, a, b, x1, x2 = (rng.standard_normal(shape).astype(dtype) for _ in range(5))
    y[..., ::3] = 0.0  # outputs exactly at the ReLU's threshold
    C = shape[1]
    m1, m2 = (x.mean(axis=tuple(i for i in range(x.ndim) if i != 1)).astype(dtype)
              for x in (x1, x2))
    inv = np.full(C, 1.3, dtype)
    w = rng.standard_normal(C).astype(dtype)
    lo, hi = (0.0, 0.0) if act == "relu" else (-0.5, 0.7)
    code, params = (_RELU, []) if act == "relu" else (_HARDTANH, [lo, hi])
    g_want = _C.eltwise_backward(code, True, y, a, params, grad2=b)
    g, sg, s1, s2 = _C.activation_backward_bn_sums(y, a, b, act, lo, hi, x1, m1, x2, m2)
    assert np.array_equal(g.view(np.uint8), g_want.view(np.uint8))
    for x, m, sx in ((x1, m1, s1), (x2, m2, s2)):
        want = _C.batch_norm_backward(g_want, x, m, inv, w, True, True, True, True)
        got = _C.batch_norm_backward_sums(g, x, m, inv, w, sg, sx, True, True, True)
        for u, v in zip(want, got):
            assert np.array_equal(u.view(np.uint8), v.view(np.uint8))


def test_batch_norm_1d_block_end_sums_alone():
    """An (N, C) batch norm before the residual add: its reduction runs over rows, so the
    activation's backward only sums (no batch-norm sums), every gradient as the unfused one."""
    nn = fastdl.nn
    res = {}
    for fused, bn_sums in ((False, False), (True, True)):
        fastdl.manual_seed(6)
        lin, bn = nn.Linear(8, 8).double(), nn.BatchNorm1d(8).double()
        x = fastdl.tensor(np.random.default_rng(7).standard_normal((6, 8)), requires_grad=True)
        with _folding(fused, bn_sums) as calls:
            y = F.relu(bn(lin(x)) + x)
            (y * 3.0 + y.tanh()).sum().backward()
        res[fused] = ([x.grad.numpy(), lin.weight.grad.numpy(), bn.weight.grad.numpy()], calls)
    assert res[False][1] == [] and res[True][1] == ["sum"]
    for w, g in zip(res[False][0], res[True][0]):
        assert np.array_equal(w, g)
