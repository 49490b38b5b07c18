"""Losses: fastdl vs the NumPy reference vs PyTorch, forward and forward+backward, the way
users call them (a new output per call), GB/s of compulsory traffic in ``extra_info``.

    pytest bench/bench_loss.py

Shapes: cross entropy (4096, 1000) float32 logits; pointwise losses on 16M float32 elements.
The NumPy side is ``fastdl.testing.reference.loss`` (computes in float64, being the oracle).
"""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing.reference import loss as R

from fastdl.bench import HAVE_TORCH, record, rounds, settle, smoke

N_PW = smoke(16 * 1024 * 1024, 4096)
CE_SHAPE = smoke((4096, 1000), (16, 10))


def _data():
    rng = np.random.default_rng(0)
    d = {}
    d["ce_x"] = rng.standard_normal(CE_SHAPE, dtype=np.float32)
    d["ce_t"] = rng.integers(0, CE_SHAPE[1], CE_SHAPE[0])
    d["x"] = rng.standard_normal(N_PW, dtype=np.float32)
    d["y"] = rng.standard_normal(N_PW, dtype=np.float32)
    d["p"] = rng.uniform(0.01, 0.99, N_PW).astype(np.float32)
    d["yb"] = (rng.random(N_PW) > 0.5).astype(np.float32)
    d["q"] = rng.random(N_PW, dtype=np.float32)
    return d


_DATA = {}


def data():
    if not _DATA:
        _DATA.update(_data())
    return _DATA


# name -> (fastdl fn, torch fn name, reference fwd, reference bwd, input key, target key, kw)
PW = {
    "mse_loss": (F.mse_loss, "mse_loss", R.mse_loss_ref, R.mse_loss_backward_ref, "x", "y", {}),
    "l1_loss": (F.l1_loss, "l1_loss", R.l1_loss_ref, R.l1_loss_backward_ref, "x", "y", {}),
    "smooth_l1_loss": (F.smooth_l1_loss, "smooth_l1_loss", R.smooth_l1_loss_ref,
                       R.smooth_l1_loss_backward_ref, "x", "y", {"beta": 0.5}),
    "huber_loss": (F.huber_loss, "huber_loss", R.huber_loss_ref, R.huber_loss_backward_ref,
                   "x", "y", {"delta": 0.5}),
    "binary_cross_entropy": (F.binary_cross_entropy, "binary_cross_entropy",
                             R.binary_cross_entropy_ref, R.binary_cross_entropy_backward_ref,
                             "p", "yb", {}),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits",
                        R.binary_cross_entropy_with_logits_ref,
                        R.binary_cross_entropy_with_logits_backward_ref, "x", "yb", {}),
    "kl_div": (F.kl_div, "kl_div", R.kl_div_ref, R.kl_div_backward_ref, "x", "q",
               {"reduction": "batchmean"}),
}


def _run(benchmark, fn, nbytes, side, n, op, shape):
    settle()
    benchmark.pedantic(fn, rounds=rounds(n), iterations=1, warmup_rounds=1)
    record(benchmark, nbytes=nbytes, side=side, op=op, shape=shape)
    settle(0.3 if side != "fastdl" else 0.05)


SIDES = ["fastdl", "numpy", "torch"]


def _skip(side):
    if side == "torch" and not HAVE_TORCH:
        pytest.skip("torch not installed")


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("side", SIDES)
def test_cross_entropy(benchmark, nthreads, side, mode):
    _skip(side)
    benchmark.group = f"cross_entropy {CE_SHAPE} {mode} t{nthreads}"
    d = data()
    x, t = d["ce_x"], d["ce_t"]
    nb = x.nbytes * (1 if mode == "fwd" else 3)  # read x; + read x, write grad
    if side == "fastdl":
        tt = fastdl.tensor(t)
        if mode == "fwd":
            xt = fastdl.tensor(x)

            def fn():
                return F.cross_entropy(xt, tt)
        else:
            xt = fastdl.tensor(x, requires_grad=True)

            def fn():
                xt.grad = None
                F.cross_entropy(xt, tt).backward()
        _run(benchmark, fn, nb, side, 20, f"cross_entropy {mode}", CE_SHAPE)
    elif side == "torch":
        import torch
        tt = torch.from_numpy(t)
        xt = torch.from_numpy(x).requires_grad_(mode != "fwd")

        def fn():
            if mode == "fwd":
                with torch.no_grad():
                    return torch.nn.functional.cross_entropy(xt, tt)
            xt.grad = None
            torch.nn.functional.cross_entropy(xt, tt).backward()
        _run(benchmark, fn, nb, side, 20, f"cross_entropy {mode}", CE_SHAPE)
    else:
        def fn():
            r = R.cross_entropy_ref(x, t)
            if mode != "fwd":
                r = R.cross_entropy_backward_ref(x, t, 1.0)
            return r
        _run(benchmark, fn, nb, side, 3, f"cross_entropy {mode}", CE_SHAPE)


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("op", list(PW))
def test_pointwise(benchmark, nthreads, op, side, mode):
    _skip(side)
    benchmark.group = f"{op} {N_PW} {mode} t{nthreads}"
    fdl, tname, ref, bref, kx, ky, kw = PW[op]
    d = data()
    x, y = d[kx], d[ky]
    # fwd: read x, y; fwd+bwd: + read x, y and write grad
    nb = 2 * x.nbytes if mode == "fwd" else 5 * x.nbytes
    red = kw.get("reduction", "mean")
    if side == "fastdl":
        yt = fastdl.tensor(y)
        xt = fastdl.tensor(x, requires_grad=mode != "fwd")

        def fn():
            if mode == "fwd":
                with fastdl.no_grad():
                    return fdl(xt, yt, **kw)
            xt.grad = None
            fdl(xt, yt, **kw).backward()
        _run(benchmark, fn, nb, side, 10, f"{op} {mode}", (N_PW,))
    elif side == "torch":
        import torch
        tfn = getattr(torch.nn.functional, tname)
        yt = torch.from_numpy(y)
        xt = torch.from_numpy(x).requires_grad_(mode != "fwd")

        def fn():
            if mode == "fwd":
                with torch.no_grad():
                    return tfn(xt, yt, **kw)
            xt.grad = None
            tfn(xt, yt, **kw).backward()
        _run(benchmark, fn, nb, side, 10, f"{op} {mode}", (N_PW,))
    else:
        def fn():
            r = ref(x, y, reduction=red)
            if mode != "fwd":
                r = bref(x, y, 1.0, reduction=red)
            return r
        _run(benchmark, fn, nb, side, 2, f"{op} {mode}", (N_PW,))
