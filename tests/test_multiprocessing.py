"""fastdl.multiprocessing: shared tensors across processes (fork and spawn, queues), Hogwild
training of one shared model by 2 processes, pickling of tensors and modules into objects
the kernels accept. Every test runs under a hang guard."""
import copy
import pickle

import numpy as np
import pytest

import fastdl
import fastdl.multiprocessing as mp
import fastdl.nn as nn
import fastdl.nn.functional as F


pytestmark = pytest.mark.usefixtures("hang_guard")


def test_pickled_tensors_and_modules_feed_the_kernels():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = fastdl.randn(5, 3)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
        np.testing.assert_array_equal(clone(x).detach().numpy(), m(x).detach().numpy())
        loss = clone(x).sum()
        loss.backward()
        assert clone[0].weight.grad.shape == (4, 3)
    t = pickle.loads(pickle.dumps(fastdl.arange(6).reshape(2, 3).T))
    assert t.tolist() == [[0, 3], [1, 4], [2, 5]]
    f = pickle.loads(pickle.dumps(fastdl.randn(4, dtype=fastdl.float64)))
    assert F.relu(f).dtype == fastdl.float64


def test_copied_zero_dim_tensors_keep_their_shape():
    """A 0-d tensor (batch norm's num_batches_tracked) pickles and deep-copies as 0-d, so a
    state dict copied before training loads back after it, as in PyTorch."""
    t = fastdl.tensor(np.int64(7))
    for c in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert c.shape == () and c.item() == 7 and c.dtype == t.dtype
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
    best = copy.deepcopy(m.state_dict())
    assert best["1.num_batches_tracked"].shape == ()
    m(fastdl.randn(4, 2, 5, 5)).sum().backward()  # a train-mode forward: the buffers move
    assert int(m[1].num_batches_tracked.item()) == 1
    m.load_state_dict(best)
    assert int(m[1].num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(m[1].running_mean.numpy(), best["1.running_mean"].numpy())


def test_share_memory_in_place():
    t = fastdl.randn(3, 4)
    ref = t.numpy().copy()
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    np.testing.assert_array_equal(t.numpy(), ref)
    np.testing.assert_array_equal(F.relu(t).numpy(), np.maximum(ref, 0))
    m = nn.Linear(2, 2)
    assert m.share_memory() is m
    assert all(p.is_shared() for p in m.parameters())


def _writer(t, value, q, done):
    t.numpy()[:] = value
    q.put(t)  # travels as a descriptor of the same memory
    done.wait(20)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_tensor_shared_with_a_child(method):
    ctx = mp.get_context(method)
    t = fastdl.zeros(4).share_memory_()
    q, done = ctx.Queue(), ctx.Event()
    p = ctx.Process(target=_writer, args=(t, 7.0, q, done))
    p.start()
    back = q.get(timeout=30)
    done.set()
    p.join(30)
    assert t.tolist() == [7.0] * 4  # the child's write is seen here
    back.numpy()[0] = -1  # and the received tensor is the same memory
    assert t.tolist()[0] == -1.0
    assert p.exitcode == 0


def _hogwild(model, seed, steps):
    rng = np.random.default_rng(seed)
    opt = fastdl.optim.SGD(model.parameters(), lr=0.05)
    w_true = np.array([[1.0, -2.0, 0.5]], np.float32)
    for _ in range(steps):
        x = rng.standard_normal((32, 3)).astype(np.float32)
        y = x @ w_true.T
        loss = ((model(fastdl.tensor(x)) - fastdl.tensor(y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_hogwild_two_processes_train_one_model():
    fastdl.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    model.share_memory()
    before = model.weight.detach().numpy().copy()
    procs = [mp.Process(target=_hogwild, args=(model, s, 150)) for s in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(45)
    assert [p.exitcode for p in procs] == [0, 0]
    after = model.weight.detach().numpy()
    assert not np.allclose(after, before)  # the parent sees the children's updates
    np.testing.assert_allclose(after, [[1.0, -2.0, 0.5]], atol=0.05)
