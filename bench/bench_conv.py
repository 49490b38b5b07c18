"""Convolution float32: fastdl vs the NumPy reference vs PyTorch (CPU), forward and
forward+backward (grads of input, weight and bias), 1 and 2 threads, on the issue's shapes.

The work per call (forward 2·N·K·OH·OW·C/g·R·S flops; forward+backward 3× that) goes to
``extra_info``; bench/conftest.py adds GFLOP/s and % of the measured FMA peak. Run:

    pytest bench/bench_conv.py

or ``python bench/bench_conv.py [threads...]`` for the table the closing note reports (sides
interleaved, medians, fastdl/torch ratio), or ``python bench/bench_conv.py --balance``
for the per-thread CPU time of every ResNet-18 conv kernel at 2 threads (``balance``).
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

from fastdl.bench import HAVE_TORCH, SMOKE, blas_threads, record, rounds, set_threads, settle
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
        set_threads(t)
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


# ---- thread balance of the conv kernels (``--balance``) -------------------------------------
# ResNet-18 CIFAR's conv layers at batch 32: (C, K, H, kernel, stride, layers of that shape).
RESNET18_LAYERS = [(3, 64, 32, 3, 1, 1), (64, 64, 32, 3, 1, 4), (64, 128, 32, 3, 2, 1),
                   (64, 128, 32, 1, 2, 1), (128, 128, 16, 3, 1, 3), (128, 256, 16, 3, 2, 1),
                   (128, 256, 16, 1, 2, 1), (256, 256, 8, 3, 1, 3), (256, 512, 8, 3, 2, 1),
                   (256, 512, 8, 1, 2, 1), (512, 512, 4, 3, 1, 3)]


def _thread_cpu(tids):
    """CPU seconds of each thread in `tids` (Linux per-thread CPU clocks)."""
    out = []
    for t in tids:
        try:
            out.append(time.clock_gettime(((~t) << 3) | 6))  # CPUCLOCK_SCHED, per thread
        except OSError:
            out.append(0.0)
    return out


def balance(reps=5, threads=2):
    """Per ResNet-18 layer and pass (forward, input gradient, weight gradient): 1-thread CPU
    time, and at `threads` threads the wall time and each thread's CPU time (minimum over
    `reps` calls, ms). Run with OMP_WAIT_POLICY=passive (``--balance`` re-executes itself so)
    so that a waiting thread sleeps instead of spinning: then a thread's CPU time is its work,

    * busiest thread ≈ half the 1-thread time: the split is balanced (else: too few tasks or a
      serial part);
    * sum over threads > the 1-thread time: the threads slow each other (memory bandwidth,
      shared cache) or duplicate work (packing);
    * wall > busiest thread: waiting (wake-up, barriers, a preempted thread on a shared
      machine -- take wall figures only on a quiet machine)."""
    import os
    import threading
    rng = np.random.default_rng(0)
    main = threading.get_native_id()

    def workers():
        return [main] + sorted(int(t) for t in os.listdir("/proc/self/task") if int(t) != main)

    def measure(f, nt):
        fastdl.set_num_threads(nt)
        f()
        tids = workers()
        best = None
        for _ in range(reps):
            c0, t0 = _thread_cpu(tids), time.perf_counter()
            f()
            t1, c1 = time.perf_counter(), _thread_cpu(tids)
            per = sorted((b - a for a, b in zip(c0, c1)), reverse=True)
            row = (t1 - t0, sum(per), per[0])
            best = row if best is None or row[0] < best[0] else best
        return best

    print(f"{threads} threads vs 1, ms (min of {reps}); OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"{'layer':24s}{'pass':>5s}{'algo':>8s}{'1t cpu':>8s}{'wall':>8s}{'cpu sum':>8s}"
          f"{'busiest':>8s}{'speedup':>8s}")
    tot = [0.0, 0.0]
    for C, K, H, k, s, count in RESNET18_LAYERS:
        p = k // 2
        x = rng.standard_normal((32, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((K, C, k, k)) * 0.05).astype(np.float32)
        geo = (s, s, p, p, p, p, 1, 1, 1)
        dy = np.ones_like(_C.conv2d_forward(x, w, None, *geo))
        algos = _C.conv2d_algorithm(32, C, H, H, K, k, k, s, s, p, p, p, p, 1, 1, 1, 4)
        fns = {"fwd": lambda: _C.conv2d_forward(x, w, None, *geo),
               "dx": lambda: _C.conv2d_backward(x, w, dy, *geo, True, False, False),
               "dW": lambda: _C.conv2d_backward(x, w, dy, *geo, False, True, False)}
        for (name, f), algo in zip(fns.items(), algos):
            one = measure(f, 1)
            many = measure(f, threads)
            tot[0] += count * one[1]
            tot[1] += count * many[0]
            label = f"{C}->{K} {H}² {k}x{k} s{s} ×{count}"
            print(f"{label:24s}{name:>5s}{algo:>8s}{1e3 * one[1]:8.1f}{1e3 * many[0]:8.1f}"
                  f"{1e3 * many[1]:8.1f}{1e3 * many[2]:8.1f}{one[1] / many[0]:8.2f}", flush=True)
    print(f"ResNet-18 step's convolutions: 1-thread CPU {1e3 * tot[0]:.0f} ms, {threads}-thread "
          f"wall {1e3 * tot[1]:.0f} ms ({tot[0] / tot[1]:.2f}×)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:]]
    if "--balance" in args:
        import os
        if os.environ.get("OMP_WAIT_POLICY") is None:  # must be set before OpenMP starts
            os.execve(sys.executable, [sys.executable] + sys.argv,
                      dict(os.environ, OMP_WAIT_POLICY="passive"))
        balance()
        sys.exit(0)
    threads = tuple(int(a) for a in args if a.isdigit()) or (2,)
    sides = [s for s in SIDES if "--no-numpy" not in args or s != "numpy"]
    names = [a for a in args if a in SHAPES] or None
    table(threads, sides=sides, names=names)
