"""FMA-throughput peak of this CPU (float32, active ISA path) on 1 thread and all cores.

A tiny C++ loop of independent vector FMAs (``fastdl._C._fma_peak``, csrc/kernels/gemm/) is the
ceiling every GFLOP/s figure is a percentage of (``fastdl.bench.machine``); the nominal clock
understates it (boost).

Run: ``pytest bench/bench_peak.py`` or ``python -m fastdl.bench.machine`` for a plain table.
"""
import pytest

from fastdl import _C
from fastdl.bench import SMOKE, record, rounds
from fastdl.bench.machine import fma_peak as fma_peak_gflops  # noqa: F401 (older name)
from fastdl.bench.machine import peak_for as cached_peak  # noqa: F401 (older name)

ITERS = 200_000 if SMOKE else 5_000_000  # ~0.05 s per round at peak


@pytest.mark.benchmark(group="peak: FMA throughput float32")
def test_fma_peak(benchmark, nthreads):
    result = {}

    def run():
        result["r"] = _C._fma_peak(ITERS, nthreads)

    benchmark.pedantic(run, rounds=rounds(7), warmup_rounds=1)
    record(benchmark, flops=result["r"][0], side="fastdl", op="fma peak", shape=(ITERS,))


if __name__ == "__main__":
    from fastdl.bench.machine import main
    main()
