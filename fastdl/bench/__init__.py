"""Helpers shared by the benchmark suites in ``bench/`` (pytest-benchmark), the machine probe
(``python -m fastdl.bench.machine``) and the report (``python -m fastdl.bench.report``).

A suite times one call per benchmark and says what that call does; the rest is filled in by
``bench/conftest.py`` after the test::

    from fastdl.bench import record, rounds, settle, smoke

    N = smoke(16 * 1024 * 1024, 4096)          # full size, or a tiny one under FASTDL_BENCH_SMOKE=1

    def test_relu(benchmark, nthreads, side):
        benchmark.group = f"relu fwd {N} t{nthreads}"
        ...
        settle()
        benchmark.pedantic(fn, rounds=rounds(15), warmup_rounds=1)
        record(benchmark, nbytes=8 * N, side=side, op="relu fwd", shape=(N,))

``extra_info`` of every benchmark then holds ``side``, ``op``, ``shape``, ``threads``, ``isa``,
``versions``, and from the work per call (``flops`` or ``bytes``) and the fastest round:
``gflops`` and ``pct_peak`` (of the FMA peak on that many threads) or ``gbps`` and
``pct_bandwidth`` (of the copy bandwidth on that many threads).
"""
import contextlib
import functools
import os
import time

__all__ = ["SMOKE", "FULL", "HAVE_TORCH", "smoke", "rounds", "settle", "blas_threads", "versions",
           "record"]

#: ``FASTDL_BENCH_SMOKE=1``: tiny sizes, one round, no pauses — the suites run in seconds so
#: CI keeps them working; nothing is timed meaningfully and nothing about time is asserted.
SMOKE = os.environ.get("FASTDL_BENCH_SMOKE", "").strip() not in ("", "0")

#: ``FASTDL_BENCH_FULL=1``: the exhaustive run. By default the NumPy reference side (a float64
#: twin written for exactness, not speed, and single-threaded outside BLAS) is timed at one
#: thread only and for one round, except in suites that declare
#: ``NUMPY_BASELINE = True`` (GEMM, where NumPy's OpenBLAS is a real contender); and
#: ``bench_models.py`` times its per-layer cases at one thread. FULL times everything on every
#: thread count with each suite's own round counts.
FULL = os.environ.get("FASTDL_BENCH_FULL", "").strip() not in ("", "0")

try:  # pragma: no cover - depends on the environment
    import torch as _torch  # noqa: F401
    HAVE_TORCH = True
except Exception:  # torch is optional: its sides are skipped
    HAVE_TORCH = False


def smoke(full, tiny):
    """``full`` normally, ``tiny`` under ``FASTDL_BENCH_SMOKE=1``.

    >>> N = smoke(16 * 1024 * 1024, 1024)
    """
    return tiny if SMOKE else full


def rounds(n):
    """``n`` rounds normally, 1 under ``FASTDL_BENCH_SMOKE=1`` (``benchmark.pedantic(fn,
    rounds=rounds(15))``)."""
    return 1 if SMOKE else n


def settle(seconds=0.05):
    """Pause so the spinning worker threads of the previous side (OpenBLAS, torch, OpenMP)
    go to sleep before the next side is timed; 0.3 s after NumPy/torch, 0.05 s after fastdl.
    No pause under ``FASTDL_BENCH_SMOKE=1``."""
    if not SMOKE:
        time.sleep(seconds)


@contextlib.contextmanager
def blas_threads(n):
    """Limit NumPy's BLAS (and OpenMP) pools to ``n`` threads for the block (threadpoolctl),
    so NumPy and fastdl run on the same thread count. Without threadpoolctl: no limit."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=n):
        yield


@functools.lru_cache(maxsize=None)
def versions():
    """``{"fastdl": ..., "numpy": ..., "torch": ... (when installed), "python": ...}``."""
    import platform

    import numpy

    import fastdl
    out = {"fastdl": fastdl.__version__, "numpy": numpy.__version__,
           "python": platform.python_version()}
    if HAVE_TORCH:
        import torch
        out["torch"] = torch.__version__.split("+")[0]
    return out


def record(benchmark, *, flops=None, nbytes=None, side=None, op=None, shape=None, **extra):
    """Say what one timed call did: ``flops`` (floating-point operations) or ``nbytes``
    (compulsory bytes read + written), which ``side`` ran it (``fastdl``, ``numpy``,
    ``torch``, ...), the ``op`` and its ``shape``; any other keyword goes to ``extra_info``
    as is. Rates and percentages are derived after the test by ``bench/conftest.py``.

    >>> record(benchmark, flops=2.0 * m * n * k, side="fastdl", op="gemm", shape=(m, k, n))
    """
    info = benchmark.extra_info
    if flops is not None:
        info["flops"] = float(flops)
    if nbytes is not None:
        info["bytes"] = float(nbytes)
    if side is not None:
        info["side"] = side
    if op is not None:
        info["op"] = op
    if shape is not None:
        info["shape"] = shape if isinstance(shape, str) else "x".join(str(s) for s in shape)
    info.update(extra)


def conv_runner(side, spec, mode, channels_last=False, seed=0):
    """A no-argument callable running one float32 conv2d layer on ``side`` (``"fastdl"`` or
    ``"torch"``): ``mode="fwd"`` is the forward without grad, ``"fwdbwd"`` the forward and the
    gradients of input, weight and bias (output gradient of ones). ``spec`` holds ``N, C, H,
    W, K, R`` (square R×R kernel), ``stride``, ``padding`` and ``groups``; both sides get the
    same seeded data. ``channels_last``: the input (and torch's weight) in that memory format,
    forward only.

    >>> run = conv_runner("fastdl", dict(N=8, C=64, H=56, W=56, K=64, R=3, stride=1,
    ...                                  padding=1, groups=1), "fwd")
    >>> y = run()
    """
    import numpy as np
    s = spec
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((s["N"], s["C"], s["H"], s["W"])).astype(np.float32)
    w = (rng.standard_normal((s["K"], s["C"] // s["groups"], s["R"], s["R"])) * 0.05
         ).astype(np.float32)
    b = rng.standard_normal(s["K"]).astype(np.float32)
    kw = dict(stride=s["stride"], padding=s["padding"], groups=s["groups"])
    if side == "fastdl":
        import fastdl as lib
        cl_format = lib.channels_last
    else:
        import torch as lib
        cl_format = lib.channels_last
    F = lib.nn.functional
    xt, wt, bt = (lib.from_numpy(a) for a in (x, w, b))
    if mode == "fwd":
        if channels_last:
            xt = xt.contiguous(memory_format=cl_format)
            if side != "fastdl":
                wt = wt.contiguous(memory_format=cl_format)

        def run():
            with lib.no_grad():
                return F.conv2d(xt, wt, bt, **kw)
        return run
    for t in (xt, wt, bt):
        t.requires_grad_(True)
    gt = lib.ones_like(F.conv2d(xt.detach(), wt.detach(), None, **kw))

    def run():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, **kw).backward(gt)
    return run


def min_time(fn, reps, clock=time.perf_counter):
    """The fastest of ``reps`` calls of ``fn`` in seconds, as ``clock`` measures it
    (``time.process_time`` for the process's CPU time on one thread).

    >>> best = min_time(lambda: sum(range(1000)), 5)
    """
    best = float("inf")
    for _ in range(reps):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


# The sides of a suite that times fastdl against torch (torch when installed).
SIDES_TORCH = ["fastdl"] + (["torch"] if HAVE_TORCH else [])


def set_threads(n):
    """fastdl and torch (when installed) both run on ``n`` threads from here on.

    >>> set_threads(1)
    """
    import fastdl
    fastdl.set_num_threads(n)
    if HAVE_TORCH:
        import torch
        torch.set_num_threads(n)


def time_case(benchmark, fn, nrounds=10, **info):
    """Times ``fn`` with pytest-benchmark's ``benchmark`` fixture after one warm call and a
    pause (``rounds(nrounds)`` rounds, one warm-up round), then ``record``s ``info`` (flops,
    side, op, shape, ...) on it and pauses again, so that the next case starts with the other
    sides' threads asleep.

    >>> def test_relu(benchmark):                          # doctest: +SKIP
    ...     time_case(benchmark, lambda: fastdl.relu(x), flops=x.numel(), side="fastdl")
    """
    fn()
    settle()
    benchmark.pedantic(fn, rounds=rounds(nrounds), warmup_rounds=1)
    record(benchmark, **info)
    settle(0.05)


def conv_layer_table(threads, layers, cases, label, runner, nrounds=7, pattern="",
                     clock=time.perf_counter):
    """Prints, per thread count, a markdown table of conv layers against torch: one row per
    layer and case, the minimum over ``nrounds`` interleaved rounds of each side's fastest of a
    few calls (20 at batch 1, else 3), in ms, and the ratio torch ÷ fastdl (> 1: fastdl is
    faster). ``cases`` maps a case name to a tuple whose first item is the batch size;
    ``runner(side, layer, case)`` returns the no-argument callable to time; ``pattern``
    keeps the layers whose label contains it.

    >>> conv_layer_table((1,), [(8, 12)], {"fwd": (1,)}, lambda l: f"{l[0]} {l[1]}²",
    ...                  lambda side, l, c: conv_runner(side, dict(N=1, C=l[0], H=l[1],
    ...                      W=l[1], K=l[0], R=3, stride=1, padding=1, groups=1), "fwd"))
    ... # doctest: +SKIP
    """
    for t in threads:
        set_threads(t)
        kind = "CPU time" if clock is time.process_time else "wall clock"
        print(f"\n{t} thread(s), {kind}, min of {nrounds} interleaved rounds, ms; "
              f"ratio = torch / fastdl (> 1: fastdl faster)")
        print(f"| {'layer':16s} | {'case':15s} | {'torch':>8s} | {'fastdl':>8s} | ratio |")
        print("|---|---|---|---|---|")
        with blas_threads(t):
            for layer in layers:
                if pattern not in label(layer):
                    continue
                for case in cases:
                    fns = {s: runner(s, layer, case) for s in SIDES_TORCH}
                    reps = 20 if cases[case][0] == 1 else 3
                    for f in fns.values():
                        f()
                    best = {s: float("inf") for s in fns}
                    for _ in range(nrounds):
                        for s, f in fns.items():
                            best[s] = min(best[s], min_time(f, reps, clock))
                            settle(0.01)
                    tt, ft = best.get("torch"), best["fastdl"]
                    ratio = f"{tt / ft:5.2f}" if tt else "  -  "
                    tms = f"{tt * 1e3:8.3f}" if tt else "       -"
                    print(f"| {label(layer):16s} | {case:15s} | {tms} | {ft * 1e3:8.3f} | "
                          f"{ratio} |", flush=True)


def table_args(argv):
    """(threads, rounds, pattern, clock) from a layer benchmark's command line ``[threads...]
    [--rounds R] [--cpu-time] [filter]``; exits on ``--cpu-time`` with more than one thread.

    >>> table_args(["2", "--rounds", "3"])[:3]
    ((2,), 3, '')
    """
    import sys
    args = list(argv)
    nrounds = 7
    if "--rounds" in args:
        i = args.index("--rounds")
        nrounds = int(args[i + 1])
        del args[i:i + 2]
    clock = time.perf_counter
    if "--cpu-time" in args:
        args.remove("--cpu-time")
        clock = time.process_time
    threads = tuple(int(a) for a in args if a.isascii() and a.isdigit()) or (1, 2)
    if clock is time.process_time and threads != (1,):
        sys.exit("--cpu-time measures one thread only: pass 1 as the thread count")
    pattern = next((a for a in args if not (a.isascii() and a.isdigit())), "")
    return threads, nrounds, pattern, clock
