"""Depthwise convolution float32: fastdl vs PyTorch (CPU) on every depthwise layer of
MobileNetV2 at 224² (3×3, padding 1, groups = channels): training batch 16 forward and
forward + backward (input, weight and bias gradients), inference batch 1 forward, and the
forward (and the training forward + backward) on a channels_last input.

Run:

    python bench/bench_depthwise.py [threads...] [--rounds R] [--cpu-time] [filter]

prints, per thread count, one row per layer and case: ms for torch and fastdl (minimum over
R interleaved rounds, each the minimum of a few calls) and the ratio torch ÷ fastdl (> 1:
fastdl is faster). ``--cpu-time`` (one thread only) times with the process's CPU time, which
a machine shared with other jobs disturbs less than the wall clock. ``filter``: only the
layers whose label contains it (e.g. ``14²``).

``pytest bench/bench_depthwise.py`` runs the same cases as pytest-benchmark tests (1 and all
cores); under ``FASTDL_BENCH_SMOKE=1`` at toy sizes (batch 2 / 1, 12×12 input) for one round.
"""
import sys

import pytest

from fastdl.bench import (SIDES_TORCH, SMOKE, conv_layer_table, conv_runner, table_args,
                          time_case)

# MobileNetV2 at 224²: (channels, input size, stride) of its depthwise 3×3 layers
LAYERS = [(32, 112, 1), (96, 112, 2), (144, 56, 1), (144, 56, 2), (192, 28, 1), (192, 28, 2),
          (384, 14, 1), (576, 14, 1), (576, 14, 2), (960, 7, 1)]
if SMOKE:
    LAYERS = [(20, 12, 1), (24, 12, 2)]
TRAIN_BATCH, INFER_BATCH = (2, 1) if SMOKE else (16, 1)
# case: (batch, mode, channels_last input)
CASES = {"train fwd": (TRAIN_BATCH, "fwd", False), "train fwdbwd": (TRAIN_BATCH, "fwdbwd", False),
         "train fwd CL": (TRAIN_BATCH, "fwd", True),
         "train fwdbwd CL": (TRAIN_BATCH, "fwdbwd", True), "infer fwd": (INFER_BATCH, "fwd", False),
         "infer fwd CL": (INFER_BATCH, "fwd", True)}


def label(layer):
    C, H, s = layer
    return f"{C} {H}²" + (f" s{s}" if s != 1 else "")


def flops(layer, case):
    C, H, s = layer
    n, mode, _ = CASES[case]
    oh = (H + 2 - 3) // s + 1
    f = 2.0 * n * C * oh * oh * 9
    return f * 3 if mode == "fwdbwd" else f


def runner(side, layer, case, seed=0):
    """A no-argument callable running `case` of depthwise layer `layer` on `side`."""
    C, H, s = layer
    n, mode, cl = CASES[case]
    spec = dict(N=n, C=C, H=H, W=H, K=C, R=3, stride=s, padding=1, groups=C)
    return conv_runner(side, spec, mode, channels_last=cl, seed=seed)


# ---- pytest-benchmark ----------------------------------------------------------------------
SIDES = SIDES_TORCH


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("layer", LAYERS, ids=label)
def test_depthwise(benchmark, nthreads, layer, case, side):
    benchmark.group = f"depthwise {label(layer)} {case} t{nthreads}"
    C, H, s = layer
    time_case(benchmark, runner(side, layer, case), flops=flops(layer, case), side=side,
              op=f"depthwise {case}", shape=(CASES[case][0], C, H, H, s))


# ---- interleaved table ---------------------------------------------------------------------
if __name__ == "__main__":
    threads, nrounds, pattern, clock = table_args(sys.argv[1:])
    conv_layer_table(threads, LAYERS, CASES, label, runner, nrounds, pattern, clock)
