"""Convolution float32: fastdl vs the NumPy reference vs PyTorch (CPU), forward and
forward+backward (grads of input, weight and bias), 1 and 2 threads, on the issue's shapes.

The work per call (forward 2·N·K·OH·OW·C/g·R·S flops; forward+backward 3× that) goes to
``extra_info``; bench/conftest.py adds GFLOP/s and % of the measured FMA peak. Run:

    pytest bench/bench_conv.py

or ``python bench/bench_conv.py [threads...]`` for the table the closing note reports (sides
interleaved, medians, fastdl/torch ratio).
"""
import statistics
import sys
import time

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.testing import reference as R

from fastdl.bench import HAVE_TORCH, SMOKE, blas_threads, record, rounds, settle
from fastdl.bench.machine import peak_for

# name: (N, C, H, W, K, R, stride, padding, groups)
SHAPES = {
    "lenet1": (64, 1, 28, 28, 6, 5, 1, 0, 1),
    "lenet2": (64, 6, 12, 12, 16, 5, 1, 0, 1),
    "resnet3x3_56": (16, 64, 56, 56, 64, 3, 1, 1, 1),
    "resnet3x3_28": (16, 128, 28, 28, 128, 3, 1, 1, 1),
    "strided_56": (16, 64, 56, 56, 128, 3, 2, 1, 1),
    "pointwise_14": (16, 256, 14, 14, 256, 1, 1, 0, 1),
    "depthwise_56": (16, 128, 56, 56, 128, 3, 1, 1, 128),
}
if SMOKE:  # the same kinds of layer at toy sizes
    SHAPES = {"lenet1": (2, 1, 12, 12, 3, 5, 1, 0, 1), "strided": (2, 4, 9, 9, 6, 3, 2, 1, 1),
              "depthwise": (2, 4, 8, 8, 4, 3, 1, 1, 4)}


def flops_fwd(shape):
    N, C, H, W, K, Rk, s, p, g = shape
    oh = F.conv_output_size(H, Rk, s, p)
    ow = F.conv_output_size(W, Rk, s, p)
    return 2.0 * N * K * oh * ow * (C // g) * Rk * Rk


def operands(shape, seed=0):
    N, C, H, W, K, Rk, s, p, g = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((K, C // g, Rk, Rk)) * 0.1).astype(np.float32)
    b = rng.standard_normal(K).astype(np.float32)
    oh = F.conv_output_size(H, Rk, s, p)
    ow = F.conv_output_size(W, Rk, s, p)
    gy = rng.standard_normal((N, K, oh, ow)).astype(np.float32)
    return x, w, b, gy


def runner(side, shape, mode):
    """A no-argument callable running `mode` ('fwd' or 'fwdbwd') on `side`."""
    N, C, H, W, K, Rk, s, p, g = shape
    x, w, b, gy = operands(shape)
    kw = dict(stride=s, padding=p, groups=g)
    if side == "fastdl":
        if mode == "fwd":
            return lambda: F.conv2d(x, w, b, **kw)
        xt = fastdl.tensor(x, requires_grad=True)
        wt = fastdl.tensor(w, requires_grad=True)
        bt = fastdl.tensor(b, requires_grad=True)
        gt = fastdl.tensor(gy)

        def run():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, **kw).backward(gt)
        return run
    if side == "numpy":
        if mode == "fwd":
            return lambda: R.conv2d_ref(x, w, b, **kw)
        return lambda: (R.conv2d_ref(x, w, b, **kw), R.conv2d_backward_ref(x, w, gy, **kw))
    import torch
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, w, b, gy))
    if mode == "fwd":
        def run():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, **kw)
        return run
    tx.requires_grad_(True)
    tw.requires_grad_(True)
    tb.requires_grad_(True)

    def run():
        tx.grad = tw.grad = tb.grad = None
        torch.nn.functional.conv2d(tx, tw, tb, **kw).backward(tg)
    return run


SIDES = ["fastdl", "numpy"] + (["torch"] if HAVE_TORCH else [])
MODES = ["fwd", "fwdbwd"]


def fma_peak(threads):
    """The FMA peak on ``threads`` threads (GFLOP/s), measured once per process."""
    return peak_for(threads)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(SHAPES))
def test_conv(benchmark, nthreads, name, mode, side):
    shape = SHAPES[name]
    benchmark.group = f"conv {name} {mode} t{nthreads}"
    fn = runner(side, shape, mode)
    fn()
    settle()
    flops = flops_fwd(shape) * (3 if mode == "fwdbwd" else 1)
    n = 3 if side == "numpy" else max(5, min(100, int(4e9 / flops)))
    benchmark.pedantic(fn, rounds=rounds(n), warmup_rounds=1)
    N, C, H, W, K, Rk, st, p, g = shape
    record(benchmark, flops=flops, side=side, op=f"conv2d {name} {mode}",
           shape=f"{N}x{C}x{H}x{W} k{K} {Rk}x{Rk} s{st} p{p} g{g}")
    settle(0.3 if side != "fastdl" else 0.05)


def _median_time(fn, budget=0.5, max_reps=50):
    fn()
    t = time.perf_counter()
    fn()
    one = time.perf_counter() - t
    reps = max(3, min(max_reps, int(budget / max(one, 1e-6))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def table(threads_list=(2,), rounds=3, sides=None, names=None, modes=MODES):
    """GFLOP/s medians per shape, mode and side (sides interleaved `rounds` times; the median
    of the per-round medians), fastdl's % of the FMA peak and the fastdl/torch ratio."""
    sides = sides or SIDES
    names = names or list(SHAPES)
    rows = []
    for t in threads_list:
        fastdl.set_num_threads(t)
        if HAVE_TORCH:
            import torch
            torch.set_num_threads(t)
        peak = fma_peak(t)
        print(f"\n{t} thread(s): FMA peak {peak:.1f} GFLOP/s ({_C.get_isa()})")
        print(f"{'shape':22s}" + "".join(f"{s:>9s}" for s in sides) + f"{'%peak':>7s}"
              f"{'vs torch':>9s}")
        for name in names:
            shape = SHAPES[name]
            for mode in modes:
                flops = flops_fwd(shape) * (3 if mode == "fwdbwd" else 1)
                res = {s: [] for s in sides}
                fns = {s: runner(s, shape, mode) for s in sides}
                for r in range(rounds):
                    for s in sides:
                        if s == "numpy" and r > 0:
                            continue
                        with blas_threads(t):
                            res[s].append(_median_time(fns[s], max_reps=3 if s == "numpy"
                                                       else 50))
                        settle(0.05)
                g = {s: flops / statistics.median(res[s]) / 1e9 for s in sides}
                ratio = g["fastdl"] / g["torch"] if "torch" in g else float("nan")
                print(f"{name + ' ' + mode:22s}" + "".join(f"{g[s]:9.1f}" for s in sides) +
                      f"{100 * g['fastdl'] / peak:6.0f}%{ratio:9.2f}", flush=True)
                rows.append((t, name, mode, g, 100 * g["fastdl"] / peak, ratio))
    return rows


if __name__ == "__main__":
    args = [a for a in sys.argv[1:]]
    threads = tuple(int(a) for a in args if a.isdigit()) or (2,)
    sides = [s for s in SIDES if "--no-numpy" not in args or s != "numpy"]
    names = [a for a in args if a in SHAPES] or None
    table(threads, sides=sides, names=names)
