"""The torch.nn additions against PyTorch: CTC loss, grid_sample, embedding_bag, bicubic
interpolation, 3-D convolution and pooling, fractional max pooling; forward and
forward+backward, float32.

    flock /tmp/fastdl-bench.lock env PYTHONPATH=. python bench/bench_nn.py [--threads N ...]
        [--clock auto|wall|cpu] [--only NAME]

Both sides run in the same process on the same thread count, in interleaved rounds; the
table reports the minimum over rounds of each side and the ratio fastdl / torch (> 1:
fastdl slower). The clock: process CPU time on one thread (steadiest on a shared machine),
wall time on more (``--clock auto``, the default). Not part of the test run.
"""
import argparse
import sys
import time

import numpy as np

import fastdl
import fastdl.nn.functional as F


def _cases(rng):
    import torch
    tF = torch.nn.functional
    c = {}
    # CTC: T=200 frames, batch 16, 40 classes, targets of 40
    T, N, C, S = 200, 16, 40, 40
    lp = np.log(rng.dirichlet(np.ones(C), size=(T, N))).astype(np.float32)
    tg = rng.integers(1, C, (N, S))
    il, tl = np.full(N, T), rng.integers(S // 2, S + 1, N)
    c["ctc_loss"] = (
        lambda x: F.ctc_loss(x, fastdl.tensor(tg), il, tl),
        lambda x: tF.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl)),
        [lp])
    # grid_sample: 8×16×64×64 image, 64×64 grid, bilinear / zeros
    img = rng.standard_normal((8, 16, 64, 64)).astype(np.float32)
    grid = rng.uniform(-1.1, 1.1, (8, 64, 64, 2)).astype(np.float32)
    c["grid_sample"] = (lambda a, g: F.grid_sample(a, g, align_corners=False),
                        lambda a, g: tF.grid_sample(a, g, align_corners=False), [img, grid])
    c["grid_sample_bicubic"] = (
        lambda a, g: F.grid_sample(a, g, "bicubic", "border", align_corners=False),
        lambda a, g: tF.grid_sample(a, g, "bicubic", "border", align_corners=False),
        [img, grid])
    # 3-D grid_sample: 2×8×16×32×32 volume, 16×32×32 grid, trilinear / zeros
    v5 = rng.standard_normal((2, 8, 16, 32, 32)).astype(np.float32)
    g5 = rng.uniform(-1.1, 1.1, (2, 16, 32, 32, 3)).astype(np.float32)
    c["grid_sample_3d"] = (lambda a, g: F.grid_sample(a, g, align_corners=False),
                           lambda a, g: tF.grid_sample(a, g, align_corners=False), [v5, g5])
    # embedding_bag: 50000×64 table, 4096 bags of 20
    w = rng.standard_normal((50000, 64)).astype(np.float32)
    idx = rng.integers(0, 50000, 4096 * 20)
    offs = np.arange(4096) * 20
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
    vol = rng.standard_normal((2, 8, 16, 32, 32)).astype(np.float32)
    wk = rng.standard_normal((16, 8, 3, 3, 3)).astype(np.float32) * 0.1
    c["conv3d"] = (lambda a, k: F.conv3d(a, k, padding=1),
                   lambda a, k: tF.conv3d(a, k, padding=1), [vol, wk])
    # wider: 2×32×8×16×16, 32 filters 3×3×3 (the direct kernel's 8-channel blocks, 4 of them)
    v32 = rng.standard_normal((2, 32, 8, 16, 16)).astype(np.float32)
    w32 = rng.standard_normal((32, 32, 3, 3, 3)).astype(np.float32) * 0.05
    c["conv3d_c32"] = (lambda a, k: F.conv3d(a, k, padding=1),
                       lambda a, k: tF.conv3d(a, k, padding=1), [v32, w32])
    c["max_pool3d"] = (lambda a: F.max_pool3d(a, 2), lambda a: tF.max_pool3d(a, 2), [vol])
    c["avg_pool3d"] = (lambda a: F.avg_pool3d(a, 2), lambda a: tF.avg_pool3d(a, 2), [vol])
    c["adaptive_avg_pool3d"] = (lambda a: F.adaptive_avg_pool3d(a, (4, 5, 6)),
                                lambda a: tF.adaptive_avg_pool3d(a, (4, 5, 6)), [vol])
    return c


def _time(fn, rounds_inner, clock=time.perf_counter):
    t0 = clock()
    for _ in range(rounds_inner):
        fn()
    return (clock() - t0) / rounds_inner


def run(threads, rounds=5, only=None, clock="auto"):
    import torch
    fastdl.set_num_threads(threads)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    if clock == "auto":
        clock = "cpu" if threads == 1 else "wall"
    clk = time.process_time if clock == "cpu" else time.perf_counter
    rows = []
    for name, (ff, tf, arrays) in _cases(rng).items():
        if only and only not in name:
            continue
        for backward in (False, True):
            fa = [fastdl.tensor(a, requires_grad=backward) for a in arrays]
            ta = [torch.tensor(a, requires_grad=backward) for a in arrays]

            def f_call():
                out = ff(*fa)
                if backward:
                    out.sum().backward()

            def t_call():
                out = tf(*ta)
                if backward:
                    out.sum().backward()
            try:
                f_call()
            except NotImplementedError:                        # (an older fastdl)
                rows.append((name + (" fwd+bwd" if backward else " fwd"), clock, None, None))
                continue
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
