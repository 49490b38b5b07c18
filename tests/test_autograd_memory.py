"""Backward frees what it no longer needs: a loop that keeps its losses stays flat."""
import gc
import os

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 5 * 5, 10))


@pytest.fixture
def one_thread():
    n = fastdl.get_num_threads()
    fastdl.set_num_threads(1)  # no thread barriers to wait on: fast on a busy machine
    yield
    fastdl.set_num_threads(n)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_loop_keeping_losses_is_flat(one_thread):
    model = _cnn()
    opt = fastdl.optim.SGD(model.parameters(), lr=0.01)
    x = fastdl.randn(16, 1, 20, 20)
    y = fastdl.randint(0, 10, (16,))
    losses = []

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)  # the usual way to log them: keeps each loss (and its grad_fn)

    for _ in range(10):  # warm-up: allocator cache, optimizer state
        step()
    gc.collect()
    rss0, pool0 = _rss(), fastdl.memory_stats()["in_use"]
    n = 60
    for _ in range(n):
        step()
    gc.collect()
    rss1, pool1 = _rss(), fastdl.memory_stats()["in_use"]
    # before the graph was freed, each step kept its whole graph (~0.5 MB here)
    assert (rss1 - rss0) / rss0 < 0.02, (rss0, rss1)
    assert (pool1 - pool0) / n <= 1024, (pool0, pool1)  # at most the kept scalar loss
    assert losses[0].grad_fn is not None  # the node stays (for its name and the error)


def test_freed_node_keeps_only_the_second_time_error():
    x = fastdl.randn(4, 3, requires_grad=True)
    w = fastdl.randn(3, 2, requires_grad=True)
    h = (x @ w).relu()
    loss = (h * h).sum()
    loss.backward()
    node = loss.grad_fn
    assert node._saved is None and node.parents == () and not node.__dict__
    assert h.grad_fn._saved is None and h.grad_fn.parents == ()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        (h * 2).sum().backward()  # reaches h's freed node


def test_retain_graph_keeps_everything():
    x = fastdl.randn(4, 3, dtype=fastdl.float64, requires_grad=True)
    loss = (x.tanh() * x).sum()
    loss.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    assert loss.grad_fn.parents != ()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)


def test_torch_frees_the_same_way():
    torch = pytest.importorskip("torch")
    x = torch.randn(3, requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
