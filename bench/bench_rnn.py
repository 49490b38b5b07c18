"""RNN layers: LSTM / GRU forward (inference) and forward+backward (training step), fastdl vs
PyTorch CPU vs the NumPy reference (forward only), same thread count.

Run: ``pytest bench/bench_rnn.py``
"""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.testing.reference import rnn_ref

from fastdl.bench import HAVE_TORCH, record, settle, smoke

SHAPES = smoke({"mnist_rows": (28, 64, 28, 128), "long": (100, 32, 64, 256)},  # T, B, I, H
               {"mnist_rows": (4, 2, 5, 6), "long": (7, 2, 3, 4)})
GATES = {"LSTM": 4, "GRU": 3}


def _flops(kind, T, B, I, H, backward):
    """Matrix-product flops of the layer (2·m·n·k per GEMM): input and hidden projections;
    backward costs twice the forward (input grads and weight grads)."""
    g = GATES[kind]
    f = 2 * T * B * g * H * (I + H)
    return f * (3 if backward else 1)


def _setup(kind, shape):
    T, B, I, H = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    fm = getattr(nn, kind)(I, H)
    return x, fm


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("side", ["fastdl", "torch", "numpy"])
def test_forward(benchmark, nthreads, kind, shape, side):
    benchmark.group = f"rnn-forward-{kind}-{shape}-t{nthreads}"
    x, fm = _setup(kind, SHAPES[shape])
    if side == "fastdl":
        xt = fastdl.tensor(x)

        def run():
            with fastdl.no_grad():
                return fm(xt)
    elif side == "torch":
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        import torch
        tm = getattr(torch.nn, kind)(x.shape[2], fm.hidden_size)
        tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in fm.state_dict().items()})
        xt = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return tm(xt)
    else:
        params = {k: v.numpy() for k, v in fm.state_dict().items()}
        mode = kind

        def run():
            return rnn_ref(mode, params, x)
    settle()
    benchmark(run)
    record(benchmark, flops=_flops(kind, *SHAPES[shape], False), side=side,
           op=f"{kind} forward", shape="TxBxIxH " + "x".join(map(str, SHAPES[shape])))
    settle(0.3 if side != "fastdl" else 0.05)


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("side", ["fastdl", "torch"])
def test_forward_backward(benchmark, nthreads, kind, shape, side):
    benchmark.group = f"rnn-train-{kind}-{shape}-t{nthreads}"
    x, fm = _setup(kind, SHAPES[shape])
    if side == "fastdl":
        def run():
            fm.zero_grad()
            out, _ = fm(fastdl.tensor(x))
            out.sum().backward()
    else:
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        import torch
        tm = getattr(torch.nn, kind)(x.shape[2], fm.hidden_size)
        xt = torch.from_numpy(x)

        def run():
            tm.zero_grad()
            out, _ = tm(xt)
            out.sum().backward()
    settle()
    benchmark(run)
    record(benchmark, flops=_flops(kind, *SHAPES[shape], True), side=side,
           op=f"{kind} train", shape="TxBxIxH " + "x".join(map(str, SHAPES[shape])))
    settle(0.3 if side != "fastdl" else 0.05)
