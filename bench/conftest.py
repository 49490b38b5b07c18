"""pytest configuration of the benchmark suites: ``pytest bench/`` (or ``python -m pytest
bench/...`` from the repository root, or ``pytest /path/to/bench`` from anywhere) runs every
``bench_*.py`` here against an importable fastdl with its compiled ``_C``; plain ``pytest``
runs only ``tests/`` (``testpaths``).

What this file does for every benchmark, so a suite only times its call and says what it did
(``fastdl.bench.record``; see bench/README.md):

* ``nthreads`` fixture: the test runs once per thread count (1 and all cores), with fastdl,
  torch and NumPy's BLAS (threadpoolctl) limited to it.
* after the test, ``extra_info`` is completed: ``side`` (fastdl / numpy / torch / ...),
  ``threads``, ``isa``, ``versions``, and from the work per call (``flops`` / ``bytes``) and
  the fastest round, ``gflops`` + ``pct_peak`` (of the measured FMA peak on that many
  threads) or ``gbps`` + ``pct_bandwidth`` (of the measured copy bandwidth).
* the JSON's ``machine_info["fastdl"]`` holds the CPU, ISA path, versions, FMA peaks and
  copy/triad bandwidths (``fastdl.bench.machine``) and the command line.
* ``FASTDL_BENCH_SMOKE=1``: every timed call runs one round without warm-up or pauses.
* the NumPy reference side runs at one thread, for one round without warm-up, unless
  the suite sets ``NUMPY_BASELINE = True`` or ``FASTDL_BENCH_FULL=1`` is set (a float64
  reference is slow and, outside BLAS, single-threaded: its 2-thread figure repeats the
  1-thread one at the cost of minutes per suite).
"""
import os
import sys

import pytest


def _import_fastdl():
    """Import fastdl with its ``_C``. ``python -m pytest`` puts the current directory first on
    ``sys.path``; from the repository root that is the source tree's ``fastdl/``, which has no
    ``_C`` unless it was built in place. A tree built in place is used as it is (also by the
    ``pytest`` script, which does not put the root on ``sys.path``); otherwise the installed
    package, and if there is none either, pytest stops with a message saying what to do."""
    try:
        import fastdl  # noqa: F401
        from fastdl import _C  # noqa: F401
        return
    except ImportError as exc:
        first = exc
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != root]
    pkg = os.path.join(root, "fastdl")
    if any(f.startswith("_C.") and f.endswith((".so", ".pyd")) for f in os.listdir(pkg)):
        sys.path.insert(0, root)  # built in place: this tree, not an installed copy
    for name in [m for m in sys.modules if m == "fastdl" or m.startswith("fastdl.")]:
        del sys.modules[name]
    try:
        import fastdl  # noqa: F401, F811
        from fastdl import _C  # noqa: F401, F811
    except ImportError:
        pytest.exit(
            f"bench/: cannot import fastdl with its compiled extension fastdl._C ({first}).\n"
            f"Install it (pip install '.[bench]') or build it in place (cmake -S . -B build/dev "
            f"-G Ninja -Dpybind11_DIR=$(python -m pybind11 --cmakedir) && cmake --build "
            f"build/dev).", returncode=4)


_import_fastdl()

import fastdl  # noqa: E402
from fastdl import _C  # noqa: E402
from fastdl.bench import FULL, HAVE_TORCH, SMOKE, blas_threads, settle, versions  # noqa: E402,F401
from fastdl.bench import machine  # noqa: E402

THREADS = sorted({1, machine.cores()})
SIDES = ("fastdl", "numpy", "torch")


@pytest.fixture(params=THREADS, ids=lambda n: f"t{n}")
def nthreads(request):
    """Run a benchmark with 1 thread and with all cores on every side (fastdl, NumPy's BLAS
    through threadpoolctl, torch); the value is the thread count."""
    n = request.param
    prev = fastdl.get_num_threads()
    fastdl.set_num_threads(n)
    if HAVE_TORCH:
        import torch
        prev_t = torch.get_num_threads()
        torch.set_num_threads(n)
    try:
        with blas_threads(n):
            yield n
    finally:
        fastdl.set_num_threads(prev)
        if HAVE_TORCH:
            torch.set_num_threads(prev_t)


# ---- what every benchmark records ----------------------------------------------------------
_MEASURED = []


def _machine_ready():
    """Measure the FMA peak and copy bandwidth once, before the first benchmark runs (no BLAS
    or torch thread pool is spinning yet)."""
    if not _MEASURED:
        for t in THREADS:
            machine.peak_for(t)
            machine.bandwidth_for(t, "copy")
        _MEASURED.append(True)


def _is_side(value):
    return value in SIDES or value.startswith("torch_")


def _side(request, info):
    """The side a benchmark times (``request`` may also be a collected item)."""
    if info.get("side"):
        return info["side"]
    node = getattr(request, "node", request)
    params = getattr(getattr(node, "callspec", None), "params", {})
    if isinstance(params.get("side"), str):
        return params["side"]
    for v in params.values():  # a parameter under another name (lib="torch")
        if isinstance(v, str) and _is_side(v):
            return v
    name = node.name.lower()
    for s in SIDES:
        if s in name:
            return s
    return "fastdl"


def _numpy_reference(request_or_item):
    """True for a benchmark of the NumPy reference side in a suite that does not declare
    ``NUMPY_BASELINE = True``, outside ``FASTDL_BENCH_FULL=1``."""
    if FULL or getattr(request_or_item.module, "NUMPY_BASELINE", False):
        return False
    return _side(request_or_item, {}) == "numpy"


def pytest_collection_modifyitems(config, items):
    """Outside ``FASTDL_BENCH_FULL=1``, the NumPy reference side, and the tests a suite names
    in ``ONE_THREAD_TESTS``, run at one thread only."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        one_thread = not FULL and (getattr(item, "originalname", item.name)
                                   in getattr(item.module, "ONE_THREAD_TESTS", ()))
        if params.get("nthreads", 1) > 1 and (one_thread or _numpy_reference(item)):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _wrap_timing(bm, seen, numpy_reference=False):
    """Record the thread count and ISA while the benchmark runs (the fixtures that set them are
    torn down before this file's teardown), under FASTDL_BENCH_SMOKE force one round, and give
    a NumPy reference side one round without warm-up (see the module docstring)."""
    raw, raw_pedantic = bm._raw, bm._raw_pedantic

    def note():
        seen["threads"] = fastdl.get_num_threads()
        seen["isa"] = _C.get_isa()

    def timed_raw(*args, **kwargs):
        note()
        if SMOKE:
            bm._min_rounds, bm._max_time, bm._min_time, bm._warmup = 1, 0.0, 0.0, False
        elif numpy_reference:
            bm._min_rounds, bm._max_time, bm._warmup = 1, 0.0, False
        return raw(*args, **kwargs)

    def timed_pedantic(target, args=(), kwargs=None, setup=None, teardown=None, rounds=1,
                       warmup_rounds=0, iterations=1):
        note()
        if SMOKE:
            rounds, warmup_rounds, iterations = 1, 0, 1
        elif numpy_reference:
            rounds, warmup_rounds = 1, 0
        return raw_pedantic(target, args=args, kwargs=kwargs, setup=setup, teardown=teardown,
                            rounds=rounds, warmup_rounds=warmup_rounds, iterations=iterations)

    bm._raw, bm._raw_pedantic = timed_raw, timed_pedantic


# rates a suite computed itself (from whichever statistic it chose) instead of recording the
# work per call with fastdl.bench.record: kept as they are, under one name
_RATE_NAMES = {"GFLOP/s": "gflops", "GFLOPS": "gflops", "GB/s": "gbps", "GBps": "gbps"}


def _finish(bm, request, seen):
    stats = getattr(bm, "stats", None)
    if stats is None or getattr(bm, "has_error", False):
        return  # skipped, failed, or --benchmark-disable
    info = bm.extra_info
    st = stats.stats
    for old, new in _RATE_NAMES.items():
        if old in info:
            info.setdefault(new, info.pop(old))
    threads = int(info.get("threads") or seen.get("threads") or fastdl.get_num_threads())
    info["threads"] = threads
    info["side"] = _side(request, info)
    info.setdefault("isa", seen.get("isa") or _C.get_isa())
    info.setdefault("versions", versions())
    best = st.min
    if best > 0 and info.get("flops"):
        info["gflops"] = info["flops"] / best / 1e9
    if best > 0 and info.get("bytes"):
        info["gbps"] = info["bytes"] / best / 1e9
    if isinstance(info.get("gflops"), (int, float)):
        info["pct_peak"] = 100 * info["gflops"] / machine.peak_for(threads)
    if isinstance(info.get("gbps"), (int, float)):
        info["pct_bandwidth"] = 100 * info["gbps"] / machine.bandwidth_for(threads, "copy")
    if bm.group is None:  # group by the test and its parameters other than the side
        params = getattr(getattr(request.node, "callspec", None), "params", {})
        rest = [f"{v}" for k, v in params.items()
                if k != "side" and not (isinstance(v, str) and _is_side(v))]
        group = " ".join([request.node.originalname.removeprefix("test_")] + rest)
        bm.group = stats.group = group


@pytest.fixture(autouse=True)
def _fastdl_benchmark_info(request):
    if "benchmark" not in request.fixturenames:
        yield
        return
    bm = request.getfixturevalue("benchmark")
    _machine_ready()
    seen = {}
    _wrap_timing(bm, seen, _numpy_reference(request))
    yield
    _finish(bm, request, seen)


def pytest_benchmark_update_machine_info(config, machine_info):
    """The JSON's ``machine_info["fastdl"]``: what the report states about the machine."""
    _machine_ready()
    m = {"cpu": machine.cpu_name(), "cores": machine.cores(), "isa": _C.get_isa(),
         "isas": list(_C.supported_isas()), "compiler": _C.compiler, "versions": versions(),
         "fma_peak_gflops": {str(t): machine.peak_for(t) for t in THREADS},
         "copy_gbps": {str(t): machine.bandwidth_for(t, "copy") for t in THREADS},
         "triad_gbps": {str(t): machine.bandwidth_for(t, "triad") for t in THREADS},
         "smoke": SMOKE, "command": " ".join(["pytest"] + list(config.invocation_params.args)),
         "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    machine_info["fastdl"] = m
