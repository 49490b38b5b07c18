"""Standard CNNs end to end, fastdl vs PyTorch with the same weights, and every distinct conv
layer shape of those models on its own.

* ResNet-18, CIFAR variant (3×3 stem, no max-pool, 32×32 input, 10 classes):
  a train step at batch 32 (forward, cross-entropy, backward, SGD with momentum 0.9) and
  inference (``eval()``, no grad) at batch 32 and batch 1, also with conv + batch norm folded
  (``fastdl.optimize_for_inference`` against ``torch.fx.experimental.optimization.fuse``);
* ResNet-50 at 224² (train step batch 8, inference batch 1), MobileNetV2 at 224² (train step
  batch 16, inference batch 1; 3×3 depthwise convolutions at stride 1 and 2), VGG-11 with
  batch norm at 32² (train step batch 32);
* torch runs each model twice: NCHW, and with model and input in channels_last (its faster
  format on CPU for many shapes); the ratio is against torch's better of the two. fastdl
  runs both too (column ``fastdl CL``: model and input in channels_last; the ratio stays
  against fastdl NCHW); a side that cannot run an item is skipped with a note.
* Per conv layer (each distinct shape of the model at its batch): forward, and forward +
  backward (gradients of input, weight and bias), fastdl vs torch, with the algorithm fastdl
  chose for the shape (``fastdl.nn.functional.conv.conv2d_algorithm``).

The fastdl model is built from ``fastdl.nn``; the torch model is the same code on ``torch.nn``
and gets fastdl's weights through its state dict, so both sides compute the same function
(the first losses agree; ``test_same_loss`` checks it).

Two ways to run it:

* ``flock /tmp/fastdl-bench.lock python -m pytest bench/bench_models.py --benchmark-only
  -p no:randomly`` — pytest-benchmark groups (one per work item and thread count);
* ``python bench/bench_models.py [threads...] [model names...] [--layers-only|--models-only]
  [--rounds R]`` —
  the interleaved table: per item, R rounds alternating torch and fastdl, each round the
  minimum of a few repetitions, the table the minimum over rounds and the torch ÷ fastdl ratio
  (> 1: fastdl is faster). This is the table the README's performance section reports.
  ``--cpu-time`` (with 1 thread only) times with the process's CPU time instead of the wall
  clock: on a machine shared with other jobs a preempted run then costs nothing extra.

PyTorch is optional: without it the torch cases are skipped and the table shows fastdl only.
"""
import statistics  # noqa: F401  (kept for interactive use)
import sys
import time

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.bench import conv_runner, min_time, set_threads

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import FULL, HAVE_TORCH, SMOKE, blas_threads, settle  # noqa: E402


# ---- models, written once against an nn namespace (fastdl.nn or torch.nn) -----------------
def resnet18_cifar(nn, num_classes=10):
    """ResNet-18 for 32×32 inputs (He et al. 2016, the CIFAR variant: 3×3 stem, stride 1,
    no max-pool), built from ``nn`` (``fastdl.nn`` or ``torch.nn``)."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))
            else:
                self.shortcut = nn.Sequential()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers.append(nn.Sequential(BasicBlock(cin, cout, stride),
                                            BasicBlock(cout, cout, 1)))
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.flatten(self.avgpool(x)))

    return ResNet18()


def resnet50(nn, num_classes=1000):
    """ResNet-50 for 224×224 inputs (He et al. 2016; torchvision's v1.5 layout: the stride of
    a downsampling bottleneck sits on its 3×3 conv), built from ``nn``."""

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = 4 * width
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))
            else:
                self.downsample = nn.Sequential()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + self.downsample(x))

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            layers, cin = [], 64
            for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                seq = [Bottleneck(cin, width, stride)]
                cin = 4 * width
                seq += [Bottleneck(cin, width, 1) for _ in range(blocks - 1)]
                layers.append(nn.Sequential(*seq))
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(2048, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.flatten(self.avgpool(x)))

    return ResNet50()


def mobilenet_v2(nn, num_classes=1000):
    """MobileNetV2 for 224×224 inputs (Sandler et al. 2018, width 1.0, torchvision's layout):
    inverted residual blocks of 1×1 expansion, 3×3 depthwise (stride 1 or 2) and 1×1
    projection, batch norm and ReLU6, built from ``nn``."""

    def cbr(cin, cout, k, stride=1, groups=1):
        return [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU6()]

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = cbr(cin, hidden, 1) if expand != 1 else []
            layers += cbr(hidden, hidden, 3, stride, groups=hidden)
            layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            feats, cin = cbr(3, 32, 3, 2), 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            feats += cbr(cin, 1280, 1)
            self.features = nn.Sequential(*feats)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

        def forward(self, x):
            return self.classifier(self.flatten(self.avgpool(self.features(x))))

    return MobileNetV2()


def vgg11_cifar(nn, num_classes=10):
    """VGG-11 with batch norm for 32×32 inputs (Simonyan & Zisserman 2015, configuration A;
    the CIFAR variant: one 512→classes linear layer after the last pooling), built from
    ``nn``."""

    class VGG11(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [], 3
            for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(cin, v, 3, 1, 1), nn.BatchNorm2d(v), nn.ReLU()]
                    cin = v
            self.features = nn.Sequential(*layers)
            self.flatten = nn.Flatten()
            self.classifier = nn.Linear(512, num_classes)

        def forward(self, x):
            return self.classifier(self.flatten(self.features(x)))

    return VGG11()


# name: (builder, input shape without batch, train batch, inference batches); under
# FASTDL_BENCH_SMOKE=1 every model runs at 32×32 with batch 2 (train) and 1 (inference), so
# CI keeps the code working in seconds (nothing is timed meaningfully then).
MODELS = {
    "resnet18_cifar": (resnet18_cifar, (3, 32, 32), 32, (32, 1)),
    "resnet50": (resnet50, (3, 224, 224), 8, (1,)),
    "mobilenet_v2": (mobilenet_v2, (3, 224, 224), 16, (1,)),
    "vgg11_cifar": (vgg11_cifar, (3, 32, 32), 32, ()),
}
if SMOKE:  # 64×64 for the ImageNet models: train-mode batch norm on 1×1 maps is ill-posed
    MODELS = {k: (v[0], (3, 64, 64) if v[1][1] > 32 else v[1], 2, (1,))
              for k, v in MODELS.items()}


def build_pair(name, seed=0):
    """(fastdl model, torch model or None) with the same weights (fastdl's, through the
    state dict)."""
    builder = MODELS[name][0]
    fastdl.manual_seed(seed)
    fm = builder(fastdl.nn)
    tm = None
    if HAVE_TORCH:
        import torch
        tm = builder(torch.nn)
        sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in fm.state_dict().items()}
        tm.load_state_dict(sd)
    return fm, tm


def batch(name, n, seed=0):
    shape = MODELS[name][1]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + shape).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return x, y


def to_channels_last(tm):
    """A copy of torch model `tm` with its 4-D weights in channels_last (NHWC) storage."""
    import copy

    import torch
    return copy.deepcopy(tm).to(memory_format=torch.channels_last)


def fastdl_channels_last(fm):
    """A copy of fastdl model `fm` with its 4-D weights in channels_last (NHWC) storage."""
    import copy
    return copy.deepcopy(fm).to(memory_format=fastdl.channels_last)


def _fastdl_input(x, side):
    xt = fastdl.from_numpy(x)
    return xt.contiguous(memory_format=fastdl.channels_last) if side == "fastdl_cl" else xt


def _torch_input(x, side):
    import torch
    xt = torch.from_numpy(x)
    return xt.contiguous(memory_format=torch.channels_last) if side == "torch_cl" else xt


def train_step_fn(side, model, x, y, lr=0.01):
    """A no-argument callable doing one SGD-momentum train step on `side` ("fastdl", "torch",
    or "fastdl_cl" / "torch_cl": the model and input in channels_last); returns the loss."""
    if side.startswith("fastdl"):
        xt, yt = _fastdl_input(x, side), fastdl.from_numpy(y)
        crit = fastdl.nn.CrossEntropyLoss()
        opt = fastdl.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        import torch
        xt, yt = _torch_input(x, side), torch.from_numpy(y)
        crit = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()

    def step():
        opt.zero_grad()
        loss = crit(model(xt), yt)
        loss.backward()
        opt.step()
        return float(loss.item())
    return step


def infer_fn(side, model, x):
    model.eval()
    if side.startswith("fastdl"):
        xt = _fastdl_input(x, side)

        def run():
            with fastdl.no_grad():
                return model(xt)
        return run
    import torch
    xt = _torch_input(x, side)

    def run():
        with torch.no_grad():
            return model(xt)
    return run


# ---- the distinct conv layer shapes of a model ---------------------------------------------
def conv_shapes(name, n):
    """Distinct conv layers of model `name` at batch `n`: a list of dicts with N, C, H, W, K,
    R, stride, padding, groups (in the order the forward pass meets them)."""
    fm = MODELS[name][0](fastdl.nn)
    seen, out = set(), []

    def traced(mod):
        inner = mod.forward

        def forward(x):
            key = (n, x.shape[1], x.shape[2], x.shape[3], mod.out_channels,
                   mod.kernel_size[0], mod.stride[0], mod.padding[0], mod.groups)
            if key not in seen:
                seen.add(key)
                out.append(dict(zip(("N", "C", "H", "W", "K", "R", "stride", "padding",
                                     "groups"), key)))
            return inner(x)
        object.__setattr__(mod, "forward", forward)  # this throw-away model only

    for m in fm.modules():
        if isinstance(m, fastdl.nn.Conv2d):
            traced(m)
    fm.eval()
    with fastdl.no_grad():
        fm(fastdl.from_numpy(batch(name, 1)[0]))
    return out


def layer_label(s):
    lab = f"{s['C']}→{s['K']} {s['H']}² {s['R']}×{s['R']}"
    if s["stride"] != 1:
        lab += f" s{s['stride']}"
    if s["groups"] != 1:
        lab += f" g{s['groups']}"
    return lab


def layer_flops(s):
    oh = (s["H"] + 2 * s["padding"] - s["R"]) // s["stride"] + 1
    return 2.0 * s["N"] * s["K"] * oh * oh * s["C"] // s["groups"] * s["R"] * s["R"]


def layer_fn(side, s, mode, seed=0):
    """A no-argument callable: the conv layer `s` forward ('fwd') or forward + backward of
    input, weight and bias ('fwdbwd') on `side` (``fastdl.bench.conv_runner``)."""
    return conv_runner(side, s, mode, seed=seed)


def algorithm_of(s):
    """fastdl's algorithm for layer `s` (forward, input gradient, weight gradient)."""
    from fastdl.nn.functional import conv as fconv
    if not hasattr(fconv, "conv2d_algorithm"):
        return "-"
    a = fconv.conv2d_algorithm((s["N"], s["C"], s["H"], s["W"]),
                               (s["K"], s["C"] // s["groups"], s["R"], s["R"]),
                               stride=s["stride"], padding=s["padding"], groups=s["groups"])
    return "/".join(dict.fromkeys(a)) if len(set(a)) > 1 else a[0]


# ---- pytest-benchmark suite ----------------------------------------------------------------
SIDES = ["fastdl"] + (["torch", "torch_cl"] if HAVE_TORCH else [])


def _side_model(side, name):
    fm, tm = build_pair(name)
    if side != "fastdl":
        if tm is None:
            pytest.skip("PyTorch not installed")
        return to_channels_last(tm) if side == "torch_cl" else tm
    return fm


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", list(MODELS))
def test_train_step(benchmark, nthreads, name, side):
    n = MODELS[name][2]
    benchmark.group = f"{name} train step batch {n} t{nthreads}"
    step = train_step_fn(side, _side_model(side, name), *batch(name, n))
    step()
    settle()
    benchmark.pedantic(step, rounds=5 if FULL else 3, warmup_rounds=1)
    if benchmark.stats is not None:
        benchmark.extra_info["ms"] = round(benchmark.stats.stats.min * 1e3, 2)


INFER_CASES = [(name, bs) for name in MODELS for bs in MODELS[name][3]]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("case", INFER_CASES, ids=lambda c: f"{c[0]}-b{c[1]}")
def test_inference(benchmark, nthreads, case, side):
    name, bs = case
    benchmark.group = f"{name} inference batch {bs} t{nthreads}"
    run = infer_fn(side, _side_model(side, name), batch(name, bs)[0])
    run()
    settle()
    benchmark.pedantic(run, rounds=10 if bs > 1 else 50, warmup_rounds=1)


# (under FASTDL_BENCH_SMOKE=1 the first two shapes of each model only; the layers run at one
# thread unless FASTDL_BENCH_FULL=1, and against torch in NCHW: the 2-thread and channels_last
# comparisons are the whole models')
ONE_THREAD_TESTS = ("test_conv_layer",)
LAYER_SIDES = ["fastdl"] + (["torch"] if HAVE_TORCH else [])
LAYER_CASES = [(name, i) for name in MODELS
               for i in range(min(2, len(conv_shapes(name, 1))) if SMOKE else
                              len(conv_shapes(name, 1)))]


@pytest.mark.parametrize("side", LAYER_SIDES)
@pytest.mark.parametrize("mode", ["fwd", "fwdbwd"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_conv_layer(benchmark, nthreads, case, mode, side):
    name, i = case
    s = conv_shapes(name, MODELS[name][2])[i]
    benchmark.group = f"{name} conv {layer_label(s)} {mode} t{nthreads}"
    fn = layer_fn(side, s, mode)
    fn()
    settle()
    benchmark.pedantic(fn, rounds=10, warmup_rounds=1)
    if benchmark.stats is not None:
        fl = layer_flops(s) * (3 if mode == "fwdbwd" else 1)
        benchmark.extra_info.update(gflops=fl / benchmark.stats.stats.min / 1e9,
                                    algorithm=algorithm_of(s) if side == "fastdl" else "")


@pytest.mark.parametrize("name", list(MODELS))
def test_same_loss(name):
    """Both sides compute the same function: equal logits in eval mode (torch also in
    channels_last), then equal first train-step losses (4 decimals; models without dropout,
    whose masks differ between the libraries). Compared before any update: one SGD step on
    a small batch through train-mode batch norm on 2×2 maps moves float32 weights by several
    percent from the float64 result on either library, so later outputs are not comparable."""
    torch = pytest.importorskip("torch")
    fm, tm = build_pair(name)
    x, y = batch(name, 4)
    tcl = to_channels_last(tm)
    for m in (fm, tm, tcl):
        m.eval()
    with fastdl.no_grad(), torch.no_grad():
        a = fm(fastdl.from_numpy(x)).numpy()
        b = tm(torch.from_numpy(x)).numpy()
        c = tcl(_torch_input(x, "torch_cl")).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-3)
    if not any(type(m).__name__ == "Dropout" for m in tm.modules()):
        lf = train_step_fn("fastdl", fm, x, y)()
        lt = train_step_fn("torch", tm, x, y)()
        assert abs(lf - lt) < 1e-4 * max(1.0, abs(lt)), (lf, lt)


# ---- interleaved table ---------------------------------------------------------------------
CLOCK = time.perf_counter


def interleaved(fns, rounds, reps):
    """{side: minimum seconds} over `rounds` rounds alternating the sides (each round the
    minimum of `reps` calls, after one warm-up call per side)."""
    for s, f in list(fns.items()):
        try:
            f()
        except (ValueError, RuntimeError) as e:  # a side that cannot run this item
            if s != "fastdl_cl":
                raise
            print(f"  (fastdl CL skipped: {str(e)[:100]})")
            del fns[s]
    best = {s: float("inf") for s in fns}
    for _ in range(rounds):
        for s, f in fns.items():
            best[s] = min(best[s], min_time(f, reps, CLOCK))
            settle(0.02)
    return best


def _fmt_row(label, res, extra=""):
    """A table row: torch NCHW, torch channels_last, fastdl, fastdl channels_last (ms) and the
    ratio of torch's best format to fastdl (NCHW)."""
    f = res.get("fastdl")
    tb = [res[s] for s in ("torch", "torch_cl") if res.get(s)]
    t = min(tb) if tb else None
    ratio = f"{t / f:6.2f}×" if (f and t) else "     -"

    def ms(v):
        return f"{v * 1e3:9.2f}" if v else "        -"
    return (f"| {label:32s} | {ms(res.get('torch'))} | {ms(res.get('torch_cl'))} | {ms(f)} | "
            f"{ms(res.get('fastdl_cl'))} | {ratio} | {extra}")


def _model_fns(make, fm, tm, tcl, *args):
    fns = {"fastdl": make("fastdl", fm, *args),
           "fastdl_cl": make("fastdl_cl", fastdl_channels_last(fm), *args)}
    if tm is not None:
        fns["torch"] = make("torch", tm, *args)
        fns["torch_cl"] = make("torch_cl", tcl, *args)
    return fns


def table(threads=(2,), rounds=5, models=True, layers=True, names=None):
    names = names or list(MODELS)
    head = (f"| {{:32s}} | {'torch':>9s} | {'torch CL':>9s} | {'fastdl':>9s} | "
            f"{'fastdl CL':>9s} | ratio   |{{}}\n|---|---|---|---|---|---|{{}}")
    for t in threads:
        set_threads(t)
        clock = "CPU time" if CLOCK is time.process_time else "wall clock"
        print(f"\n{t} thread(s), ISA {_C.get_isa()}, {clock}, minimum of {rounds} interleaved "
              f"rounds (ms; torch CL / fastdl CL = model and input in channels_last; ratio = "
              f"torch's better format ÷ fastdl, > 1 means fastdl is faster)")
        with blas_threads(t):
            for name in names:
                if models:
                    fm, tm = build_pair(name)
                    tcl = to_channels_last(tm) if tm is not None else None
                    ntrain, ninfer = MODELS[name][2], MODELS[name][3]
                    print(f"\n{name}\n" + head.format("work", "", ""))
                    x, y = batch(name, ntrain)
                    res = interleaved(_model_fns(train_step_fn, fm, tm, tcl, x, y), rounds, 2)
                    print(_fmt_row(f"train step batch {ntrain}", res), flush=True)
                    for bs in ninfer:
                        xb = batch(name, bs)[0]
                        res = interleaved(_model_fns(infer_fn, fm, tm, tcl, xb), rounds,
                                          3 if bs > 1 else 20)
                        print(_fmt_row(f"inference batch {bs}", res), flush=True)
                    if ninfer and hasattr(fastdl, "optimize_for_inference"):
                        # conv + batch norm (+ ReLU) folded on both sides
                        fused = fastdl.optimize_for_inference(
                            fm, (fastdl.from_numpy(batch(name, 1)[0]),))
                        tfused = tfcl = None
                        if tm is not None:
                            from torch.fx.experimental.optimization import fuse
                            tfused = fuse(tm.eval())
                            tfcl = to_channels_last(tfused)
                        for bs in ninfer:
                            xb = batch(name, bs)[0]
                            res = interleaved(_model_fns(infer_fn, fused, tfused, tfcl, xb),
                                              rounds, 3 if bs > 1 else 20)
                            print(_fmt_row(f"inference batch {bs}, conv+bn fused", res),
                                  flush=True)
                if layers:
                    n = MODELS[name][2]
                    print(f"\n{name} conv layers, batch {n}\n" +
                          head.format("layer / mode", " algorithm", "---|"))
                    for s in conv_shapes(name, n):
                        for mode in ("fwd", "fwdbwd"):
                            fns = {"fastdl": layer_fn("fastdl", s, mode)}
                            if HAVE_TORCH:
                                fns["torch"] = layer_fn("torch", s, mode)
                            res = interleaved(fns, rounds, 3)
                            print(_fmt_row(f"{layer_label(s)} {mode}", res,
                                           algorithm_of(s)), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    threads = tuple(int(a) for a in args if a.isdigit()) or (2,)
    rounds = 5
    if "--rounds" in args:
        rounds = int(args[args.index("--rounds") + 1])
        threads = tuple(int(a) for i, a in enumerate(args) if a.isdigit() and
                        args[i - 1] != "--rounds") or (2,)
    if "--cpu-time" in args:
        if threads != (1,):
            sys.exit("--cpu-time measures one thread only: pass 1 as the thread count")
        CLOCK = time.process_time
    names = [a for a in args if a in MODELS] or None
    table(threads, rounds=rounds, models="--layers-only" not in args,
          layers="--models-only" not in args, names=names)
