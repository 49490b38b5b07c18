"""The benchmark report: a markdown table and a chart of speed-ups from one
``pytest bench/ --benchmark-json=results.json`` run, and a comparison of two runs.

``python -m fastdl.bench.report results.json [-o table.md] [--chart speedups.png]``
    One row per group (one op at one shape and thread count): the fastest round of fastdl,
    of the NumPy reference and of PyTorch (the fastest ``torch*`` variant), fastdl's speed-up
    over each (``other time / fastdl time``), fastdl's GFLOP/s or GB/s and its percentage of
    the FMA peak or copy bandwidth measured in the same run. The chart (matplotlib; skipped
    with a message when it is not installed) draws the speed-ups of every group on a log
    scale with the 1.0 line marked.

``python -m fastdl.bench.report --compare old.json new.json [--threshold 5]``
    Every benchmark present in both runs whose fastest round got slower by more than
    ``threshold`` percent *and* by more than the runs' noise, the larger relative
    interquartile range of its rounds in the two runs ((q3 - q1) / min). Exit status 1 when
    one is listed.

The fastest round (minimum) is the figure throughout: on a machine shared with other jobs the
other statistics measure the other jobs.

>>> rows = table_rows(json.load(open("results.json")))          # doctest: +SKIP
>>> print(to_markdown(rows))                                       # doctest: +SKIP
"""
import argparse
import json
import math
import re
import sys

__all__ = ["load", "merge", "select", "table_rows", "to_markdown", "machine_markdown", "chart", "compare",
           "compare_markdown", "main"]

SIDES = ("fastdl", "numpy", "torch")


def load(path):
    """The parsed ``--benchmark-json`` file at ``path``."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or "benchmarks" not in data:
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' key)")
    return data


def merge(datas):
    """One run from several ``--benchmark-json`` files (e.g. one per suite): the benchmarks of
    all, the machine and date of the first, the command lines of all."""
    datas = list(datas)
    if len(datas) == 1:
        return datas[0]
    out = dict(datas[0])
    out["benchmarks"] = [b for d in datas for b in d["benchmarks"]]
    mi = dict(out.get("machine_info") or {})
    f = dict(mi.get("fastdl") or {})
    cmds = [((d.get("machine_info") or {}).get("fastdl") or {}).get("command") for d in datas]
    if any(cmds):
        f["command"] = "; ".join(c for c in cmds if c)
    mi["fastdl"] = f
    out["machine_info"] = mi
    return out


def _side(b):
    side = (b.get("extra_info") or {}).get("side")
    if side:
        return side
    side = (b.get("params") or {}).get("side")
    if isinstance(side, str):
        return side
    name = b.get("name", "").lower()
    return next((s for s in SIDES if s in name), "fastdl")


def _column(side):
    """The report column of a side: ``torch_fused`` counts as ``torch``; others as is."""
    return "torch" if side.startswith("torch") else side


def select(rows, only=None, threads=None):
    """The rows whose ``"op shape"`` text matches the regular expression ``only`` (searched)
    and whose thread count is ``threads`` (either filter ``None``: no filter)."""
    pat = re.compile(only) if only else None
    return [r for r in rows if (pat is None or pat.search(f"{r['op']} {r['shape']}"))
            and (threads is None or r["threads"] == threads)]


def _paired_torch(info):
    """(fastdl's time, torch's time, torch's ÷ fastdl's) from a benchmark that timed both sides
    itself, interleaved in one loop, and recorded ``fastdl_ms`` and ``torch_ms`` in its
    ``extra_info`` (bench_tensor_ops.py). The row then shows those two figures, not
    pytest-benchmark's own rounds of the fastdl side (timed back to back, without the pauses
    the pair takes between sides). None when the benchmark did not record them."""
    f, t = info.get("fastdl_ms"), info.get("torch_ms")
    if not isinstance(f, (int, float)) or not isinstance(t, (int, float)) or f <= 0:
        return None
    return f / 1e3, t / 1e3, t / f


def table_rows(data):
    """One dict per (group, threads), in the order the groups first appear: ``group``, ``op``,
    ``shape``, ``threads``, ``time`` (side -> fastest round in seconds, the fastest variant
    per column), ``speedup`` (side -> that time / fastdl's), ``rate`` and ``unit``
    (GFLOP/s or GB/s of fastdl) and ``pct`` with ``pct_of`` ("peak" or "bandwidth")."""
    groups = {}
    for b in data["benchmarks"]:
        info = b.get("extra_info") or {}
        key = (b.get("group") or b.get("name"), info.get("threads"))
        g = groups.setdefault(key, {"benchmarks": {}})
        col = _column(_side(b))
        best = b["stats"]["min"]
        if col not in g["benchmarks"] or best < g["benchmarks"][col]["stats"]["min"]:
            g["benchmarks"][col] = b
    rows = []
    for (group, threads), g in groups.items():
        bs = g["benchmarks"]
        ref = bs.get("fastdl")
        info = (ref or next(iter(bs.values()))).get("extra_info") or {}
        row = {"group": group, "threads": threads, "op": info.get("op") or group,
               "shape": info.get("shape", ""),
               "time": {c: b["stats"]["min"] for c, b in bs.items()}, "speedup": {},
               "rate": None, "unit": None, "pct": None, "pct_of": None}
        if ref is not None:
            t0 = ref["stats"]["min"]
            for c, t in row["time"].items():
                if c != "fastdl" and t0 > 0:
                    row["speedup"][c] = t / t0
            rinfo = ref.get("extra_info") or {}
            paired = _paired_torch(rinfo)
            if paired is not None and "torch" not in row["time"]:
                row["time"]["fastdl"], row["time"]["torch"], row["speedup"]["torch"] = paired
            if rinfo.get("gflops") is not None:
                row.update(rate=rinfo["gflops"], unit="GFLOP/s", pct=rinfo.get("pct_peak"),
                           pct_of="peak")
            elif rinfo.get("gbps") is not None:
                row.update(rate=rinfo["gbps"], unit="GB/s", pct=rinfo.get("pct_bandwidth"),
                           pct_of="bandwidth")
        rows.append(row)
    return rows


def fmt_time(seconds):
    """``1.23 ms``-style text for a time in seconds (ns, µs, ms or s)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _x(v):
    return "–" if v is None else f"{v:.2f}×"


def to_markdown(rows):
    """The report table of :func:`table_rows` as markdown."""
    out = ["| op | shape | threads | fastdl | NumPy ref | PyTorch | × NumPy | × PyTorch | "
           "fastdl rate | % of peak / bandwidth |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["time"]
        rate = "–" if r["rate"] is None else f"{r['rate']:.3g} {r['unit']}"
        pct = "–" if r["pct"] is None else f"{r['pct']:.0f} % of {r['pct_of']}"
        out.append(f"| {r['op']} | {r['shape']} | {r['threads'] if r['threads'] else ''} | "
                   f"{fmt_time(t.get('fastdl'))} | {fmt_time(t.get('numpy'))} | "
                   f"{fmt_time(t.get('torch'))} | {_x(r['speedup'].get('numpy'))} | "
                   f"{_x(r['speedup'].get('torch'))} | {rate} | {pct} |")
    return "\n".join(out)


def machine_markdown(data):
    """What the run says about its machine and software, as markdown lines."""
    mi = data.get("machine_info") or {}
    f = mi.get("fastdl") or {}
    lines = []
    if data.get("datetime"):
        lines.append(f"- date: {data['datetime']}")
    cpu = f.get("cpu") or mi.get("cpu", {}).get("brand_raw") or mi.get("processor", "")
    if cpu:
        lines.append(f"- CPU: {cpu}, {f.get('cores', '?')} cores; ISA path {f.get('isa', '?')}"
                     f" (available: {', '.join(f.get('isas', []))}); {f.get('compiler', '')}")
    if f.get("fma_peak_gflops"):
        lines.append("- FMA peak (float32): " + ", ".join(
            f"{v:.1f} GFLOP/s on {t} thread{'s' if t != '1' else ''}"
            for t, v in f["fma_peak_gflops"].items()))
    for k, name in (("copy_gbps", "copy"), ("triad_gbps", "triad")):
        if f.get(k):
            lines.append(f"- {name} bandwidth: " + ", ".join(
                f"{v:.1f} GB/s on {t} thread{'s' if t != '1' else ''}" for t, v in f[k].items()))
    if f.get("versions"):
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in f["versions"].items()))
    if f.get("load_average"):
        lines.append("- load average at the end: " + " / ".join(
            f"{v:.1f}" for v in f["load_average"]))
    if f.get("command"):
        lines.append(f"- command: `{f['command']}`" + (" (FASTDL_BENCH_SMOKE=1)"
                                                        if f.get("smoke") else ""))
    ci = data.get("commit_info") or {}
    if ci.get("id"):
        lines.append(f"- commit: {ci['id'][:12]}" + (" (dirty)" if ci.get("dirty") else ""))
    return "\n".join(lines)


def chart(rows, path):
    """Write a PNG of fastdl's speed-up over NumPy and over PyTorch per group (log scale, the
    1.0 line marked). Returns ``path``, or ``None`` with a message on stderr when matplotlib
    is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is not installed: no chart (pip install matplotlib)",
              file=sys.stderr)
        return None
    rows = [r for r in rows if r["speedup"]]
    labels = [f"{r['op']} {r['shape']} t{r['threads']}" for r in rows]
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(9, min(0.22 * n + 1.5, 300)))
    ys = list(range(len(rows)))
    h = 0.4
    for k, (col, color) in enumerate((("numpy", "tab:blue"), ("torch", "tab:orange"))):
        vals = [r["speedup"].get(col, float("nan")) for r in rows]
        ax.barh([y + (k - 0.5) * h for y in ys], vals, height=h, color=color,
                label=f"fastdl speed-up over {'the NumPy reference' if col == 'numpy' else 'PyTorch'}")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up (other time / fastdl time, fastest round; > 1: fastdl faster)")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _spread(b):
    s = b["stats"]
    if not s.get("min"):
        return 0.0
    return max(0.0, (s.get("q3", s["min"]) - s.get("q1", s["min"])) / s["min"])


def _key(b):
    return b.get("fullname") or f"{b.get('group')}::{b.get('name')}"


def compare(old, new, threshold=5.0):
    """Benchmarks of both runs (matched by full name) that got slower: a list of dicts
    (``name``, ``group``, ``old``, ``new`` fastest rounds in seconds, ``change`` in percent,
    ``noise`` in percent), slowest first. A benchmark is listed when its fastest round grew by
    more than ``threshold`` percent and by more than ``noise``, the larger relative
    interquartile range ((q3 - q1) / min, in percent) of its rounds in the two runs."""
    olds = {_key(b): b for b in old["benchmarks"]}
    out = []
    for b in new["benchmarks"]:
        a = olds.get(_key(b))
        if a is None or not a["stats"]["min"]:
            continue
        t0, t1 = a["stats"]["min"], b["stats"]["min"]
        change = 100.0 * (t1 / t0 - 1.0)
        noise = 100.0 * max(_spread(a), _spread(b))
        if change > threshold and change > noise:
            out.append({"name": b.get("name"), "group": b.get("group"), "old": t0, "new": t1,
                        "change": change, "noise": noise})
    out.sort(key=lambda r: -r["change"])
    return out


def compare_markdown(slower, threshold, n_common):
    """The ``--compare`` output for :func:`compare`'s list."""
    head = (f"{len(slower)} of {n_common} benchmarks slower by more than {threshold:g} % and "
            f"more than their noise (fastest round; noise = larger relative IQR of the two runs)")
    if not slower:
        return head
    lines = [head, "", "| benchmark | group | old | new | change | noise |",
             "|---|---|---|---|---|---|"]
    for r in slower:
        lines.append(f"| {r['name']} | {r['group']} | {fmt_time(r['old'])} | "
                     f"{fmt_time(r['new'])} | +{r['change']:.1f} % | {r['noise']:.1f} % |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m fastdl.bench.report",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("json", nargs="*", help="--benchmark-json files (merged into one run)")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                   help="list the benchmarks of NEW slower than in OLD")
    p.add_argument("--threshold", type=float, default=5.0,
                   help="percent a benchmark must slow down to be listed (default 5)")
    p.add_argument("--only", metavar="REGEX", help="rows whose 'op shape' matches REGEX")
    p.add_argument("--threads", type=int, help="rows of this thread count only")
    p.add_argument("--no-machine", action="store_true", help="the table without the machine")
    p.add_argument("-o", "--output", help="write the markdown here instead of stdout")
    p.add_argument("--chart", default="speedups.png",
                   help="PNG of the speed-ups (default speedups.png; 'none' for no chart)")
    a = p.parse_args(argv)
    if a.compare:
        old, new = (load(x) for x in a.compare)
        common = len({_key(b) for b in old["benchmarks"]} & {_key(b) for b in new["benchmarks"]})
        slower = compare(old, new, a.threshold)
        text = compare_markdown(slower, a.threshold, common)
        status = 1 if slower else 0
    else:
        if not a.json:
            p.error("give a results.json (or --compare OLD NEW)")
        data = merge(load(x) for x in a.json)
        rows = select(table_rows(data), a.only, a.threads)
        text = ("" if a.no_machine else machine_markdown(data) + "\n\n") + to_markdown(rows)
        if a.chart and a.chart.lower() != "none":
            if chart(rows, a.chart):
                print(f"report: chart written to {a.chart}", file=sys.stderr)
        status = 0
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
