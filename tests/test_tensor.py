"""Tensor construction, dtypes, factories and every differentiable op vs NumPy + gradcheck."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
from fastdl.testing import assert_close, gradcheck


def t64(a, rg=True):
    return fastdl.tensor(np.asarray(a, np.float64), requires_grad=rg)


# ---- construction --------------------------------------------------------------------------

def test_tensor_dtype_rules():
    assert fastdl.tensor([1.0, 2.0]).dtype == np.float32
    assert fastdl.tensor([1, 2]).dtype == np.int64
    assert fastdl.tensor([True, False]).dtype == np.bool_
    assert fastdl.tensor(3.5).dtype == np.float32 and fastdl.tensor(3.5).shape == ()
    assert fastdl.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert fastdl.tensor(np.zeros(2, np.int32)).dtype == np.int64
    assert fastdl.tensor([1, 2], dtype=fastdl.float64).dtype == np.float64
    assert fastdl.float32 is not None and fastdl.int64 == np.int64 and fastdl.bool == np.bool_


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = fastdl.tensor(a)
    a[0, 0] = 100
    assert t.numpy()[0, 0] == 0
    s = fastdl.from_numpy(a)
    a[0, 1] = 7
    assert s.numpy()[0, 1] == 7 and np.shares_memory(s.numpy(), a)
    nc = fastdl.tensor(a.T)  # any layout is copied to C order
    assert nc.numpy().flags.c_contiguous and np.array_equal(nc.numpy(), a.T)


def test_from_numpy_rejects():
    with pytest.raises(TypeError, match="float16"):
        fastdl.from_numpy(np.zeros(3, np.float16))
    with pytest.raises(TypeError, match="contiguous"):
        fastdl.from_numpy(np.zeros((3, 4), np.float32).T)
    with pytest.raises(TypeError):
        fastdl.from_numpy([1, 2])


def test_basic_properties():
    t = fastdl.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    assert t.shape == (3, 4) and t.ndim == 2 and t.numel() == 12 and t.size(1) == 4
    assert t[1, 2].item() == 6.0
    assert np.asarray(t.detach()).shape == (3, 4)
    assert t.requires_grad and t.grad is None and t.is_leaf
    d = t.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), t._array)
    assert "requires_grad=True" in repr(t) and "tensor(" in repr(t)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(RuntimeError, match="floating"):
        fastdl.tensor([1, 2]).requires_grad_()


def test_grad_is_assignable():
    t = fastdl.zeros(2, requires_grad=True)
    t.grad = fastdl.ones(2)
    (t * 2).sum().backward()
    assert_close(t.grad, np.full(2, 3.0, np.float32))
    t.grad = None
    assert t.grad is None


def test_factories_and_seed():
    assert fastdl.zeros(2, 3).numpy().sum() == 0 and fastdl.zeros(2, 3).dtype == np.float32
    assert fastdl.ones((2, 3), dtype=fastdl.float64).numpy().sum() == 6
    assert fastdl.full((2, 2), 7).dtype == np.int64 and fastdl.full((2, 2), 7.0).numpy()[0, 0] == 7
    assert fastdl.empty(4, 5).shape == (4, 5)
    assert np.array_equal(fastdl.arange(5).numpy(), np.arange(5))
    assert fastdl.arange(0, 1, 0.25).dtype == np.float32
    z = fastdl.randn(3, 4)
    assert fastdl.zeros_like(z).shape == (3, 4) and fastdl.ones_like(z).numpy().sum() == 12
    fastdl.manual_seed(42)
    a, b = fastdl.randn(5).numpy(), fastdl.rand(5).numpy()
    fastdl.manual_seed(42)
    assert np.array_equal(a, fastdl.randn(5).numpy()) and np.array_equal(b, fastdl.rand(5).numpy())
    assert ((b >= 0) & (b < 1)).all()
    big = fastdl.zeros(512, 512)  # from the caching allocator
    assert big.numpy().sum() == 0


# ---- arithmetic with broadcasting ----------------------------------------------------------

BIN = [
    (lambda a, b: a + b, np.add),
    (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply),
    (lambda a, b: a / b, np.divide),
]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 2)),
          ((5,), ())]


@pytest.mark.parametrize("op,ref", BIN)
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_broadcast(op, ref, sa, sb, rng):
    a = rng.standard_normal(sa) + 3.0
    b = rng.standard_normal(sb) + 3.0
    out = op(t64(a), t64(b))
    assert_close(out, ref(a, b))
    assert gradcheck(op, [t64(a), t64(b)])


def test_scalars_and_reflected(rng):
    a = rng.standard_normal((3,)).astype(np.float32)
    x = fastdl.tensor(a)
    assert_close(2 - x, 2 - a)
    assert_close(2 / (x + 5), 2 / (a + 5))
    assert_close(x * 3 + 1, a * 3 + 1)
    assert (x * 3).dtype == np.float32  # a Python scalar keeps float32
    assert_close(-x, -a)
    assert_close(a + x, a + a)  # ndarray on the left defers to Tensor
    assert isinstance(a + x, fastdl.Tensor)


@pytest.mark.parametrize("e", [2, 3, 0.5, -1.5, 0])
def test_pow_scalar(e, rng):
    a = rng.random((3, 4)) + 0.5
    assert_close(t64(a) ** e, a ** e)
    assert gradcheck(lambda x: x ** e, [t64(a)])


def test_pow_tensor(rng):
    a, b = rng.random((3,)) + 0.5, rng.standard_normal((3,))
    assert gradcheck(lambda x, y: x ** y, [t64(a), t64(b)])
    assert gradcheck(lambda y: 2.0 ** y, [t64(b)])


@pytest.mark.parametrize("name,ref", [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt),
                                      ("abs", np.abs)])
def test_unary(name, ref, rng):
    a = rng.random((4, 5)) + 0.1
    a[0, 0] = 0.3
    assert_close(getattr(t64(a), name)(), ref(a))
    assert gradcheck(lambda x: getattr(x, name)(), [t64(a)])
    assert_close(getattr(fastdl.tensor(a.astype(np.float32)), name)(), ref(a.astype(np.float32)))


def test_large_elementwise_uses_pool():
    x = fastdl.ones(300, 300)
    fastdl.empty_cache()
    before = fastdl.memory_stats()["n_alloc"]
    y = x + x
    z = (y * 2).exp()
    assert fastdl.memory_stats()["n_alloc"] >= before + 2
    assert_close(z, np.full((300, 300), np.exp(4.0), np.float32))


def test_clamp(rng):
    a = rng.standard_normal((5, 5))
    assert_close(t64(a).clamp(-0.5, 0.5), np.clip(a, -0.5, 0.5))
    assert_close(t64(a).clamp(min=0), np.maximum(a, 0))
    assert gradcheck(lambda x: x.clamp(-0.5, 0.5), [t64(a)])
    with pytest.raises(ValueError, match="clamp"):
        t64(a).clamp()


def test_maximum_minimum(rng):
    a, b = rng.standard_normal((4,)), rng.standard_normal((4,))
    assert_close(t64(a).maximum(t64(b)), np.maximum(a, b))
    assert gradcheck(lambda x, y: x.minimum(y), [t64(a), t64(b)])


# ---- reductions ----------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean(dim, keepdim, rng):
    a = rng.standard_normal((2, 3, 4))
    ax = dim if not isinstance(dim, list) else tuple(dim)
    assert_close(t64(a).sum(dim, keepdim), np.sum(a, axis=ax, keepdims=keepdim))
    assert_close(t64(a).mean(dim, keepdim), np.mean(a, axis=ax, keepdims=keepdim))
    assert gradcheck(lambda x: x.sum(dim, keepdim), [t64(a)])
    assert gradcheck(lambda x: x.mean(dim, keepdim), [t64(a)])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim(dim, keepdim, rng):
    a = rng.standard_normal((3, 4, 5))
    v, i = t64(a).max(dim, keepdim)
    assert_close(v, np.max(a, axis=dim, keepdims=keepdim))
    assert np.array_equal(i.numpy(), np.argmax(a, axis=dim, keepdims=keepdim))
    assert i.dtype == np.int64 and not i.requires_grad
    v, i = t64(a).min(dim, keepdim)
    assert_close(v, np.min(a, axis=dim, keepdims=keepdim))
    assert gradcheck(lambda x: x.max(dim, keepdim)[0], [t64(a)])
    assert gradcheck(lambda x: x.min(dim, keepdim)[0], [t64(a)])


def test_max_all_and_argmax(rng):
    a = rng.standard_normal((3, 4))
    assert_close(t64(a).max(), np.max(a))
    assert gradcheck(lambda x: x.max(), [t64(a)])
    assert t64(a).argmax().item() == np.argmax(a)
    assert np.array_equal(t64(a).argmax(1).numpy(), np.argmax(a, 1))
    assert np.array_equal(t64(a).argmin(0).numpy(), np.argmin(a, 0))
    n = a.copy()
    n[1, 2] = np.nan
    assert np.isnan(fastdl.tensor(n).max().item())
    assert np.isnan(fastdl.tensor(n).max(1)[0].numpy()[1])


def test_var_std_prod_norm(rng):
    a = rng.standard_normal((3, 4))
    assert_close(t64(a).var(), np.var(a, ddof=1))
    assert_close(t64(a).std(1), np.std(a, axis=1, ddof=1))
    assert_close(t64(a).var(0, unbiased=False), np.var(a, axis=0))
    assert gradcheck(lambda x: x.var(1), [t64(a)])
    assert_close(t64(a).prod(1), np.prod(a, 1))
    z = a.copy()
    z[0, 1] = 0
    assert gradcheck(lambda x: x.prod(1), [t64(z)])
    assert_close(t64(a).norm(), np.linalg.norm(a))


# ---- shapes and indexing -------------------------------------------------------------------

def test_shape_ops(rng):
    a = rng.standard_normal((2, 3, 4))
    x = t64(a)
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape(-1).shape == (24,)
    assert x.view(2, 12).shape == (2, 12)
    assert_close(x.transpose(0, 2), a.transpose(2, 1, 0))
    assert_close(x.permute(1, 2, 0), a.transpose(1, 2, 0))
    assert_close(x.T, a.T)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.unsqueeze(0).squeeze().shape == (2, 3, 4)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.expand(5, 2, 3, 4).shape == (5, 2, 3, 4)
    for f in [lambda t: t.reshape(4, 6), lambda t: t.transpose(0, 1).reshape(-1),
              lambda t: t.permute(2, 0, 1), lambda t: t.unsqueeze(0).expand(3, 2, 3, 4),
              lambda t: t.flatten(0, 1), lambda t: t[:, 1:].squeeze(), lambda t: t.repeat(2, 1, 1),
              lambda t: t.split(2, dim=2)[1], lambda t: t.chunk(3, 1)[2], lambda t: t.unbind(0)[1]]:
        assert gradcheck(f, [t64(a)])
    with pytest.raises(ValueError, match="invalid for input of size 24"):
        x.reshape(5, 5)
    with pytest.raises(IndexError, match="out of (range|bounds)"):
        x.transpose(0, 3)
    with pytest.raises(RuntimeError, match="contiguous"):
        x.transpose(0, 1).view(-1)


def test_views_share_memory_and_version():
    x = fastdl.zeros(2, 3)
    v = x.transpose(0, 1)
    assert np.shares_memory(v.numpy(), x.numpy())
    x.add_(1)
    assert v.numpy().sum() == 6


def test_indexing(rng):
    a = rng.standard_normal((4, 5))
    x = t64(a)
    assert_close(x[1], a[1])
    assert_close(x[:, 2:4], a[:, 2:4])
    assert_close(x[..., -1], a[..., -1])
    assert_close(x[None, 1:3, ::2], a[None, 1:3, ::2])
    idx = np.array([0, 2, 2, 3])
    assert_close(x[idx], a[idx])
    assert_close(x[fastdl.tensor(idx)], a[idx])
    assert_close(x[a > 0], a[a > 0])
    assert gradcheck(lambda t: t[idx, 1:], [t64(a)])  # repeated index accumulates
    assert gradcheck(lambda t: t[1:3, ::2], [t64(a)])
    with pytest.raises(IndexError, match=r"out of bounds"):
        x[7]


def test_setitem_and_gather(rng):
    a = rng.standard_normal((3, 4))
    x = fastdl.tensor(a.copy())
    x[0] = 5.0
    assert (x.numpy()[0] == 5).all() and x._version == 1
    w = t64(a)
    v = t64(rng.standard_normal(4))

    def f(w, v):
        y = w * 1.0
        y[1] = v
        return y * y

    assert gradcheck(f, [w, v])
    idx = np.array([[0, 1], [2, 3], [1, 1]])
    assert_close(t64(a).gather(1, idx), np.take_along_axis(a, idx, 1))
    assert gradcheck(lambda t: t.gather(1, idx), [t64(a)])
    with pytest.raises(IndexError, match="out of (range|bounds)"):
        t64(a).gather(1, np.array([[9], [0], [0]]))


def test_cat_stack_where(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    assert_close(fastdl.cat([t64(a), t64(b)]), np.concatenate([a, b]))
    assert gradcheck(lambda x, y: fastdl.cat([x, y], 0), [t64(a), t64(b)])
    assert_close(fastdl.stack([t64(a), t64(a)], 1), np.stack([a, a], 1))
    assert gradcheck(lambda x, y: fastdl.stack([x, y], -1), [t64(a), t64(a * 2)])
    with pytest.raises(ValueError, match="cat: tensor 1 has shape"):
        fastdl.cat([t64(a), t64(b.T)])
    c = a > 0
    assert_close(fastdl.where(c, t64(a), 0.0), np.where(c, a, 0.0))
    assert gradcheck(lambda x, y: fastdl.where(c, x, y), [t64(a), t64(a * 3)])
    assert_close(t64(a).masked_fill(c, -1.0), np.where(c, -1.0, a))


def test_comparisons_not_differentiable(rng):
    a = t64(rng.standard_normal(5))
    for r in (a > 0, a < 0, a >= 0, a <= 0, a == 0, a != 0):
        assert r.dtype == np.bool_ and not r.requires_grad
    assert ((a > 0) | (a <= 0)).all().item()


def test_to_dtype_and_clone(rng):
    a = rng.standard_normal((3,))
    x = t64(a)
    assert x.to(fastdl.float32).dtype == np.float32 and x.float().dtype == np.float32
    assert x.to("float64") is x
    assert gradcheck(lambda t: t.to(np.float32).double() * 2, [t64(a)], eps=1e-2, atol=1e-3,
                     rtol=1e-2)
    c = x.clone()
    assert not np.shares_memory(c._array, x._array) and c.requires_grad
    with pytest.raises(TypeError, match="float16"):
        x.to(np.float16)


@settings(max_examples=40, deadline=None)
@given(sa=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       drop=st.integers(0, 3), data=st.data())
def test_broadcast_grad_property(sa, drop, data):
    sb = [1 if data.draw(st.booleans()) else s for s in sa][drop:]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb) + 2
    assert gradcheck(lambda x, y: x * y + x / y - y, [t64(a), t64(b)])


def test_delegated_activation_methods():
    x = fastdl.tensor([-1.0, 0.5, 2.0])
    assert_close(x.relu(), np.maximum(x.numpy(), 0))
    assert_close(x.softplus(), np.log1p(np.exp(x.numpy())), rtol=1e-6)
    y = fastdl.tensor([-1.0, 0.5, 2.0])
    assert y.relu_() is y and (y.numpy() >= 0).all() and y._version == 1


def test_as_tensor_keeps_zero_d():
    t = fastdl.as_tensor(np.array(3.0))
    assert t.shape == () and t.dtype == np.float64 and t.item() == 3.0
    a = np.arange(3, dtype=np.float32)
    assert np.shares_memory(fastdl.as_tensor(a).numpy(), a)
