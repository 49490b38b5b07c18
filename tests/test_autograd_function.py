"""Function's ctx API (mark_non_differentiable, set_materialize_grads, mark_dirty,
needs_input_grad, setup_context, once_differentiable) and backward(inputs=) / grad."""
import numpy as np
import pytest

import fastdl
from fastdl.autograd import Function, once_differentiable
from fastdl.testing import assert_close, gradcheck


def _t(a, rg=True):
    return fastdl.tensor(np.asarray(a, np.float64), requires_grad=rg)


class SortWithIndex(Function):
    @staticmethod
    def forward(ctx, x):
        idx = np.argsort(x.detach().numpy(), kind="stable")
        ctx.idx = idx
        vals = fastdl.tensor(x.detach().numpy()[idx])
        ind = fastdl.tensor(idx.astype(np.float64))  # float, but not differentiable
        ctx.mark_non_differentiable(ind)
        return vals, ind

    @staticmethod
    @once_differentiable
    def backward(ctx, gv, gi):
        assert gi is not None and not gi.numpy().any()  # materialised zeros
        g = np.zeros_like(gv.numpy())
        g[ctx.idx] = gv.numpy()
        return fastdl.tensor(g)


def test_mark_non_differentiable_and_once_differentiable():
    x = _t([3.0, 1.0, 2.0])
    vals, ind = SortWithIndex.apply(x)
    assert vals.requires_grad and not ind.requires_grad and ind.grad_fn is None
    (vals * fastdl.tensor([1.0, 10.0, 100.0], dtype=fastdl.float64)).sum().backward()
    assert x.grad.numpy().tolist() == [100.0, 1.0, 10.0]
    assert gradcheck(lambda t: SortWithIndex.apply(t)[0], [_t([3.0, 1.0, 2.0])])


class TwoOut(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, ga, gb):
        out = None
        if ga is not None:
            out = ga * 2
        if gb is not None:
            out = gb * 3 if out is None else out + gb * 3
        return out


def test_set_materialize_grads_false_gives_none():
    x = _t([1.0, 2.0])
    a, b = TwoOut.apply(x)
    b.sum().backward()
    assert x.grad.numpy().tolist() == [3.0, 3.0]


class AddOneInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_mark_dirty_rebases_history():
    w = _t([1.0, 2.0])
    h = w * 3
    out = AddOneInPlace.apply(h)
    assert out is h and h.grad_fn is not None and h.detach().numpy().tolist() == [4.0, 7.0]
    (h * h).sum().backward()
    assert w.grad.numpy().tolist() == [2 * 4.0 * 3, 2 * 7.0 * 3]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        AddOneInPlace.apply(_t([1.0]))


class Ident(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_returning_an_input_unmarked_gives_a_new_tensor():
    x = _t([1.0])
    y = Ident.apply(x)
    assert y is not x and x.is_leaf and not y.is_leaf
    y.sum().backward()
    assert x.grad.numpy().tolist() == [2.0]


class MulK(Function):
    @staticmethod
    def forward(x, k, y):
        return x * k * y

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, k, y = inputs
        ctx.save_for_backward(x, y)
        ctx.k = k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False, False)
        return g * ctx.k * y, None, None


def test_setup_context_and_needs_input_grad():
    x = _t([1.0, 2.0])
    y = _t([3.0, 4.0], rg=False)
    out = MulK.apply(x, 2.0, y)
    out.sum().backward()
    assert x.grad.numpy().tolist() == [6.0, 8.0]


def test_function_ctx_matches_torch():
    torch = pytest.importorskip("torch")

    class TSort(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = torch.sort(x)
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            (i,) = ctx.saved_tensors
            g = torch.zeros_like(gv)
            g[i] = gv
            return g

    xt = torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    v, i = TSort.apply(xt)
    assert not i.requires_grad
    (v * torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)).sum().backward()
    x = _t([3.0, 1.0, 2.0])
    vals, _ = SortWithIndex.apply(x)
    (vals * fastdl.tensor([1.0, 10.0, 100.0], dtype=fastdl.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


# ---- backward(inputs=) and grad ---------------------------------------------------------------
def test_backward_inputs_accumulates_only_there():
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    h = a * b
    loss = (h * h).sum()
    loss.backward(inputs=[a, h])
    assert b.grad is None
    assert_close(a.grad, 2 * (a.detach().numpy() * b.detach().numpy()) * b.detach().numpy())
    assert_close(h.grad, 2 * h.detach().numpy())  # a non-leaf input gets its .grad too
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * 2).sum().backward(inputs=[])


def test_backward_inputs_matches_torch():
    torch = pytest.importorskip("torch")
    at = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    bt = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    (at * bt).exp().sum().backward(inputs=[bt])
    a, b = _t([1.0, 2.0]), _t([3.0, 4.0])
    (a * b).exp().sum().backward(inputs=[b])
    assert a.grad is None and at.grad is None
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy())


def test_grad_runs_only_the_needed_part_and_semantics():
    x = _t([1.0, 2.0])
    w = _t([3.0, 4.0])
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    y = (x * 2) * Spy.apply(w)
    (gx,) = fastdl.autograd.grad(y.sum(), [x])
    assert gx.numpy().tolist() == [6.0, 8.0] and calls == [] and x.grad is None
    h = x * x
    z = (h * 3).sum()
    gh, gx2 = fastdl.autograd.grad(z, [h, x])  # an intermediate and the leaf below it
    assert gh.numpy().tolist() == [3.0, 3.0] and gx2.numpy().tolist() == [6.0, 12.0]
    u = _t([1.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        fastdl.autograd.grad((x * 2).sum(), [u])
    assert fastdl.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)[1] is None
    g0 = fastdl.autograd.grad((x * 2).sum(), [x, u], materialize_grads=True)[1]
    assert g0.numpy().tolist() == [0.0]
    (gc,) = fastdl.autograd.grad((x * x).sum(), [x], create_graph=True)
    assert gc.requires_grad and gc.detach().numpy().tolist() == (2 * x.detach().numpy()).tolist()
