"""Memory bandwidth of this machine: copy (dst = src) and triad (a = b + s c) on 16M float32
(64 MB per array), run by fastdl's OpenMP threads (C++ loops in csrc/kernels/eltwise, private
``_C._bw_copy`` / ``_C._bw_triad``), against NumPy's ``np.copyto`` and a two-pass NumPy triad
(``np.multiply(c, s, out=a); a += b``; NumPy is single-threaded here).

GB/s counts bytes read plus bytes written (copy 8 B/element, triad 12 B/element, no
write-allocate traffic). The other suites quote their GB/s as a percentage of ``copy``
(``fastdl.bench.machine``).

Run: ``pytest bench/bench_bandwidth.py``
"""
import numpy as np
import pytest

from fastdl import _C
from fastdl.bench import record, rounds, smoke

N = smoke(16 * 1024 * 1024, 64 * 1024)


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    b = rng.standard_normal(N).astype(np.float32)
    c = rng.standard_normal(N).astype(np.float32)
    a = _C.empty((N,), np.dtype(np.float32))
    a[...] = 0  # touch the pages once
    return a, b, c


def _triad_numpy(a, b, c, s):
    np.multiply(c, s, out=a)
    a += b


@pytest.mark.parametrize("side", ["fastdl", "numpy"])
def test_copy(benchmark, nthreads, arrays, side):
    a, b, _ = arrays
    benchmark.group = f"bandwidth copy {N} t{nthreads}"
    fn, args = (_C._bw_copy, (b, a)) if side == "fastdl" else (np.copyto, (a, b))
    benchmark.pedantic(fn, args=args, rounds=rounds(30), iterations=1, warmup_rounds=2)
    record(benchmark, nbytes=8 * N, side=side, op="copy", shape=(N,))


@pytest.mark.parametrize("side", ["fastdl", "numpy"])
def test_triad(benchmark, nthreads, arrays, side):
    a, b, c = arrays
    benchmark.group = f"bandwidth triad {N} t{nthreads}"
    fn = _C._bw_triad if side == "fastdl" else _triad_numpy
    benchmark.pedantic(fn, args=(a, b, c, 3.0), rounds=rounds(30), iterations=1,
                       warmup_rounds=2)
    record(benchmark, nbytes=12 * N, side=side, op="triad", shape=(N,))
