"""The benchmark report and comparison (fastdl.bench.report) on synthetic pytest-benchmark
JSON: which figures land in which row and column, what counts as slower. No timing."""
import builtins
import json

import pytest

from fastdl.bench import report


def bench(name, group, side, tmin, threads=2, q1=None, q3=None, **info):
    """One pytest-benchmark JSON entry with the fields the report reads."""
    q1 = tmin if q1 is None else q1
    q3 = tmin if q3 is None else q3
    extra = {"side": side, "threads": threads, **info}
    return {"name": name, "fullname": f"bench/bench_x.py::{name}", "group": group,
            "params": {"side": side}, "extra_info": extra,
            "stats": {"min": tmin, "max": q3 * 2, "median": (q1 + q3) / 2, "q1": q1, "q3": q3,
                      "rounds": 5}}


def run(*benchmarks, **machine):
    return {"benchmarks": list(benchmarks), "datetime": "2026-12-03T09:30:00",
            "machine_info": {"fastdl": machine}}


def gemm_run(fastdl_t=1e-3, numpy_t=3e-3, torch_fused=2e-3, torch_foreach=4e-3):
    return run(
        bench("g[fastdl]", "gemm 512 t2", "fastdl", fastdl_t, op="gemm", shape="512x512x512",
              gflops=200.0, pct_peak=87.5),
        bench("g[numpy]", "gemm 512 t2", "numpy", numpy_t),
        bench("g[torch_fused]", "gemm 512 t2", "torch_fused", torch_fused),
        bench("g[torch_foreach]", "gemm 512 t2", "torch_foreach", torch_foreach),
        bench("r[fastdl]", "relu 16M t1", "fastdl", 2e-3, threads=1, op="relu fwd",
              shape="16777216", gbps=40.0, pct_bandwidth=80.0),
        bench("r[numpy]", "relu 16M t1", "numpy", 5e-2, threads=1),
        cpu="Test CPU", cores=2, isa="avx2", isas=["generic", "avx2"],
        fma_peak_gflops={"1": 100.0, "2": 200.0}, copy_gbps={"1": 30.0, "2": 50.0},
        versions={"fastdl": "0.1.0", "numpy": "2.0"}, command="pytest bench/")


def test_rows_time_speedup_and_rate():
    rows = report.table_rows(gemm_run())
    assert [r["op"] for r in rows] == ["gemm", "relu fwd"]
    g, r = rows
    assert g["threads"] == 2 and g["shape"] == "512x512x512"
    # the fastest torch variant is the PyTorch column
    assert g["time"] == {"fastdl": 1e-3, "numpy": 3e-3, "torch": 2e-3}
    assert g["speedup"]["numpy"] == pytest.approx(3.0)
    assert g["speedup"]["torch"] == pytest.approx(2.0)
    assert (g["rate"], g["unit"], g["pct"], g["pct_of"]) == (200.0, "GFLOP/s", 87.5, "peak")
    assert r["speedup"] == {"numpy": pytest.approx(25.0)}          # no torch side: no column
    assert (r["rate"], r["unit"], r["pct_of"]) == (40.0, "GB/s", "bandwidth")


def test_same_group_different_threads_are_different_rows():
    data = run(bench("a[t1]", "op", "fastdl", 2.0, threads=1),
               bench("a[t2]", "op", "fastdl", 1.0, threads=2),
               bench("b[t1]", "op", "numpy", 4.0, threads=1),
               bench("b[t2]", "op", "numpy", 4.0, threads=2))
    rows = report.table_rows(data)
    assert [(r["threads"], r["speedup"]["numpy"]) for r in rows] == [(1, 2.0), (2, 4.0)]


def test_paired_torch_figures_of_a_self_timed_benchmark():
    """A benchmark that timed fastdl and torch itself (fastdl_ms / torch_ms in extra_info)
    shows that pair's two times and their ratio; a real torch side, when present, wins."""
    a = bench("op[x]", "topk", "fastdl", 5e-3, fastdl_ms=2.0, torch_ms=3.0)
    (row,) = report.table_rows(run(a))
    assert row["time"] == {"fastdl": pytest.approx(2e-3), "torch": pytest.approx(3e-3)}
    assert row["speedup"] == {"torch": pytest.approx(1.5)}
    b = bench("op[torch]", "topk", "torch", 4e-3)
    (row,) = report.table_rows(run(a, b))
    assert row["speedup"] == {"torch": pytest.approx(0.8)}
    c = bench("op[y]", "erf", "fastdl", 1e-3, fastdl_ms=0.0, torch_ms=1.0)
    (row,) = report.table_rows(run(c))
    assert row["speedup"] == {}


def test_side_from_name_when_not_recorded():
    a = bench("test_overhead_fastdl", "tiny", "x", 1.0)
    b = bench("test_overhead_torch", "tiny", "x", 3.0)
    for x in (a, b):
        del x["extra_info"]["side"]
        x["params"] = {}
    (row,) = report.table_rows(run(a, b))
    assert row["speedup"] == {"torch": 3.0}


def test_markdown_table_and_machine_lines():
    data = gemm_run()
    md = report.to_markdown(report.table_rows(data))
    lines = md.splitlines()
    assert lines[0].startswith("| op | shape | threads | fastdl | NumPy ref | PyTorch |")
    gemm = next(line for line in lines if line.startswith("| gemm "))
    cells = [c.strip() for c in gemm.strip("|").split("|")]
    assert cells == ["gemm", "512x512x512", "2", "1 ms", "3 ms", "2 ms", "3.00×", "2.00×",
                     "200 GFLOP/s", "88 % of peak"]
    relu = next(line for line in lines if line.startswith("| relu fwd "))
    assert "| – | 25.00× | – |" in relu and "80 % of bandwidth" in relu
    head = report.machine_markdown(data)
    assert "Test CPU, 2 cores; ISA path avx2" in head
    assert "200.0 GFLOP/s on 2 threads" in head and "30.0 GB/s on 1 thread" in head
    assert "`pytest bench/`" in head


@pytest.mark.parametrize("t,expect", [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.56e-6, "4.56 µs"),
                                      (7e-8, "70 ns")])
def test_fmt_time(t, expect):
    assert report.fmt_time(t) == expect


def test_compare_flags_only_real_slowdowns():
    old = run(bench("steady", "g", "fastdl", 1.0, q1=1.0, q3=1.01),
              bench("noisy", "g", "fastdl", 1.0, q1=1.0, q3=1.5),
              bench("small", "g", "fastdl", 1.0),
              bench("faster", "g", "fastdl", 1.0),
              bench("gone", "g", "fastdl", 1.0))
    new = run(bench("steady", "g", "fastdl", 1.2, q1=1.2, q3=1.21),   # +20 %, spread 1 %
              bench("noisy", "g", "fastdl", 1.2, q1=1.2, q3=1.8),     # +20 %, spread 50 %
              bench("small", "g", "fastdl", 1.03),                    # +3 % < 5 %
              bench("faster", "g", "fastdl", 0.5),
              bench("added", "g", "fastdl", 1.0))
    slower = report.compare(old, new)
    assert [s["name"] for s in slower] == ["steady"]
    assert slower[0]["change"] == pytest.approx(20.0)
    assert slower[0]["noise"] == pytest.approx(1.0)
    # a lower threshold lists the 3 % one too, slowest first
    assert [s["name"] for s in report.compare(old, new, threshold=2.0)] == ["steady", "small"]
    assert report.compare(old, new, threshold=25.0) == []


def test_cli_table_compare_and_missing_matplotlib(tmp_path, monkeypatch, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(gemm_run()))
    b.write_text(json.dumps(gemm_run(fastdl_t=2e-3)))            # fastdl twice as slow
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "table.md"
    assert report.main([str(a), "-o", str(out), "--chart", str(tmp_path / "c.png")]) == 0
    assert "| gemm | 512x512x512 |" in out.read_text()
    assert not (tmp_path / "c.png").exists()
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert report.main(["--compare", str(a), str(b)]) == 1
    text = capsys.readouterr().out
    assert "| g[fastdl] | gemm 512 t2 | 1 ms | 2 ms | +100.0 % |" in text
    assert report.main(["--compare", str(a), str(a)]) == 0


def test_chart_is_written_when_matplotlib_is_there(tmp_path):
    pytest.importorskip("matplotlib")
    path = report.chart(report.table_rows(gemm_run()), str(tmp_path / "s.png"))
    assert path and (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_not_a_benchmark_file(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[]")
    with pytest.raises(ValueError, match="not a pytest-benchmark JSON"):
        report.load(str(p))


def test_select_rows_by_op_shape_and_threads():
    rows = report.table_rows(gemm_run())
    assert [r["op"] for r in report.select(rows, only=r"^gemm 512")] == ["gemm"]
    assert [r["op"] for r in report.select(rows, threads=1)] == ["relu fwd"]
    assert report.select(rows, only="relu", threads=2) == []
    assert len(report.select(rows)) == 2


def test_merge_runs_of_several_files():
    a = gemm_run()
    b = run(bench("x[fastdl]", "x", "fastdl", 1.0), command="pytest bench/bench_x.py")
    m = report.merge([a, b])
    assert len(m["benchmarks"]) == len(a["benchmarks"]) + 1
    assert m["machine_info"]["fastdl"]["cpu"] == "Test CPU"
    assert m["machine_info"]["fastdl"]["command"] == "pytest bench/; pytest bench/bench_x.py"
    assert report.merge([a]) is a
