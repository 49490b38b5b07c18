"""fastdl.utils.data samplers, datasets and collate rules, held to torch.utils.data (when
installed) on everything that is not a random draw: coverage, padding, lengths, batch
composition, per-epoch reshuffling, collate types and dtypes, error types."""
import collections
import itertools

import numpy as np
import pytest

import fastdl
import fastdl.data
import fastdl.data.dataloader
from fastdl.utils import data as U


def _torch_data():
    torch = pytest.importorskip("torch")
    import torch.utils.data as td
    return torch, td


def test_alias_package_is_the_same_code():
    assert fastdl.data.DataLoader is U.DataLoader
    assert fastdl.data.dataloader is U.dataloader
    assert fastdl.data.datasets.MNIST is U.datasets.MNIST
    for name in U.__all__:
        assert getattr(fastdl.data, name) is getattr(U, name)


@pytest.mark.parametrize("n", [0, 1, 7, 10])
def test_sequential_and_batch_sampler_match_torch(n):
    _, td = _torch_data()
    for bs, dl in itertools.product([1, 3, 4, 11], [False, True]):
        ours = list(U.BatchSampler(U.SequentialSampler(range(n)), bs, dl))
        ref = list(td.BatchSampler(td.SequentialSampler(range(n)), bs, dl))
        assert ours == ref
        assert len(U.BatchSampler(range(n), bs, dl)) == len(td.BatchSampler(range(n), bs, dl))


@pytest.mark.parametrize("num_samples", [None, 3, 10, 23])
@pytest.mark.parametrize("replacement", [False, True])
def test_random_sampler_coverage_and_length(num_samples, replacement):
    _, td = _torch_data()
    n = 10
    s = U.RandomSampler(range(n), replacement=replacement, num_samples=num_samples,
                        generator=np.random.default_rng(0))
    ref = td.RandomSampler(range(n), replacement=replacement, num_samples=num_samples)
    got = list(s)
    assert len(got) == len(s) == len(list(ref)) == len(ref)
    assert all(0 <= i < n for i in got)
    if not replacement:
        # whole permutations, then part of one: each index at most ceil(m / n) times,
        # and every full block of n is a permutation
        m = len(got)
        for b in range(m // n):
            assert sorted(got[b * n:(b + 1) * n]) == list(range(n))
        assert len(set(got[(m // n) * n:])) == m % n


def test_random_sampler_reshuffles_and_is_reproducible():
    fastdl.manual_seed(3)
    s = U.RandomSampler(range(50))
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(50)) and e1 != e2
    fastdl.manual_seed(3)
    assert [list(s), list(s)] == [e1, e2]
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    assert list(U.RandomSampler(range(20), generator=g1)) == \
        list(U.RandomSampler(range(20), generator=g2))


def test_sampler_argument_errors_match_torch():
    _, td = _torch_data()
    cases = [
        (lambda m: m.RandomSampler(range(3), replacement=1), None),
        (lambda m: m.RandomSampler(range(3), num_samples=0), None),
        (lambda m: m.BatchSampler(range(3), 0, False), None),
        (lambda m: m.BatchSampler(range(3), 2, 1), None),
        (lambda m: m.WeightedRandomSampler([[1.0]], 2), None),
        (lambda m: m.WeightedRandomSampler([1.0], 0), None),
        (lambda m: m.WeightedRandomSampler([1.0], 2, replacement=0), None),
        (lambda m: m.DistributedSampler(range(3), num_replicas=2, rank=2), None),
        (lambda m: m.DistributedSampler(range(3), num_replicas=2, rank=-1), None),
    ]
    for make, _ in cases:
        with pytest.raises(Exception) as ref:
            make(td)
        with pytest.raises(type(ref.value)) as ours:
            make(U)
        assert str(ref.value).split(",")[0].split(" but")[0] in str(ours.value)


def test_subset_and_weighted_samplers():
    idx = [3, 9, 4, 12]
    s = U.SubsetRandomSampler(idx, generator=np.random.default_rng(0))
    assert sorted(s) == sorted(idx) and len(s) == 4
    w = U.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 4000, generator=np.random.default_rng(0))
    got = np.bincount(list(w), minlength=4)
    assert got[0] == got[2] == 0 and 0.7 < got[3] / 4000 < 0.8
    nr = list(U.WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False))
    assert sorted(nr) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="without replacement"):
        U.WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


@pytest.mark.parametrize("n", [1, 2, 7, 10, 12, 13])
@pytest.mark.parametrize("world", [1, 3, 4, 5])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_matches_torch(n, world, drop_last):
    _, td = _torch_data()
    # unshuffled: the exact same shards as torch
    for r in range(world):
        ours = U.DistributedSampler(range(n), world, r, shuffle=False, drop_last=drop_last)
        ref = td.DistributedSampler(range(n), world, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    # shuffled: per epoch the shards are disjoint (up to torch's padding) and cover it
    for epoch in range(3):
        shards = []
        for r in range(world):
            s = U.DistributedSampler(range(n), world, r, seed=5, drop_last=drop_last)
            s.set_epoch(epoch)
            shards.append(list(s))
        ref_lens = [len(td.DistributedSampler(range(n), world, r, drop_last=drop_last))
                    for r in range(world)]
        assert [len(x) for x in shards] == ref_lens
        flat = sum(shards, [])
        if drop_last:
            assert len(set(flat)) == len(flat)
        else:
            assert set(flat) == set(range(n))
            counts = collections.Counter(flat)
            pad = len(flat) - n
            assert sum(c - 1 for c in counts.values()) == pad
        if epoch == 0:
            first = shards
        elif n > 3:
            assert shards != first  # a new order each epoch


def test_distributed_sampler_is_the_same_on_every_rank_and_reads_mpi_env(monkeypatch):
    a = U.DistributedSampler(range(100), 4, 1, seed=3)
    b = U.DistributedSampler(range(100), 4, 1, seed=3)
    a.set_epoch(2), b.set_epoch(2)
    assert list(a) == list(b)
    for k in ("WORLD_SIZE", "RANK", "PMI_SIZE", "PMI_RANK", "SLURM_NTASKS", "SLURM_PROCID",
              "PMIX_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "2")
    s = U.DistributedSampler(range(9), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (3, 2, [2, 5, 8])
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    with pytest.raises(RuntimeError, match="num_replicas"):
        U.DistributedSampler(range(9))


def test_datasets_stack_chain_concat_subset():
    a, b = U.TensorDataset(fastdl.arange(5)), U.TensorDataset(fastdl.arange(5) * 10)
    st = U.StackDataset(a, b)
    assert len(st) == 5 and [int(v[0]) for v in st[2]] == [2, 20]
    sd = U.StackDataset(x=a, y=b)
    assert set(sd[1]) == {"x", "y"}
    with pytest.raises(ValueError):
        U.StackDataset(a, y=b)
    with pytest.raises(ValueError, match="Size mismatch"):
        U.StackDataset(a, U.TensorDataset(fastdl.arange(3)))

    class Stream(U.IterableDataset):
        def __init__(self, lo, hi):
            self.lo, self.hi = lo, hi

        def __iter__(self):
            return iter(range(self.lo, self.hi))

        def __len__(self):
            return self.hi - self.lo

    ch = Stream(0, 3) + Stream(10, 12)
    assert isinstance(ch, U.ChainDataset) and list(ch) == [0, 1, 2, 10, 11] and len(ch) == 5
    cat = a + b
    assert int(cat[-1][0]) == 40 and len(cat) == 10
    with pytest.raises(TypeError):
        U.ConcatDataset([Stream(0, 2)])
    sub = U.Subset(cat, [9, 0])
    assert [int(x[0]) for x in sub.__getitems__([0, 1])] == [40, 0]


def test_random_split_matches_torch_sizes():
    _, td = _torch_data()
    for n, lengths in [(10, [0.5, 0.3, 0.2]), (11, [0.33, 0.33, 0.34]), (7, [3, 4]),
                       (100, [0.1] * 10)]:
        ours = [len(s) for s in U.random_split(range(n), lengths, seed=0)]
        ref = [len(s) for s in td.random_split(range(n), lengths)]
        assert ours == ref
    parts = U.random_split(range(10), [0.5, 0.5], generator=np.random.default_rng(1))
    assert sorted(np.concatenate([p.indices for p in parts]).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="does not equal"):
        U.random_split(range(10), [3, 3])


Point = collections.namedtuple("Point", "x y")


def _to_np(obj):
    """A collated batch as NumPy (fastdl or torch), keeping containers and their types."""
    if isinstance(obj, fastdl.Tensor):
        return ("T", obj.numpy())
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):
        return ("T", obj.detach().numpy())
    if isinstance(obj, dict):
        return ("dict", {k: _to_np(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, [_to_np(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_to_np(v) for v in obj])
    return ("other", obj)


def _same(a, b):
    assert a[0] == b[0], (a, b)
    if a[0] == "T":
        assert a[1].dtype == b[1].dtype and a[1].shape == b[1].shape, (a[1], b[1])
        np.testing.assert_array_equal(a[1], b[1])
    elif a[0] == "dict":
        assert list(a[1]) == list(b[1])
        for k in a[1]:
            _same(a[1][k], b[1][k])
    elif isinstance(a[1], list):
        assert len(a[1]) == len(b[1])
        for x, y in zip(a[1], b[1]):
            _same(x, y)
    else:
        assert a[1] == b[1]


COLLATE_CASES = [
    [(1, 2.0), (3, 4.5)],
    [[1, 2.0], [3, 4.0]],
    [Point(1, np.float32(2)), Point(3, np.float32(4))],
    [{"a": np.zeros((2, 3), np.float32), "b": "s0"}, {"a": np.ones((2, 3), np.float32),
                                                     "b": "s1"}],
    [True, False, True],
    [np.float64(1.5), np.float64(2)],
    [np.int64(3), np.int64(4)],
    [np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int64) * 2],
    [np.arange(4, dtype=np.float64), np.arange(4, dtype=np.float64)],
    ["a", "b"],
    [{"nested": [(1.0, 2), (3.0, 4)]}, {"nested": [(5.0, 6), (7.0, 8)]}],
]


@pytest.mark.parametrize("case", range(len(COLLATE_CASES)))
def test_default_collate_matches_torch(case):
    torch, td = _torch_data()
    batch = COLLATE_CASES[case]
    _same(_to_np(U.default_collate(batch)), _to_np(td.default_collate(batch)))


def test_default_collate_tensors_and_errors_match_torch():
    torch, td = _torch_data()
    ours = U.default_collate([fastdl.ones(2, 2), fastdl.zeros(2, 2)])
    ref = td.default_collate([torch.ones(2, 2), torch.zeros(2, 2)])
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    for bad in ([np.array(["a"]), np.array(["b"])], [object()], [[1, 2], [1]],
                [np.zeros(2), np.zeros(3)]):
        with pytest.raises(Exception) as r:
            td.default_collate(bad)
        with pytest.raises(type(r.value)):
            U.default_collate(bad)


@pytest.mark.parametrize("data", [
    [np.zeros(2), (np.ones(1), 3)], {"a": np.float32(3), "s": "x"}, Point(np.ones(2), 1),
    np.array(["a"]), 5, "str"])
def test_default_convert_matches_torch(data):
    torch, td = _torch_data()
    _same(_to_np(U.default_convert(data)), _to_np(td.default_convert(data)))


def test_dataloader_batches_match_torch_single_process():
    torch, td = _torch_data()
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)

    class DS:
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return {"x": x[i], "y": int(y[i]), "name": f"s{i}"}

    for kw in [dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
               dict(batch_sampler=[[0, 5], [9, 1, 2]]), dict(sampler=[3, 1, 4], batch_size=2)]:
        ours = list(U.DataLoader(DS(), **kw))
        ref = list(td.DataLoader(DS(), **kw))
        assert len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _same(_to_np(a), _to_np(b))
        assert len(U.DataLoader(DS(), **kw)) == len(td.DataLoader(DS(), **kw))


def test_dataloader_argument_errors_match_torch():
    _, td = _torch_data()
    ds = list(range(10))

    class It(td.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    class ItU(U.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    cases = [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
             dict(persistent_workers=True), dict(sampler=[0], shuffle=True),
             dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], drop_last=True),
             dict(batch_size=None, drop_last=True), dict(batch_size=0)]
    for kw in cases:
        with pytest.raises(Exception) as r:
            td.DataLoader(ds, **kw)
        with pytest.raises(type(r.value), match=str(r.value)[:25].replace("(", r"\(")):
            U.DataLoader(ds, **kw)
    for kw in [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])]:
        with pytest.raises(ValueError) as r:
            td.DataLoader(It(), **kw)
        with pytest.raises(ValueError, match="IterableDataset"):
            U.DataLoader(ItU(), **kw)
    assert list(U.DataLoader(ItU(), batch_size=2))[1].tolist() == [2]


def test_dataloader_shuffle_epochs_and_generator():
    ds = U.TensorDataset(fastdl.arange(40))
    dl = U.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(0))
    e1 = [int(v) for (b,) in dl for v in b.numpy()]
    e2 = [int(v) for (b,) in dl for v in b.numpy()]
    assert sorted(e1) == sorted(e2) == list(range(40)) and e1 != e2
    dl2 = U.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(0))
    assert [int(v) for (b,) in dl2 for v in b.numpy()] == e1
    fastdl.manual_seed(1)
    a = [b.numpy().tolist() for (b,) in U.DataLoader(ds, batch_size=8, shuffle=True)]
    fastdl.manual_seed(1)
    assert a == [b.numpy().tolist() for (b,) in U.DataLoader(ds, batch_size=8, shuffle=True)]
    with pytest.raises(TypeError, match="generator"):
        U.DataLoader(ds, generator=3)
