"""fastdl.nn.utils: clip_grad_norm_ / clip_grad_value_ / get_total_norm against the NumPy
reference and torch, every ISA, 1 vs 2 threads bitwise; parameter vectors; L1/L2 penalties."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
from fastdl.nn import Parameter
from fastdl.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, l1_penalty,
                             l2_penalty, parameters_to_vector, vector_to_parameters)
from fastdl.tensor import Tensor
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference import clip_grad_norm_ref, clip_grad_value_ref


def _with_grads(shapes, dtype=np.float32, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    ps = []
    for s in shapes:
        p = Parameter(np.zeros(s, dtype))
        p.grad = Tensor._make((rng.standard_normal(s) * scale).astype(dtype))
        ps.append(p)
    return ps


SHAPES = [(3,), (17, 5), (1,), (20000,), (33,)]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_grad_norm_against_reference(norm_type, max_norm, isa):
    ps = _with_grads(SHAPES)
    exp = [p.grad._array.copy() for p in ps]
    p_ref = math.inf if norm_type == "inf" else norm_type
    total_ref = clip_grad_norm_ref(exp, max_norm, p_ref)
    total = clip_grad_norm_(ps, max_norm, norm_type)
    assert total.dtype == np.float32 and total.shape == ()
    assert_close(total._array, np.float32(total_ref), rtol=1e-5)
    for p, e in zip(ps, exp):
        assert_close(p.grad._array, e, rtol=1e-5, atol=1e-7)
    if max_norm < 1:
        after = get_total_norm([p.grad for p in ps], norm_type)
        assert float(after.item()) <= max_norm * (1 + 1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_against_torch(norm_type):
    torch = pytest.importorskip("torch")
    ps = _with_grads(SHAPES, seed=3, scale=2.0)
    tp = []
    for p in ps:
        t = torch.zeros(p.shape, requires_grad=True)
        t.grad = torch.from_numpy(p.grad._array.copy())
        tp.append(t)
    total = clip_grad_norm_(ps, 1.5, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.5, norm_type)
    assert_close(total._array, ttotal.numpy(), rtol=1e-5)
    for p, t in zip(ps, tp):
        assert_close(p.grad._array, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_threads_bitwise(isa):
    outs = []
    for n in (1, 2):
        ps = _with_grads([(100000,), (70001,), (5,)], seed=7)
        with use_threads(n):
            total = clip_grad_norm_(ps, 0.1)
        outs.append((total._array.copy(), [p.grad._array.copy() for p in ps]))
    assert np.array_equal(outs[0][0], outs[1][0])
    for a, b in zip(outs[0][1], outs[1][1]):
        assert np.array_equal(a, b)


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(0, 40000), min_size=1, max_size=6),
       dtype=st.sampled_from([np.float32, np.float64]),
       max_norm=st.floats(0.01, 100.0))
def test_clip_grad_norm_property(sizes, dtype, max_norm):
    ps = _with_grads([(s,) for s in sizes], dtype=dtype, seed=len(sizes))
    exp = [p.grad._array.copy() for p in ps]
    total_ref = clip_grad_norm_ref(exp, max_norm)
    total = clip_grad_norm_(ps, max_norm)
    assert total.dtype == dtype
    assert_close(total._array, np.asarray(total_ref, dtype), rtol=1e-6)
    for p, e in zip(ps, exp):
        assert_close(p.grad._array, e, rtol=1e-5 if dtype == np.float32 else 1e-12,
                     atol=1e-7 if dtype == np.float32 else 1e-14)


def test_clip_grad_norm_edge_cases():
    assert float(clip_grad_norm_([Parameter(np.ones(3, np.float32))], 1.0).item()) == 0.0
    p = Parameter(np.zeros(2, np.float32))
    p.grad = Tensor._make(np.array([3.0, 4.0], np.float32))
    assert float(clip_grad_norm_(p, 10.0).item()) == pytest.approx(5.0)
    assert np.array_equal(p.grad._array, [3.0, 4.0])  # below max_norm: untouched
    p.grad = Tensor._make(np.array([np.inf, 1.0], np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert p.grad._array[1] == 1.0  # unchanged by the failed call
    p.grad = Tensor._make(np.array([np.nan, 1.0], np.float32))
    assert math.isnan(float(clip_grad_norm_([p], 1.0, norm_type="inf").item()))
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([p], 1.0, norm_type=-1)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_([p], 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="Tensors"):
        clip_grad_norm_([np.ones(2)], 1.0)


def test_clip_grad_norm_mixed_dtypes_and_noncontiguous():
    a = Parameter(np.zeros((4, 3), np.float32))
    a.grad = Tensor._make(np.arange(12, dtype=np.float32).reshape(3, 4).T)
    b = Parameter(np.zeros(5, np.float64))
    b.grad = Tensor._make(np.full(5, 2.0))
    exp = [a.grad._array.copy(), b.grad._array.copy()]
    total_ref = clip_grad_norm_ref(exp, 1.0)
    total = clip_grad_norm_([a, b], 1.0)
    assert_close(total._array, np.float32(total_ref))
    assert_close(a.grad._array, exp[0])
    assert_close(b.grad._array, exp[1])


def test_clip_grad_value(isa):
    ps = _with_grads(SHAPES, seed=5, scale=3.0)
    ps[0].grad._array[0] = np.nan
    exp = [p.grad._array.copy() for p in ps]
    clip_grad_value_ref(exp, 1.25)
    clip_grad_value_(ps, 1.25)
    for p, e in zip(ps, exp):
        assert np.array_equal(p.grad._array, e, equal_nan=True)
    assert np.isnan(ps[0].grad._array[0])
    with pytest.raises(ValueError, match="NaN"):
        clip_grad_value_(ps, float("nan"))


def test_get_total_norm():
    ts = [fastdl.tensor([3.0, 0.0]), fastdl.tensor([[4.0]])]
    assert float(get_total_norm(ts).item()) == pytest.approx(5.0)
    assert float(get_total_norm(ts, 1).item()) == pytest.approx(7.0)
    assert float(get_total_norm(ts, "inf").item()) == pytest.approx(4.0)
    assert float(get_total_norm([]).item()) == 0.0


def test_parameters_vector_round_trip():
    ps = [Parameter(np.arange(6, dtype=np.float32).reshape(2, 3)),
          Parameter(np.array([7.0, 8.0], np.float32))]
    v = parameters_to_vector(ps)
    assert v.shape == (8,) and np.array_equal(v._array, [0, 1, 2, 3, 4, 5, 7, 8])
    (v * v).sum().backward()
    assert_close(ps[0].grad._array, 2 * ps[0]._array)
    vector_to_parameters(fastdl.tensor(np.arange(8, dtype=np.float32) * 10), ps)
    assert np.array_equal(ps[1]._array, [60.0, 70.0])
    assert np.array_equal(ps[0]._array, np.arange(6).reshape(2, 3) * 10)
    with pytest.raises(ValueError, match="elements"):
        vector_to_parameters(fastdl.zeros(3), ps)


def test_penalties():
    a = fastdl.tensor(np.array([[1.0, -2.0], [0.5, -0.25]]), requires_grad=True)
    b = fastdl.tensor(np.array([3.0, -1.5]), requires_grad=True)
    assert float(l1_penalty([a, b]).item()) == pytest.approx(1 + 2 + 0.5 + 0.25 + 3 + 1.5)
    assert float(l2_penalty([a, b]).item()) == pytest.approx(1 + 4 + 0.25 + 0.0625 + 9 + 2.25)
    l1_penalty([a, b]).backward()
    assert np.array_equal(a.grad._array, np.sign(a._array))
    gradcheck(lambda x, y: l2_penalty([x, y]), [a, b])
    gradcheck(lambda x, y: l1_penalty([x, y]), [a, b])
    assert float(l2_penalty([]).item()) == 0.0


def test_l2_penalty_matches_sgd_weight_decay():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal(5).astype(np.float32)
    p1, p2 = Parameter(w0.copy()), Parameter(w0.copy())
    o1 = fastdl.optim.SGD([p1], lr=0.1, weight_decay=0.01)
    o2 = fastdl.optim.SGD([p2], lr=0.1)
    p1.grad = Tensor._make(g.copy())
    o1.step()
    ((p2 * Tensor._make(g)).sum() + 0.005 * l2_penalty([p2])).backward()
    o2.step()
    assert_close(p1._array, p2._array)
