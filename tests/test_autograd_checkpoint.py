"""Activation checkpointing: same gradients as the plain run, lower peak memory."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.utils.checkpoint import checkpoint, checkpoint_sequential


def _mlp(seed=0, depth=8, width=128):
    fastdl.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh(), nn.Dropout(0.1)]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _grads(model, x):
    return [p.grad.numpy().copy() for p in model.parameters()] + \
        ([x.grad.numpy().copy()] if x.grad is not None else [])


def _run(kind, batch=64):
    model = _mlp()
    x = fastdl.tensor(np.random.default_rng(0).standard_normal((batch, 128)).astype(np.float32),
                      requires_grad=True)
    fastdl.manual_seed(7)  # dropout masks come from here
    fastdl._C.reset_peak_memory_stats()
    base = fastdl.memory_stats()["in_use"]
    if kind == "plain":
        out = model(x)
    elif kind == "sequential":
        out = checkpoint_sequential(model, 8, x, use_reentrant=False)
    else:
        out = checkpoint(model, x, use_reentrant=False)
    (out * out).sum().backward()
    return _grads(model, x), fastdl.memory_stats()["peak"] - base, out.detach().numpy()


@pytest.mark.parametrize("kind", ["whole", "sequential"])
def test_gradients_equal_plain_run_with_dropout(kind):
    ref, _, ref_out = _run("plain")
    got, _, out = _run(kind)
    np.testing.assert_array_equal(out, ref_out)
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)  # the same ops on the same masks: bitwise


def test_sequential_checkpoint_lowers_peak_memory():
    _, plain_peak, _ = _run("plain", batch=512)
    _, ck_peak, _ = _run("sequential", batch=512)
    assert ck_peak < 0.75 * plain_peak, (ck_peak, plain_peak)


def test_without_rng_replay_dropout_masks_differ():
    ref, _, _ = _run("plain")
    model = _mlp()
    x = fastdl.tensor(np.random.default_rng(0).standard_normal((64, 128)).astype(np.float32),
                      requires_grad=True)
    fastdl.manual_seed(7)
    out = checkpoint(model, x, preserve_rng_state=False)
    (out * out).sum().backward()
    assert not np.array_equal(_grads(model, x)[0], ref[0])


def test_closure_tensors_and_params_get_gradients():
    rng = np.random.default_rng(1)
    mk = lambda *s: fastdl.tensor(rng.standard_normal(s), requires_grad=True)  # noqa: E731
    a, w, v = mk(3, 4), mk(4, 4), mk(4)
    x = mk(2, 3)

    def run(use_ckpt):
        for t in (a, w, v, x):
            t.grad = None
        h = (x @ a).tanh()          # made outside the block, used by closure and as argument
        c = h * 2                   # used by closure only

        def block(t):
            return ((t @ w) * c).tanh() + v

        y = checkpoint(block, h) if use_ckpt else block(h)
        (y * y).sum().backward()
        return [t.grad.numpy().copy() for t in (a, w, v, x)]

    for g1, g2 in zip(run(True), run(False)):
        np.testing.assert_allclose(g1, g2, rtol=1e-12)


def test_no_grad_and_non_tensor_outputs():
    lin = nn.Linear(2, 2)
    with fastdl.no_grad():
        out = checkpoint(lin, fastdl.ones(1, 2))
    assert not out.requires_grad
    x = fastdl.ones(1, 2, requires_grad=True)
    y, tag = checkpoint(lambda t: (lin(t), "tag"), x)
    assert tag == "tag" and y.requires_grad
    y.sum().backward()
    assert lin.weight.grad is not None and x.grad is not None
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(nn.Sequential(lin), 2, x)


def test_checkpoint_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as tcheckpoint
    rng = np.random.default_rng(3)
    wn, xn = rng.standard_normal((4, 4)), rng.standard_normal((2, 4))
    wt = torch.tensor(wn, requires_grad=True)
    xt = torch.tensor(xn, requires_grad=True)
    yt = tcheckpoint(lambda t: (t @ wt).tanh() @ wt, xt, use_reentrant=False)
    (yt ** 2).sum().backward()
    w = fastdl.tensor(wn, requires_grad=True)
    x = fastdl.tensor(xn, requires_grad=True)
    y = checkpoint(lambda t: (t @ w).tanh() @ w, x)
    (y ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


def test_parameter_hooks_run_once_through_a_checkpoint():
    def run(use_ckpt):
        fastdl.manual_seed(0)
        lin = nn.Linear(3, 3)
        lin.double()
        with fastdl.no_grad():
            lin.weight.copy_(fastdl.tensor(np.eye(3)))
        seen = []
        lin.weight.register_hook(lambda g: seen.append(1) or g * 2)
        lin.weight.register_post_accumulate_grad_hook(lambda p: seen.append("post"))
        x = fastdl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        y = checkpoint(lin, x) if use_ckpt else lin(x)
        (y * y).sum().backward()
        return lin.weight.grad.numpy(), seen

    (g1, s1), (g2, s2) = run(True), run(False)
    np.testing.assert_array_equal(g1, g2)
    assert s1 == s2 == [1, "post"]
