"""Batch norm, BN + activation and whole CNN blocks in training, fastdl vs PyTorch with the
same weights: the work that a ResNet / MobileNetV2 train step spends outside its convolutions.

Cases (float32, NCHW; torch also in channels_last, its often faster CPU format):

* ``bn_fwd`` / ``bn_fwdbwd``: ``BatchNorm2d`` in training, forward and forward + backward;
* ``bnrelu_fwdbwd``: ``Sequential(BatchNorm2d, ReLU)`` forward + backward (``bnrelu6`` with
  ReLU6, MobileNetV2's activation);
* ``basic_block``: a ResNet basic block (conv3×3-BN-ReLU-conv3×3-BN, + identity, ReLU),
  forward + backward;
* ``inv_residual``: a MobileNetV2 inverted-residual block (1×1 expand ×6, BN, ReLU6, 3×3
  depthwise, BN, ReLU6, 1×1 project, BN, + identity), forward + backward.

Shapes are the models' own (bench/bench_models.py): ResNet-18 CIFAR at batch 32, ResNet-50 and
MobileNetV2 at their train batch (8, 16).

    python bench/bench_blocks.py [threads ...] [case-substring ...] [--rounds R] [--cpu-time]

For every thread count (default 1 and 2) and case, R rounds (default 7) alternate fastdl,
fastdl with the batch-norm/activation fusion off (``set_norm_act_fusion(False, False)``:
the unfused ops, column ``nofuse``) and torch (NCHW, then channels_last), each round the
minimum of a few calls; the table shows the minimum over rounds in ms and torch ÷ fastdl
(> 1: fastdl faster) against torch NCHW and against torch's better layout, and
nofuse ÷ fastdl (the fusion's gain). ``--cpu-time`` (with 1 thread and OMP_NUM_THREADS=1)
times with the process's CPU time instead of the wall clock, for a machine shared with other
jobs.
"""
import sys
import time

import numpy as np

import fastdl
from fastdl.bench import min_time

try:
    import torch
    HAVE_TORCH = True
except ImportError:  # the table then shows fastdl alone
    torch = None
    HAVE_TORCH = False


def _bn_pair(C, act=None):
    layers_f = [fastdl.nn.BatchNorm2d(C)]
    layers_t = [torch.nn.BatchNorm2d(C)] if HAVE_TORCH else None
    if act is not None:
        layers_f.append(getattr(fastdl.nn, act)())
        if HAVE_TORCH:
            layers_t.append(getattr(torch.nn, act)())
    return fastdl.nn.Sequential(*layers_f), (torch.nn.Sequential(*layers_t) if HAVE_TORCH
                                             else None)


def _basic_block(nn, C):
    class BasicBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(C, C, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(C)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(C, C, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(C)

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + x)
    return BasicBlock()


def _inv_residual(nn, C, expand=6):
    class InvertedResidual(nn.Module):
        def __init__(self):
            super().__init__()
            h = C * expand
            self.conv = nn.Sequential(
                nn.Conv2d(C, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
                nn.Conv2d(h, C, 1, bias=False), nn.BatchNorm2d(C))

        def forward(self, x):
            return x + self.conv(x)
    return InvertedResidual()


def _pair(builder, *args):
    fastdl.manual_seed(0)
    fm = builder(fastdl.nn, *args)
    tm = None
    if HAVE_TORCH:
        tm = builder(torch.nn, *args)
        tm.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                            for k, v in fm.state_dict().items()})
    return fm, tm


# name: (kind, shape, builder of the (fastdl, torch) modules)
CASES = {}
for _tag, _shape in (("r18", (32, 64, 32, 32)), ("r18", (32, 256, 8, 8)),
                     ("r50", (8, 256, 56, 56)), ("mnv2", (16, 144, 56, 56))):
    _s = "x".join(map(str, _shape))
    CASES[f"bn_fwd {_tag} {_s}"] = ("fwd", _shape, lambda C=_shape[1]: _bn_pair(C))
    CASES[f"bn_fwdbwd {_tag} {_s}"] = ("fwdbwd", _shape, lambda C=_shape[1]: _bn_pair(C))
    CASES[f"bnrelu_fwdbwd {_tag} {_s}"] = ("fwdbwd", _shape,
                                           lambda C=_shape[1]: _bn_pair(C, "ReLU"))
CASES["bnrelu6_fwdbwd mnv2 16x144x56x56"] = ("fwdbwd", (16, 144, 56, 56),
                                            lambda: _bn_pair(144, "ReLU6"))
CASES["basic_block r18 32x64x32x32"] = ("fwdbwd", (32, 64, 32, 32),
                                        lambda: _pair(_basic_block, 64))
CASES["basic_block r18 32x256x8x8"] = ("fwdbwd", (32, 256, 8, 8),
                                       lambda: _pair(_basic_block, 256))
CASES["inv_residual mnv2 16x24x56x56"] = ("fwdbwd", (16, 24, 56, 56),
                                          lambda: _pair(_inv_residual, 24))
CASES["inv_residual mnv2 16x32x28x28"] = ("fwdbwd", (16, 32, 28, 28),
                                          lambda: _pair(_inv_residual, 32))


def _runner(side, model, x, g, kind):
    """A no-argument callable: one forward (``fwd``) or forward + backward with upstream
    gradient ``g`` (``fwdbwd``) of ``model`` in training mode."""
    model.train()
    if side in ("fastdl", "nofuse"):
        from fastdl.nn.functional.normalization import set_norm_act_fusion
        xt = fastdl.from_numpy(x).requires_grad_(kind == "fwdbwd")
        gt = fastdl.from_numpy(g)
        on = side == "fastdl"

        def run():
            prev = set_norm_act_fusion(on, on)
            y = model(xt)
            if kind == "fwdbwd":
                y.backward(gt)
                xt.grad = None
            set_norm_act_fusion(*prev)
        return run
    xt = torch.from_numpy(x)
    gt = torch.from_numpy(g)
    if side == "torch_cl":
        model = model.to(memory_format=torch.channels_last)
        xt = xt.contiguous(memory_format=torch.channels_last)
        gt = gt.contiguous(memory_format=torch.channels_last)
    xt.requires_grad_(kind == "fwdbwd")

    def run():
        y = model(xt)
        if kind == "fwdbwd":
            y.backward(gt)
            xt.grad = None
    return run


_CLOCK = [time.perf_counter]


def run_case(name, threads, rounds):
    kind, shape, build = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    fm, tm = build()
    fastdl.set_num_threads(threads)
    sides = {"fastdl": _runner("fastdl", fm, x, g, kind),
             "nofuse": _runner("nofuse", fm, x, g, kind)}
    if HAVE_TORCH:
        import copy
        torch.set_num_threads(threads)
        sides["torch"] = _runner("torch", tm, x, g, kind)
        sides["torch_cl"] = _runner("torch_cl", copy.deepcopy(tm), x, g, kind)
    for fn in sides.values():  # warm-up (allocator, packing, first-call paths)
        fn()
        fn()
    best = {s: float("inf") for s in sides}
    reps = 3 if np.prod(shape) > 4_000_000 else 5
    for _ in range(rounds):
        for s, fn in sides.items():
            best[s] = min(best[s], min_time(fn, reps, _CLOCK[0]))
    return best


def main(argv):
    rounds = 7
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    if "--cpu-time" in argv:  # 1 thread: the process's CPU time, immune to preemption
        argv = [a for a in argv if a != "--cpu-time"]
        _CLOCK[0] = time.process_time
    threads = [int(a) for a in argv if a.isdigit()] or [1, 2]
    pats = [a for a in argv if not a.isdigit()]
    names = [n for n in CASES if not pats or any(p in n for p in pats)]
    print(f"fastdl {fastdl.__version__}, ISA {fastdl.get_isa()}, "
          f"torch {torch.__version__ if HAVE_TORCH else '-'}; min of {rounds} rounds, ms")
    print(f"{'case':40s} {'thr':>3s} {'fastdl':>8s} {'nofuse':>8s} {'torch':>8s} "
          f"{'torch_cl':>8s} {'t/f':>6s} {'best/f':>6s} {'nof/f':>6s}")
    for t in threads:
        for n in names:
            b = run_case(n, t, rounds)
            f, u = b["fastdl"] * 1e3, b["nofuse"] * 1e3
            if HAVE_TORCH:
                tn, tc = b["torch"] * 1e3, b["torch_cl"] * 1e3
                print(f"{n:40s} {t:3d} {f:8.3f} {u:8.3f} {tn:8.3f} {tc:8.3f} {tn / f:6.2f} "
                      f"{min(tn, tc) / f:6.2f} {u / f:6.2f}", flush=True)
            else:
                print(f"{n:40s} {t:3d} {f:8.3f} {u:8.3f} {'':8s} {'':8s} {'':6s} {'':6s} "
                      f"{u / f:6.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
