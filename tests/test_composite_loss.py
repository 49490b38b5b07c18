"""The composite losses (ranking, embedding, Poisson/Gaussian NLL) and pairwise_distance
against torch (values and gradients, every reduction), gradcheck, errors."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck

rng = np.random.default_rng(0)
A, B, C = (rng.standard_normal((6, 5)) for _ in range(3))
S1, S2 = rng.standard_normal(6), rng.standard_normal(6)
Y = np.where(rng.random(6) < 0.5, -1.0, 1.0)
POS = np.abs(rng.standard_normal((6, 5))) + 0.1
COUNTS = rng.poisson(3.0, (6, 5)).astype(np.float64)

# name -> (fastdl/torch functional name, args as arrays (differentiable first), kwargs)
CASES = {
    "margin_ranking": ("margin_ranking_loss", (S1, S2, Y), dict(margin=0.3), 2),
    "soft_margin": ("soft_margin_loss", (S1 * 5, Y), {}, 1),
    "hinge_embedding": ("hinge_embedding_loss", (np.abs(S1), Y), dict(margin=1.2), 1),
    "cosine_embedding": ("cosine_embedding_loss", (A, B, Y), dict(margin=0.1), 2),
    "triplet": ("triplet_margin_loss", (A, B, C), dict(margin=0.5), 3),
    "triplet_swap_p1": ("triplet_margin_loss", (A, B, C), dict(margin=2.0, p=1, swap=True), 3),
    "poisson_log": ("poisson_nll_loss", (A, COUNTS), {}, 1),
    "poisson_full": ("poisson_nll_loss", (POS, COUNTS), dict(log_input=False, full=True), 1),
    "gaussian": ("gaussian_nll_loss", (A, B, POS), {}, 1),
    "gaussian_shared_full": ("gaussian_nll_loss", (A, B, POS[:, :1]), dict(full=True), 1),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_against_torch(case, reduction):
    torch = pytest.importorskip("torch")
    name, args, kw, ndiff = CASES[case]
    fa = [fastdl.tensor(a, requires_grad=i < ndiff) for i, a in enumerate(args)]
    ta = [torch.from_numpy(a).requires_grad_(i < ndiff) for i, a in enumerate(args)]
    got = getattr(F, name)(*fa, **kw, reduction=reduction)
    want = getattr(torch.nn.functional, name)(*ta, **kw, reduction=reduction)
    assert_close(got.detach().numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(tuple(want.shape))
    (got * fastdl.tensor(g)).sum().backward()
    (want * torch.from_numpy(g)).sum().backward()
    for f, t in zip(fa[:ndiff], ta[:ndiff]):
        assert_close(f.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck(case):
    name, args, kw, ndiff = CASES[case]
    fixed = [fastdl.tensor(a) for a in args[ndiff:]]
    gradcheck(lambda *xs: getattr(F, name)(*xs, *fixed, **kw),
              [fastdl.tensor(a, requires_grad=True) for a in args[:ndiff]])


def test_pairwise_distance_and_layers():
    torch = pytest.importorskip("torch")
    for p in (1.0, 2.0, 3.0, float("inf")):
        assert_close(F.pairwise_distance(A, B, p), torch.nn.functional.pairwise_distance(
            torch.from_numpy(A), torch.from_numpy(B), p).numpy(), rtol=1e-12, atol=1e-14)
    for cls, args, kw in [("MarginRankingLoss", (S1, S2, Y), dict(margin=0.2)),
                          ("SoftMarginLoss", (S1, Y), {}),
                          ("HingeEmbeddingLoss", (np.abs(S1), Y), {}),
                          ("CosineEmbeddingLoss", (A, B, Y), {}),
                          ("TripletMarginLoss", (A, B, C), dict(margin=0.3)),
                          ("PoissonNLLLoss", (A, COUNTS), {}),
                          ("GaussianNLLLoss", (A, B, POS), {})]:
        got = getattr(nn, cls)(**kw)(*[fastdl.tensor(a) for a in args])
        want = getattr(torch.nn, cls)(**kw)(*[torch.from_numpy(a) for a in args])
        assert_close(got, want.numpy(), rtol=1e-10, atol=1e-12, msg=cls)
    assert_close(nn.PairwiseDistance()(A, B), torch.nn.PairwiseDistance()(
        torch.from_numpy(A), torch.from_numpy(B)).numpy(), rtol=1e-12, atol=1e-14)


def test_errors():
    with pytest.raises(ValueError, match="reduction"):
        F.margin_ranking_loss(S1, S2, Y, reduction="avg")
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(A, B, -POS)
    with pytest.raises(ValueError, match="not compatible"):
        F.gaussian_nll_loss(A, B, POS[:3])
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(A, B, C, margin=0.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.soft_margin_loss(np.array([1, 2]), Y[:2])
