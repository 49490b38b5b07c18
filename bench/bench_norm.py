"""Normalisation: fastdl vs the NumPy reference vs PyTorch, forward and forward+backward,
GB/s of compulsory traffic in ``extra_info``.

    pytest bench/bench_norm.py

Shapes: batch norm and group norm (64, 256, 28, 28) float32 (G = 32), layer norm
(8192, 1024) float32. The NumPy side is ``fastdl.testing.reference.norm`` (float64 oracle).
"""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing.reference import norm as R

from fastdl.bench import HAVE_TORCH, record, rounds, settle, smoke

BN_SHAPE = smoke((64, 256, 28, 28), (2, 64, 3, 3))
LN_SHAPE = smoke((8192, 1024), (16, 32))
_DATA = {}


def data():
    if not _DATA:
        rng = np.random.default_rng(0)
        _DATA["bn"] = rng.standard_normal(BN_SHAPE, dtype=np.float32)
        _DATA["ln"] = rng.standard_normal(LN_SHAPE, dtype=np.float32)
        _DATA["g_bn"] = rng.standard_normal(BN_SHAPE, dtype=np.float32)
        _DATA["g_ln"] = rng.standard_normal(LN_SHAPE, dtype=np.float32)
    return _DATA


def _run(benchmark, fn, nbytes, side, n, op, shape):
    settle()
    benchmark.pedantic(fn, rounds=rounds(n), iterations=1, warmup_rounds=1)
    record(benchmark, nbytes=nbytes, side=side, op=op, shape=shape)
    settle(0.3 if side != "fastdl" else 0.05)


def _fdl_op(op, x, w, b, training):
    if op == "batch_norm":
        y = F.batch_norm(x, None if training else _RS[0], None if training else _RS[1], w, b,
                         training=training)
        y._array  # computed here, as a network's next op reads it (a training batch norm's
        return y  # output is deferred: fastdl/_deferred.py; nothing else here would read it)
    if op == "group_norm":
        return F.group_norm(x, 32, w, b)
    return F.layer_norm(x, (LN_SHAPE[1],), w, b)


def _torch_op(torch, op, x, w, b, training, rs):
    TF = torch.nn.functional
    if op == "batch_norm":
        return TF.batch_norm(x, None if training else rs[0], None if training else rs[1], w, b,
                             training=training)
    if op == "group_norm":
        return TF.group_norm(x, 32, w, b)
    return TF.layer_norm(x, (LN_SHAPE[1],), w, b)


_RS = (fastdl.zeros(BN_SHAPE[1]), fastdl.ones(BN_SHAPE[1]))

CASES = [("batch_norm", "train"), ("batch_norm", "eval"), ("group_norm", "train"),
         ("layer_norm", "train")]


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
@pytest.mark.parametrize("side", ["fastdl", "numpy", "torch"])
@pytest.mark.parametrize("op,phase", CASES, ids=[f"{o}-{p}" for o, p in CASES])
def test_norm(benchmark, nthreads, op, phase, side, mode):
    if side == "torch" and not HAVE_TORCH:
        pytest.skip("torch not installed")
    if phase == "eval" and mode != "fwd":
        pytest.skip("eval: forward only")
    key = "ln" if op == "layer_norm" else "bn"
    shape = LN_SHAPE if op == "layer_norm" else BN_SHAPE
    benchmark.group = f"{op} {phase} {shape} {mode} t{nthreads}"
    d = data()
    x, g = d[key], d["g_" + key]
    C = shape[1] if op != "layer_norm" else shape[1]
    training = phase == "train"
    # compulsory traffic: fwd read x + write y; bwd read g, x + write grad
    nb = 2 * x.nbytes if mode == "fwd" else 5 * x.nbytes
    wn, bn_ = np.ones(C, np.float32), np.zeros(C, np.float32)
    if side == "fastdl":
        xt = fastdl.tensor(x, requires_grad=mode != "fwd")
        w = fastdl.tensor(wn, requires_grad=mode != "fwd")
        b = fastdl.tensor(bn_, requires_grad=mode != "fwd")
        gt = fastdl.tensor(g)

        def fn():
            if mode == "fwd":
                with fastdl.no_grad():
                    return _fdl_op(op, xt, w, b, training)
            xt.grad = w.grad = b.grad = None
            _fdl_op(op, xt, w, b, training).backward(gt)
        _run(benchmark, fn, nb, side, 10, f"{op} {phase} {mode}", shape)
    elif side == "torch":
        import torch
        xt = torch.from_numpy(x).requires_grad_(mode != "fwd")
        w = torch.from_numpy(wn).requires_grad_(mode != "fwd")
        b = torch.from_numpy(bn_).requires_grad_(mode != "fwd")
        gt = torch.from_numpy(g)
        rs = (torch.zeros(BN_SHAPE[1]), torch.ones(BN_SHAPE[1]))

        def fn():
            if mode == "fwd":
                with torch.no_grad():
                    return _torch_op(torch, op, xt, w, b, training, rs)
            xt.grad = w.grad = b.grad = None
            _torch_op(torch, op, xt, w, b, training, rs).backward(gt)
        _run(benchmark, fn, nb, side, 10, f"{op} {phase} {mode}", shape)
    else:
        def fn():
            if op == "batch_norm":
                if training:
                    r = R.batch_norm_ref(x, None, None, wn, bn_, True)
                else:
                    r = R.batch_norm_ref(x, np.zeros(C), np.ones(C), wn, bn_, False)
                if mode != "fwd":
                    r = R.batch_norm_backward_ref(g, x, wn, True)
            elif op == "group_norm":
                r = R.group_norm_ref(x, 32, wn, bn_)
                if mode != "fwd":
                    r = R.group_norm_backward_ref(g, x, 32, wn)
            else:
                r = R.layer_norm_nd_ref(x, (LN_SHAPE[1],), wn, bn_)
                if mode != "fwd":
                    r = R.layer_norm_backward_ref(g, x, (LN_SHAPE[1],), wn)
            return r
        _run(benchmark, fn, nb, side, 2, f"{op} {phase} {mode}", shape)
