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

