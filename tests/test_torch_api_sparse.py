"""Sparse COO tensors: construction, coalesce, to_dense/to_sparse, sparse × dense with
gradients to the values and the dense operand (gradcheck), sparse.sum, against NumPy and
torch (when installed)."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close, gradcheck

RNG = np.random.default_rng(0)
IDX = np.array([[0, 2, 1, 0, 2, 2], [1, 0, 3, 1, 3, 2]])  # (0, 1) twice
VAL = RNG.standard_normal(6)
SHAPE = (3, 4)


def _dense():
    d = np.zeros(SHAPE)
    np.add.at(d, tuple(IDX), VAL)
    return d


def T(a, grad=False):
    return fastdl.tensor(np.array(a), requires_grad=grad)


def S(vals=None):
    return fastdl.sparse_coo_tensor(T(IDX), vals if vals is not None else T(VAL), SHAPE)


def test_construct_coalesce_to_dense():
    s = S()
    assert s.is_sparse and s.shape == SHAPE and s._nnz() == 6 and not s.is_coalesced()
    assert_close(s.to_dense().numpy(), _dense())
    c = s.coalesce()
    assert c.is_coalesced() and c._nnz() == 5
    d = _dense()
    nz = np.argwhere(np.zeros(SHAPE) != 0)
    lin = np.unique(np.ravel_multi_index(tuple(IDX), SHAPE))
    assert np.array_equal(c.indices().numpy(), np.stack(np.unravel_index(lin, SHAPE)))
    assert_close(c.values().numpy(), d[tuple(c.indices().numpy())])
    assert nz.size == 0
    with pytest.raises(RuntimeError, match="coalesce"):
        s.indices()
    assert fastdl.sparse_coo_tensor(T(IDX), T(VAL)).shape == (3, 4)
    x = RNG.standard_normal((3, 4)) * (RNG.random((3, 4)) > 0.5)
    sp = T(x).to_sparse()
    assert sp._nnz() == np.count_nonzero(x)
    assert_close(sp.to_dense().numpy(), x)
    hyb = fastdl.sparse_coo_tensor(T([[0, 2]]), T(np.ones((2, 3))), (4, 3))
    assert_close(hyb.to_dense().numpy(), np.array([[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0.]]))


def test_spmm_values_and_gradients():
    x = RNG.standard_normal((4, 5))
    want = _dense() @ x
    for f in (fastdl.sparse.mm, fastdl.spmm, fastdl.mm, fastdl.matmul, lambda a, b: a @ b):
        assert_close(f(S(), T(x)).numpy(), want)
    assert_close(fastdl.sparse.mm(S(), T(x[:, 0])).numpy(), _dense() @ x[:, 0])
    gradcheck(lambda v, b: fastdl.sparse.mm(S(v), b), [T(VAL, True), T(x, True)])
    gradcheck(lambda v: S(v).to_dense(), [T(VAL, True)])
    gradcheck(lambda v: S(v).coalesce().values(), [T(VAL, True)])
    f32 = fastdl.sparse.mm(S(T(VAL.astype(np.float32))), T(x.astype(np.float32)))
    assert f32.numpy().dtype == np.float32
    empty = fastdl.sparse_coo_tensor(T(np.zeros((2, 0), np.int64)), T(np.zeros(0)), (3, 4))
    assert_close(fastdl.sparse.mm(empty, T(x)).numpy(), np.zeros((3, 5)))


def test_sparse_sum():
    d = _dense()
    assert_close(fastdl.sparse.sum(S()).numpy(), d.sum())
    r = fastdl.sparse.sum(S(), 1)
    assert r.is_sparse and r.shape == (3,)
    assert_close(r.to_dense().numpy(), d.sum(1))
    assert_close(fastdl.sparse.sum(S(), (0, 1)).numpy(), d.sum())
    gradcheck(lambda v: fastdl.sparse.sum(S(v), 0).to_dense(), [T(VAL, True)])


def test_matches_torch():
    torch = pytest.importorskip("torch")
    ts = torch.sparse_coo_tensor(torch.from_numpy(IDX), torch.tensor(VAL, requires_grad=True),
                                 SHAPE, check_invariants=True)
    x = RNG.standard_normal((4, 5))
    tx = torch.tensor(x, requires_grad=True)
    out = torch.sparse.mm(ts, tx)
    out.sum().backward()
    v, fx = T(VAL, True), T(x, True)
    got = fastdl.sparse.mm(S(v), fx)
    got.sum().backward()
    assert_close(got.detach().numpy(), out.detach().numpy())
    assert_close(fx.grad.numpy(), tx.grad.numpy())
    c = ts.detach().coalesce()
    fc = S().coalesce()
    assert np.array_equal(fc.indices().numpy(), c.indices().numpy())
    assert_close(fc.values().numpy(), c.values().numpy())
    assert_close(fastdl.sparse.sum(S(), 0).to_dense().numpy(),
                 torch.sparse.sum(ts.detach(), 0).to_dense().numpy())


def test_sparse_errors():
    with pytest.raises(RuntimeError, match="size is inconsistent"):
        fastdl.sparse_coo_tensor(T(IDX), T(VAL), (2, 4))
    with pytest.raises(RuntimeError, match="same number of nonzeros"):
        fastdl.sparse_coo_tensor(T(IDX), T(VAL[:3]), SHAPE)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        fastdl.sparse.mm(S(), T(np.ones((3, 2))))
    with pytest.raises(RuntimeError, match="int64"):
        fastdl.sparse_coo_tensor(T(IDX.astype(np.float64)), T(VAL), SHAPE)
    with pytest.raises(RuntimeError, match="CPU"):
        fastdl.sparse_coo_tensor(T(IDX), T(VAL), SHAPE, device="cuda")
