"""The autograd engine: accumulation, graph misuse errors, deep chains, in-place checks,
no_grad, user-defined Functions."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck


def test_accumulates_into_leaves():
    x = fastdl.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad, np.array([2 + 3, 4 + 3], np.float32))


def test_shared_subexpression_and_reuse():
    x = fastdl.tensor([3.0], dtype=fastdl.float64, requires_grad=True)
    y = x * x
    z = y + y * x + x  # y used twice, x three times
    z.backward()
    assert_close(x.grad, np.array([2 * 3 + 3 * 9 + 1.0]))


def test_same_gradient_array_is_not_aliased():
    a = fastdl.ones(3, requires_grad=True)
    b = fastdl.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad._array[0] = 100  # must not change b.grad
    assert b.grad.numpy()[0] == 1


def _conv_ref(x, w):
    """NumPy reference of a stride-1, unpadded conv2d (N, C, H, W) * (K, C, R, S)."""
    n, c, h, wd = x.shape
    k, _, r, s = w.shape
    y = np.zeros((n, k, h - r + 1, wd - s + 1))
    for i in range(r):
        for j in range(s):
            y += np.einsum("nchw,kc->nkhw", x[:, :, i:i + h - r + 1, j:j + wd - s + 1],
                           w[:, :, i, j])
    return y


def test_adopted_first_gradients_of_conv_linear_batchnorm():
    # the weights' first gradients become .grad without a copy (_Op._fresh_grads): a weight
    # used twice gets the sum, a second backward adds into it, and no two leaves share memory
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((2, 2, 3, 6, 6))
    wa = rng.standard_normal((4, 3, 3, 3))
    w = fastdl.tensor(wa, requires_grad=True)
    lin = fastdl.nn.Linear(16, 5).double()
    bn = fastdl.nn.BatchNorm2d(4).double()
    F = fastdl.nn.functional

    def loss(x, wt):
        y = bn(F.conv2d(fastdl.tensor(x), wt))  # (2, 4, 4, 4)
        return lin(y.reshape(2, 4, 16)).sum()

    (loss(xa[0], w) + loss(xa[1], w)).backward()
    # dL/dw through the batch norm and the linear layer, against finite differences
    gamma, beta = (t.detach().numpy()[None, :, None, None] for t in (bn.weight, bn.bias))
    lw, lbias = lin.weight.detach().numpy(), lin.bias.detach().numpy()

    def num_loss(wv):
        tot = 0.0
        for xv in xa:
            y = _conv_ref(xv, wv)
            m, v = y.mean(axis=(0, 2, 3), keepdims=True), y.var(axis=(0, 2, 3), keepdims=True)
            yn = (y - m) / np.sqrt(v + bn.eps) * gamma + beta
            tot += (yn.reshape(2, 4, 16) @ lw.T + lbias).sum()
        return tot
    num = np.zeros_like(wa)
    eps = 1e-6
    for idx in np.ndindex(wa.shape):
        d = np.zeros_like(wa)
        d[idx] = eps
        num[idx] = (num_loss(wa + d) - num_loss(wa - d)) / (2 * eps)
    assert_close(w.grad, num, rtol=1e-5, atol=1e-6)
    g1 = w.grad.numpy().copy()
    lb = lin.bias.grad.numpy().copy()
    assert_close(lb, np.full(5, 2 * 2 * 4.0))  # Σ over 2 losses × 2 × 4 rows
    leaves = [w, lin.weight, lin.bias, bn.weight, bn.bias]
    ptrs = {p.grad._array.__array_interface__["data"][0] for p in leaves}
    assert len(ptrs) == len(leaves)
    loss(xa[0], w).backward()  # added in place into the adopted buffers
    w1 = fastdl.tensor(wa, requires_grad=True)
    loss(xa[0], w1).backward()  # the same gradient, adopted by a fresh leaf
    assert_close(w.grad, g1 + w1.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_close(lin.bias.grad, lb + 2 * 2 * 4.0)


def test_backward_twice_needs_retain_graph():
    x = fastdl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, np.array([4.0, 8.0], np.float32))
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_without_grad_is_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        fastdl.ones(2).sum().backward()
    x = fastdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(fastdl.tensor([1.0, 10.0]))
    assert_close(x.grad, np.array([2.0, 20.0], np.float32))
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(fastdl.ones(3))


def test_no_grad_context_and_decorator():
    x = fastdl.ones(2, requires_grad=True)
    with fastdl.no_grad():
        y = x * 2
        with fastdl.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad

    @fastdl.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad and fastdl.is_grad_enabled()
    with fastdl.set_grad_enabled(False):
        assert not (x * 1).requires_grad
    assert (x * 1).requires_grad


def test_deep_chain_iterative():
    x = fastdl.tensor([1.0], dtype=fastdl.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y.sum().backward()
    assert_close(x.grad, np.array([1.0]))


def test_inplace_on_saved_tensor_refuses():
    x = fastdl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y.exp()  # saves its output
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    a = fastdl.tensor([1.0, 2.0], requires_grad=True)
    h = a * 1.0
    p = h * h  # saves h
    h.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        p.sum().backward()


def test_inplace_on_leaf_requiring_grad_refuses_but_no_grad_allows():
    w = fastdl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.add_(1)
    with fastdl.no_grad():
        w.add_(1).mul_(2)
    assert_close(w.detach(), np.full(3, 4.0, np.float32))
    assert w._version == 2


def test_inplace_differentiable_on_nonleaf():
    def f(x, y):
        h = x * 1.0
        h.mul_(y)
        h.add_(x)
        return h * h

    rng = np.random.default_rng(0)
    x = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    y = fastdl.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(f, [x, y])


def test_zero_fill_copy_bump_version():
    t = fastdl.ones(3)
    t.zero_()
    t.fill_(2.0)
    t.copy_(np.array([1.0, 2.0, 3.0]))
    assert t._version == 3 and t.numpy().tolist() == [1.0, 2.0, 3.0]
    t.copy_(fastdl.tensor(5.0))  # broadcasts
    assert t.numpy().tolist() == [5.0, 5.0, 5.0]


def test_user_function():
    class Cube(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert isinstance(g, fastdl.Tensor)
            return 3 * x * x * g * ctx.k, None

    x = fastdl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert_close(y, np.array([2.0, -16.0]))
    assert gradcheck(lambda t: Cube.apply(t, 2.0), [x])


def test_user_function_multiple_outputs():
    class SplitSum(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3

    x = fastdl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert gradcheck(lambda t: SplitSum.apply(t), [x])
    x.grad = None
    a, b = SplitSum.apply(x)
    a.sum().backward()  # b unused: its gradient arrives as zeros
    assert_close(x.grad, np.array([2.0, 2.0]))


def test_autograd_grad_returns_without_accumulating():
    x = fastdl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = fastdl.autograd.grad((x * x).sum(), [x])
    assert_close(g, np.array([2.0, 4.0])) and x.grad is None
    assert x.grad is None


def test_gradcheck_detects_wrong_backward():
    class Wrong(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 x g

    x = fastdl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(AssertionError, match="analytic"):
        gradcheck(lambda t: Wrong.apply(t), [x])
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [fastdl.ones(2, requires_grad=True)])


def test_assert_close_reports_worst():
    assert_close(np.array([1.0, np.nan, np.inf]), np.array([1.0, np.nan, np.inf]))
    with pytest.raises(AssertionError, match="worst at"):
        assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.1]))
    with pytest.raises(AssertionError, match="NaN"):
        assert_close(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros(2), np.zeros(3))
