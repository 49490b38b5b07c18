"""Hostile and corrupt weight files: every one is a ValueError after bounded time and memory.

The classes of weight-file defect (zip bombs, huge headers, key floods, deep nesting,
overlapping spans, unsupported npz dtypes, byte order, uint64 overflow, path-like keys), each
with its own test, then hypothesis: corrupt headers and random byte flips / truncations of
valid safetensors, npz and structured files. Memory is measured with tracemalloc (NumPy
reports its buffers to it). Set FASTDL_FUZZ_EXAMPLES for a long run (default: a short CI
profile)."""
import io
import json
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastdl
from fastdl import io as fio

EXAMPLES = int(os.environ.get("FASTDL_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


HANG_GUARD_SECONDS = 120
pytestmark = pytest.mark.usefixtures("hang_guard")


def load_bounded(blob, limit=None):
    """fastdl.load of ``blob``; returns (result or exception, peak traced bytes)."""
    tracemalloc.start()
    try:
        try:
            out = fastdl.io.load_bytes(blob)
        except Exception as e:  # noqa: BLE001 - the caller checks the type
            out = e
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, peak


def assert_refused(blob, match=None, factor=8):
    out, peak = load_bounded(blob)
    assert isinstance(out, ValueError), f"expected ValueError, got {out!r}"[:300]
    if match:
        assert match in str(out), str(out)
    assert peak <= factor * len(blob) + (4 << 20), (peak, len(blob))
    return out


def header_file(header, data=b""):
    hb = json.dumps(header).encode()
    return struct.pack("<Q", len(hb)) + hb + data


# ---- defect classes ---------------------------------------------------------------------------
def test_npz_bomb_is_refused_before_inflating(monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("w.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array(m, np.zeros(8 << 20, np.uint8))  # 8 MiB of zeros
    blob = buf.getvalue()
    assert len(blob) < 64 << 10
    monkeypatch.setattr(fio, "NPZ_MIN_BUDGET", 1 << 20)
    assert_refused(blob, "uncompressed bytes", factor=4)
    monkeypatch.setattr(fio, "NPZ_MIN_BUDGET", 1 << 28)
    assert fastdl.io.load_bytes(blob, as_numpy=True)["w"].shape == (8 << 20,)


def test_npz_forged_sizes_are_refused():
    # a member that declares 3 GiB uncompressed (the 3 MB -> 3 GiB bomb), forged
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", b"\0" * 1000)
    blob = bytearray(buf.getvalue())
    cd = blob.rfind(b"PK\x01\x02")
    struct.pack_into("<I", blob, cd + 24, 3 << 30)  # central directory: uncompressed size
    assert_refused(bytes(blob), "uncompressed bytes")
    # a member whose npy header declares more data than the member holds
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10**9,)})
        z.writestr("w.npy", hdr.getvalue() + b"\0" * 64)
    assert_refused(buf.getvalue(), "needs 8000000000 bytes")


def test_key_flood_and_huge_header_are_bounded(monkeypatch):
    entries = {f"k{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
               for i in range(20000)}
    blob = header_file(entries)
    monkeypatch.setattr(fio, "MAX_JSON_ITEMS", 10000)
    assert_refused(blob, "more than 10000 items")
    monkeypatch.setattr(fio, "MAX_JSON_ITEMS", 1 << 20)
    monkeypatch.setattr(fio, "MAX_TENSORS", 1000)
    assert_refused(blob, "20000 tensors")
    assert_refused(struct.pack("<Q", 2**63) + b"{}", "header length")
    assert_refused(struct.pack("<Q", 1 << 20) + b"{}", "truncated")


def test_deep_nesting_is_a_value_error():
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        text = opener * 100_000 + "1" + closer * 100_000
        hb = text.encode()
        assert_refused(struct.pack("<Q", len(hb)) + hb, "nested too deeply")
    structure = "[" * 50_000 + "]" * 50_000
    blob = header_file({"__metadata__": {"fastdl.structure": structure}})
    assert_refused(blob, "nested too deeply")
    deep = {"@": "tuple", "v": []}
    for _ in range(fio.MAX_DEPTH + 10):
        deep = {"@": "tuple", "v": [deep]}
    blob = header_file({"__metadata__": {"fastdl.structure": json.dumps(deep)}})
    assert_refused(blob, "nested deeper")


def test_overlapping_spans_do_not_multiply_memory():
    data = b"\0" * (1 << 20)
    entries = {f"w{i}": {"dtype": "U8", "shape": [1 << 20], "data_offsets": [0, 1 << 20]}
               for i in range(200)}  # 200 tensors all claiming the same MiB
    assert_refused(header_file(entries, data), "gap or overlap", factor=3)


def npz_of(**arrays):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, a in arrays.items():
            with z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, a, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("arr,kind", [
    (np.array([1 + 2j]), "complex"), (np.array(["abc"]), "string"),
    (np.array([b"ab"]), "bytes"), (np.array(["2020-01-01"], "datetime64[D]"), "datetime"),
    (np.array([1], "timedelta64[s]"), "timedelta"),
    (np.zeros(2, [("a", "<f4"), ("b", "<i4")]), "structured"),
])
def test_npz_unsupported_dtypes_are_refused(arr, kind):
    assert_refused(npz_of(x=arr), kind)


def test_npz_byte_order_precision_and_uint64():
    v = np.array([np.pi, -1e300, 2.0**-1070], ">f8")
    back = fastdl.io.load_bytes(npz_of(a=v))["a"]
    assert back.dtype == fastdl.float64
    np.testing.assert_array_equal(back.numpy(), v.astype("<f8"))
    be32 = fastdl.io.load_bytes(npz_of(b=np.array([1.5, -2], ">f4")))["b"]
    assert be32.dtype == fastdl.float32 and be32.tolist() == [1.5, -2.0]
    big = npz_of(u=np.array([0, np.iinfo(np.uint64).max], np.uint64))
    assert_refused(big, "uint64")
    ok = fastdl.io.load_bytes(npz_of(u=np.array([0, 2**63 - 1], np.uint64)))["u"]
    assert ok.dtype == fastdl.int64 and ok.tolist() == [0, 2**63 - 1]
    # the same rules for safetensors
    st = fio.save_bytes({"u": np.array([2**64 - 1], np.uint64)})
    assert_refused(st, "uint64")
    f8 = fio.save_bytes({"d": np.array([np.pi])})
    assert fastdl.io.load_bytes(f8)["d"].dtype == fastdl.float64


@pytest.mark.parametrize("key", ["../../x", "/abs", "a/b", "a\\b", "..", ".hidden", "",
                                 "nul\0", "new\nline"])
def test_npz_save_refuses_path_like_keys(tmp_path, key):
    p = tmp_path / "w.npz"
    with pytest.raises(ValueError, match="plain name"):
        fastdl.save({key: fastdl.ones(1)}, p)
    assert not p.exists() and not (tmp_path.parent / "x.npy").exists()
    fastdl.save({"layer1.0.conv-1.weight": fastdl.ones(1)}, p)  # module keys are fine


# ---- hypothesis ---------------------------------------------------------------------------
def _valid_files():
    rng = np.random.default_rng(0)
    flat = {"w": rng.standard_normal((3, 4)).astype(np.float32),
            "b": np.arange(3, dtype=np.int64), "m": np.array([True, False])}
    nested = {"epoch": 2, "model": {"w": fastdl.ones(2, 2)}, "opt": {"state": {0: {"s": 1.5}}},
              "t": (1, "x", None)}
    out = [fio.save_bytes(flat), fio.save_bytes(flat, metadata={"a": "b"}),
           fio.save_bytes(nested)]
    for obj in (flat, nested):
        buf = io.BytesIO()
        buf.write(fio._npz_bytes(obj, None))
        out.append(buf.getvalue())
    from test_io_checkpoint import _torch_zip
    pkl = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
           b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00"
           b"K\x02K\x02\x86K\x02K\x01\x86\x89ccollections\nOrderedDict\n)RtR.")
    out.append(_torch_zip(pkl, {"0": np.arange(4, dtype="<f4").tobytes()}))
    assert fastdl.io.load_bytes(out[-1]).shape == (2, 2)
    return out


VALID = _valid_files()


@FUZZ
@given(which=st.integers(0, len(VALID) - 1),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                      max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_random_byte_flips_and_truncations(which, flips, cut):
    blob = bytearray(VALID[which])
    for pos, val in flips:
        blob[pos % len(blob)] = val
    if cut is not None:
        blob = blob[:cut % (len(blob) + 1)]
    out, peak = load_bounded(bytes(blob))
    assert not isinstance(out, Exception) or isinstance(out, ValueError), repr(out)[:300]
    assert peak <= 16 * len(blob) + (4 << 20)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) |
    st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=20)

entry = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F64", "I64", "U8", "BOOL", "BF16", "F16", "U64", "X",
                              "C64"]),
    "shape": st.lists(st.integers(-2, 2**62), max_size=4) | json_values,
    "data_offsets": st.lists(st.integers(-5, 2**64), min_size=0, max_size=3) | json_values,
})


@FUZZ
@given(header=st.dictionaries(st.text(max_size=6), entry | json_values, max_size=5),
       data=st.binary(max_size=64), lie=st.one_of(st.none(), st.integers(0, 2**64 - 1)))
def test_hostile_safetensors_headers(header, data, lie):
    hb = json.dumps(header).encode()
    blob = struct.pack("<Q", len(hb) if lie is None else lie) + hb + data
    out, peak = load_bounded(blob)
    assert not isinstance(out, Exception) or isinstance(out, ValueError), repr(out)[:300]
    assert peak <= 16 * len(blob) + (4 << 20)


@FUZZ
@given(structure=json_values | st.builds(lambda v: {"@": "tensor", "k": v}, json_values) |
       st.builds(lambda t, k, v: {"@": t, "k": k, "v": v},
                 st.sampled_from(["dict", "odict", "tuple", "np", "float", "param", "zz"]),
                 json_values, json_values))
def test_hostile_structures(structure):
    blob = header_file({"__metadata__": {"fastdl.structure": json.dumps(structure)},
                        "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                       b"\0" * 4)
    out, peak = load_bounded(blob)
    assert not isinstance(out, Exception) or isinstance(out, ValueError), repr(out)[:300]
