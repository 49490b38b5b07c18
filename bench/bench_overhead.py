"""The thin Python layer's per-op cost: a tiny-tensor graph (adds, muls, an 8x8 matmul and a
sum, forward and backward) in fastdl vs PyTorch, same process, one thread.

Run: ``pytest bench/bench_overhead.py``. Per-op overhead = time of the graph
divided by its number of ops; target: at most 1.5x PyTorch's.
"""
import numpy as np
import pytest

import fastdl
from fastdl.bench import HAVE_TORCH, record

N_OPS = 8  # forward ops in the graph below (the backward is timed with it)


def _graph(lib, x, w, b):
    h = x @ w          # 1
    h = h + b          # 2
    h = h * 0.5        # 3
    h = h + x          # 4
    h = h * h          # 5
    h = h - b          # 6
    h = h * w          # 7
    return h.sum()     # 8


@pytest.fixture
def one_thread():
    """Every side on one thread for the test; the previous counts come back afterwards."""
    prev = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    if HAVE_TORCH:
        import torch
        prev_t = torch.get_num_threads()
        torch.set_num_threads(1)
    yield 1
    fastdl.set_num_threads(prev)
    if HAVE_TORCH:
        torch.set_num_threads(prev_t)


def _finish(benchmark, side, mode):
    record(benchmark, side=side, op=f"tiny graph {mode}", shape="8x8")
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["us_per_op"] = stats.stats.min * 1e6 / N_OPS


def _inputs_fastdl():
    rng = np.random.default_rng(0)
    mk = lambda *s: fastdl.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
    return mk(8, 8), mk(8, 8), mk(8)


@pytest.mark.benchmark(group="overhead: tiny graph fwd+bwd")
def test_overhead_fastdl(benchmark, one_thread):
    x, w, b = _inputs_fastdl()

    def step():
        x.grad = w.grad = b.grad = None
        _graph(fastdl, x, w, b).backward()

    benchmark(step)
    _finish(benchmark, "fastdl", "fwd+bwd")


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.benchmark(group="overhead: tiny graph fwd+bwd")
def test_overhead_torch(benchmark, one_thread):
    import torch
    g = torch.Generator().manual_seed(0)
    mk = lambda *s: torch.randn(*s, generator=g, requires_grad=True)
    x, w, b = mk(8, 8), mk(8, 8), mk(8)

    def step():
        x.grad = w.grad = b.grad = None
        _graph(torch, x, w, b).backward()

    benchmark(step)
    _finish(benchmark, "torch", "fwd+bwd")


@pytest.mark.benchmark(group="overhead: tiny graph forward only, no grad")
def test_overhead_fastdl_nograd(benchmark, one_thread):
    x, w, b = (t.detach() for t in _inputs_fastdl())
    benchmark(lambda: _graph(fastdl, x, w, b))
    _finish(benchmark, "fastdl", "forward")


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.benchmark(group="overhead: tiny graph forward only, no grad")
def test_overhead_torch_nograd(benchmark, one_thread):
    import torch
    x, w, b = torch.randn(8, 8), torch.randn(8, 8), torch.randn(8)
    benchmark(lambda: _graph(torch, x, w, b))
    _finish(benchmark, "torch", "forward")
