"""F.linear and F.bilinear against the float64 NumPy reference (and PyTorch's semantics)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference import (bilinear_backward_ref, bilinear_ref, linear_backward_ref,
                                      linear_ref)

DTYPES = [np.float32, np.float64]


def _tol(dtype, k):
    return dict(rtol=1e-5 * np.sqrt(k), atol=1e-5 * np.sqrt(k)) if dtype == np.float32 else \
        dict(rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,out", [((8, 3), 5), ((3,), 4), ((2, 5, 7), 6), ((64, 784), 128),
                                        ((1, 33), 65), ((0, 4), 3), ((4, 0), 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward(isa, dtype, xshape, out, bias, rng):
    inf = xshape[-1]
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal((out, inf)).astype(dtype)
    b = rng.standard_normal(out).astype(dtype) if bias else None
    tx = fastdl.tensor(x, requires_grad=True)
    tw = fastdl.tensor(w, requires_grad=True)
    tb = fastdl.tensor(b, requires_grad=True) if bias else None
    y = F.linear(tx, tw, tb)
    assert y.shape == xshape[:-1] + (out,) and y.dtype == dtype
    assert_close(y.detach().numpy(), linear_ref(x, w, b), **_tol(dtype, inf))
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(fastdl.tensor(g))
    dx, dw, db = linear_backward_ref(x, w, g)
    n = int(np.prod(xshape[:-1]))
    assert_close(tx.grad.numpy(), dx, **_tol(dtype, out))
    assert_close(tw.grad.numpy(), dw, **_tol(dtype, max(n, 1)))
    if bias:
        assert_close(tb.grad.numpy(), db, **_tol(dtype, max(n, 1)))


@pytest.mark.parametrize("xshape", [(4, 3), (2, 3, 3), (3,)])
def test_linear_gradcheck(xshape, rng):
    x = fastdl.tensor(rng.standard_normal(xshape), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(F.linear, [x, w, b])
    assert gradcheck(lambda x, w: F.linear(x, w), [x, w])


def test_linear_only_requested_grads(rng):
    x = fastdl.tensor(rng.standard_normal((4, 3)))
    w = fastdl.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 3)


def test_linear_1d_weight_and_array_likes(rng):
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal(3)
    assert_close(F.linear(x, w).numpy(), x @ w)
    assert_close(F.linear(x, w, np.float64(0.5)).numpy(), x @ w + 0.5)
    y = F.linear(fastdl.tensor(x.astype(np.float32)), np.ones((2, 3), np.float32))
    assert_close(y.numpy(), x.astype(np.float32).sum(1, keepdims=True).repeat(2, 1))


def test_linear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ref = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                     torch.from_numpy(b)).numpy()
    assert_close(F.linear(x, w, b).numpy(), ref, rtol=1e-5, atol=1e-5)


def test_linear_bitwise_threads(rng):
    x = rng.standard_normal((130, 300)).astype(np.float32)
    w = rng.standard_normal((270, 300)).astype(np.float32)
    b = rng.standard_normal(270).astype(np.float32)
    with use_threads(1):
        y1 = F.linear(x, w, b).numpy()
    with use_threads(2):
        y2 = F.linear(x, w, b).numpy()
    assert np.array_equal(y1, y2)


def test_linear_bad_inputs():
    with pytest.raises(ValueError, match=r"input \(4, 3\) has 3 features but weight \(2, 5\)"):
        F.linear(np.ones((4, 3)), np.ones((2, 5)))
    with pytest.raises(ValueError, match="bias"):
        F.linear(np.ones((4, 3)), np.ones((2, 3)), np.ones(3))
    with pytest.raises(TypeError, match="float32 but weight is float64"):
        F.linear(np.ones((4, 3), np.float32), np.ones((2, 3)))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.linear(np.ones((4, 3)), np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        F.linear(fastdl.tensor(1.0), np.ones((2, 1), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.linear(np.ones((4, 3), np.int64), np.ones((2, 3), np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead,i,j,o", [((5,), 3, 4, 2), ((2, 3), 4, 1, 5), ((), 3, 3, 3),
                                        ((17,), 20, 30, 10)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_forward_backward(isa, dtype, lead, i, j, o, bias, rng):
    x1 = rng.standard_normal(lead + (i,)).astype(dtype)
    x2 = rng.standard_normal(lead + (j,)).astype(dtype)
    w = rng.standard_normal((o, i, j)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    t1, t2 = fastdl.tensor(x1, requires_grad=True), fastdl.tensor(x2, requires_grad=True)
    tw = fastdl.tensor(w, requires_grad=True)
    tb = fastdl.tensor(b, requires_grad=True) if bias else None
    y = F.bilinear(t1, t2, tw, tb)
    assert y.shape == lead + (o,)
    tol = _tol(dtype, i * j)
    assert_close(y.detach().numpy(), bilinear_ref(x1, x2, w, b), **tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(fastdl.tensor(g))
    d1, d2, dw, db = bilinear_backward_ref(x1, x2, w, g)
    assert_close(t1.grad.numpy(), d1, **tol)
    assert_close(t2.grad.numpy(), d2, **tol)
    assert_close(tw.grad.numpy(), dw, **tol)
    if bias:
        assert_close(tb.grad.numpy(), db, **tol)


def test_bilinear_gradcheck(rng):
    x1 = fastdl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    x2 = fastdl.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    w = fastdl.tensor(rng.standard_normal((5, 4, 2)), requires_grad=True)
    b = fastdl.tensor(rng.standard_normal(5), requires_grad=True)
    assert gradcheck(F.bilinear, [x1, x2, w, b])


def test_bilinear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x1 = rng.standard_normal((2, 3, 4))
    x2 = rng.standard_normal((2, 3, 5))
    w = rng.standard_normal((6, 4, 5))
    b = rng.standard_normal(6)
    ref = torch.nn.functional.bilinear(*(torch.from_numpy(v) for v in (x1, x2, w, b))).numpy()
    assert_close(F.bilinear(x1, x2, w, b).numpy(), ref)


def test_bilinear_bad_inputs():
    with pytest.raises(ValueError, match="batch dimensions do not match"):
        F.bilinear(np.ones((3, 4)), np.ones((2, 5)), np.ones((6, 4, 5)))
    with pytest.raises(ValueError, match="do not match weight"):
        F.bilinear(np.ones((3, 4)), np.ones((3, 5)), np.ones((6, 4, 4)))
    with pytest.raises(ValueError, match="weight must be 3-D"):
        F.bilinear(np.ones((3, 4)), np.ones((3, 5)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="bias"):
        F.bilinear(np.ones((3, 4)), np.ones((3, 5)), np.ones((6, 4, 5)), np.ones(5))
    with pytest.raises(TypeError, match="dtypes differ"):
        F.bilinear(np.ones((3, 4), np.float32), np.ones((3, 5)), np.ones((6, 4, 5)))
