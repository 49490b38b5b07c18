"""Identity, Linear, Bilinear and Embedding: NumPy references, PyTorch twins, gradcheck and
Module features (state_dict both ways, to(float64), repr)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference import bilinear_ref, embedding_ref, linear_ref



pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _torch():
    return pytest.importorskip("torch")


def _np_state(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _to_torch_state(m, torch):
    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in m.state_dict().items()}


# ---------------------------------------------------------------------------------- Identity

def test_identity_returns_input_and_ignores_args():
    m = nn.Identity(54, unused="x")
    x = fastdl.randn(3, 4)
    assert m(x) is x
    assert repr(m) == "Identity()"
    assert list(m.parameters()) == []


# ---------------------------------------------------------------------------------- Linear

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(7, 5), (2, 3, 5), (5,)])
def test_linear_forward_matches_reference(dtype, bias, shape, rng):
    m = nn.Linear(5, 4, bias=bias, dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    y = m(fastdl.tensor(x))
    assert y.dtype == dtype and y.shape == shape[:-1] + (4,)
    p = _np_state(m)
    assert_close(y, linear_ref(x, p["weight"], p.get("bias")))


def test_linear_on_every_isa(isa, rng):
    m = nn.Linear(33, 17)
    x = rng.standard_normal((9, 33)).astype(np.float32)
    p = _np_state(m)
    assert_close(m(fastdl.tensor(x)), linear_ref(x, p["weight"], p["bias"]), rtol=1e-5)


def test_linear_bitwise_equal_for_1_and_2_threads(rng):
    m = nn.Linear(64, 48)
    x = fastdl.tensor(rng.standard_normal((37, 64)).astype(np.float32))
    with use_threads(1):
        a = m(x).detach().numpy().copy()
    with use_threads(2):
        b = m(x).detach().numpy().copy()
    assert np.array_equal(a, b)


def test_linear_init_bounds_and_seed():
    fastdl.manual_seed(3)
    m = nn.Linear(100, 50)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / math.sqrt(100)
    assert w.shape == (50, 100) and b.shape == (50,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # uniform over the whole range, not a narrower one
    assert w.dtype == np.float32
    fastdl.manual_seed(3)
    assert np.array_equal(nn.Linear(100, 50).weight.detach().numpy(), w)


def test_linear_gradcheck():
    m = nn.Linear(4, 3).double()
    x = fastdl.randn(2, 4, dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x, m.weight, m.bias])


def test_linear_matches_torch_both_ways(rng):
    torch = _torch()
    tm = torch.nn.Linear(6, 3)
    fm = nn.Linear(6, 3)
    fm.load_state_dict(_np_state(tm))
    x = rng.standard_normal((4, 6)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x, requires_grad=True)
    ty, fy = tm(tx), fm(fx)
    assert_close(fy, ty.detach().numpy())
    g = rng.standard_normal((4, 3)).astype(np.float32)
    ty.backward(torch.tensor(g))
    fy.backward(fastdl.tensor(g))
    assert_close(fx.grad, tx.grad.numpy())
    assert_close(fm.weight.grad, tm.weight.grad.numpy())
    assert_close(fm.bias.grad, tm.bias.grad.numpy())
    # and back: a fresh fastdl layer's weights into torch
    fm2 = nn.Linear(6, 3)
    tm.load_state_dict(_to_torch_state(fm2, torch))
    assert_close(fm2(fastdl.tensor(x)), tm(torch.tensor(x)).detach().numpy())
    assert repr(fm) == repr(tm)
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]


def test_linear_module_features():
    m = nn.Linear(3, 2, bias=False)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    m.to("float64")
    assert m.weight.dtype == np.float64
    assert m(fastdl.randn(4, 3, dtype=fastdl.float64)).dtype == np.float64
    assert repr(m) == "Linear(in_features=3, out_features=2, bias=False)"
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        m.load_state_dict({"weight": np.zeros((3, 3))})
    with pytest.raises(TypeError, match="Linear"):
        nn.Linear(3, 2, dtype="int64")
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(3, 2, device="cuda")


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 9), i=st.integers(1, 20), o=st.integers(1, 20),
       bias=st.booleans())
def test_linear_backward_property(n, i, o, bias):
    rng = np.random.default_rng(n * 1000 + i * 10 + o)
    m = nn.Linear(i, o, bias=bias).double()
    x = rng.standard_normal((n, i))
    fx = fastdl.tensor(x, requires_grad=True)
    g = rng.standard_normal((n, o))
    m(fx).backward(fastdl.tensor(g))
    w = m.weight.detach().numpy()
    assert_close(fx.grad, g @ w)
    assert_close(m.weight.grad, g.T @ x)
    if bias:
        assert_close(m.bias.grad, g.sum(0))


# ---------------------------------------------------------------------------------- Bilinear

def test_bilinear_forward_reference_and_gradcheck(rng):
    m = nn.Bilinear(3, 4, 2).double()
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    p = _np_state(m)
    assert_close(m(fastdl.tensor(x1), fastdl.tensor(x2)),
                 bilinear_ref(x1, x2, p["weight"], p["bias"]))
    a = fastdl.tensor(x1[:2], requires_grad=True)
    b = fastdl.tensor(x2[:2], requires_grad=True)
    assert gradcheck(lambda a, b, w, bb: F.bilinear(a, b, w, bb), [a, b, m.weight, m.bias])


def test_bilinear_matches_torch(rng):
    torch = _torch()
    tm = torch.nn.Bilinear(3, 4, 2)
    fm = nn.Bilinear(3, 4, 2)
    fm.load_state_dict(_np_state(tm))
    x1 = rng.standard_normal((2, 5, 3)).astype(np.float32)
    x2 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    f1, f2 = fastdl.tensor(x1, requires_grad=True), fastdl.tensor(x2, requires_grad=True)
    ty, fy = tm(t1, t2), fm(f1, f2)
    assert_close(fy, ty.detach().numpy(), rtol=1e-5)
    (ty ** 2).sum().backward()
    (fy ** 2).sum().backward()
    assert_close(f1.grad, t1.grad.numpy(), rtol=1e-5)
    assert_close(f2.grad, t2.grad.numpy(), rtol=1e-5)
    assert_close(fm.weight.grad, tm.weight.grad.numpy(), rtol=1e-5)
    assert repr(fm) == repr(tm)
    bound = 1 / math.sqrt(3)
    assert np.abs(nn.Bilinear(3, 4, 2).weight.detach().numpy()).max() <= bound
    with pytest.raises(ValueError, match="bilinear"):
        fm(f1, fastdl.randn(2, 5, 5))


# ---------------------------------------------------------------------------------- Embedding

def test_embedding_forward_and_padding_grad(rng):
    m = nn.Embedding(10, 3, padding_idx=0)
    w = m.weight.detach().numpy()
    assert np.all(w[0] == 0)
    idx = np.array([[1, 2, 0], [2, 9, 2]])
    y = m(fastdl.tensor(idx))
    assert_close(y, embedding_ref(idx, w))
    g = rng.standard_normal((2, 3, 3)).astype(np.float32)
    y.backward(fastdl.tensor(g))
    expect = np.zeros((10, 3), np.float32)
    for (a, b), i in np.ndenumerate(idx):
        if i != 0:
            expect[i] += g[a, b]
    assert_close(m.weight.grad, expect)
    assert np.all(m.weight.grad.numpy()[0] == 0)


def test_embedding_matches_torch_with_max_norm(rng):
    torch = _torch()
    tm = torch.nn.Embedding(8, 4, padding_idx=-1, max_norm=1.0)
    fm = nn.Embedding(8, 4, padding_idx=-1, max_norm=1.0)
    assert fm.padding_idx == tm.padding_idx == 7
    fm.load_state_dict(_np_state(tm))
    idx = np.array([[0, 3, 7, 3], [5, 5, 1, 7]])
    ty = tm(torch.tensor(idx))
    fy = fm(fastdl.tensor(idx))
    assert_close(fy, ty.detach().numpy(), rtol=1e-5)
    assert_close(fm.weight.detach(), tm.weight.detach().numpy(), rtol=1e-5)  # renormed rows
    g = rng.standard_normal(fy.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    fy.backward(fastdl.tensor(g))
    assert_close(fm.weight.grad, tm.weight.grad.numpy())
    assert repr(fm) == repr(tm)


def test_embedding_gradcheck_and_errors():
    w = fastdl.randn(5, 2, dtype=fastdl.float64, requires_grad=True)
    idx = fastdl.tensor([[0, 4, 4], [1, 0, 2]])
    assert gradcheck(lambda w: F.embedding(idx, w), [w])  # (padding rows get no grad by design)
    m = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="out of range"):
        m(fastdl.tensor([5]))
    with pytest.raises(IndexError, match="out of range"):
        m(fastdl.tensor([-1]))
    with pytest.raises(TypeError, match="integer"):
        m(fastdl.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


def test_embedding_from_pretrained_and_state(rng):
    w = rng.standard_normal((6, 3)).astype(np.float32)
    m = nn.Embedding.from_pretrained(fastdl.tensor(w))
    assert not m.weight.requires_grad
    assert_close(m(fastdl.tensor([5, 0])), w[[5, 0]])
    m2 = nn.Embedding(6, 3)
    m2.load_state_dict(m.state_dict())
    assert np.array_equal(m2.weight.detach().numpy(), w)
    m2.to(fastdl.float64)
    assert m2(fastdl.tensor([1])).dtype == np.float64
    assert repr(m2) == "Embedding(6, 3)"
