"""Pooling float32: fastdl vs the NumPy reference vs PyTorch (CPU), forward and
forward+backward, 1 and 2 threads, on the issue's shapes: max-pool 2×2/2 and avg-pool 3×3/2
pad 1 ceil_mode on N=16, 64×112×112.

GB/s = (input bytes + output bytes) / time for the forward; forward+backward counts input,
output, grad_output and grad_input. Run:

    pytest bench/bench_pool.py

or ``python bench/bench_pool.py [threads...]`` for the table of the closing note (sides
interleaved, medians, fastdl/torch ratio).
"""
import statistics
import sys
import time

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import reference as R

from fastdl.bench import (HAVE_TORCH, blas_threads, record, rounds, set_threads, settle,
                          smoke)

SHAPE = smoke((16, 64, 112, 112), (2, 3, 12, 12))
# name: (kind, kwargs)
CASES = {
    "maxpool2x2s2": ("max", dict(kernel_size=2, stride=2)),
    "avgpool3x3s2p1ceil": ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
}


def _out_shape(kw):
    k, s, p = kw["kernel_size"], kw["stride"], kw.get("padding", 0)
    o = F.pool_output_size(SHAPE[2], k, s, p, ceil_mode=kw.get("ceil_mode", False))
    return SHAPE[:2] + (o, o)


def nbytes(name, mode):
    n_in = np.prod(SHAPE) * 4
    n_out = np.prod(_out_shape(CASES[name][1])) * 4
    return float(n_in + n_out) * (2 if mode == "fwdbwd" else 1)


def runner(side, name, mode):
    kind, kw = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    gy = rng.standard_normal(_out_shape(kw)).astype(np.float32)
    if side == "fastdl":
        fn = F.max_pool2d if kind == "max" else F.avg_pool2d
        if mode == "fwd":
            return lambda: fn(x, **kw)
        xt, gt = fastdl.tensor(x, requires_grad=True), fastdl.tensor(gy)

        def run():
            xt.grad = None
            fn(xt, **kw).backward(gt)
        return run
    if side == "numpy":
        if kind == "max":
            def run():
                y, i = R.max_pool2d_ref(x, kw["kernel_size"], kw["stride"])
                if mode == "fwdbwd":
                    R.max_pool2d_backward_ref(gy, i, SHAPE[2], SHAPE[3])
            return run
        args = (kw["kernel_size"], kw["stride"], kw["padding"], kw["ceil_mode"])

        def run():
            R.avg_pool2d_ref(x, *args)
            if mode == "fwdbwd":
                R.avg_pool2d_backward_ref(gy, SHAPE[2], SHAPE[3], *args)
        return run
    import torch
    fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tx, tg = torch.from_numpy(x), torch.from_numpy(gy)
    if mode == "fwd":
        def run():
            with torch.no_grad():
                fn(tx, **kw)
        return run
    tx.requires_grad_(True)

    def run():
        tx.grad = None
        fn(tx, **kw).backward(tg)
    return run


SIDES = ["fastdl", "numpy"] + (["torch"] if HAVE_TORCH else [])
MODES = ["fwd", "fwdbwd"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_pool(benchmark, nthreads, name, mode, side):
    benchmark.group = f"pool {name} {mode} t{nthreads}"
    fn = runner(side, name, mode)
    fn()
    settle()
    benchmark.pedantic(fn, rounds=rounds(2 if side == "numpy" else 15), warmup_rounds=1)
    record(benchmark, nbytes=nbytes(name, mode), side=side, op=f"{name} {mode}", shape=SHAPE)
    settle(0.3 if side != "fastdl" else 0.05)


def _median_time(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def table(threads_list=(2,), rounds=3, sides=None):
    sides = sides or SIDES
    rows = []
    for t in threads_list:
        set_threads(t)
        print(f"\n{t} thread(s), GB/s")
        print(f"{'case':28s}" + "".join(f"{s:>9s}" for s in sides) + f"{'vs torch':>9s}")
        for name in CASES:
            for mode in MODES:
                fns = {s: runner(s, name, mode) for s in sides}
                res = {s: [] for s in sides}
                for r in range(rounds):
                    for s in sides:
                        if s == "numpy" and r > 0:
                            continue
                        with blas_threads(t):
                            res[s].append(_median_time(fns[s], 2 if s == "numpy" else 15))
                        settle(0.05)
                g = {s: nbytes(name, mode) / statistics.median(res[s]) / 1e9 for s in sides}
                ratio = g["fastdl"] / g["torch"] if "torch" in g else float("nan")
                print(f"{name + ' ' + mode:28s}" + "".join(f"{g[s]:9.2f}" for s in sides) +
                      f"{ratio:9.2f}", flush=True)
                rows.append((t, name, mode, g, ratio))
    return rows


if __name__ == "__main__":
    args = sys.argv[1:]
    threads = tuple(int(a) for a in args if a.isdigit()) or (2,)
    sides = [s for s in SIDES if "--no-numpy" not in args or s != "numpy"]
    table(threads, sides=sides)
