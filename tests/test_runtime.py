"""Threads, CPU dispatch, configuration and the caching allocator."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import fastdl
from fastdl.testing import use_isa, use_threads


_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))


def _run(code, drop=(), **env):
    """Run `code` in a fresh interpreter that imports the same fastdl as this process
    (not a source tree that happens to be the working directory)."""
    e = {k: v for k, v in os.environ.items() if k not in drop}
    e.update(env)
    e["PYTHONPATH"] = _PKG_PARENT
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          timeout=120, cwd=os.path.dirname(_PKG_PARENT))


def test_threads_api():
    n = fastdl.get_num_threads()
    assert n >= 1
    with use_threads(1):
        assert fastdl.get_num_threads() == 1
    assert fastdl.get_num_threads() == n
    for bad in (0, -3):
        with pytest.raises(ValueError, match="n must be >= 1"):
            fastdl.set_num_threads(bad)
    with pytest.raises(TypeError):
        fastdl.set_num_threads(1.5)


def test_threads_env_and_default():
    r = _run("import fastdl; print(fastdl.get_num_threads())", FASTDL_NUM_THREADS="3")
    assert r.stdout.strip() == "3", r.stderr
    r = _run("import fastdl; print(fastdl.get_num_threads())", drop=("FASTDL_NUM_THREADS",))
    assert int(r.stdout.strip()) == os.cpu_count(), r.stderr


def test_isa_paths():
    paths = fastdl.supported_isas()
    assert paths[0] == "generic" and fastdl.get_isa() in paths
    for p in paths:
        with use_isa(p):
            assert fastdl.get_isa() == p
    with pytest.raises(ValueError, match="unknown ISA"):
        fastdl.set_isa("sse9")
    if "avx512" not in paths:
        with pytest.raises(ValueError, match="not supported"):
            fastdl.set_isa("avx512")


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"])
def test_isa_env(isa):
    r = _run("import fastdl; print(fastdl.get_isa())", FASTDL_ISA=isa)
    if isa in fastdl.supported_isas():
        assert r.returncode == 0 and r.stdout.strip() == isa, r.stderr
    else:
        assert r.returncode != 0 and "not supported" in r.stderr


def test_isa_env_unknown_is_clear_error():
    r = _run("import fastdl", FASTDL_ISA="neon9")
    assert r.returncode != 0 and "unknown ISA 'neon9'" in r.stderr


def test_show_config(capsys):
    text = fastdl.show_config()
    out = capsys.readouterr().out
    assert fastdl.__version__ in out and f"threads: {fastdl.get_num_threads()}" in out
    assert f"isa: {fastdl.get_isa()}" in text and "compiler:" in text


def test_allocator_reuses_and_counts():
    gc.collect()  # pooled arrays held by earlier tests' garbage cycles go back first
    fastdl.empty_cache()
    base = fastdl.memory_stats()
    a = fastdl._C.empty((1000, 1000), np.dtype(np.float32))
    s1 = fastdl.memory_stats()
    assert s1["in_use"] >= base["in_use"] + 4_000_000
    assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.flags.writeable
    ptr = a.ctypes.data
    del a  # the last reference: the buffer returns to the pool right here
    s2 = fastdl.memory_stats()
    assert s2["cached"] >= 4_000_000 and s2["in_use"] == base["in_use"]
    b = fastdl._C.empty((999, 1001), np.dtype(np.float32))  # same size class
    s3 = fastdl.memory_stats()
    assert b.ctypes.data == ptr and s3["n_reused"] == s2["n_reused"] + 1
    assert s3["peak"] >= s1["in_use"]
    del b
    fastdl.empty_cache()
    assert fastdl.memory_stats()["cached"] == 0


def test_allocator_cap():
    prev = fastdl.memory_stats()["limit"]
    try:
        fastdl.set_cache_limit(1 << 20)
        a = fastdl._C.empty((4 << 20,), np.dtype(np.uint8))
        del a
        assert fastdl.memory_stats()["cached"] <= 1 << 20
        with pytest.raises(ValueError):
            fastdl.set_cache_limit(-1)
    finally:
        fastdl.set_cache_limit(prev)


def test_allocator_env_cap():
    r = _run("import fastdl, numpy as np\n"
             "a = fastdl._C.empty((3 << 20,), np.dtype(np.uint8)); del a\n"
             "s = fastdl.memory_stats(); print(s['limit'], s['cached'])",
             FASTDL_CACHE_LIMIT="2M")
    limit, cached = map(int, r.stdout.split())
    assert limit == 2 << 20 and cached == 0, r.stderr


def test_array_outlives_cache_and_views_keep_buffer():
    a = fastdl._C.empty((256, 256), np.dtype(np.float64))
    a[...] = 3.0
    v = a[10:20]
    del a
    fastdl.empty_cache()  # the buffer is in use through the view: must not be freed
    gc.collect()
    c = fastdl._C.empty((256, 256), np.dtype(np.float64))
    c[...] = 0.0
    assert (v == 3.0).all()
    t = fastdl.zeros(512, 512)
    d = t._array
    del t
    fastdl.empty_cache()
    d[...] = 1.0
    assert d.sum() == 512 * 512


def test_allocator_thread_safety():
    import threading
    errors = []

    def work():
        try:
            for i in range(200):
                x = fastdl._C.empty((1000 + i,), np.dtype(np.float32))
                x[...] = i
                assert (x == i).all()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_size_class_bounds():
    for n in [1, 255, 256, 257, 1000, 4096, 10**6, 3 * 2**20 + 5]:
        c = fastdl._C.size_class(n)
        assert n <= c <= max(256, int(n * 1.25) + 64) and c % 64 == 0
    with pytest.raises(ValueError):
        fastdl._C.empty((-1, 3), np.dtype(np.float32))
    with pytest.raises(ValueError, match="overflow"):
        fastdl._C.empty((2**40, 2**40), np.dtype(np.float32))
