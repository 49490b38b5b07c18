"""fastdl.save / fastdl.load of whole training states: nested structures, file objects,
map_location, old flat files, bit-identical resume; PyTorch zip checkpoints read through the
restricted unpickler; malicious pickles refused without running."""
import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastdl
from fastdl import io as fio
from fastdl import nn
import fastdl.nn.functional as F


def _same(a, b):
    """Deep equality with exact arrays, container types and dtypes."""
    assert type(a) is type(b) or (isinstance(a, fastdl.Tensor) and isinstance(b, fastdl.Tensor)), \
        (type(a), type(b))
    if isinstance(a, fastdl.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.requires_grad == b.requires_grad
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b and type(a) is type(b)


def nested_state():
    return {
        "epoch": 7, "step": 2**40, "neg": -3, "lr": 0.1, "eps": 1e-8, "inf": float("inf"),
        "nan": float("nan"), "name": "lenet ✓", "none": None, "flag": True,
        "betas": (0.9, 0.999), "empty": {}, "elist": [], "etuple": (),
        "model": collections.OrderedDict([("fc.weight", fastdl.randn(3, 4)),
                                          ("fc.bias", fastdl.zeros(3, dtype=fastdl.float64))]),
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones((3, 4), np.float32)},
                                1: {"step": 3, "momentum": np.arange(3.0)}},
                      "param_groups": [{"lr": 0.01, "params": [0, 1], "foreach": None}]},
        "ints": fastdl.tensor([1, 2, 3]), "mask": fastdl.tensor([True, False]),
        "np_scalar": np.float32(2.5), "np_int": np.int64(-4),
        "deep": [[[{"x": (1, [2, {"y": fastdl.ones(1)}])}]]],
    }


@pytest.mark.parametrize("ext", [".safetensors", ".pt", ".npz"])
def test_nested_round_trip(tmp_path, ext):
    obj = nested_state()
    path = tmp_path / f"ckpt{ext}"
    fastdl.save(obj, path, metadata={"who": "test"})
    _same(fastdl.load(path), obj)
    assert fio.load_metadata(path) == {"who": "test"}


def test_file_objects_and_shared_tensors():
    t = fastdl.randn(5)
    obj = {"a": t, "b": [t, t], "p": nn.Parameter(fastdl.ones(2))}
    buf = io.BytesIO()
    fastdl.save(obj, buf)
    buf.seek(0)
    back = fastdl.load(buf)
    assert back["a"] is back["b"][0] is back["b"][1]  # stored once, shared on load
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    np.testing.assert_array_equal(back["a"].numpy(), t.numpy())
    assert fio.load_bytes(fio.save_bytes(obj))["a"].shape == (5,)


def test_nested_file_is_safetensors_readable_elsewhere(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "c.safetensors"
    fastdl.save({"model": {"w": fastdl.ones(2)}, "epoch": 1}, path)
    got = st.load_file(str(path))
    assert list(got) == ["model.w"] and got["model.w"].tolist() == [1.0, 1.0]


def test_map_location(tmp_path):
    path = tmp_path / "m.safetensors"
    fastdl.save({"w": fastdl.ones(2)}, path)
    for ml in (None, "cpu", {"cuda:0": "cpu"}, {"cpu": "cpu"}, lambda s, loc: s,
               lambda s, loc: None):
        assert fastdl.load(path, map_location=ml)["w"].tolist() == [1.0, 1.0]
    seen = []
    fastdl.load(path, map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cpu"]
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.load(path, map_location="cuda:0")
    with pytest.raises(RuntimeError, match="CPU only"):
        fastdl.load(path, map_location={"cpu": "cuda:1"})
    assert fastdl.load(path, weights_only=False)["w"].shape == (2,)


def test_old_flat_files_still_load(tmp_path):
    # a flat dict is written exactly as before: plain safetensors, no structure entry
    path = tmp_path / "flat.safetensors"
    fastdl.save({"a": fastdl.ones(2), "b": fastdl.zeros(3)}, path)
    header = fio._parse_header(path.read_bytes(), "x")[0]
    assert "__metadata__" not in header and set(header) == {"a", "b"}
    back = fastdl.load(path)
    assert type(back) is dict and list(back) == ["a", "b"]


def test_save_refuses_unsupported_things(tmp_path):
    p = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="state_dict"):
        fastdl.save(nn.Linear(2, 2), p)
    with pytest.raises(TypeError, match="no pickling"):
        fastdl.save({"f": lambda: 0}, p)
    with pytest.raises(TypeError, match="str or int"):
        fastdl.save({(1, 2): 3}, p)
    with pytest.raises(TypeError, match="never pickles"):
        fastdl.save({}, p, pickle)
    deep = []
    for _ in range(fio.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        fastdl.save({"d": deep}, p)
    assert not p.exists()


def _train(model, opt, sched, loader, epochs):
    lossf = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()


def _setup(seed):
    fastdl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = fastdl.optim.Adam(model.parameters(), lr=1e-2)
    sched = fastdl.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return model, opt, sched


def test_resume_is_bit_identical(tmp_path):
    rng = np.random.default_rng(0)
    ds = fastdl.utils.data.TensorDataset(rng.standard_normal((96, 6)).astype(np.float32),
                                         rng.integers(0, 3, 96))
    loader = fastdl.utils.data.DataLoader(ds, batch_size=16, shuffle=True)  # global RNG
    model, opt, sched = _setup(1)
    _train(model, opt, sched, loader, 2)
    gen = fastdl.random.default_generator()
    fastdl.save({"epoch": 2, "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "rng": gen.bit_generator.state},
                tmp_path / "ckpt.pt")
    _train(model, opt, sched, loader, 2)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model2, opt2, sched2 = _setup(99)  # different init and RNG
    state = fastdl.load(tmp_path / "ckpt.pt", map_location="cpu")
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])
    fastdl.random.default_generator().bit_generator.state = state["rng"]
    assert state["epoch"] == 2
    _train(model2, opt2, sched2, loader, 2)
    for k, v in model2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), expected[k], err_msg=k)  # bitwise


# ---- PyTorch checkpoints -----------------------------------------------------------------
def test_reads_torch_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    tm(torch.randn(5, 4)).sum().backward()
    topt.step()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {"epoch": 4, "model": tm.state_dict(), "optimizer": topt.state_dict(),
           "half": torch.linspace(-1, 1, 5).half(), "bf16": torch.ones(3, dtype=torch.bfloat16),
           "view": base[1:, ::2], "t": base.t(), "param": torch.nn.Parameter(torch.ones(2)),
           "i8": torch.tensor([-3, 4], dtype=torch.int8), "b": torch.tensor([True, False]),
           "size": torch.Size([2, 3]), "dtype": torch.float32, "betas": (0.9, 0.99),
           "set": {1, 2}, "bytes": b"\x00\xffab", "empty": torch.zeros(0, 3)}
    path = tmp_path / "torch.pt"
    torch.save(obj, path)
    back = fastdl.load(path, map_location="cpu")
    assert back["epoch"] == 4 and back["betas"] == (0.9, 0.99) and back["size"] == (2, 3)
    assert back["set"] == {1, 2} and back["bytes"] == b"\x00\xffab"
    assert isinstance(back["model"], collections.OrderedDict)
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(back["model"][k].numpy(), v.numpy())
    np.testing.assert_array_equal(back["view"].numpy(), base[1:, ::2].numpy())
    np.testing.assert_array_equal(back["t"].numpy(), base.t().numpy())
    np.testing.assert_array_equal(F.relu(back["view"] - 10.0).numpy(),
                                  np.maximum(base[1:, ::2].numpy() - 10, 0))
    np.testing.assert_array_equal(back["half"].numpy(), obj["half"].float().numpy())
    assert back["half"].dtype == fastdl.float32 and back["bf16"].tolist() == [1.0] * 3
    assert back["i8"].tolist() == [-3, 4] and back["b"].tolist() == [True, False]
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    assert back["empty"].shape == (0, 3)
    st = back["optimizer"]["state"]
    np.testing.assert_array_equal(st[0]["momentum_buffer"].numpy(),
                                  topt.state_dict()["state"][0]["momentum_buffer"].numpy())
    # the weights drive the same fastdl model to the same outputs
    fm = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    fm.load_state_dict(back["model"])
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    np.testing.assert_allclose(fm(fastdl.tensor(x)).detach().numpy(),
                               tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    with open(path, "rb") as f:  # a file object works too
        assert fastdl.load(f)["epoch"] == 4


def _torch_zip(pickle_bytes, storages=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        for k, v in (storages or {}).items():
            z.writestr(f"archive/data/{k}", v)
    return buf.getvalue()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


def test_malicious_checkpoints_never_run_code(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        pickle.dumps(_Evil(marker), protocol=2),
        pickle.dumps({"model": collections.OrderedDict(w=_Evil(marker))}, protocol=2),
        pickle.dumps([_EvalEvil()], protocol=4),
        b"\x80\x02csubprocess\ncall\n(X\x04\x00\x00\x00trueq\x00tR.",
        b"\x80\x02ctorch\nload\nq\x00.",
        b"\x80\x02cbuiltins\ngetattr\nq\x00.",
        b"\x80\x02ccollections\ndefaultdict\nq\x00.",
    ]
    for i, p in enumerate(payloads):
        path = tmp_path / f"evil{i}.pt"
        path.write_bytes(_torch_zip(p))
        with pytest.raises(pickle.UnpicklingError, match="not allowed") as e:
            fastdl.load(path)
        assert isinstance(e.value, ValueError) and isinstance(e.value, fio.UnsafeCheckpointError)
        assert not marker.exists()
    # a raw (non-zip) pickle is refused before any unpickling
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(ValueError, match="legacy"):
        fastdl.load(raw)
    assert not marker.exists()


def test_corrupt_torch_checkpoints_are_value_errors(tmp_path):
    def tensor_pickle(size, stride, offset, numel):
        # what torch writes for one float tensor, built by hand (no torch needed)
        return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"
                + b"J" + numel.to_bytes(4, "little") + b"tQ"
                + b"J" + offset.to_bytes(4, "little")
                + b"(" + b"".join(b"J" + s.to_bytes(4, "little") for s in size) + b"t"
                + b"(" + b"".join(b"J" + s.to_bytes(4, "little") for s in stride) + b"t"
                + b"\x89ccollections\nOrderedDict\n)RtR.")
    ok = tensor_pickle((2, 2), (2, 1), 0, 4)
    data = np.arange(4, dtype="<f4").tobytes()
    p = tmp_path / "c.pt"
    p.write_bytes(_torch_zip(ok, {"0": data}))
    assert fastdl.load(p).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    for bad, storages, match in [
        (tensor_pickle((3, 2), (2, 1), 0, 4), {"0": data}, "reads past"),
        (tensor_pickle((2, 2), (2, 1), 1, 4), {"0": data}, "reads past"),
        (ok, {"0": data[:12]}, "need 16"),
        (ok, {}, "missing"),
        (ok[:40], {"0": data}, "corrupt"),
    ]:
        p.write_bytes(_torch_zip(bad, storages))
        with pytest.raises(ValueError, match=match):
            fastdl.load(p)


@pytest.mark.parametrize("ext", [".safetensors", ".npz"])
def test_loaded_tensors_feed_the_kernels(tmp_path, ext):
    path = tmp_path / f"w{ext}"
    fastdl.save({"w": fastdl.tensor([-1.0, 2.0]), "d": fastdl.tensor([-1.0, 3.0],
                                                                     dtype=fastdl.float64),
                 "nested": [fastdl.ones(2)]}, path)
    back = fastdl.load(path)
    for t in (back["w"], back["d"], back["nested"][0]):
        np.testing.assert_array_equal(F.relu(t).numpy(), np.maximum(t.numpy(), 0))
    big = fastdl.io.load_bytes(__import__("test_io_fuzz").npz_of(b=np.array([1.5, -2], ">f8")))
    assert F.relu(big["b"]).tolist() == [1.5, 0.0]
