"""Tensor hooks, engine callbacks and Module hooks, against PyTorch's behaviour."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.nn.modules import module as module_mod
from fastdl.utils.hooks import RemovableHandle


def _t(a, rg=True):
    return fastdl.tensor(np.asarray(a, np.float64), requires_grad=rg)


# ---- tensor hooks ---------------------------------------------------------------------------
def test_register_hook_replaces_gradient_in_order_and_removes():
    x = _t([1.0, 2.0])
    h = x * 3
    calls = []
    h1 = h.register_hook(lambda g: calls.append(("a", g.numpy().copy())) or g * 2)
    h.register_hook(lambda g: calls.append(("b", g.numpy().copy())))
    (h * h).sum().backward()
    # d/dh = 2h = [6, 12]; hook a doubles it; hook b sees the doubled one; x gets 3x
    assert calls[0][0] == "a" and calls[0][1].tolist() == [6, 12]
    assert calls[1][0] == "b" and calls[1][1].tolist() == [12, 24]
    assert x.grad.numpy().tolist() == [36, 72]
    assert isinstance(h1, RemovableHandle)
    h1.remove()
    h1.remove()  # twice: no-op
    x.grad = None
    h = x * 3
    (h * h).sum().backward()
    assert x.grad.numpy().tolist() == [18, 36]


def test_leaf_hook_runs_once_on_the_summed_gradient():
    x = _t([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * 2 + x * 3 + x).sum().backward()
    assert len(seen) == 1 and seen[0].tolist() == [6, 6]
    assert x.grad.numpy().tolist() == [60, 60]


def test_hooks_match_torch():
    torch = pytest.importorskip("torch")

    def run(lib, make):
        x = make([1.0, -2.0, 3.0])
        a = x * x
        b = a.exp() * x
        a.register_hook(lambda g: g * 0.5)
        b.retain_grad()
        x.register_hook(lambda g: g + 1)
        (b.sum() + a.sum()).backward()
        return x.grad.numpy(), b.grad.numpy(), a.retains_grad

    fx, fb, fa = run(fastdl, lambda v: _t(v))
    tx, tb, ta = run(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    np.testing.assert_allclose(fx, tx)
    np.testing.assert_allclose(fb, tb)
    assert fa is False and ta is False


def test_retain_grad_and_retains_grad():
    x = _t([1.0, 2.0])
    h = x * 2
    assert not h.retains_grad and not x.retains_grad
    h.retain_grad()
    x.retain_grad()  # leaf: no-op
    assert h.retains_grad and not x.retains_grad
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    assert h.grad.numpy().tolist() == [4, 8]
    loss.backward()  # accumulates, as PyTorch
    assert h.grad.numpy().tolist() == [8, 16]
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has "
                                           "requires_grad=False"):
        fastdl.ones(2).retain_grad()
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        fastdl.ones(2).register_hook(lambda g: g)


def test_retain_grad_runs_after_other_hooks():
    x = _t([1.0])
    h = x * 1
    h.retain_grad()
    h.register_hook(lambda g: g * 5)  # registered later, still applied before retain_grad
    h.sum().backward()
    assert h.grad.numpy().tolist() == [5]


def test_post_accumulate_hook_fires_once_after_last_contribution():
    w0 = _t(np.ones((3, 3)))
    w1 = _t(np.ones((3, 3)))
    x = fastdl.tensor(np.ones((2, 3)))
    events = []

    def post(name):
        def hook(p):
            assert p.grad is not None
            events.append((name, p.grad.numpy().copy(),
                           None if w0.grad is None else w0.grad.numpy().copy()))
        return hook

    w0.register_post_accumulate_grad_hook(post("w0"))
    w1.register_post_accumulate_grad_hook(post("w1"))
    h = (x @ w0).tanh()
    y = (h @ w1) * (h @ w1)  # w1 used twice: one firing, after both contributions
    y.sum().backward()
    names = [e[0] for e in events]
    assert names == ["w1", "w0"]
    assert events[0][2] is None  # w1 fired while w0's gradient was not computed yet
    np.testing.assert_array_equal(events[0][1], w1.grad.numpy())
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered "
                                           "on non-leaf tensors"):
        h.register_post_accumulate_grad_hook(lambda p: None)


def test_post_accumulate_hook_torch_order():
    torch = pytest.importorskip("torch")
    order = []
    w0 = torch.ones(3, 3, requires_grad=True)
    w1 = torch.ones(3, 3, requires_grad=True)
    w0.register_post_accumulate_grad_hook(lambda p: order.append("w0"))
    w1.register_post_accumulate_grad_hook(lambda p: order.append("w1"))
    h = (torch.ones(2, 3) @ w0).tanh()
    ((h @ w1) * (h @ w1)).sum().backward()
    assert order == ["w1", "w0"]


def test_queue_callback_runs_at_end_of_backward():
    w = _t([1.0, 2.0])
    v = _t([3.0])
    log = []

    def hook(p):
        log.append("post")
        fastdl.autograd.Variable._execution_engine.queue_callback(
            lambda: log.append(("end", v.grad is not None)))
        fastdl.autograd.queue_callback(lambda: log.append("end2"))

    w.register_post_accumulate_grad_hook(hook)
    ((w * 2).sum() * v).sum().backward()
    assert log == ["post", ("end", True), "end2"]
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during "
                                           "backward pass"):
        fastdl.autograd.queue_callback(lambda: None)


# ---- module hooks --------------------------------------------------------------------------------
class _Scale(nn.Module):
    def forward(self, x, scale=1.0):
        return x * scale


def test_forward_pre_and_forward_hooks_order_kwargs_prepend():
    m = _Scale()
    log = []
    m.register_forward_pre_hook(lambda mod, args: log.append("pre1"))
    m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args, kw: (args, {"scale": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append("fwd") or out + 1)
    m.register_forward_hook(lambda mod, args, kw, out: log.append(("kw", kw["scale"])),
                            with_kwargs=True)
    out = m(fastdl.ones(2), scale=2.0)
    assert log == ["pre0", "pre1", "fwd", ("kw", 3.0)]
    assert out.numpy().tolist() == [4, 4]
    # a non-tuple return of a pre-hook becomes the 1-tuple of args
    m2 = _Scale()
    m2.register_forward_pre_hook(lambda mod, args: args[0] * 10)
    assert m2(fastdl.ones(1)).numpy().tolist() == [10]


def test_forward_hook_always_call():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(("always", out)),
                            always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(fastdl.ones(1))
    assert seen == [("always", None)]


def test_global_module_hooks_run_first_and_remove():
    log = []
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda mod, a, o: log.append("local"))
    g1 = module_mod.register_module_forward_pre_hook(lambda mod, a: log.append("gpre"))
    g2 = module_mod.register_module_forward_hook(lambda mod, a, o: log.append("global"))
    try:
        lin(fastdl.ones(1, 2))
    finally:
        g1.remove()
        g2.remove()
    assert log == ["gpre", "global", "local"]
    log.clear()
    lin(fastdl.ones(1, 2))
    assert log == ["local"]


def _torch_full_backward(torch, use_pre):
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).double()
    got = {}

    def bw(mod, gi, go):
        got["gi"] = [None if g is None else g.detach().numpy().copy() for g in gi]
        got["go"] = [g.detach().numpy().copy() for g in go]
        return (gi[0] * 2,)

    lin.register_full_backward_hook(bw)
    if use_pre:
        lin.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
    x = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (lin(x) ** 2).sum().backward()
    return lin, got, x.grad.numpy(), lin.weight.grad.numpy()


@pytest.mark.parametrize("use_pre", [False, True])
def test_full_backward_hooks_match_torch(use_pre):
    torch = pytest.importorskip("torch")
    tlin, tgot, tx, tw = _torch_full_backward(torch, use_pre)
    lin = nn.Linear(3, 2)
    lin.double()
    with fastdl.no_grad():
        lin.weight.copy_(fastdl.tensor(tlin.weight.detach().numpy()))
        lin.bias.copy_(fastdl.tensor(tlin.bias.detach().numpy()))
    got = {}

    def bw(mod, gi, go):
        assert mod is lin
        got["gi"] = [None if g is None else g.numpy().copy() for g in gi]
        got["go"] = [g.numpy().copy() for g in go]
        return (gi[0] * 2,)

    h = lin.register_full_backward_hook(bw)
    if use_pre:
        lin.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
    x = _t(np.arange(6.0).reshape(2, 3))
    (lin(x) ** 2).sum().backward()
    np.testing.assert_allclose(got["go"][0], tgot["go"][0])
    np.testing.assert_allclose(got["gi"][0], tgot["gi"][0])
    np.testing.assert_allclose(x.grad.numpy(), tx)
    np.testing.assert_allclose(lin.weight.grad.numpy(), tw)
    h.remove()


def test_full_backward_hook_without_input_grad_warns_and_gets_none():
    lin = nn.Linear(2, 2)
    got = []
    lin.register_full_backward_hook(lambda m, gi, go: got.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        lin(fastdl.ones(3, 2)).sum().backward()
    assert got == [((None,), (3, 2))]


def test_full_backward_hook_multiple_args_and_outputs():
    class Two(nn.Module):
        def forward(self, a, k, b):
            return a * 2, b * k

    m = Two()
    got = []
    m.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go)))
    a, b = _t([1.0, 1.0]), _t([1.0, 1.0])
    o1, o2 = m(a, 5.0, b)
    o1.sum().backward()
    gi, go = got[0]
    assert len(gi) == 3 and gi[1] is None and gi[0].numpy().tolist() == [2, 2]
    assert go[0].numpy().tolist() == [1, 1] and go[1] is None


def test_state_dict_hooks():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    seen = []
    h = net[1].register_state_dict_pre_hook(lambda m, prefix, keep: seen.append(prefix))
    sd = net.state_dict()
    assert seen == ["1."] and set(sd) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    h.remove()
    net.state_dict()
    assert seen == ["1."]

    calls = []

    def post(m, keys):
        calls.append((type(m).__name__, list(keys.missing_keys)))
        keys.missing_keys.clear()  # accepting the missing key avoids the strict error

    net.register_load_state_dict_post_hook(post)
    del sd["1.bias"]
    res = net.load_state_dict(sd)
    assert calls == [("Sequential", ["1.bias"])]
    assert res.missing_keys == [] and res.unexpected_keys == []


def test_hook_handles_as_context_managers():
    lin = nn.Linear(2, 2)
    log = []
    with lin.register_forward_hook(lambda m, a, o: log.append(1)):
        lin(fastdl.ones(1, 2))
    lin(fastdl.ones(1, 2))
    assert log == [1]
