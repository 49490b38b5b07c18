"""The torch.nn additions against PyTorch: CTC loss, grid_sample, embedding_bag, bicubic
interpolation, 3-D convolution and pooling; forward and forward+backward, float32.

As a benchmark suite (``pytest bench/bench_nn.py``; one test per case, mode, side and thread
count, like the other suites), or as a script printing the ratio table the closing notes
report:

    flock /tmp/fastdl-bench.lock env PYTHONPATH=. python bench/bench_nn.py [--threads N ...]
        [--clock auto|wall|cpu] [--only NAME]

The script runs both sides in the same process on the same thread count, in interleaved
rounds; the table reports the minimum over rounds of each side and the ratio fastdl / torch
(> 1: fastdl slower). The clock: process CPU time on one thread (steadiest on a shared
machine), wall time on more (``--clock auto``, the default).

Inputs: each side gets its own copy of the same arrays, in 64-byte-aligned memory, as
``torch.tensor`` and ``fastdl.tensor`` (from 64 KiB) give them. At NumPy's 16-byte alignment a
256-byte embedding row straddles five cache lines instead of four (embedding_bag's table reads
are its whole cost: about 40 % more time for the sum).
"""
import argparse
import functools
import sys
import time

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.bench import HAVE_TORCH, record, rounds, settle, smoke

NAMES = ["ctc_loss", "grid_sample", "grid_sample_bicubic", "grid_sample_3d",
         "embedding_bag_sum", "embedding_bag_mean", "embedding_bag_max",
         "interpolate_bicubic", "conv3d", "conv3d_c32", "max_pool3d", "avg_pool3d",
         "adaptive_avg_pool3d"]


def _aligned(a):
    """A copy of ``a`` in 64-byte-aligned memory."""
    buf = np.empty(a.size + 64 // a.itemsize, a.dtype)
    off = (-buf.ctypes.data % 64) // a.itemsize
    out = buf[off:off + a.size].reshape(a.shape)
    out[...] = a
    return out


def _cases(rng):
    import torch
    tF = torch.nn.functional
    c = {}
    # CTC: T=200 frames, batch 16, 40 classes, targets of 40
    T, N, C, S = smoke((200, 16, 40, 40), (20, 2, 5, 4))
    lp = np.log(rng.dirichlet(np.ones(C), size=(T, N))).astype(np.float32)
    tg = rng.integers(1, C, (N, S))
    il, tl = np.full(N, T), rng.integers(S // 2, S + 1, N)
    c["ctc_loss"] = (
        lambda x: F.ctc_loss(x, fastdl.tensor(tg), il, tl),
        lambda x: tF.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl)),
        [lp])
    # grid_sample: 8×16×64×64 image, 64×64 grid, bilinear / zeros
    img = rng.standard_normal(smoke((8, 16, 64, 64), (1, 2, 8, 8))).astype(np.float32)
    gs = smoke((8, 64, 64, 2), (1, 8, 8, 2))
    grid = rng.uniform(-1.1, 1.1, gs).astype(np.float32)
    c["grid_sample"] = (lambda a, g: F.grid_sample(a, g, align_corners=False),
                        lambda a, g: tF.grid_sample(a, g, align_corners=False), [img, grid])
    c["grid_sample_bicubic"] = (
        lambda a, g: F.grid_sample(a, g, "bicubic", "border", align_corners=False),
        lambda a, g: tF.grid_sample(a, g, "bicubic", "border", align_corners=False),
        [img, grid])
    # 3-D grid_sample: 2×8×16×32×32 volume, 16×32×32 grid, trilinear / zeros
    v5 = rng.standard_normal(smoke((2, 8, 16, 32, 32), (1, 2, 4, 4, 4))).astype(np.float32)
    g5 = rng.uniform(-1.1, 1.1, smoke((2, 16, 32, 32, 3), (1, 4, 4, 4, 3))).astype(np.float32)
    c["grid_sample_3d"] = (lambda a, g: F.grid_sample(a, g, align_corners=False),
                           lambda a, g: tF.grid_sample(a, g, align_corners=False), [v5, g5])
    # embedding_bag: 50000×64 table, 4096 bags of 20
    rows, bags = smoke((50000, 4096), (100, 8))
    w = rng.standard_normal((rows, 64)).astype(np.float32)
    idx = rng.integers(0, rows, bags * 20)
    offs = np.arange(bags) * 20
    for mode in ("sum", "mean", "max"):
        c[f"embedding_bag_{mode}"] = (
            lambda a, m=mode: F.embedding_bag(fastdl.tensor(idx), a, fastdl.tensor(offs),
                                              mode=m),
            lambda a, m=mode: tF.embedding_bag(torch.tensor(idx), a, torch.tensor(offs),
                                               mode=m), [w])
    # bicubic upsampling ×2 of 8×16×64×64
    c["interpolate_bicubic"] = (
        lambda a: F.interpolate(a, scale_factor=2, mode="bicubic"),
        lambda a: tF.interpolate(a, scale_factor=2, mode="bicubic"), [img])
    # 3-D convolution 2×8×16×32×32, 16 filters 3×3×3
    vol = rng.standard_normal(smoke((2, 8, 16, 32, 32), (1, 2, 4, 6, 6))).astype(np.float32)
    wk = rng.standard_normal(smoke((16, 8, 3, 3, 3), (4, 2, 3, 3, 3))).astype(np.float32) * 0.1
    c["conv3d"] = (lambda a, k: F.conv3d(a, k, padding=1),
                   lambda a, k: tF.conv3d(a, k, padding=1), [vol, wk])
    # wider: 2×32×8×16×16, 32 filters 3×3×3 (the direct kernel's 8-channel blocks, 4 of them)
    v32 = rng.standard_normal(smoke((2, 32, 8, 16, 16), (1, 4, 3, 4, 4))).astype(np.float32)
    w32 = rng.standard_normal(smoke((32, 32, 3, 3, 3), (4, 4, 3, 3, 3))).astype(np.float32)
    w32 *= 0.05
    c["conv3d_c32"] = (lambda a, k: F.conv3d(a, k, padding=1),
                       lambda a, k: tF.conv3d(a, k, padding=1), [v32, w32])
    c["max_pool3d"] = (lambda a: F.max_pool3d(a, 2), lambda a: tF.max_pool3d(a, 2), [vol])
    c["avg_pool3d"] = (lambda a: F.avg_pool3d(a, 2), lambda a: tF.avg_pool3d(a, 2), [vol])
    o3 = smoke((4, 5, 6), (2, 3, 4))
    c["adaptive_avg_pool3d"] = (lambda a: F.adaptive_avg_pool3d(a, o3),
                                lambda a: tF.adaptive_avg_pool3d(a, o3), [vol])
    assert list(c) == NAMES
    return c


@functools.lru_cache(maxsize=None)
def cases():
    """The cases, built once per process: name -> (fastdl fn, torch fn, arrays)."""
    return _cases(np.random.default_rng(0))


def callers(name, backward):
    """(fastdl call, torch call) running case ``name`` (with ``.sum().backward()`` when
    ``backward``) on fresh aligned copies of its inputs."""
    import torch
    ff, tf, arrays = cases()[name]
    fa = [fastdl.from_numpy(_aligned(a)).requires_grad_(backward) for a in arrays]
    ta = [torch.tensor(a, requires_grad=backward) for a in arrays]

    def f_call():
        out = ff(*fa)
        if backward:
            out.sum().backward()

    def t_call():
        out = tf(*ta)
        if backward:
            out.sum().backward()
    return f_call, t_call


@pytest.mark.skipif(not HAVE_TORCH, reason="the cases are written against torch")
@pytest.mark.parametrize("side", ["fastdl", "torch"])
@pytest.mark.parametrize("mode", ["fwd", "fwdbwd"])
@pytest.mark.parametrize("name", NAMES)
def test_nn(benchmark, nthreads, name, mode, side):
    benchmark.group = f"nn {name} {mode} t{nthreads}"
    fn = callers(name, mode == "fwdbwd")[0 if side == "fastdl" else 1]
    fn()
    settle()
    benchmark.pedantic(fn, rounds=rounds(10), warmup_rounds=1)
    record(benchmark, side=side, op=f"{name} {mode}")
    settle(0.3 if side != "fastdl" else 0.05)


def _time(fn, rounds_inner, clock=time.perf_counter):
    t0 = clock()
    for _ in range(rounds_inner):
        fn()
    return (clock() - t0) / rounds_inner


def run(threads, rounds=5, only=None, clock="auto"):
    import torch
    fastdl.set_num_threads(threads)
    torch.set_num_threads(threads)
    if clock == "auto":
        clock = "cpu" if threads == 1 else "wall"
    clk = time.process_time if clock == "cpu" else time.perf_counter
    rows = []
    for name in NAMES:
        if only and only not in name:
            continue
        for backward in (False, True):
            f_call, t_call = callers(name, backward)
            f_call()
            t_call()                                           # warm up
            inner = max(1, int(0.2 / max(_time(f_call, 1), 1e-4)))
            fbest = tbest = float("inf")
            for _ in range(rounds):                            # interleaved rounds
                fbest = min(fbest, _time(f_call, inner, clk))
                time.sleep(0.02)
                tbest = min(tbest, _time(t_call, inner, clk))
                time.sleep(0.02)
            rows.append((name + (" fwd+bwd" if backward else " fwd"), clock, fbest, tbest))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default=None)
    ap.add_argument("--clock", choices=["auto", "wall", "cpu"], default="auto")
    a = ap.parse_args(argv)
    print("| op | threads | clock | fastdl ms | torch ms | fastdl / torch |")
    print("|---|---|---|---|---|---|")
    for n in a.threads:
        for name, clock, f, t in run(n, a.rounds, a.only, a.clock):
            if f is None:
                print(f"| {name} | {n} | {clock} | not supported | | |")
                continue
            print(f"| {name} | {n} | {clock} | {f * 1e3:.3f} | {t * 1e3:.3f} | {f / t:.2f} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
