"""Activations, softmax/log_softmax and dropout: fastdl vs the NumPy reference vs PyTorch.

16M float32 elements for the elementwise ops, (4096, 1000) for softmax / log_softmax, each
timed three ways: ``fwd`` the allocating call users write (``F.relu(x)``, a new output every
call, ``torch.relu(x)`` likewise), ``inplace`` (``F.relu(x, inplace=True)`` / ``torch.relu_``)
and ``bwd`` (the backward kernel alone, allocating: ``_C.eltwise_backward`` /
``torch.ops.aten.<op>_backward`` / the reference gradient formula). GB/s counts one read of
each operand and one write of the result (fwd 8 B/element, bwd 12 B/element); compare with
``bench_bandwidth.py``'s copy. Same thread count on every side (``nthreads``). The NumPy
reference computes in float64 (it is the plain reference of the tests, not a tuned NumPy).

Run: ``pytest bench/bench_eltwise.py``
"""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.testing.reference import eltwise as R

from fastdl.bench import HAVE_TORCH, blas_threads, record, rounds, settle, smoke

if HAVE_TORCH:
    import torch
    import torch.nn.functional as TF

N = smoke(16 * 1024 * 1024, 4096)
SOFTMAX_SHAPE = smoke((4096, 1000), (16, 10))

# name -> (fastdl fwd(t, inplace), code, params, from_output, reference name, ref params,
#          torch fwd(x), torch inplace (or None), torch bwd(g, x, y), cheap?)
OPS = {
    "relu": (lambda t, ip: F.relu(t, ip), "relu", (), True, "relu", (),
             lambda x: torch.relu(x), lambda x: torch.relu_(x),
             lambda g, x, y: torch.ops.aten.threshold_backward(g, y, 0), True),
    "leaky_relu": (lambda t, ip: F.leaky_relu(t, 0.01, ip), "leaky_relu", (0.01,), True,
                   "leaky_relu", (0.01,), lambda x: TF.leaky_relu(x, 0.01),
                   lambda x: TF.leaky_relu_(x, 0.01),
                   lambda g, x, y: torch.ops.aten.leaky_relu_backward(g, x, 0.01, False), True),
    "hardtanh": (lambda t, ip: F.hardtanh(t, -1.0, 1.0, ip), "hardtanh", (-1.0, 1.0), True,
                 "hardtanh", (), lambda x: TF.hardtanh(x), lambda x: TF.hardtanh_(x),
                 lambda g, x, y: torch.ops.aten.hardtanh_backward(g, x, -1.0, 1.0), True),
    "relu6": (lambda t, ip: F.relu6(t, ip), "hardtanh", (0.0, 6.0), True, "relu6", (),
              lambda x: TF.relu6(x), lambda x: TF.relu6(x, inplace=True),
              lambda g, x, y: torch.ops.aten.hardtanh_backward(g, x, 0.0, 6.0), True),
    "hardsigmoid": (lambda t, ip: F.hardsigmoid(t, ip), "hardsigmoid", (), False,
                    "hardsigmoid", (), lambda x: TF.hardsigmoid(x),
                    lambda x: TF.hardsigmoid(x, inplace=True),
                    lambda g, x, y: torch.ops.aten.hardsigmoid_backward(g, x), True),
    "hardswish": (lambda t, ip: F.hardswish(t, ip), "hardswish", (), False, "hardswish", (),
                  lambda x: TF.hardswish(x), lambda x: TF.hardswish(x, inplace=True),
                  lambda g, x, y: torch.ops.aten.hardswish_backward(g, x), True),
    "softsign": (lambda t, ip: F.softsign(t), "softsign", (), False, "softsign", (),
                 lambda x: TF.softsign(x), None, None, True),
    # the ELU family's gradient is computed from the input (F.elu's backward; from the output
    # it loses all precision for x << 0): fastdl's and torch's backward both take x
    "elu": (lambda t, ip: F.elu(t, 1.0, ip), "elu", (1.0, 1.0, 1.0), False, "elu", (),
            lambda x: TF.elu(x), lambda x: TF.elu_(x),
            lambda g, x, y: torch.ops.aten.elu_backward(g, 1.0, 1.0, 1.0, False, x), False),
    "selu": (lambda t, ip: F.selu(t, ip), "elu", (R.SELU_ALPHA, R.SELU_SCALE, 1.0), False,
             "selu", (), lambda x: TF.selu(x), lambda x: torch.selu_(x),
             lambda g, x, y: torch.ops.aten.elu_backward(g, R.SELU_ALPHA, R.SELU_SCALE, 1.0,
                                                          False, x), False),
    "celu": (lambda t, ip: F.celu(t, 2.0, ip), "elu", (2.0, 1.0, 0.5), False, "celu", (2.0,),
             lambda x: TF.celu(x, 2.0), lambda x: TF.celu_(x, 2.0),
             lambda g, x, y: torch.ops.aten.elu_backward(g, 2.0, 1.0, 0.5, False, x), False),
    "gelu": (lambda t, ip: F.gelu(t), "gelu", (), False, "gelu", (), lambda x: TF.gelu(x), None,
             lambda g, x, y: torch.ops.aten.gelu_backward(g, x), False),
    "gelu_tanh": (lambda t, ip: F.gelu(t, approximate="tanh"), "gelu_tanh", (), False,
                  "gelu_tanh", (), lambda x: TF.gelu(x, approximate="tanh"), None,
                  lambda g, x, y: torch.ops.aten.gelu_backward(g, x, approximate="tanh"), False),
    "silu": (lambda t, ip: F.silu(t, ip), "silu", (), False, "silu", (), lambda x: TF.silu(x),
             lambda x: TF.silu(x, inplace=True),
             lambda g, x, y: torch.ops.aten.silu_backward(g, x), False),
    "mish": (lambda t, ip: F.mish(t, ip), "mish", (), False, "mish", (), lambda x: TF.mish(x),
             lambda x: TF.mish(x, inplace=True),
             lambda g, x, y: torch.ops.aten.mish_backward(g, x), False),
    "sigmoid": (lambda t, ip: F.sigmoid(t), "sigmoid", (), True, "sigmoid", (),
                lambda x: torch.sigmoid(x), lambda x: torch.sigmoid_(x),
                lambda g, x, y: torch.ops.aten.sigmoid_backward(g, y), False),
    "tanh": (lambda t, ip: F.tanh(t), "tanh", (), True, "tanh", (), lambda x: torch.tanh(x),
             lambda x: torch.tanh_(x), lambda g, x, y: torch.ops.aten.tanh_backward(g, y), False),
    "softplus": (lambda t, ip: F.softplus(t), "softplus", (1.0, 20.0), False, "softplus", (),
                 lambda x: TF.softplus(x), None,
                 lambda g, x, y: torch.ops.aten.softplus_backward(g, x, 1.0, 20.0), False),
    "logsigmoid": (lambda t, ip: F.logsigmoid(t), "logsigmoid", (), False, "logsigmoid", (),
                   lambda x: TF.logsigmoid(x), None, None, False),
}
CHEAP = [k for k, v in OPS.items() if v[-1]]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(N) * 3).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    return x, g


def _record(benchmark, nbytes, side, op, mode, nthreads, shape=(N,)):
    settle(0.3 if side != "fastdl" else 0.05)  # let BLAS / torch worker threads sleep
    record(benchmark, nbytes=nbytes, side=side, op=f"{op} {mode}", shape=shape, mode=mode)


SIDES = ["fastdl", "numpy", "torch"]


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("op", list(OPS))
def test_act_fwd(benchmark, nthreads, data, op, side):
    fwd, code, prm, fo, rname, rprm, tfwd, tinp, tbwd, _ = OPS[op]
    x, _ = data
    benchmark.group = f"{op} fwd {N} t{nthreads}"
    if side == "fastdl":
        t = fastdl.tensor(x)
        fn = lambda: fwd(t, False)  # noqa: E731
    elif side == "numpy":
        ref = R.ACTIVATIONS[rname][0]
        fn = lambda: ref(x, *rprm)  # noqa: E731
    else:
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        xt = torch.from_numpy(x)
        fn = lambda: tfwd(xt)  # noqa: E731
    settle()
    benchmark.pedantic(fn, rounds=rounds(3 if side == "numpy" else 15), iterations=1, warmup_rounds=1)
    _record(benchmark, 8 * N, side, op, "fwd", nthreads)


@pytest.mark.parametrize("side", ["fastdl", "torch"])
@pytest.mark.parametrize("op", [k for k, v in OPS.items() if v[7] is not None])
def test_act_inplace(benchmark, nthreads, data, op, side):
    fwd, code, prm, fo, rname, rprm, tfwd, tinp, tbwd, _ = OPS[op]
    x, _ = data
    benchmark.group = f"{op} inplace {N} t{nthreads}"
    # idempotent-ish ops keep the data finite when applied repeatedly
    buf = x.copy()
    if side == "fastdl":
        t = fastdl.tensor(buf)
        fn = lambda: fwd(t, True)  # noqa: E731
    else:
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        xt = torch.from_numpy(buf)
        fn = lambda: tinp(xt)  # noqa: E731
    settle()
    benchmark.pedantic(fn, rounds=rounds(15), iterations=1, warmup_rounds=1)
    _record(benchmark, 8 * N, side, op, "inplace", nthreads)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("op", list(OPS))
def test_act_bwd(benchmark, nthreads, data, op, side):
    fwd, code, prm, fo, rname, rprm, tfwd, tinp, tbwd, _ = OPS[op]
    x, g = data
    benchmark.group = f"{op} bwd {N} t{nthreads}"
    if side == "fastdl":
        s = _C.eltwise_forward(_C.eltwise_acts[code], x, list(prm)) if fo else x
        fn = lambda: _C.eltwise_backward(_C.eltwise_acts[code], fo, s, g, list(prm))  # noqa: E731
    elif side == "numpy":
        ref = R.ACTIVATIONS[rname][1]
        fn = lambda: ref(x, g, *rprm)  # noqa: E731
    else:
        if not HAVE_TORCH or tbwd is None:
            pytest.skip("no torch backward op")
        xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        yt = tfwd(xt)
        fn = lambda: tbwd(gt, xt, yt)  # noqa: E731
    settle()
    benchmark.pedantic(fn, rounds=rounds(3 if side == "numpy" else 15), iterations=1, warmup_rounds=1)
    _record(benchmark, 12 * N, side, op, "bwd", nthreads)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("mode", ["fwd", "bwd"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(benchmark, nthreads, op, mode, side):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(SOFTMAX_SHAPE) * 3).astype(np.float32)
    g = rng.standard_normal(SOFTMAX_SHAPE).astype(np.float32)
    log = op == "log_softmax"
    n = x.size
    benchmark.group = f"{op} {mode} {SOFTMAX_SHAPE[0]}x{SOFTMAX_SHAPE[1]} t{nthreads}"
    if side == "fastdl":
        if mode == "fwd":
            t = fastdl.tensor(x)
            f = F.log_softmax if log else F.softmax
            fn = lambda: f(t, 1)  # noqa: E731
        else:
            y = _C.softmax_forward(x, 1, log)
            fn = lambda: _C.softmax_backward(y, g, 1, log)  # noqa: E731
    elif side == "numpy":
        if mode == "fwd":
            ref = R.log_softmax_ref if log else R.softmax_ref
            fn = lambda: ref(x, 1)  # noqa: E731
        else:
            y = (R.log_softmax_ref if log else R.softmax_ref)(x, 1)
            ref = R.log_softmax_grad_ref if log else R.softmax_grad_ref
            fn = lambda: ref(y, g, 1)  # noqa: E731
    else:
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        if mode == "fwd":
            f = torch.log_softmax if log else torch.softmax
            fn = lambda: f(xt, 1)  # noqa: E731
        else:
            yt = (torch.log_softmax if log else torch.softmax)(xt, 1)
            if log:
                fn = lambda: torch.ops.aten._log_softmax_backward_data(gt, yt, 1, torch.float32)  # noqa: E731
            else:
                fn = lambda: torch.ops.aten._softmax_backward_data(gt, yt, 1, torch.float32)  # noqa: E731
    settle()
    benchmark.pedantic(fn, rounds=rounds(3 if side == "numpy" else 20), iterations=1, warmup_rounds=1)
    _record(benchmark, (8 if mode == "fwd" else 12) * n, side, op, mode, nthreads,
            SOFTMAX_SHAPE)


@pytest.mark.parametrize("side", ["fastdl", "numpy", "torch"])
def test_dropout(benchmark, nthreads, data, side):
    x, _ = data
    benchmark.group = f"dropout fwd {N} t{nthreads}"
    if side == "fastdl":
        t = fastdl.tensor(x)
        fn = lambda: F.dropout(t, 0.5)  # noqa: E731
    elif side == "numpy":
        fn = lambda: R.dropout_ref(x, 0.5, 1234)  # noqa: E731
    else:
        if not HAVE_TORCH:
            pytest.skip("torch not installed")
        xt = torch.from_numpy(x)
        fn = lambda: TF.dropout(xt, 0.5)  # noqa: E731
    settle()
    benchmark.pedantic(fn, rounds=rounds(3 if side == "numpy" else 15), iterations=1, warmup_rounds=1)
    _record(benchmark, 8 * N, side, "dropout", "fwd", nthreads)


def interleaved(threads=2, reps=30, np_reps=3):
    """Best-of-``reps`` timings with fastdl and torch interleaved round by round (robust on a
    machine shared with other jobs), NumPy reference best of ``np_reps``; prints the table.
    ``PYTHONPATH=.:bench python bench/bench_eltwise.py --interleaved``"""
    import time
    fastdl.set_num_threads(threads)
    if HAVE_TORCH:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(N) * 3).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    dst = _C.empty((N,), np.dtype(np.float32))
    dst[...] = 0

    def best(fns, k):
        b = [float("inf")] * len(fns)
        for _ in range(k):
            for i, f in enumerate(fns):
                if f is None:
                    continue
                t0 = time.perf_counter()
                f()
                b[i] = min(b[i], time.perf_counter() - t0)
        return b

    copy = min(best([lambda: _C._bw_copy(x, dst)], 50))
    copy_gbs = 8 * N / copy / 1e9
    lines = [f"copy bandwidth ({threads} threads, best of 50): {copy_gbs:.1f} GB/s", "",
             "| op | mode | fastdl GB/s | ms | % of copy | NumPy ref GB/s | torch GB/s | "
             "x NumPy | x torch |", "|---|---|---|---|---|---|---|---|---|"]

    def row(op, mode, nbytes, tf, tt, tn):
        gb = lambda t: nbytes / t / 1e9  # noqa: E731
        lines.append(f"| {op} | {mode} | {gb(tf):.1f} | {tf * 1e3:.2f} | "
                     f"{100 * gb(tf) / copy_gbs:.0f}% | "
                     + (f"{gb(tn):.2f} | " if tn < float("inf") else "- | ")
                     + (f"{gb(tt):.1f} | " if tt < float("inf") else "- | ")
                     + (f"{tn / tf:.1f} | " if tn < float("inf") else "- | ")
                     + (f"{tt / tf:.2f} |" if tt < float("inf") else "- |"))
        print(lines[-1], flush=True)

    print("\n".join(lines), flush=True)
    xt, gt = (torch.from_numpy(x), torch.from_numpy(g)) if HAVE_TORCH else (None, None)
    with blas_threads(threads):
        for op, (fwd, code, prm, fo, rname, rprm, tfwd, tinp, tbwd, _) in OPS.items():
            t = fastdl.tensor(x)
            tf, tt = best([lambda: fwd(t, False), lambda: tfwd(xt)], reps)
            (tn,) = best([lambda: R.ACTIVATIONS[rname][0](x, *rprm)], np_reps)
            row(op, "fwd", 8 * N, tf, tt, tn)
            if tinp is not None:
                bf, bt = fastdl.tensor(x.copy()), torch.from_numpy(x.copy())
                tf, tt = best([lambda: fwd(bf, True), lambda: tinp(bt)], reps)
                row(op, "inplace", 8 * N, tf, tt, float("inf"))
            s_ = _C.eltwise_forward(_C.eltwise_acts[code], x, list(prm)) if fo else x
            yt = tfwd(xt)
            tf, tt = best([lambda: _C.eltwise_backward(_C.eltwise_acts[code], fo, s_, g, list(prm)),
                           (lambda: tbwd(gt, xt, yt)) if tbwd else None], reps)
            (tn,) = best([lambda: R.ACTIVATIONS[rname][1](x, g, *rprm)], np_reps)
            row(op, "bwd", 12 * N, tf, tt, tn)
        xs = (rng.standard_normal(SOFTMAX_SHAPE) * 3).astype(np.float32)
        gs = rng.standard_normal(SOFTMAX_SHAPE).astype(np.float32)
        xst, gst = torch.from_numpy(xs), torch.from_numpy(gs)
        for log in (False, True):
            name = "log_softmax" if log else "softmax"
            ts = fastdl.tensor(xs)
            f = F.log_softmax if log else F.softmax
            tfn = torch.log_softmax if log else torch.softmax
            tf, tt = best([lambda: f(ts, 1), lambda: tfn(xst, 1)], reps)
            ref = R.log_softmax_ref if log else R.softmax_ref
            (tn,) = best([lambda: ref(xs, 1)], np_reps)
            row(name, "fwd", 8 * xs.size, tf, tt, tn)
            y = _C.softmax_forward(xs, 1, log)
            yt = tfn(xst, 1)
            tb = torch.ops.aten._log_softmax_backward_data if log else \
                torch.ops.aten._softmax_backward_data
            tf, tt = best([lambda: _C.softmax_backward(y, gs, 1, log),
                           lambda: tb(gst, yt, 1, torch.float32)], reps)
            yr = ref(xs, 1)
            gref = R.log_softmax_grad_ref if log else R.softmax_grad_ref
            (tn,) = best([lambda: gref(yr, gs, 1)], np_reps)
            row(name, "bwd", 12 * xs.size, tf, tt, tn)
        t = fastdl.tensor(x)
        tf, tt = best([lambda: F.dropout(t, 0.5), lambda: TF.dropout(xt, 0.5)], reps)
        (tn,) = best([lambda: R.dropout_ref(x, 0.5, 1234)], 1)
        row("dropout", "fwd", 8 * N, tf, tt, tn)
        tf, tt = best([lambda: F.dropout(t, 0.5, inplace=True),
                       lambda: TF.dropout(xt, 0.5, inplace=True)], reps)
        row("dropout", "inplace", 8 * N, tf, tt, float("inf"))
    copy2 = min(best([lambda: _C._bw_copy(x, dst)], 50))
    print(f"copy bandwidth again at the end: {8 * N / copy2 / 1e9:.1f} GB/s")


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["--interleaved"]:
        interleaved(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
        sys.exit(0)
    print("usage: python bench/bench_eltwise.py --interleaved [threads]; for the table of a "
          "pytest run: python -m fastdl.bench.report results.json")
