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


@contextlib.contextmanager
def _folding(on):
    """The junction fold on or off (``_Act._sum_up``); yields a list that gets one entry per
    call of the two-gradient kernel (``_C.eltwise_backward`` with ``grad2``)."""
    saved, orig, calls = _act._Act._sum_up, _C.eltwise_backward, []

    def spy(*a, **k):
        if k.get("grad2") is not None:
            calls.append(1)
        return orig(*a, **k)

    _act._Act._sum_up = saved if on else None
    _C.eltwise_backward = spy
    try:
        yield calls
    finally:
        _act._Act._sum_up = saved
        _C.eltwise_backward = orig


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


def _grads(net, x, c, fused):
    with _folding(fused) as calls:
        for p in net.parameters():
            p.grad = None
        xt = fastdl.tensor(x, requires_grad=True)
        if x.ndim == 4 and not x.flags.c_contiguous:
            xt = fastdl.tensor(np.ascontiguousarray(x)).to(
                memory_format=fastdl.channels_last).requires_grad_()
        (net(xt) * fastdl.tensor(c)).sum().backward()
    return [xt.grad.numpy()] + [p.grad.numpy() for p in net.parameters()], len(calls)


@pytest.mark.parametrize("style", ["relu", "inplace", "silu"])
@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_junction_into_activation_is_bitwise_the_separate_sum(isa, style, cl, dtype):
    """Each block output's two gradients are summed inside the activation's backward (one
    kernel call per junction: two of the three block outputs here, the last one feeds only
    the loss) and every gradient is bitwise the one of the separate sum."""
    rng = np.random.default_rng(1)
    net = _junction_net(style, cl, dtype)
    x = rng.standard_normal((4, 8, 12, 12)).astype(dtype)
    if cl:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    c = rng.standard_normal((4, 16, 12, 12)).astype(dtype)
    want, n_sep = _grads(net, x, c, fused=False)
    got, n_fused = _grads(net, x, c, fused=True)
    # (channels-last silu: its backward gives an NCHW gradient -- torch's layout rule -- so
    # the junction's two gradients differ in layout and are summed separately)
    assert n_sep == 0 and n_fused == (0 if cl and style == "silu" else 2)
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
