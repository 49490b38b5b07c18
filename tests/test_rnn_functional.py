"""F.rnn_recurrence: the recurrent kernels' functional entry (module -> F -> _C), held to the
plain Tensor-op recurrence (the cells' path), gradcheck in float64, and its argument checks."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.nn.modules.rnn import _GATES, _recurrence_tensor_ops
from fastdl.testing import assert_close, gradcheck


def _operands(mode, T=4, B=3, H=5, dt=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    G = _GATES[mode]
    mk = lambda *s: fastdl.tensor(rng.standard_normal(s).astype(dt) * 0.5,  # noqa: E731
                                  requires_grad=True)
    return (mk(T, B, G * H), mk(G * H, H), mk(G * H), mk(B, H),
            mk(B, H) if mode == "LSTM" else None)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
def test_rnn_recurrence_matches_tensor_ops(mode, reverse):
    ops = _operands(mode)
    out = F.rnn_recurrence(*ops, mode=mode, reverse=reverse)
    ref = _recurrence_tensor_ops(*ops, mode, reverse)
    assert len(out) == len(ref) == (3 if mode == "LSTM" else 2)
    for a, b in zip(out, ref):
        assert_close(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = [np.random.default_rng(1).standard_normal(tuple(a.shape)) for a in out]
    grads = []
    for res in (out, ref):
        for t in ops:
            if t is not None:
                t.grad = None
        sum((r * fastdl.tensor(wi)).sum() for r, wi in zip(res, w)).backward()
        grads.append([None if t is None else t.grad.numpy().copy() for t in ops])
    for ga, gb in zip(*grads):
        if ga is not None:
            assert_close(ga, gb, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("mode", ["RNN_TANH", "LSTM", "GRU"])
def test_rnn_recurrence_gradcheck(mode):
    ops = _operands(mode, T=3, B=2, H=3)
    n = len([o for o in ops if o is not None])

    def f(*a):
        res = F.rnn_recurrence(*a, *(() if n == 5 else (None,)), mode=mode, reverse=True)
        return tuple(res)
    assert gradcheck(f, tuple(o for o in ops if o is not None))


def test_rnn_recurrence_float32_matches_float64():
    ops64 = _operands("LSTM")
    ops32 = [fastdl.tensor(o.detach().numpy().astype(np.float32)) for o in ops64]
    out64 = F.rnn_recurrence(*ops64, mode="LSTM")
    out32 = F.rnn_recurrence(*ops32, mode="LSTM")
    for a, b in zip(out32, out64):
        assert a.dtype == fastdl.float32
        assert_close(a.numpy().astype(np.float64), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_lstm_module_goes_through_the_functional_entry(monkeypatch):
    calls = []
    real = F.rnn_recurrence

    def spy(*a, **k):
        calls.append(a[5] if len(a) > 5 else k.get("mode"))
        return real(*a, **k)
    monkeypatch.setattr(F, "rnn_recurrence", spy)
    m = fastdl.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    m(fastdl.randn(5, 2, 3))
    assert calls == ["LSTM"] * 4


@pytest.mark.parametrize("kw,exc,match", [
    (dict(mode="LSTMX"), ValueError, "mode"),
    (dict(mode="GRU", c0=True), ValueError, "c0"),
    (dict(mode="LSTM", c0=None), ValueError, "c0"),
    (dict(mode="RNN_TANH", h0=np.zeros((3, 5), np.int64)), TypeError, "h0"),
    (dict(mode="RNN_TANH", h0=np.zeros((3, 5), np.float32)), TypeError, "h0"),
    (dict(mode="RNN_TANH", h0=np.zeros((4, 5))), ValueError, "h0"),
])
def test_rnn_recurrence_bad_arguments(kw, exc, match):
    mode = kw.pop("mode")
    xp, w, b, h0, c0 = _operands("LSTM" if mode == "LSTMX" else mode)
    args = dict(input_projection=xp, weight_hh=w, bias_hh=b, h0=h0, c0=c0)
    if kw.get("c0") is True:
        kw["c0"] = h0
    args.update(kw)
    with pytest.raises(exc, match=match):
        F.rnn_recurrence(**args, mode=mode)
