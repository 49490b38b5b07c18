"""FMA-throughput peak of this CPU (float32, active ISA path), 1 and 2 threads.

A tiny C++ loop of independent vector FMAs (``fastdl._C._fma_peak``, csrc/kernels/gemm/) is the
ceiling every GEMM figure is a percentage of; the nominal clock understates it (boost).

Run: ``flock /tmp/fastdl-bench.lock python -m pytest bench/bench_peak.py --benchmark-only -p no:randomly``
or ``python bench/bench_peak.py`` for a plain table.
"""
import functools
import time

import pytest

from fastdl import _C

ITERS = 20_000_000  # ~0.1-0.2 s per thread at peak


def fma_peak_gflops(threads, iters=ITERS, repeats=5):
    """Best-of-`repeats` FMA throughput in GFLOP/s on `threads` threads (active ISA)."""
    best = 0.0
    for _ in range(repeats):
        flops, secs = _C._fma_peak(iters, threads)
        best = max(best, flops / secs / 1e9)
    return best


@functools.lru_cache(maxsize=None)
def cached_peak(threads):
    """The peak, measured once per process (bench_gemm.py divides by it)."""
    time.sleep(0.05)
    return fma_peak_gflops(threads)


@pytest.mark.benchmark(group="peak: FMA throughput float32")
def test_fma_peak(benchmark, nthreads):
    iters = ITERS // 4
    result = {}

    def run():
        result["r"] = _C._fma_peak(iters, nthreads)

    benchmark.pedantic(run, rounds=7, warmup_rounds=1)
    flops = result["r"][0]
    benchmark.extra_info["threads"] = nthreads
    benchmark.extra_info["isa"] = _C.get_isa()
    benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.min / 1e9


if __name__ == "__main__":
    for t in (1, 2):
        print(f"{_C.get_isa()} FMA peak, {t} thread(s): {fma_peak_gflops(t):.1f} GFLOP/s")
