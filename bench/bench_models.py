"""Standard CNNs end to end, fastdl vs PyTorch with the same weights, and every distinct conv
layer shape of those models on its own.

* ResNet-18, CIFAR variant (3×3 stem, no max-pool, 32×32 input, 10 classes):
  a train step at batch 32 (forward, cross-entropy, backward, SGD with momentum 0.9) and
  inference (``eval()``, no grad) at batch 32 and batch 1, also with conv + batch norm folded
  (``fastdl.optimize_for_inference`` against ``torch.fx.experimental.optimization.fuse``).
* Per conv layer (each distinct shape of the model at its batch): forward, and forward +
  backward (gradients of input, weight and bias), fastdl vs torch, with the algorithm fastdl
  chose for the shape (``fastdl.nn.functional.conv.conv2d_algorithm``).

The fastdl model is built from ``fastdl.nn``; the torch model is the same code on ``torch.nn``
and gets fastdl's weights through its state dict, so both sides compute the same function
(the first losses agree; ``test_same_loss`` checks it).

Two ways to run it:

* ``flock /tmp/fastdl-bench.lock python -m pytest bench/bench_models.py --benchmark-only
  -p no:randomly`` — pytest-benchmark groups (one per work item and thread count);
* ``python bench/bench_models.py [threads...] [--layers-only|--models-only] [--rounds R]`` —
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

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import HAVE_TORCH, blas_threads, settle  # noqa: E402


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


# name: (builder, input shape without batch, train batch, inference batches)
MODELS = {
    "resnet18_cifar": (resnet18_cifar, (3, 32, 32), 32, (32, 1)),
}


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


def train_step_fn(side, model, x, y, lr=0.01):
    """A no-argument callable doing one SGD-momentum train step on `side`; returns the loss."""
    if side == "fastdl":
        xt, yt = fastdl.from_numpy(x), fastdl.from_numpy(y)
        crit = fastdl.nn.CrossEntropyLoss()
        opt = fastdl.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        import torch
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
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
    if side == "fastdl":
        xt = fastdl.from_numpy(x)

        def run():
            with fastdl.no_grad():
                return model(xt)
        return run
    import torch
    xt = torch.from_numpy(x)

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
    input, weight and bias ('fwdbwd') on `side`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"])).astype(np.float32)
    w = (rng.standard_normal((s["K"], s["C"] // s["groups"], s["R"], s["R"])) * 0.05
         ).astype(np.float32)
    b = rng.standard_normal(s["K"]).astype(np.float32)
    kw = dict(stride=s["stride"], padding=s["padding"], groups=s["groups"])
    if side == "fastdl":
        F = fastdl.nn.functional
        if mode == "fwd":
            xt, wt, bt = (fastdl.from_numpy(a) for a in (x, w, b))
            return lambda: F.conv2d(xt, wt, bt, **kw)
        xt, wt, bt = (fastdl.tensor(a, requires_grad=True) for a in (x, w, b))
        gy = np.ones(F.conv2d(xt.detach(), wt.detach(), None, **kw).shape, np.float32)
        gt = fastdl.from_numpy(gy)

        def run():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, **kw).backward(gt)
        return run
    import torch
    tF = torch.nn.functional
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    if mode == "fwd":
        def run():
            with torch.no_grad():
                return tF.conv2d(xt, wt, bt, **kw)
        return run
    for t in (xt, wt, bt):
        t.requires_grad_(True)
    gt = torch.ones_like(tF.conv2d(xt.detach(), wt.detach(), None, **kw))

    def run():
        xt.grad = wt.grad = bt.grad = None
        tF.conv2d(xt, wt, bt, **kw).backward(gt)
    return run


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
SIDES = ["fastdl"] + (["torch"] if HAVE_TORCH else [])


def _side_model(side, name):
    fm, tm = build_pair(name)
    if side == "torch":
        if tm is None:
            pytest.skip("PyTorch not installed")
        return tm
    return fm


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("name", list(MODELS))
def test_train_step(benchmark, nthreads, name, side):
    n = MODELS[name][2]
    benchmark.group = f"{name} train step batch {n} t{nthreads}"
    step = train_step_fn(side, _side_model(side, name), *batch(name, n))
    for _ in range(2):
        step()
    settle()
    benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    if benchmark.stats is not None:
        benchmark.extra_info["ms"] = round(benchmark.stats.stats.min * 1e3, 2)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("bs", [32, 1], ids=lambda b: f"b{b}")
@pytest.mark.parametrize("name", list(MODELS))
def test_inference(benchmark, nthreads, name, bs, side):
    benchmark.group = f"{name} inference batch {bs} t{nthreads}"
    run = infer_fn(side, _side_model(side, name), batch(name, bs)[0])
    run()
    settle()
    benchmark.pedantic(run, rounds=10 if bs > 1 else 50, warmup_rounds=1)


LAYER_CASES = [(name, i) for name in MODELS for i in range(len(conv_shapes(name, 1)))]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("mode", ["fwd", "fwdbwd"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_conv_layer(benchmark, nthreads, case, mode, side):
    name, i = case
    s = conv_shapes(name, MODELS[name][2])[i]
    if side == "torch" and not HAVE_TORCH:
        pytest.skip("PyTorch not installed")
    benchmark.group = f"{name} conv {layer_label(s)} {mode} t{nthreads}"
    fn = layer_fn(side, s, mode)
    fn()
    settle()
    benchmark.pedantic(fn, rounds=10, warmup_rounds=1)
    if benchmark.stats is not None:
        fl = layer_flops(s) * (3 if mode == "fwdbwd" else 1)
        benchmark.extra_info.update(gflops=fl / benchmark.stats.stats.min / 1e9,
                                    algorithm=algorithm_of(s) if side == "fastdl" else "")


def test_same_loss():
    """Both sides compute the same function: equal first losses (4 decimals) and logits."""
    torch = pytest.importorskip("torch")
    name = "resnet18_cifar"
    fm, tm = build_pair(name)
    x, y = batch(name, 4)
    lf = train_step_fn("fastdl", fm, x, y)()
    lt = train_step_fn("torch", tm, x, y)()
    assert abs(lf - lt) < 1e-4 * max(1.0, abs(lt)), (lf, lt)
    fm.eval()
    tm.eval()
    with fastdl.no_grad(), torch.no_grad():
        a = fm(fastdl.from_numpy(x)).numpy()
        b = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


# ---- interleaved table ---------------------------------------------------------------------
CLOCK = time.perf_counter


def _min_time(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t = CLOCK()
        fn()
        best = min(best, CLOCK() - t)
    return best


def interleaved(fns, rounds, reps):
    """{side: minimum seconds} over `rounds` rounds alternating the sides (each round the
    minimum of `reps` calls, after one warm-up call per side)."""
    for f in fns.values():
        f()
    best = {s: float("inf") for s in fns}
    for _ in range(rounds):
        for s, f in fns.items():
            best[s] = min(best[s], _min_time(f, reps))
            settle(0.02)
    return best


def _fmt_row(label, res, extra=""):
    f = res.get("fastdl")
    t = res.get("torch")
    ratio = f"{t / f:6.2f}×" if (f and t) else "     -"
    ts = f"{t * 1e3:9.2f}" if t else "        -"
    return f"| {label:28s} | {ts} | {f * 1e3:9.2f} | {ratio} | {extra}"


def table(threads=(2,), rounds=5, models=True, layers=True, names=None):
    names = names or list(MODELS)
    for t in threads:
        fastdl.set_num_threads(t)
        if HAVE_TORCH:
            import torch
            torch.set_num_threads(t)
        clock = "CPU time" if CLOCK is time.process_time else "wall clock"
        print(f"\n{t} thread(s), ISA {_C.get_isa()}, {clock}, minimum of {rounds} interleaved rounds "
              f"(ms; ratio = torch ÷ fastdl, > 1 means fastdl is faster)")
        with blas_threads(t):
            for name in names:
                if models:
                    fm, tm = build_pair(name)
                    ntrain, ninfer = MODELS[name][2], MODELS[name][3]
                    print(f"\n{name}\n| {'work':28s} | {'torch':>9s} | {'fastdl':>9s} | "
                          f"ratio   |\n|---|---|---|---|")
                    x, y = batch(name, ntrain)
                    fns = {"fastdl": train_step_fn("fastdl", fm, x, y)}
                    if tm is not None:
                        fns["torch"] = train_step_fn("torch", tm, x, y)
                    res = interleaved(fns, rounds, 2)
                    print(_fmt_row(f"train step batch {ntrain}", res), flush=True)
                    for bs in ninfer:
                        xb = batch(name, bs)[0]
                        fns = {"fastdl": infer_fn("fastdl", fm, xb)}
                        if tm is not None:
                            fns["torch"] = infer_fn("torch", tm, xb)
                        res = interleaved(fns, rounds, 3 if bs > 1 else 20)
                        print(_fmt_row(f"inference batch {bs}", res), flush=True)
                    if hasattr(fastdl, "optimize_for_inference"):
                        # conv + batch norm (+ ReLU) folded on both sides
                        fused = fastdl.optimize_for_inference(
                            fm, (fastdl.from_numpy(batch(name, 1)[0]),))
                        tfused = None
                        if tm is not None:
                            from torch.fx.experimental.optimization import fuse
                            tfused = fuse(tm.eval())
                        for bs in ninfer:
                            xb = batch(name, bs)[0]
                            fns = {"fastdl": infer_fn("fastdl", fused, xb)}
                            if tfused is not None:
                                fns["torch"] = infer_fn("torch", tfused, xb)
                            res = interleaved(fns, rounds, 3 if bs > 1 else 20)
                            print(_fmt_row(f"inference batch {bs}, conv+bn fused", res),
                                  flush=True)
                if layers:
                    n = MODELS[name][2]
                    print(f"\n{name} conv layers, batch {n}\n| {'layer / mode':28s} | "
                          f"{'torch':>9s} | {'fastdl':>9s} | ratio   | algorithm\n"
                          f"|---|---|---|---|---|")
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
    table(threads, rounds=rounds, models="--layers-only" not in args,
          layers="--models-only" not in args)
