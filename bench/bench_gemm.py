"""GEMM float32: fastdl (``_C.matmul``, the call ``Tensor @`` and the backward make) vs NumPy
(OpenBLAS) vs PyTorch, 1 and 2 threads, on square sizes and on the training shapes with their
two backward products (dA = dC·Bᵀ, dB = Aᵀ·dC, transposed operands read in place).

The work per call (2·m·n·k flops) goes to ``extra_info``; bench/conftest.py turns it into
GFLOP/s and % of the FMA peak measured in the same process. Run:

    pytest bench/bench_gemm.py

or ``python bench/bench_gemm.py`` for the table of medians with sides interleaved and the
ratio fastdl/NumPy (what the closing note reports).
"""
import statistics
import time

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.bench import (HAVE_TORCH, blas_threads, record, rounds, set_threads, settle,
                          smoke)
from fastdl.bench.machine import peak_for as cached_peak

SQUARE = smoke([32, 64, 128, 256, 512, 1024, 2048], [32, 64])
TRAINING = smoke([(64, 784, 128), (128, 512, 512), (64, 4096, 4096)], [(8, 24, 16)])
# A convolution layer as one batched GEMM (weight K × C·R·S times im2col C·R·S × N·OH·OW): the
# deep layers of ResNet-18 (CIFAR, batch 32), 64→64 32² ... 512→512 4², with their two
# backward products.
CONV = smoke([(64, 576, 2048), (128, 1152, 2048), (256, 2304, 2048), (512, 4608, 512)],
             [(8, 36, 64)])


def cases():
    """(name, m, k, n, trans_a, trans_b): C (m×n) = op(A)·op(B) with k the inner size."""
    out = [(f"sq{n}", n, n, n, False, False) for n in SQUARE]
    for (m, k, n) in TRAINING:
        tag = f"{m}x{k}x{n}"
        out.append((f"{tag} fwd", m, k, n, False, False))      # Y = X·W     (m×k)(k×n)
        out.append((f"{tag} dA", m, n, k, False, True))        # dX = dY·Wᵀ  (m×n)(k×n)ᵀ
        out.append((f"{tag} dB", k, m, n, True, False))        # dW = Xᵀ·dY  (m×k)ᵀ(m×n)
    for (m, k, n) in CONV:
        tag = f"conv{m}x{k}x{n}"
        out.append((f"{tag} fwd", m, k, n, False, False))      # Y = W·col   (m×k)(k×n)
        out.append((f"{tag} dW", m, n, k, False, True))        # dW = dY·colᵀ (m×n)(k×n)ᵀ
        out.append((f"{tag} dX", k, m, n, True, False))        # dcol = Wᵀ·dY (m×k)ᵀ(m×n)
    return out


CASES = cases()


def operands(m, k, n, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def runner(side, a, b, ta, tb):
    """A no-argument callable computing op(a)·op(b) on `side`."""
    if side == "fastdl":
        return lambda: _C.matmul(a, b, ta, tb)
    if side == "numpy":
        oa, ob = (a.T if ta else a), (b.T if tb else b)
        return lambda: np.matmul(oa, ob)
    import torch
    ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)
    oa, ob = (ta_.T if ta else ta_), (tb_.T if tb else tb_)
    return lambda: torch.matmul(oa, ob)


SIDES = ["fastdl", "numpy"] + (["torch"] if HAVE_TORCH else [])
NUMPY_BASELINE = True  # NumPy's OpenBLAS sgemm/dgemm is a contender here, timed like the others


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gemm(benchmark, nthreads, case, side):
    name, m, k, n, ta, tb = case
    benchmark.group = f"gemm {name} t{nthreads}"
    a, b = operands(m, k, n, ta, tb)
    fn = runner(side, a, b, ta, tb)
    fn()
    settle()
    flops = 2.0 * m * n * k
    benchmark.pedantic(fn, rounds=rounds(max(5, min(200, int(2e9 / flops)))), warmup_rounds=2)
    record(benchmark, flops=flops, side=side, op="gemm" + name[len(name.split()[0]):],
           shape=(m, k, n))
    # OpenBLAS / torch worker threads spin for ~0.1 s after their last call and would steal
    # the second core from the next (OpenMP) side: let them go to sleep.
    settle(0.3 if side != "fastdl" else 0.05)


def _median_time(fn, flops, budget=0.4):
    fn()
    reps = max(3, min(400, int(budget / max(flops / 60e9, 2e-6))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def table(threads_list=(1, 2), rounds=5, sides=None, only=None):
    """Median GFLOP/s per shape and side, sides interleaved `rounds` times (median of the
    per-round medians), and the fastdl/NumPy ratio. `only`: a list of case names to run."""
    sides = sides or SIDES
    cases = [c for c in CASES if only is None or c[0] in only]
    rows = []
    for t in threads_list:  # peaks first, before any BLAS/torch thread pool has spun up
        cached_peak(t)
    for t in threads_list:
        set_threads(t)
        peak = cached_peak(t)
        print(f"\n{t} thread(s): FMA peak {peak:.1f} GFLOP/s ({_C.get_isa()})")
        print(f"{'shape':22s}" + "".join(f"{s:>10s}" for s in sides) + f"{'%peak':>8s}"
              f"{'vs numpy':>10s}")
        for (name, m, k, n, ta, tb) in cases:
            a, b = operands(m, k, n, ta, tb)
            flops = 2.0 * m * n * k
            res = {s: [] for s in sides}
            for _ in range(rounds):
                for s in sides:
                    with blas_threads(t):
                        res[s].append(_median_time(runner(s, a, b, ta, tb), flops))
                    settle(0.3 if s != "fastdl" else 0.02)  # let BLAS spinners sleep
            g = {s: flops / statistics.median(res[s]) / 1e9 for s in sides}
            ratio = g["fastdl"] / g["numpy"]
            print(f"{name:22s}" + "".join(f"{g[s]:10.1f}" for s in sides) +
                  f"{100 * g['fastdl'] / peak:7.0f}%{ratio:10.2f}", flush=True)
            rows.append((t, name, g, 100 * g["fastdl"] / peak, ratio))
    return rows


if __name__ == "__main__":
    table()
