"""Shared helpers for the benchmark suites (run with ``pytest bench/ --benchmark-only``).

Benchmarks are never part of the default test run (``testpaths = ["tests"]``).
"""
import contextlib
import time

import pytest

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except Exception:  # pragma: no cover - torch is optional
    HAVE_TORCH = False


@contextlib.contextmanager
def blas_threads(n):
    """Limit NumPy's BLAS (and OpenMP) threads to ``n`` for the block (threadpoolctl), so
    NumPy and fastdl run on the same thread count and OpenBLAS's spinning threads do not
    steal cycles from the next fastdl kernel."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=n):
        yield


def settle(seconds=0.05):
    """Pause so spinning worker threads of the previous side go to sleep."""
    time.sleep(seconds)


@pytest.fixture(params=[1, 2], ids=lambda n: f"t{n}")
def nthreads(request):
    """Run a benchmark with 1 and with 2 threads on every side (fastdl, NumPy, torch)."""
    import fastdl
    n = request.param
    prev = fastdl.get_num_threads()
    fastdl.set_num_threads(n)
    if HAVE_TORCH:
        import torch
        prev_t = torch.get_num_threads()
        torch.set_num_threads(n)
    with blas_threads(n):
        yield n
    fastdl.set_num_threads(prev)
    if HAVE_TORCH:
        torch.set_num_threads(prev_t)
