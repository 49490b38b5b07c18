"""The sparse COO tensor is a Tensor, as torch's: isinstance, is_sparse, layout, shape as a
Size, to_dense/coalesce/indices/values/t/sum, pickling, dense-only ops refused with a clear
RuntimeError, and sparse.mm's gradients unchanged — against torch when installed."""
import pickle

import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

IDX = np.array([[0, 2, 1, 0, 2, 2], [1, 0, 3, 1, 3, 2]])  # (0, 1) twice
VAL = np.random.default_rng(1).standard_normal(6)
SHAPE = (3, 4)


def _s(vals=None):
    v = fastdl.tensor(VAL) if vals is None else vals
    return fastdl.sparse_coo_tensor(fastdl.tensor(IDX), v, SHAPE)


def test_is_a_tensor_with_sparse_layout():
    s = _s()
    assert isinstance(s, fastdl.Tensor) and isinstance(s, fastdl.sparse.SparseTensor)
    assert s.is_sparse and s.layout == fastdl.sparse_coo and s.layout is not fastdl.strided
    assert fastdl.ones(2).layout == fastdl.strided and not fastdl.ones(2).is_sparse
    assert s.shape == SHAPE and isinstance(s.shape, fastdl.Size) and s.size(1) == 4
    assert s.dim() == 2 and s.numel() == 12 and len(s) == 3
    assert s.dtype == fastdl.float64 and s.device == fastdl.device("cpu")
    assert fastdl.eye(3).to_sparse().layout == fastdl.sparse_coo
    assert repr(fastdl.sparse_coo) == "fastdl.sparse_coo"


def test_dense_only_op_is_a_clear_error():
    s = _s()
    with pytest.raises(RuntimeError, match="to_dense"):
        s + 1
    with pytest.raises(RuntimeError, match="to_dense"):
        fastdl.exp(s)
    with pytest.raises(RuntimeError, match="to_dense"):
        s.numpy()


def test_pickle_round_trip():
    s = _s()
    r = pickle.loads(pickle.dumps(s))
    assert isinstance(r, fastdl.sparse.SparseTensor) and r.shape == SHAPE
    assert_close(r.to_dense().numpy(), s.to_dense().numpy())


def test_against_torch():
    torch = pytest.importorskip("torch")
    s = _s()
    ts = torch.sparse_coo_tensor(torch.tensor(IDX), torch.tensor(VAL), SHAPE, check_invariants=True)
    assert isinstance(ts, torch.Tensor) and ts.is_sparse and ts.layout == torch.sparse_coo
    assert tuple(s.shape) == tuple(ts.shape) and s.sparse_dim() == ts.sparse_dim()
    assert_close(s.to_dense().numpy(), ts.to_dense().numpy())
    c, tc = s.coalesce(), ts.coalesce()
    assert np.array_equal(c.indices().numpy(), tc.indices().numpy())
    assert_close(c.values().numpy(), tc.values().numpy())
    assert_close(c.t().to_dense().numpy(), tc.t().to_dense().numpy())
    assert_close(fastdl.sparse.sum(s, 1).to_dense().numpy() if fastdl.sparse.sum(s, 1).is_sparse
                 else fastdl.sparse.sum(s, 1).numpy(), torch.sparse.sum(ts, 1).to_dense().numpy())
    x = np.random.default_rng(2).standard_normal((4, 5))
    assert_close(fastdl.sparse.mm(s, fastdl.tensor(x)).numpy(),
                 torch.sparse.mm(ts, torch.tensor(x)).numpy())
    assert_close((s @ fastdl.tensor(x)).numpy(), (ts @ torch.tensor(x)).numpy())


def test_mm_gradients_unchanged():
    x = fastdl.tensor(np.random.default_rng(3).standard_normal((4, 2)), requires_grad=True)
    v = fastdl.tensor(VAL, requires_grad=True)
    assert gradcheck(lambda vv, xx: fastdl.sparse.mm(_s(vv), xx), (v, x))
    s = _s(v)
    assert s.requires_grad and s.is_leaf
    fastdl.sparse.mm(s, x).sum().backward()
    assert s.grad is v.grad and v.grad.shape == (6,)
