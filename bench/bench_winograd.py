"""Winograd F(4×4, 3×3) against fastdl's batched-GEMM convolution and PyTorch, per layer: the
3×3 stride-1 layers of ResNet-18 (CIFAR, batch 32), VGG-11 (32², batch 32) and ResNet-50
(224², batch 8), forward and input gradient, float32.

One thread on both sides, CPU time of the calling thread (``time.thread_time``), the sides
interleaved round after round, minimum over the rounds. Run:

    python bench/bench_winograd.py [rounds] [name-filter]

prints one row per layer and pass: ms for Winograd F(2×2, 3×3) and F(4×4, 3×3)
(``FASTDL_WINOGRAD_TILE`` 2 and 4), gemm, the automatic choice and torch, and gemm ÷ each
Winograd (> 1: Winograd is faster). The automatic rule (``winograd_preferred`` in
csrc/kernels/conv/winograd_impl.h) is read off this table.
"""
import os
import sys
import time

import numpy as np

import fastdl
from fastdl import _C

try:
    import torch
except ImportError:  # the fastdl columns only
    torch = None

# name: (N, C, H, W, K); 3×3, stride 1, padding 1
LAYERS = {
    "r18 64 32²": (32, 64, 32, 32, 64),
    "r18 128 16²": (32, 128, 16, 16, 128),
    "r18 256 8²": (32, 256, 8, 8, 256),
    "r18 512 4²": (32, 512, 4, 4, 512),
    "vgg 3→64 32²": (32, 3, 32, 32, 64),
    "vgg 64→128 16²": (32, 64, 16, 16, 128),
    "vgg 128→256 8²": (32, 128, 8, 8, 256),
    "vgg 256→512 4²": (32, 256, 4, 4, 512),
    "vgg 512 2²": (32, 512, 2, 2, 512),
    "r50 64 56²": (8, 64, 56, 56, 64),
    "r50 128 28²": (8, 128, 28, 28, 128),
    "r50 256 14²": (8, 256, 14, 14, 256),
    "r50 512 7²": (8, 512, 7, 7, 512),
}
ARGS = (1, 1, 1, 1, 1, 1, 1, 1, 1)  # stride, padding (t, b, l, r), dilation, groups


def _timed(fn):
    t = time.thread_time()
    fn()
    return time.thread_time() - t


def run(rounds=5, pattern=""):
    fastdl.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"{'layer':<16} {'pass':<5} {'F(2,3)':>8} {'F(4,3)':>8} {'gemm':>8} {'auto':>8} "
          f"{'torch':>8}  gemm/F2  gemm/F4  auto")
    for name, (N, C, H, W, K) in LAYERS.items():
        if pattern not in name:
            continue
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
        gy = rng.standard_normal((N, K, H, W)).astype(np.float32)
        fwd = lambda: _C.conv2d_forward(x, w, None, *ARGS)
        dx = lambda: _C.conv2d_backward(x, w, gy, *ARGS, True, False, False)
        if torch is not None:
            tx, tw, tg = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
            tf = lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1)
            td = lambda: torch.ops.aten.convolution_backward(
                tg, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                [True, False, False])
        for pname, fn, tfn, pi in (("fwd", fwd, tf if torch else None, 0),
                                   ("dx", dx, td if torch else None, 1)):
            best = {"w2": 1e9, "w4": 1e9, "gemm": 1e9, "auto": 1e9, "torch": 1e9}
            tile = os.environ.get("FASTDL_WINOGRAD_TILE", "2")
            for _ in range(rounds):
                for side, algo in (("w2", "winograd"), ("w4", "winograd"), ("gemm", "gemm"),
                                   ("auto", "auto")):
                    os.environ["FASTDL_WINOGRAD_TILE"] = side[1] if side[0] == "w" else tile
                    _C.conv2d_set_algorithm(algo)
                    best[side] = min(best[side], _timed(fn))
                os.environ["FASTDL_WINOGRAD_TILE"] = tile
                if tfn is not None:
                    best["torch"] = min(best["torch"], _timed(tfn))
            _C.conv2d_set_algorithm("auto")
            chosen = _C.conv2d_algorithm(N, C, H, W, K, 3, 3, *ARGS, 4)[pi]
            ms = {k: v * 1e3 for k, v in best.items()}
            print(f"{name:<16} {pname:<5} {ms['w2']:8.2f} {ms['w4']:8.2f} {ms['gemm']:8.2f} "
                  f"{ms['auto']:8.2f} {ms['torch'] if torch else float('nan'):8.2f}"
                  f"  {ms['gemm'] / ms['w2']:7.2f}  {ms['gemm'] / ms['w4']:7.2f}  {chosen}",
                  flush=True)


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5, sys.argv[2] if len(sys.argv) > 2 else "")
