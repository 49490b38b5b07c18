"""Winograd convolution against PyTorch per layer: the 3×3 stride-1 layers of ResNet-18 (CIFAR
32², batch 32), VGG-11 (32², batch 32), ResNet-50 (224², batch 8) and bench_conv.py's
resnet3x3 shapes (batch 16), float32.

Both sides on the same number of threads, interleaved round after round, the minimum over the
rounds (wall time; at one thread also the CPU time of the calling thread, ``--cpu``). Run:

    python bench/bench_winograd.py [--threads T] [--rounds R] [--algos] [name-filter]

Default table: per layer and pass -- forward (``fwd``), input gradient (``dx``), weight
gradient (``dw``), forward + backward (``fwdbwd``: forward, then input and weight gradients)
-- ms of fastdl's automatic
choice, ms of torch and torch ÷ fastdl (> 1: fastdl is faster), and the algorithms the
automatic rule picks (forward, input gradient, weight gradient) with the Winograd tile
(``FASTDL_WINOGRAD_TILE`` unset: the automatic tile). ``--algos`` adds, for ``fwd``, ``dx``
and ``dw``, the forced Winograd F(2×2, 3×3) and F(4×4, 3×3) (``FASTDL_WINOGRAD_TILE`` 2 and
4), the batched GEMM and the direct kernel: the table the automatic rule
(``winograd_preferred`` in csrc/kernels/conv/winograd_impl.h) is read off. ``--passes``
restricts the passes (e.g. ``--passes dw,fwdbwd``).
"""
import argparse
import os
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
    "conv 64 56²": (16, 64, 56, 56, 64),
    "conv 128 28²": (16, 128, 28, 28, 128),
}
ARGS = (1, 1, 1, 1, 1, 1, 1, 1, 1)  # stride, padding (t, b, l, r), dilation, groups


def _timer(cpu):
    return time.thread_time if cpu else time.perf_counter


def _timed(fn, clock):
    t = clock()
    fn()
    return clock() - t


def _tile_label(N, C, K):
    env = os.environ.get("FASTDL_WINOGRAD_TILE", "auto")
    if env in ("2", "4"):
        return env, env, env
    # the automatic tile (winograd_tile_for): F(4×4) when the pass sums over <= 32 channels;
    # the weight gradient (winograd_tile_for_weight): F(2×2)
    return ("4" if C <= 32 else "2"), ("4" if K <= 32 else "2"), "2"


def run(threads=1, rounds=5, pattern="", algos=False, cpu=False, passes=None):
    fastdl.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    clock = _timer(cpu)
    cols = (["F2", "F4", "gemm", "direct"] if algos else []) + ["fastdl", "torch"]
    print(f"{threads} thread(s), {'CPU' if cpu else 'wall'} time, min of {rounds} rounds, ms")
    print(f"{'layer':<16} {'pass':<7}" + "".join(f"{c:>8}" for c in cols) +
          "  torch/fastdl  algos (fwd, dx, dW) tile")
    env_tile = os.environ.get("FASTDL_WINOGRAD_TILE")
    for name, (N, C, H, W, K) in LAYERS.items():
        if pattern not in name:
            continue
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, C, H, W)).astype(np.float32)
        w = (rng.standard_normal((K, C, 3, 3)) * 0.1).astype(np.float32)
        gy = rng.standard_normal((N, K, H, W)).astype(np.float32)
        fns = {"fwd": lambda: _C.conv2d_forward(x, w, None, *ARGS),
               "dx": lambda: _C.conv2d_backward(x, w, gy, *ARGS, True, False, False),
               "dw": lambda: _C.conv2d_backward(x, w, gy, *ARGS, False, True, False),
               "fwdbwd": lambda: (_C.conv2d_forward(x, w, None, *ARGS),
                                  _C.conv2d_backward(x, w, gy, *ARGS, True, True, False))}
        tfns = {}
        if torch is not None:
            tx, tw, tg = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)

            def tbwd(mask):
                return torch.ops.aten.convolution_backward(
                    tg, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)
            tfns = {"fwd": lambda: torch.nn.functional.conv2d(tx, tw, None, 1, 1),
                    "dx": lambda: tbwd([True, False, False]),
                    "dw": lambda: tbwd([False, True, False]),
                    "fwdbwd": lambda: (torch.nn.functional.conv2d(tx, tw, None, 1, 1),
                                       tbwd([True, True, False]))}
        chosen = _C.conv2d_algorithm(N, C, H, W, K, 3, 3, *ARGS, 4)
        tiles = _tile_label(N, C, K)
        for pname, fn in fns.items():
            if passes and pname not in passes:
                continue
            sides = {"fastdl": ("auto", None)}
            if algos and pname != "fwdbwd":
                sides = {"F2": ("winograd", "2"), "F4": ("winograd", "4"),
                         "gemm": ("gemm", None), "direct": ("direct", None), **sides}
            best = {c: float("inf") for c in cols}
            with torch.no_grad() if torch is not None else _null():
                for _ in range(rounds):
                    for side, (algo, tile) in sides.items():
                        if tile is not None:
                            os.environ["FASTDL_WINOGRAD_TILE"] = tile
                        _C.conv2d_set_algorithm(algo)
                        try:
                            best[side] = min(best[side], _timed(fn, clock))
                        finally:
                            _C.conv2d_set_algorithm("auto")
                            if env_tile is None:
                                os.environ.pop("FASTDL_WINOGRAD_TILE", None)
                            else:
                                os.environ["FASTDL_WINOGRAD_TILE"] = env_tile
                    if pname in tfns:
                        best["torch"] = min(best["torch"], _timed(tfns[pname], clock))
            ms = {k: v * 1e3 for k, v in best.items()}
            ratio = ms["torch"] / ms["fastdl"]
            wt = [t for a, t in zip(chosen, tiles) if a == "winograd"]
            print(f"{name:<16} {pname:<7}" +
                  "".join(f"{ms[c]:8.2f}" if ms[c] < float("inf") else f"{'':8}" for c in cols) +
                  f"  {ratio:12.2f}  {','.join(chosen)} {'F' + '/F'.join(wt) if wt else ''}",
                  flush=True)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pattern", nargs="?", default="", help="run the layers whose name has it")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--algos", action="store_true", help="add the forced algorithms' columns")
    ap.add_argument("--cpu", action="store_true", help="CPU time of the calling thread")
    ap.add_argument("--passes", default="", help="comma-separated: fwd,dx,dw,fwdbwd (all)")
    a = ap.parse_args()
    run(a.threads, a.rounds, a.pattern, a.algos, a.cpu,
        [q for q in a.passes.split(",") if q] or None)
