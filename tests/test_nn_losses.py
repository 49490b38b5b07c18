"""Multi-margin, multi-label, triplet-with-distance, CTC and adaptive-softmax losses:
PyTorch twins (float64 outputs and gradients), the CTC kernel against its NumPy reference,
gradcheck, bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck
from fastdl.testing.reference.ctc import ctc_grad_ref, ctc_nll_ref
from nn_twin import Const, load_torch_weights, state_dict_round_trip, torch_or_skip, twin


def _r(rng, *shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_losses_match_torch(reduction, rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x, y = _r(rng, 4, 5), np.array([0, 3, 4, 1])
    w = np.abs(_r(rng, 5))
    for p in (1, 2):
        twin(lambda a, b, c: F.multi_margin_loss(a, b, p=p, margin=0.7, weight=c,
                                                 reduction=reduction),
             lambda a, b, c: tF.multi_margin_loss(a, b, p=p, margin=0.7, weight=c,
                                                  reduction=reduction), [x, y, Const(w)])
    twin(lambda a, b: F.multi_margin_loss(a, b, reduction=reduction),
         lambda a, b: tF.multi_margin_loss(a, b, reduction=reduction),
         [_r(rng, 5), np.array(2)])
    ml = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 1, 1, 1, 1], [4, 4, -1, 0, 0]])
    twin(lambda a, b: F.multilabel_margin_loss(a, b, reduction=reduction),
         lambda a, b: tF.multilabel_margin_loss(a, b, reduction=reduction), [x, ml])
    yb = (rng.random((4, 5)) > 0.5).astype(np.float64)
    twin(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
         lambda a, b, c: tF.multilabel_soft_margin_loss(a, b, weight=c, reduction=reduction),
         [x, yb, Const(w)])
    a, p_, n_ = _r(rng, 4, 3), _r(rng, 4, 3), _r(rng, 4, 3)
    for swap in (False, True):
        twin(lambda a, b, c: F.triplet_margin_with_distance_loss(
            a, b, c, margin=0.5, swap=swap, reduction=reduction),
            lambda a, b, c: tF.triplet_margin_with_distance_loss(
                a, b, c, margin=0.5, swap=swap, reduction=reduction), [a, p_, n_])
    twin(lambda a, b, c: nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), reduction=reduction)(a, b, c),
        lambda a, b, c: torch.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda u, v: 1 - tF.cosine_similarity(u, v),
            reduction=reduction)(a, b, c), [a, p_, n_])


def test_margin_losses_gradcheck_and_errors(rng):
    x = fastdl.tensor(_r(rng, 3, 4), requires_grad=True)
    gradcheck(lambda a: F.multi_margin_loss(a, fastdl.tensor([0, 2, 3]), p=2), [x])
    gradcheck(lambda a: F.multilabel_margin_loss(a, fastdl.tensor([[1, 2, -1, 0]] * 3)), [x])
    gradcheck(lambda a: F.multilabel_soft_margin_loss(a, fastdl.ones(3, 4, dtype=fastdl.float64)),
              [x])
    with pytest.raises(ValueError, match="p == 1"):
        F.multi_margin_loss(x, fastdl.tensor([0, 1, 2]), p=3)
    with pytest.raises(IndexError, match="out of"):
        F.multi_margin_loss(x, fastdl.tensor([0, 1, 9]))
    with pytest.raises(ValueError, match="inconsistent"):
        F.multilabel_margin_loss(x, fastdl.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="margin"):
        nn.TripletMarginWithDistanceLoss(margin=0.0)
    with pytest.raises(ValueError, match="reduction"):
        F.multilabel_soft_margin_loss(x, x.detach(), reduction="avg")


# ------------------------------------------------------------------------------ CTC

def _ctc_case(rng, T=12, N=4, C=6, S=5, dtype=np.float64):
    logits = rng.standard_normal((T, N, C))
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    tg = rng.integers(1, C, (N, S))
    il = np.array([T, T - 2, T - 5, 3][:N])
    tl = np.array([S, 3, 0, 2][:N])
    return lp.astype(dtype), tg, il, tl


def test_ctc_kernel_matches_numpy_reference(rng):
    lp, tg, il, tl = _ctc_case(rng)
    tg[0, 1] = tg[0, 2]                                    # a repeated label
    nll = F.ctc_loss(fastdl.tensor(lp), fastdl.tensor(tg), il, tl, reduction="none")
    assert_close(nll.numpy(), ctc_nll_ref(lp, tg, il, tl))
    x = fastdl.tensor(lp, requires_grad=True)
    g = rng.standard_normal(4)
    (F.ctc_loss(x, fastdl.tensor(tg), il, tl, reduction="none") * fastdl.tensor(g)).sum()\
        .backward()
    assert_close(x.grad.numpy(), ctc_grad_ref(lp, tg, il, tl, g), rtol=1e-6, atol=1e-9)
    for threads in (1, 2):
        from fastdl.testing import use_threads
        with use_threads(threads):
            again = F.ctc_loss(fastdl.tensor(lp), fastdl.tensor(tg), il, tl, reduction="none")
        assert np.array_equal(again.numpy(), nll.numpy())


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("concat", [False, True])
def test_ctc_matches_torch(reduction, concat, rng):
    torch = torch_or_skip()
    lp, tg, il, tl = _ctc_case(rng, T=15, N=4, C=7, S=6)
    if concat:
        tg = np.concatenate([tg[n, :tl[n]] for n in range(4)])
    logits = rng.standard_normal(lp.shape)
    twin(lambda z, t: F.ctc_loss(F.log_softmax(z, 2), t, fastdl.tensor(il), fastdl.tensor(tl),
                                 reduction=reduction),
         lambda z, t: torch.nn.functional.ctc_loss(torch.log_softmax(z, 2), t,
                                                   torch.tensor(il), torch.tensor(tl),
                                                   reduction=reduction),
         [logits, tg], rtol=1e-6)
    # the raw log_probs gradient follows torch's convention too
    twin(lambda z, t: F.ctc_loss(z, t, tuple(il), tuple(tl), reduction=reduction),
         lambda z, t: torch.nn.functional.ctc_loss(z, t, tuple(il), tuple(tl),
                                                   reduction=reduction),
         [lp, tg], rtol=1e-6)


def test_ctc_zero_infinity_unbatched_float32_and_module(rng):
    torch = torch_or_skip()
    lp, tg, il, tl = _ctc_case(rng, T=6, N=3, C=5, S=5)
    tl = np.array([5, 2, 4])
    il = np.array([6, 6, 3])                                # sample 2 cannot fit: inf
    for zi in (False, True):
        f = F.ctc_loss(fastdl.tensor(lp), fastdl.tensor(tg), il, tl, reduction="none",
                       zero_infinity=zi).numpy()
        t = torch.nn.functional.ctc_loss(torch.tensor(lp), torch.tensor(tg), torch.tensor(il),
                                         torch.tensor(tl), reduction="none",
                                         zero_infinity=zi).numpy()
        assert_close(f, t)
    twin(lambda z, t: nn.CTCLoss(zero_infinity=True)(F.log_softmax(z, 2), t, il, tl),
         lambda z, t: torch.nn.CTCLoss(zero_infinity=True)(torch.log_softmax(z, 2), t,
                                                           torch.tensor(il), torch.tensor(tl)),
         [rng.standard_normal(lp.shape), tg], rtol=1e-6)
    twin(lambda z, t: F.ctc_loss(F.log_softmax(z, 1), t, (6,), (3,), blank=4),
         lambda z, t: torch.nn.functional.ctc_loss(torch.log_softmax(z, 1), t, (6,), (3,),
                                                   blank=4),
         [rng.standard_normal((6, 5)), np.array([1, 0, 2])], rtol=1e-6)
    lp32 = lp.astype(np.float32)
    assert_close(F.ctc_loss(fastdl.tensor(lp32), fastdl.tensor(tg), [6, 6, 6], tl).numpy(),
                 torch.nn.functional.ctc_loss(torch.tensor(lp32), torch.tensor(tg), (6, 6, 6),
                                              tuple(tl)).numpy(), rtol=1e-5)


def test_ctc_gradcheck_and_errors(rng):
    lp, tg, il, tl = _ctc_case(rng, T=5, N=2, C=4, S=3)
    z = fastdl.tensor(rng.standard_normal((5, 2, 4)), requires_grad=True)
    gradcheck(lambda a: F.ctc_loss(F.log_softmax(a, 2), fastdl.tensor(tg), [5, 4], [3, 2]), [z])
    T = fastdl.tensor(lp)
    with pytest.raises(ValueError, match="input_lengths"):
        F.ctc_loss(T, fastdl.tensor(tg), [6, 5], [3, 2])
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(T, fastdl.tensor(np.zeros((2, 3), np.int64)), [5, 5], [3, 2])
    with pytest.raises(ValueError, match="exceed"):
        F.ctc_loss(T, fastdl.tensor(tg), [5, 5], [4, 2])
    with pytest.raises(ValueError, match="2 entries"):
        F.ctc_loss(T, fastdl.tensor(tg), [5], [3])
    with pytest.raises(TypeError, match="targets"):
        F.ctc_loss(T, fastdl.tensor(tg.astype(np.float64)), [5, 5], [3, 2])


# ------------------------------------------------------------------------------ adaptive softmax

def test_adaptive_log_softmax_matches_torch(rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 11], div_value=2.0, head_bias=True,
                                             dtype=torch.float64)
    fm = nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 11], div_value=2.0, head_bias=True,
                                       dtype=fastdl.float64)
    state_dict_round_trip(fm, tm)
    load_torch_weights(fm, tm)
    x, y = _r(rng, 7, 8), np.array([0, 5, 19, 3, 12, 11, 4])
    twin(lambda a, b: tuple(fm(a, b)), lambda a, b: tuple(tm(a, b)), [x, y],
         f_params=list(fm.named_parameters()), t_params=list(tm.named_parameters()),
         rtol=1e-6)
    assert_close(fm.log_prob(fastdl.tensor(x)).detach().numpy(),
                 tm.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    assert np.array_equal(fm.predict(fastdl.tensor(x)).numpy(), tm.predict(torch.tensor(x)).numpy())
    with pytest.raises(RuntimeError, match="Target values"):
        fm(fastdl.tensor(x), fastdl.tensor([0, 1, 2, 3, 4, 5, 20]))
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, [11, 4])
