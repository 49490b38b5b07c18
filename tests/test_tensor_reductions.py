"""The reductions' graph-free paths (taken when nothing needs a gradient) give the same
values, dtypes and shapes as the recorded paths, NumPy and torch (when installed): NaN wins
in max/min/argmax, ties, every dim form, keepdim, 0-d, integer, bool and float16 inputs,
and torch's errors for empty inputs."""
import numpy as np
import pytest

import fastdl

_OPS = [
    ("max", lambda x: x.max()), ("min", lambda x: x.min()),
    ("max1", lambda x: x.max(1).values), ("min0", lambda x: x.min(0).values),
    ("max1i", lambda x: x.max(-1).indices), ("min1k", lambda x: x.min(1, keepdim=True).values),
    ("amax", lambda x: x.amax()), ("amax1", lambda x: x.amax(1)),
    ("amin01k", lambda x: x.amin((0, 1), keepdim=True)),
    ("argmax", lambda x: x.argmax()), ("argmin1", lambda x: x.argmin(1)),
    ("argmaxk", lambda x: x.argmax(0, keepdim=True)),
    ("sum", lambda x: x.sum()), ("sum1", lambda x: x.sum(1)), ("sum-1k", lambda x: x.sum(-1, keepdim=True)),
    ("mean", lambda x: x.mean()), ("mean1", lambda x: x.mean(1)), ("mean0k", lambda x: x.mean(0, keepdim=True)),
    ("prod", lambda x: x.prod()), ("prod1", lambda x: x.prod(1)),
    ("var", lambda x: x.var()), ("var1", lambda x: x.var(1)), ("std0k", lambda x: x.std(0, keepdim=True)),
    ("std_c0", lambda x: x.std(1, correction=0)), ("norm", lambda x: x.norm()), ("norm1", lambda x: x.norm(dim=1)),
]
_FLOAT_ONLY = {"mean", "mean1", "mean0k", "var", "var1", "std0k", "std_c0", "norm", "norm1"}


def _data(kind):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 7))
    if kind == "ties":
        a = np.round(a)
    elif kind == "nan":
        a[1, 3] = a[4, 0] = np.nan
    return a


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["plain", "ties", "nan"])
@pytest.mark.parametrize("name,op", _OPS, ids=[n for n, _ in _OPS])
def test_graph_free_equals_recorded(name, op, kind, dtype):
    a = _data(kind).astype(dtype)
    plain = op(fastdl.tensor(a))
    rec = op(fastdl.tensor(a, requires_grad=True))
    assert not plain.requires_grad
    assert plain.dtype == rec.dtype and plain.shape == rec.shape
    np.testing.assert_array_equal(plain.numpy(), rec.detach().numpy())
    with fastdl.no_grad():
        ng = op(fastdl.tensor(a, requires_grad=True))
    assert not ng.requires_grad
    np.testing.assert_array_equal(ng.numpy(), plain.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("kind", ["plain", "ties", "nan"])
@pytest.mark.parametrize("name,op", _OPS, ids=[n for n, _ in _OPS])
def test_against_torch(name, op, kind, dtype):
    torch = pytest.importorskip("torch")
    if dtype not in ("float32", "float64", "float16") and (kind == "nan" or name in _FLOAT_ONLY):
        pytest.skip("NaN and floating-only reductions need a float dtype")
    a = (_data(kind) * (1 if dtype == "float16" else 3)).astype(dtype)  # no float16 overflow
    try:
        want = op(torch.from_numpy(a.copy()))
    except RuntimeError:  # torch refuses it (argmax of bool, max of bool along a dim...)
        pytest.skip("torch does not define this reduction on this dtype")
    got = op(fastdl.tensor(a))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    tol = 2e-3 if dtype == "float16" else 1e-5
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)


def test_zero_dim_and_numpy_reference():
    x = fastdl.tensor(2.5)
    assert x.max().item() == 2.5 and x.argmax().item() == 0
    r = x.max(0)
    assert r.values.item() == 2.5 and r.indices.item() == 0 and r.indices.dtype == fastdl.int64
    a = _data("nan").astype(np.float32)
    t = fastdl.tensor(a)
    assert np.isnan(t.max().item()) and np.isnan(t.min().item())
    assert t.argmax().item() == np.argmax(a) == 1 * 7 + 3
    np.testing.assert_array_equal(t.argmin(1).numpy(), np.argmin(a, 1))
    np.testing.assert_allclose(t.var(1).numpy(), np.var(a, 1, ddof=1), rtol=1e-6)


@pytest.mark.parametrize("op,err,msg", [
    (lambda x: x.max(), RuntimeError, "Expected reduction dim to be specified"),
    (lambda x: x.argmax(), IndexError, "Expected reduction dim to be specified"),
    (lambda x: x.argmin(1), IndexError, "Expected reduction dim 1 to have non-zero size"),
    (lambda x: x.max(1), IndexError, "Expected reduction dim 1 to have non-zero size"),
])
def test_empty_errors_as_torch(op, err, msg):
    with pytest.raises(err, match=msg):
        op(fastdl.zeros(2, 0))


def test_gradients_unchanged():
    from fastdl.testing import gradcheck
    a = fastdl.tensor(_data("plain"), dtype=fastdl.float64, requires_grad=True)
    for op in (lambda x: x.max(), lambda x: x.max(1).values, lambda x: x.amin(0),
               lambda x: x.var(1), lambda x: x.std(), lambda x: x.prod(1), lambda x: x.mean(1)):
        assert gradcheck(op, (a,))
