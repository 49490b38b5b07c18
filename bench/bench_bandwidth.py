"""Memory bandwidth of this machine: copy (dst = src) and triad (a = b + s c) on 16M
float32 (64 MB per array), run by fastdl's OpenMP threads (C++ loops in
csrc/kernels/eltwise, private ``_C._bw_copy`` / ``_C._bw_triad``), with NumPy's single-threaded
``np.copyto`` / ``np.add(b, s*c)``-free triad for comparison.

GB/s counts bytes read plus bytes written (copy 8 B/element, triad 12 B/element, no
write-allocate traffic). The eltwise benchmarks quote their GB/s as a fraction of ``copy``.

Run: PYTHONPATH=. python -m pytest bench/bench_bandwidth.py --benchmark-only -p no:randomly
"""
import numpy as np
import pytest

from fastdl import _C

N = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    b = rng.standard_normal(N).astype(np.float32)
    c = rng.standard_normal(N).astype(np.float32)
    a = _C.empty((N,), np.dtype(np.float32))
    a[...] = 0  # touch the pages once
    return a, b, c


@pytest.mark.benchmark(group="bandwidth-copy")
def test_copy_fastdl(benchmark, nthreads, arrays):
    a, b, _ = arrays
    benchmark.pedantic(_C._bw_copy, args=(b, a), rounds=30, iterations=1, warmup_rounds=2)
    benchmark.extra_info["GB/s"] = 8 * N / benchmark.stats["median"] / 1e9
    benchmark.extra_info["threads"] = nthreads


@pytest.mark.benchmark(group="bandwidth-copy")
def test_copy_numpy(benchmark, nthreads, arrays):
    a, b, _ = arrays
    benchmark.pedantic(np.copyto, args=(a, b), rounds=30, iterations=1, warmup_rounds=2)
    benchmark.extra_info["GB/s"] = 8 * N / benchmark.stats["median"] / 1e9
    benchmark.extra_info["threads"] = 1


@pytest.mark.benchmark(group="bandwidth-triad")
def test_triad_fastdl(benchmark, nthreads, arrays):
    a, b, c = arrays
    benchmark.pedantic(_C._bw_triad, args=(a, b, c, 3.0), rounds=30, iterations=1,
                       warmup_rounds=2)
    benchmark.extra_info["GB/s"] = 12 * N / benchmark.stats["median"] / 1e9
    benchmark.extra_info["threads"] = nthreads
