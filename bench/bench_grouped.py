"""Grouped (not depthwise) 3×3 convolution float32: fastdl vs PyTorch (CPU) on the grouped
layers of ResNeXt-50 (32×4d) at 224² (32 groups of 4 to 32 channels) and on layers of 2 to
16 groups of 32 or more channels: training batch 8 forward and forward + backward (input,
weight and bias gradients), inference batch 1 forward, and the forwards on a channels_last
input.

Run:

    python bench/bench_grouped.py [threads...] [--rounds R] [--cpu-time] [filter]

prints, per thread count, one row per layer and case: ms for torch and fastdl (minimum over
R interleaved rounds, each the minimum of a few calls) and the ratio torch ÷ fastdl (> 1:
fastdl is faster). ``--cpu-time`` (one thread only) times with the process's CPU time.
``filter``: only the layers whose label contains it (e.g. ``g32``).

``pytest bench/bench_grouped.py`` runs the same cases as pytest-benchmark tests (1 and all
cores); under ``FASTDL_BENCH_SMOKE=1`` at toy sizes for one round.
"""
import sys

import pytest

from fastdl.bench import (SIDES_TORCH, SMOKE, conv_layer_table, conv_runner, table_args,
                          time_case)

# (channels, input size, stride, groups): ResNeXt-50 32×4d's grouped 3×3 layers (each
# stage's first block strided), then layers of 32 or more channels per group
LAYERS = [(128, 56, 1, 32), (256, 56, 2, 32), (256, 28, 1, 32), (512, 28, 2, 32),
          (512, 14, 1, 32), (1024, 14, 2, 32), (1024, 7, 1, 32),
          (128, 28, 1, 2), (256, 28, 1, 8), (512, 14, 1, 16)]
if SMOKE:
    LAYERS = [(16, 10, 1, 4), (64, 8, 1, 2)]
TRAIN_BATCH, INFER_BATCH = (2, 1) if SMOKE else (8, 1)
# case: (batch, mode, channels_last input)
CASES = {"train fwd": (TRAIN_BATCH, "fwd", False), "train fwdbwd": (TRAIN_BATCH, "fwdbwd", False),
         "train fwd CL": (TRAIN_BATCH, "fwd", True), "infer fwd": (INFER_BATCH, "fwd", False),
         "infer fwd CL": (INFER_BATCH, "fwd", True)}


def label(layer):
    C, H, s, g = layer
    return f"{C} {H}² g{g}" + (f" s{s}" if s != 1 else "")


def flops(layer, case):
    C, H, s, g = layer
    n, mode, _ = CASES[case]
    oh = (H + 2 - 3) // s + 1
    f = 2.0 * n * C * (C // g) * oh * oh * 9
    return f * 3 if mode == "fwdbwd" else f


def runner(side, layer, case, seed=0):
    """A no-argument callable running `case` of grouped layer `layer` on `side`."""
    C, H, s, g = layer
    n, mode, cl = CASES[case]
    spec = dict(N=n, C=C, H=H, W=H, K=C, R=3, stride=s, padding=1, groups=g)
    return conv_runner(side, spec, mode, channels_last=cl, seed=seed)


# ---- pytest-benchmark ----------------------------------------------------------------------
SIDES = SIDES_TORCH


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("layer", LAYERS, ids=label)
def test_grouped(benchmark, nthreads, layer, case, side):
    benchmark.group = f"grouped {label(layer)} {case} t{nthreads}"
    C, H, s, g = layer
    time_case(benchmark, runner(side, layer, case), flops=flops(layer, case), side=side,
              op=f"grouped {case}", shape=(CASES[case][0], C, H, H, s, g))


# ---- interleaved table ---------------------------------------------------------------------
if __name__ == "__main__":
    threads, nrounds, pattern, clock = table_args(sys.argv[1:])
    conv_layer_table(threads, LAYERS, CASES, label, runner, nrounds, pattern, clock)
