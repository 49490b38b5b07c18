"""One Adam step: fastdl (one fused call) vs the NumPy reference (one tensor at a time) vs
torch.optim.Adam with foreach=True and fused=True, same thread count; plus a NumPy copy into
a preallocated output as the machine's copy bandwidth (until bench/bench_bandwidth.py
exists), once single-threaded (``copy``) and once split over the same number of Python
threads (``copy_mt``). Two shapes: 10M float32 parameters in 20 tensors, and 2,000 tensors of 1,000.

GB/s counts what Adam must move: read p, g, m, v and write p, m, v = 28 B per parameter
(copy: 8 B per element, read + write). Targets (2 threads): >= 80% of copy bandwidth on the
10M case, >= 5x the NumPy reference, >= 1.0x torch's fastest variant.

Run: ``pytest bench/bench_optim.py`` or, for an interleaved side-by-side table (sides
alternate within each round, which is fairer on a busy machine):
``PYTHONPATH=. python bench/bench_optim.py [threads]``.
"""
import os
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import fastdl  # noqa: E402
import fastdl.optim as optim  # noqa: E402
from fastdl.nn import Parameter  # noqa: E402
from fastdl.tensor import Tensor  # noqa: E402
from fastdl.testing.reference import adam_step  # noqa: E402
from fastdl.bench import record, rounds, settle, smoke  # noqa: E402

try:
    import torch
    HAVE_TORCH = True
except Exception:  # pragma: no cover
    HAVE_TORCH = False

CASES = smoke({"10M_in_20": (20, 500_000), "2000x1000": (2000, 1000)},
              {"10M_in_20": (4, 1000), "2000x1000": (20, 100)})
BYTES_PER_PARAM = 28


def _data(ntensors, size, seed=0):
    rng = np.random.default_rng(seed)
    ps = [rng.standard_normal(size).astype(np.float32) for _ in range(ntensors)]
    gs = [rng.standard_normal(size).astype(np.float32) * 1e-2 for _ in range(ntensors)]
    return ps, gs


def make_side(side, ntensors, size):
    """A zero-argument callable doing one step of ``side`` (state already initialised)."""
    ps, gs = _data(ntensors, size)
    if side == "fastdl":
        params = [Parameter(p) for p in ps]
        for p, g in zip(params, gs):
            p.grad = Tensor._make(g)
        opt = optim.Adam(params, lr=1e-3)
        opt.step()
        return opt.step
    if side == "numpy":
        states = [{} for _ in ps]

        def step():
            for p, g, st in zip(ps, gs, states):
                adam_step(p, g, st, lr=1e-3)
        step()
        return step
    if side == "copy":
        n = ntensors * size
        src = np.ones(n, np.float32)
        dst = np.empty_like(src)
        dst.fill(0)
        return lambda: np.copyto(dst, src)
    if side == "copy_mt":
        # The same copy split into fastdl.get_num_threads() slices, one per Python thread
        # (np.copyto releases the GIL): the copy bandwidth of that many cores.
        from concurrent.futures import ThreadPoolExecutor
        n = ntensors * size
        src = np.ones(n, np.float32)
        dst = np.empty_like(src)
        dst.fill(0)
        k = fastdl.get_num_threads()
        cuts = np.linspace(0, n, k + 1).astype(int)
        pairs = [(dst[a:b], src[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
        pool = ThreadPoolExecutor(k)

        def copy_mt():
            list(pool.map(lambda ds: np.copyto(*ds), pairs))
        return copy_mt
    if side.startswith("torch"):
        tp = [torch.from_numpy(p).requires_grad_() for p in ps]
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g)
        kw = dict(foreach=True) if side == "torch_foreach" else dict(fused=True)
        opt = torch.optim.Adam(tp, lr=1e-3, **kw)
        opt.step()
        return opt.step
    raise ValueError(side)


def _bytes(side, ntensors, size):
    n = ntensors * size
    return 8 * n if side.startswith("copy") else BYTES_PER_PARAM * n


SIDES = ["fastdl", "numpy", "torch_foreach", "torch_fused", "copy", "copy_mt"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", list(CASES))
def test_adam_step(benchmark, nthreads, case, side):
    if side.startswith("torch") and not HAVE_TORCH:
        pytest.skip("PyTorch not installed")
    if side.startswith("copy") and case != "10M_in_20":
        pytest.skip("copy bandwidth is measured on the 10M case")
    ntensors, size = CASES[case]
    benchmark.group = f"adam step {case} t{nthreads}"
    fn = make_side(side, ntensors, size)
    settle()
    benchmark.pedantic(fn, rounds=rounds(3 if side == "numpy" else 15), iterations=1,
                       warmup_rounds=1)
    record(benchmark, nbytes=_bytes(side, ntensors, size), side=side,
           op="copy" if side.startswith("copy") else "adam step",
           shape=f"{ntensors}x{size}")
    settle(0.3 if side != "fastdl" else 0.05)


def main(threads=2, rounds=25):
    """Interleaved timing of every side; prints a markdown table of medians."""
    fastdl.set_num_threads(threads)
    if HAVE_TORCH:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=threads)
    except ImportError:  # pragma: no cover
        limiter = None
    rows = []
    for case, (nt, sz) in CASES.items():
        sides = [s for s in SIDES if HAVE_TORCH or not s.startswith("torch")]
        fns = {s: make_side(s, nt, sz) for s in sides}
        times = {s: [] for s in sides}
        for r in range(rounds):
            for s in sides:
                if s == "numpy" and r >= 3:
                    continue
                time.sleep(0.02)
                t0 = time.perf_counter()
                fns[s]()
                times[s].append(time.perf_counter() - t0)
        med = {s: float(np.median(v)) for s, v in times.items()}
        for s in sides:
            rows.append((case, s, med[s] * 1e3, _bytes(s, nt, sz) / med[s] / 1e9,
                         min(times[s]) * 1e3))
        best_torch = min(med[s] for s in sides if s.startswith("torch")) if HAVE_TORCH \
            else float("nan")
        gbs = BYTES_PER_PARAM * nt * sz / med["fastdl"]
        rows.append((case, "ratios", med["numpy"] / med["fastdl"], best_torch / med["fastdl"],
                     gbs / (8 * nt * sz / med["copy"]), gbs / (8 * nt * sz / med["copy_mt"])))
    print(f"threads={threads}, load average {os.getloadavg()[0]:.1f}")
    print("| case | side | median ms/step | GB/s | min ms |")
    print("|---|---|---|---|---|")
    for case, s, a, b, c, *d in rows:
        if s == "ratios":
            print(f"| {case} | **vs NumPy {a:.1f}x, vs best torch {b:.2f}x, fastdl GB/s over "
                  f"copy GB/s {c:.2f} (1-thread copy), {d[0]:.2f} (threaded copy)** | | | |")
        else:
            print(f"| {case} | {s} | {a:.2f} | {b:.1f} | {c:.2f} |")
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
