"""fastdl.save / fastdl.load: safetensors (own writer and parser, checked against the
safetensors package and torch when installed) and .npz; corrupt files are ValueErrors."""
import json
import struct
import zipfile

import numpy as np
import pytest

import fastdl
from fastdl import io as fio


def sample_state():
    rng = np.random.default_rng(0)
    return {
        "conv.weight": fastdl.from_numpy(rng.standard_normal((4, 1, 3, 3)).astype(np.float32)),
        "conv.bias": fastdl.zeros(4),
        "fc.weight64": fastdl.randn(3, 5, dtype=fastdl.float64),
        "steps": fastdl.tensor([7, -2, 2**40]),
        "mask": np.array([[True, False, True]]),
        "half": np.linspace(-2, 2, 6).astype(np.float16),
        "u8": np.arange(5, dtype=np.uint8),
        "i32": np.array([-3, 4], np.int32),
        "scalar": np.float32(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "transposed": fastdl.randn(3, 4).T,  # non-contiguous view
    }


def as_np(v):
    return v.numpy() if isinstance(v, fastdl.Tensor) else np.asarray(v)


@pytest.mark.parametrize("ext", [".safetensors", ".npz", ".bin"])
def test_round_trip_exact(tmp_path, ext):
    sd = sample_state()
    path = tmp_path / f"w{ext}"
    fastdl.save(sd, path, metadata={"epochs": "3", "note": "lenet ✓"})
    back = fastdl.io.load(path, as_numpy=True)
    assert list(back) == list(sd)  # the caller's order
    for k, v in sd.items():
        ref = as_np(v)
        assert back[k].dtype == ref.dtype, k
        assert back[k].shape == ref.shape, k
        np.testing.assert_array_equal(back[k], ref)
    assert fio.load_metadata(path) == {"epochs": "3", "note": "lenet ✓"}
    t = fastdl.load(path)
    assert all(isinstance(v, fastdl.Tensor) for v in t.values())
    assert t["half"].dtype == fastdl.float32 and t["u8"].dtype == fastdl.int64
    assert t["scalar"].shape == () and float(t["scalar"]) == 2.5
    assert t["steps"].tolist() == [7, -2, 2**40]


def test_layout_is_the_safetensors_format(tmp_path):
    path = tmp_path / "w.safetensors"
    fastdl.save({"a": np.ones(3, np.float32), "b": np.array([1], np.int64)}, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert header["a"] == {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]}
    assert header["b"] == {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}
    assert len(raw) == 8 + n + 20
    assert np.frombuffer(raw[8 + n + 8:], "<f4").tolist() == [1.0, 1.0, 1.0]


def test_read_by_safetensors_and_torch(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "w.safetensors"
    sd = sample_state()
    fastdl.save(sd, path, metadata={"k": "v"})
    got = st.load_file(str(path))
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k], as_np(v))
        assert got[k].dtype == as_np(v).dtype
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file
    tt = load_file(str(path))
    assert tt["conv.weight"].dtype == torch.float32 and tt["steps"].dtype == torch.int64
    np.testing.assert_array_equal(tt["conv.weight"].numpy(), sd["conv.weight"].numpy())
    assert tt["mask"].dtype == torch.bool and tt["scalar"].shape == ()
    # and back: a file written by torch (bfloat16 included) is read by fastdl
    tpath = tmp_path / "t.safetensors"
    w = torch.randn(5, 3)
    save_file({"w": w, "b": w[0].to(torch.bfloat16), "n": torch.arange(3, dtype=torch.int16)},
              str(tpath), metadata={"from": "torch"})
    back = fastdl.load(tpath)
    np.testing.assert_array_equal(back["w"].numpy(), w.numpy())
    np.testing.assert_array_equal(back["b"].numpy(), w[0].to(torch.bfloat16).float().numpy())
    assert back["n"].dtype == fastdl.int64 and back["n"].tolist() == [0, 1, 2]
    assert fio.load_metadata(tpath) == {"from": "torch"}


def test_module_state_dict_round_trip(tmp_path):
    class Net(fastdl.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = fastdl.nn.Parameter(fastdl.randn(4, 3))
            self.register_buffer("running", fastdl.zeros(4))

    a, b = Net(), Net()
    a.running._array[:] = 3
    fastdl.save(a.state_dict(), tmp_path / "net.safetensors")
    b.load_state_dict(fastdl.load(tmp_path / "net.safetensors"))
    np.testing.assert_array_equal(a.w.detach().numpy(), b.w.detach().numpy())
    np.testing.assert_array_equal(b.running.numpy(), np.full(4, 3, np.float32))
    with pytest.raises(TypeError, match="state_dict"):
        fastdl.save(a, tmp_path / "x.safetensors")


def test_npz_is_plain_numpy(tmp_path):
    fastdl.save({"fc.weight": fastdl.ones(2, 2), "file": np.arange(3)}, tmp_path / "w.npz")
    with np.load(tmp_path / "w.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["fc.weight", "file"]
        np.testing.assert_array_equal(z["fc.weight"], np.ones((2, 2), np.float32))
    np.savez(tmp_path / "n.npz", a=np.arange(4.0))
    assert fastdl.load(tmp_path / "n.npz")["a"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_bad_values_are_refused(tmp_path):
    p = tmp_path / "w.safetensors"
    with pytest.raises(TypeError, match="no pickling"):
        fastdl.save({"a": [1, object()]}, p)
    with pytest.raises(TypeError, match="keys must be str or int"):
        fastdl.save({1.5: np.zeros(2)}, p)
    with pytest.raises(TypeError, match="cannot be saved"):
        fastdl.save({"o": np.array([object()])}, p)
    with pytest.raises(ValueError, match="reserved"):
        fastdl.save({"__metadata__": np.zeros(1)}, p)
    with pytest.raises(TypeError, match="metadata"):
        fastdl.save({"a": np.zeros(1)}, p, metadata={"n": 3})
    assert not p.exists()


def test_every_truncation_is_a_value_error(tmp_path):
    good = fio.save_bytes({"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                           "b": np.array([1, 2], np.int64)}, metadata={"a": "b"})
    path = tmp_path / "t.safetensors"
    for cut in range(len(good)):
        path.write_bytes(good[:cut])
        with pytest.raises(ValueError, match="truncated|corrupt"):
            fastdl.load(path)
    path.write_bytes(good)
    assert fastdl.load(path)["w"].shape == (2, 3)


def _with_header(header, data=b""):
    hb = json.dumps(header).encode()
    return struct.pack("<Q", len(hb)) + hb + data


@pytest.mark.parametrize("blob,match", [
    (b"", "truncated"),
    (struct.pack("<Q", 2**40) + b"{}", "header length"),
    (struct.pack("<Q", 5) + b"nojsn", "not valid UTF-8 JSON"),
    (struct.pack("<Q", 2) + b"\xff\xfe", "not valid UTF-8 JSON"),
    (_with_header([1, 2]), "not an object"),
    (_with_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
     "needs 8 bytes"),
    (_with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 6),
     "trailing"),
    (_with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
     "gap or overlap"),
    (_with_header({"w": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
     "unsupported dtype"),
    (_with_header({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
     "bad shape"),
    (_with_header({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "corrupt entry"),
    (_with_header({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}), "data_offsets"),
    (_with_header({"__metadata__": {"a": 1}}), "__metadata__"),
])
def test_corrupt_safetensors(tmp_path, blob, match):
    p = tmp_path / "c.safetensors"
    p.write_bytes(blob)
    with pytest.raises(ValueError, match=match):
        fastdl.load(p)


def test_corrupt_npz_and_pickled_objects(tmp_path):
    p = tmp_path / "w.npz"
    fastdl.save({"a": np.arange(100.0)}, p)
    raw = p.read_bytes()
    for cut in (0, 10, len(raw) // 2, len(raw) - 5):
        p.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="npz"):
            fastdl.load(p)
    # an object array needs pickle to load: refused, never unpickled
    with zipfile.ZipFile(tmp_path / "o.npz", "w") as z:
        with z.open("o.npy", "w") as m:
            np.lib.format.write_array(m, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="npz"):
        fastdl.load(tmp_path / "o.npz")
    with pytest.raises(FileNotFoundError):
        fastdl.load(tmp_path / "missing.npz")


def test_header_length_that_looks_like_a_pickle_opcode():
    # a safetensors header of length 0x280 starts with the bytes 80 02, as a pickle does
    for n in range(1, 1000):
        blob = fio.save_bytes({"k" * n: np.zeros(1, np.float32)})
        if blob[:2] == b"\x80\x02":
            break
    assert blob[:2] == b"\x80\x02"
    assert fio.load_bytes(blob)["k" * n].tolist() == [0.0]
