"""The CTC kernel on every ISA path (its gradient row over the classes is vectorised):
loss and log_probs gradient against the float64 NumPy reference, float64 and float32, with
more classes than one vector holds plus a tail, and a sample whose loss is infinite."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close
from fastdl.testing.reference.ctc import ctc_grad_ref, ctc_nll_ref


def _case(rng, T=9, N=3, C=37, S=4):
    logits = rng.standard_normal((T, N, C))
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    tg = rng.integers(1, C, (N, S))
    tg[0, 1] = tg[0, 2]  # a repeated label (needs a blank between them)
    il = np.array([T, T - 3, 2])
    tl = np.array([S, 2, 3])  # sample 2: 3 labels in 2 frames, probability 0
    return lp, tg, il, tl


@pytest.mark.parametrize("dtype, tol", [(np.float64, dict(rtol=1e-9, atol=1e-12)),
                                        (np.float32, dict(rtol=2e-5, atol=2e-6))])
def test_ctc_every_isa_matches_reference(isa, dtype, tol, rng):
    lp, tg, il, tl = _case(rng)
    g = rng.standard_normal(3)
    nll_ref = ctc_nll_ref(lp, tg, il, tl)
    assert np.isinf(nll_ref[2]) and np.isfinite(nll_ref[:2]).all()
    x = fastdl.tensor(lp.astype(dtype), requires_grad=True)
    nll = F.ctc_loss(x, fastdl.tensor(tg), il, tl, reduction="none")
    assert nll.dtype == x.dtype
    assert_close(nll.detach().numpy()[:2], nll_ref[:2], **tol)
    assert np.isposinf(nll.detach().numpy()[2])
    (nll[:2] * fastdl.tensor(g[:2].astype(dtype))).sum().backward()
    want = ctc_grad_ref(lp[:, :2], tg[:2], il[:2], tl[:2], g[:2])
    assert_close(x.grad.numpy()[:, :2], want, **tol)


def test_ctc_every_isa_zero_infinity(isa, rng):
    lp, tg, il, tl = _case(rng)
    x = fastdl.tensor(lp.astype(np.float32), requires_grad=True)
    F.ctc_loss(x, fastdl.tensor(tg), il, tl, reduction="sum", zero_infinity=True).backward()
    want = ctc_grad_ref(lp[:, :2], tg[:2], il[:2], tl[:2], np.ones(2))
    assert_close(x.grad.numpy()[:, :2], want, rtol=2e-5, atol=2e-6)
    assert np.array_equal(x.grad.numpy()[:, 2], np.zeros((lp.shape[0], lp.shape[2])))
