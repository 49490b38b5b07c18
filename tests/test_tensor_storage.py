"""``x.data`` is a Tensor sharing storage with ``x``, detached from the graph (torch's rule);
``x.data = y`` replaces the storage; ``x.numpy()`` is the array."""
import numpy as np
import pytest

import fastdl


def test_data_is_detached_tensor_sharing_storage():
    p = fastdl.nn.Parameter(fastdl.ones(3))
    d = p.data
    assert isinstance(d, fastdl.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), p.detach().numpy())
    d.mul_(0.5)  # not recorded, changes p
    assert np.array_equal(p.detach().numpy(), np.full(3, 0.5, np.float32))
    p.data.copy_(fastdl.tensor([1.0, 2.0, 3.0]))
    assert np.array_equal(p.detach().numpy(), [1, 2, 3])
    p.data.normal_()
    assert p.requires_grad and p.is_leaf


def test_data_has_own_version_counter():
    """As torch: a change through ``.data`` is invisible to the in-place check (the
    gradient then uses the new values); ``detach()`` shares the counter and is caught."""
    x = fastdl.ones(3, requires_grad=True)
    y = x * x
    x.data.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0] and x._version == 0
    x2 = fastdl.ones(3, requires_grad=True)
    y2 = x2 * x2
    x2.detach().add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        y2.sum().backward()


def test_data_setter_replaces_storage():
    p = fastdl.nn.Parameter(fastdl.zeros(2, 2))
    p.data = fastdl.ones(3)
    assert p.shape == (3,) and p.requires_grad
    assert np.array_equal(p.detach().numpy(), np.ones(3))
    with pytest.raises(TypeError, match="data"):
        p.data = [1.0, 2.0]


def test_data_under_torch_matches():
    torch = pytest.importorskip("torch")
    for lib in (torch, fastdl):
        w = lib.nn.Parameter(lib.ones(4))
        with lib.no_grad():
            w.data.mul_(3)
        w.data.add_(1)
        out = (w * 2).sum()
        out.backward()
        assert out.item() == 32.0 and w.grad.tolist() == [2.0] * 4
