"""Grad mode spellings, inference mode, anomaly detection."""
import threading
import warnings

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.autograd import detect_anomaly, set_detect_anomaly


# ---- grad mode spellings ------------------------------------------------------------------
def test_no_grad_bare_decorator_and_generators():
    x = fastdl.ones(2, requires_grad=True)

    @fastdl.no_grad
    def f(t):
        return t * 3

    @fastdl.no_grad()
    def gen(t):
        yield fastdl.is_grad_enabled()
        yield (t * 2).requires_grad

    assert not f(x).requires_grad and fastdl.is_grad_enabled()
    g = gen(x)
    assert next(g) is False
    assert fastdl.is_grad_enabled()  # the mode does not leak while the generator is paused
    assert next(g) is False

    @fastdl.enable_grad
    def h(t):
        return t * 3

    with fastdl.no_grad():
        assert h(x).requires_grad


# ---- inference mode ---------------------------------------------------------------------------
def test_inference_mode_basics():
    x = fastdl.ones(3, requires_grad=True)
    assert not fastdl.is_inference_mode_enabled()
    with fastdl.inference_mode():
        assert fastdl.is_inference_mode_enabled() and not fastdl.is_grad_enabled()
        y = x * 2
        z = fastdl.zeros(2)
        assert not y.requires_grad and y.is_inference() and z.is_inference()
        with fastdl.inference_mode(False):  # as PyTorch: grad mode on, tensors normal
            assert fastdl.is_grad_enabled() and not fastdl.is_inference_mode_enabled()
            assert not fastdl.ones(1).is_inference()
        y.add_(1)  # in place inside inference mode: fine
    assert fastdl.is_grad_enabled() and not fastdl.is_inference_mode_enabled()
    assert not x.is_inference() and not (x * 2).is_inference()
    assert not y.clone().is_inference()


def test_inference_mode_decorator_forms():
    @fastdl.inference_mode
    def f():
        return fastdl.ones(2) + 1, fastdl.is_inference_mode_enabled()

    @fastdl.inference_mode()
    def g():
        return fastdl.is_inference_mode_enabled()

    @fastdl.inference_mode(False)
    def h():
        return fastdl.is_inference_mode_enabled()

    t, on = f()
    assert on and t.is_inference() and g() and not h()


def test_inference_tensor_cannot_join_a_graph():
    w = fastdl.ones(2, requires_grad=True)
    with fastdl.inference_mode():
        x = fastdl.ones(2) * 3
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        (x * w).sum()
    (x + w).sum().backward()  # add saves nothing: allowed, as in PyTorch
    np.testing.assert_array_equal(w.grad.numpy(), [1, 1])
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside "
                                           "InferenceMode is not allowed"):
        x.add_(1)
    lin = nn.Linear(2, 2)
    with fastdl.inference_mode():
        xb = fastdl.ones(1, 2)
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved"):
        lin(xb).sum()
    lin(xb.clone()).sum().backward()  # a clone is a normal tensor


def test_inference_mode_matches_torch_messages():
    torch = pytest.importorskip("torch")
    w = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        x = torch.ones(2) * 3
    with pytest.raises(RuntimeError) as te:
        (x * w).sum()
    wf = fastdl.ones(2, requires_grad=True)
    with fastdl.inference_mode():
        xf = fastdl.ones(2) * 3
    with pytest.raises(RuntimeError) as fe:
        (xf * wf).sum()
    assert str(fe.value).split(".")[0] == str(te.value).split(".")[0]
    assert xf.is_inference() == x.is_inference()


def test_inference_mode_is_per_thread():
    seen = []
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait(10)
        seen.append((fastdl.is_inference_mode_enabled(), fastdl.ones(1).is_inference()))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with fastdl.inference_mode():
        inside.set()
        done.wait(10)
    t.join()
    assert seen == [(False, False)]


# ---- anomaly detection --------------------------------------------------------------------------
def test_detect_anomaly_names_the_op_and_where():
    x = fastdl.tensor([-1.0, 4.0], dtype=fastdl.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        cm = detect_anomaly()
    with cm, np.errstate(invalid="ignore", divide="ignore"):
        assert fastdl.autograd.is_anomaly_enabled()
        y = x.sqrt()  # NaN at -1: its backward gives NaN
        loss = y.sum()
        with pytest.raises(RuntimeError, match=r"(?s)Function 'SqrtBackward' returned nan "
                                               r"values in its 0th output.*test_autograd_modes"
                                               r"\.py.*y = x\.sqrt\(\)"):
            loss.backward()
    assert not fastdl.autograd.is_anomaly_enabled()
    x2 = fastdl.tensor([-1.0], dtype=fastdl.float64, requires_grad=True)
    with np.errstate(invalid="ignore"):
        x2.sqrt().sum().backward()  # without anomaly mode: no check
    assert np.isnan(x2.grad.numpy()).all()


def test_set_detect_anomaly_and_torch_agrees():
    set_detect_anomaly(True)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = fastdl.tensor([0.0], requires_grad=True)
            y = (x * 0).log()  # log(0) = -inf; its backward gives 0 / 0 = nan
            with pytest.raises(RuntimeError, match="nan values"):
                (y * 0).sum().backward()
    finally:
        set_detect_anomaly(False)
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            xt = torch.tensor([0.0], requires_grad=True)
            with pytest.raises(RuntimeError, match="returned nan values in its 0th output"):
                ((xt * 0).log() * 0).sum().backward()
