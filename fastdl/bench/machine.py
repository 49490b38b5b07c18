"""What this machine can do, measured: the float32 FMA peak on one core and on all cores, and
the copy and triad memory bandwidth — the ceilings the benchmark report quotes each figure
against.

* FMA peak: ``_C._fma_peak`` runs independent vector FMAs on the active ISA path
  (``FASTDL_ISA``) on ``threads`` OpenMP threads; 2 flops per FMA lane. Best of ``repeats``.
* Bandwidth: ``_C._bw_copy`` (``dst = src``, 8 bytes per float32 element: one read, one
  write) and ``_C._bw_triad`` (``a = b + s c``, 12 bytes per element) over 64 MB arrays on
  ``threads`` threads; write-allocate traffic is not counted. Best of ``repeats``.

Run ``python -m fastdl.bench.machine`` (a markdown table) or ``... --json``.

>>> from fastdl.bench import machine
>>> machine.fma_peak(1) > 0
True
"""
import argparse
import contextlib
import functools
import json
import os
import platform
import time

import numpy as np

from . import SMOKE, versions

__all__ = ["cpu_name", "cores", "fma_peak", "bandwidth", "measure", "peak_for",
           "bandwidth_for", "main"]

PEAK_ITERS = 2_000_000 if SMOKE else 20_000_000   # ~0.1 s per measurement at peak
BW_ELEMENTS = 64 * 1024 if SMOKE else 16 * 1024 * 1024
BYTES_PER_ELEMENT = {"copy": 8, "triad": 12}


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``), or ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or platform.machine()


def cores():
    """Cores this process may run on (``os.sched_getaffinity``), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _fastdl_threads(n):
    import fastdl
    prev = fastdl.get_num_threads()
    fastdl.set_num_threads(n)
    try:
        yield
    finally:
        fastdl.set_num_threads(prev)


def fma_peak(threads, iters=None, repeats=5):
    """Best-of-``repeats`` float32 FMA throughput in GFLOP/s on ``threads`` threads, on the
    active ISA path.

    >>> round(fma_peak(1)) > 0
    True
    """
    from fastdl import _C
    iters = iters or PEAK_ITERS
    best = 0.0
    for _ in range(1 if SMOKE else repeats):
        flops, secs = _C._fma_peak(int(iters), int(threads))
        best = max(best, flops / secs / 1e9)
    return best


def bandwidth(kind, threads, n=None, repeats=10):
    """Best-of-``repeats`` memory bandwidth in GB/s of ``kind`` (``"copy"``: ``dst = src``,
    8 bytes per float32 element; ``"triad"``: ``a = b + s c``, 12 bytes) over ``n`` elements
    on ``threads`` threads.

    >>> bandwidth("copy", 1) > 0
    True
    """
    from fastdl import _C
    if kind not in BYTES_PER_ELEMENT:
        raise ValueError(f"bandwidth: kind must be 'copy' or 'triad', got {kind!r}")
    n = int(n or BW_ELEMENTS)
    b = np.full(n, 1.5, np.float32)
    c = np.full(n, 0.5, np.float32)
    a = np.zeros(n, np.float32)  # its pages are touched by the first (untimed) call
    fn = (lambda: _C._bw_copy(b, a)) if kind == "copy" else (lambda: _C._bw_triad(a, b, c, 3.0))
    best = float("inf")
    with _fastdl_threads(threads):
        fn()
        for _ in range(1 if SMOKE else repeats):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
    return BYTES_PER_ELEMENT[kind] * n / best / 1e9


@functools.lru_cache(maxsize=None)
def peak_for(threads):
    """:func:`fma_peak` on ``threads`` threads, measured once per process (the suites divide
    their GFLOP/s by it)."""
    return fma_peak(threads)


@functools.lru_cache(maxsize=None)
def bandwidth_for(threads, kind="copy"):
    """:func:`bandwidth` on ``threads`` threads, measured once per process."""
    return bandwidth(kind, threads)


def measure(threads=None):
    """A dict describing the machine: CPU, cores, ISA path, versions, and for each thread
    count in ``threads`` (default: 1 and all cores) the FMA peak (GFLOP/s) and the copy and
    triad bandwidth (GB/s). Thread counts are string keys (JSON)."""
    from fastdl import _C
    threads = sorted(set(threads or (1, cores())))
    out = {"cpu": cpu_name(), "cores": cores(), "isa": _C.get_isa(),
           "isas": list(_C.supported_isas()), "compiler": _C.compiler,
           "versions": versions(), "fma_peak_gflops": {}, "copy_gbps": {}, "triad_gbps": {}}
    for t in threads:
        out["fma_peak_gflops"][str(t)] = peak_for(t)
    for t in threads:
        out["copy_gbps"][str(t)] = bandwidth_for(t, "copy")
        out["triad_gbps"][str(t)] = bandwidth_for(t, "triad")
    return out


def to_markdown(m):
    """The table ``python -m fastdl.bench.machine`` prints for a :func:`measure` dict."""
    lines = [f"CPU: {m['cpu']}, {m['cores']} cores, ISA path {m['isa']} "
             f"(available: {', '.join(m['isas'])}), {m.get('compiler', '')}", "",
             "| threads | FMA peak GFLOP/s | copy GB/s | triad GB/s |", "|---|---|---|---|"]
    for t in m["fma_peak_gflops"]:
        lines.append(f"| {t} | {m['fma_peak_gflops'][t]:.1f} | {m['copy_gbps'][t]:.1f} | "
                     f"{m['triad_gbps'][t]:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m fastdl.bench.machine", description=__doc__
                                .split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="*", help="thread counts (default: 1 and all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = p.parse_args(argv)
    m = measure(a.threads)
    print(json.dumps(m, indent=2) if a.json else to_markdown(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
