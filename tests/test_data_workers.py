"""DataLoader worker processes: same batches as num_workers=0, in order; seeds and
worker_init_fn; shared-memory transport; exceptions, dead workers, timeouts; shutdown on
break / garbage collection; persistent workers; IterableDataset sharding.

Every test runs under a hang guard (SIGALRM): a hang fails the test instead of the run."""
import gc
import mmap
import os
import signal
import time

import numpy as np
import pytest

import fastdl
from fastdl.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                               get_worker_info)

pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM"),
              pytest.mark.usefixtures("hang_guard")]


class Images(Dataset):
    """Picklable (module level), so it also works with the spawn context."""

    def __init__(self, n=40, fail_at=None, exit_at=None, sleep_at=None):
        self.n, self.fail_at, self.exit_at, self.sleep_at = n, fail_at, exit_at, sleep_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if i == self.exit_at:
            os._exit(3)
        if i == self.sleep_at:
            time.sleep(30)
        x = np.full((3, 16, 16), i, np.float32)
        x[0, 0, 0] = np.random.rand()  # the worker's NumPy seed shows here
        return x, i


def _alive(pids):
    out = []
    for p in pids:
        try:
            os.kill(p, 0)
            # a zombie that was already reaped by join() is gone; check /proc state
            with open(f"/proc/{p}/stat") as f:
                if f.read().split()[2] != "Z":
                    out.append(p)
        except (OSError, FileNotFoundError):
            pass
    return out


def _segments():
    return [f for f in os.listdir("/dev/shm") if f.startswith(f"fdl{os.getpid()}_")] \
        if os.path.isdir("/dev/shm") else []


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_same_batches_in_order_as_single_process(workers):
    ds = Images(37)
    ref = [(xb.numpy()[:, :, 1:, 1:], yb.numpy()) for xb, yb in
           DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(4))]
    got = [(xb.numpy()[:, :, 1:, 1:], yb.numpy()) for xb, yb in
           DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(4),
                      num_workers=workers, prefetch_factor=3)]
    assert len(got) == len(ref) == 8
    for (a, b), (c, d) in zip(got, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert _segments() == []


def test_batches_come_through_shared_memory_and_feed_kernels():
    dl = DataLoader(Images(8), batch_size=8, num_workers=1)  # 24 KiB: above MIN_BYTES
    xb, yb = next(iter(dl))
    base = xb.numpy()
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    assert isinstance(base, mmap.mmap)  # mapped, not unpickled into a fresh buffer
    assert xb.numpy().flags.writeable and xb.numpy().flags.c_contiguous
    out = fastdl.nn.functional.relu(xb - 1.0)
    np.testing.assert_array_equal(out.numpy(), np.maximum(xb.numpy() - 1.0, 0))
    del dl, xb, yb, out
    gc.collect()
    assert _segments() == []


class Seeds(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.seed, info.num_workers, float(np.random.rand()),
                float(fastdl.rand(1)), getattr(info.dataset, "tag", None))


def _init(wid):
    get_worker_info().dataset.tag = f"init{wid}"


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    gen = np.random.default_rng(11)
    rows = list(DataLoader(Seeds(), batch_size=None, num_workers=2, worker_init_fn=_init,
                           generator=gen))
    ids = [r[0] for r in rows]
    assert ids == [0, 1] * 4  # round-robin, delivered in order
    base = int(np.random.default_rng(11).integers(0, 2**63 - 1))
    assert {r[1] for r in rows if r[0] == 0} == {base}
    assert {r[1] for r in rows if r[0] == 1} == {base + 1}
    assert {r[2] for r in rows} == {2}
    assert {r[5] for r in rows} == {"init0", "init1"} and all(r[5] == f"init{r[0]}" for r in rows)
    w0 = [r[3] for r in rows if r[0] == 0]
    w1 = [r[3] for r in rows if r[0] == 1]
    assert w0 != w1  # NumPy's global generator is seeded per worker
    again = list(DataLoader(Seeds(), batch_size=None, num_workers=2,
                            generator=np.random.default_rng(11)))
    assert [r[3:5] for r in again] == [r[3:5] for r in rows]  # reproducible


def test_worker_exception_is_reraised_with_traceback():
    got = []
    with pytest.raises(ValueError) as e:
        for _, yb in DataLoader(Images(20, fail_at=9), batch_size=4, num_workers=2):
            got.append(yb.tolist())
    msg = str(e.value)
    assert "Caught ValueError in DataLoader worker process" in msg
    assert "bad sample 9" in msg and "__getitem__" in msg and "Traceback" in msg
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7]]  # the batches before the failing one arrived
    gc.collect()
    assert _segments() == []


def test_dead_worker_is_an_error_not_a_hang():
    dl = DataLoader(Images(20, exit_at=6), batch_size=4, num_workers=2)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        for _ in dl:
            pass


def test_timeout():
    dl = DataLoader(Images(8, sleep_at=0), batch_size=2, num_workers=1, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        next(iter(dl))
    assert time.monotonic() - t0 < 20  # hang guard only


def test_workers_stop_when_loop_breaks_or_iterator_is_dropped():
    dl = DataLoader(Images(400), batch_size=2, num_workers=2)
    it = iter(dl)
    next(it)
    pids = [w.pid for w in it._workers]
    assert len(_alive(pids)) == 2
    del it
    gc.collect()
    deadline = time.monotonic() + 10
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(pids) == []
    assert _segments() == []
    for _ in dl:  # the for-loop form
        break
    gc.collect()
    assert _segments() == []


def test_persistent_workers_keep_processes_and_restart_epochs():
    dl = DataLoader(Images(24), batch_size=4, num_workers=2, persistent_workers=True,
                    shuffle=True)
    it = iter(dl)
    next(it)  # an epoch cut short leaves stale batches in flight
    pids = [w.pid for w in it._workers]
    for _ in range(3):
        ys = sorted(int(v) for _, yb in dl for v in yb.numpy())
        assert ys == list(range(24))
        assert [w.pid for w in dl._iterator._workers] == pids
    dl._iterator._shutdown_workers()
    gc.collect()
    assert _segments() == []


class Shards(IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_with_workers():
    got = [int(v) for b in DataLoader(Shards(11), batch_size=2, num_workers=3) for v in b]
    assert sorted(got) == list(range(11))
    dup = [int(v) for b in DataLoader(Shards(5, shard=False), batch_size=2, num_workers=2)
           for v in b]
    assert sorted(dup) == sorted(list(range(5)) * 2)  # as torch: one copy per worker
    dl = DataLoader(Shards(11), batch_size=2, num_workers=2, drop_last=True,
                    persistent_workers=True)
    for _ in range(2):
        assert all(len(b) == 2 for b in dl)
        assert len([b for b in dl]) == 5  # worker 0 has 6 items (3 batches), worker 1 has 5
    dl._iterator._shutdown_workers()


def test_tensor_dataset_get_batch_path_with_workers_and_spawn():
    x = fastdl.randn(50, 8)
    ds = TensorDataset(x, fastdl.arange(50))
    got = list(DataLoader(ds, batch_size=16, num_workers=2))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in got]), x.numpy())
    assert isinstance(got[0], list)  # as default_collate gives for tuple samples
    sp = list(DataLoader(Images(6), batch_size=3, num_workers=1,
                         multiprocessing_context="spawn"))
    assert [b[1].tolist() for b in sp] == [[0, 1, 2], [3, 4, 5]]


def _collate_sum(samples):
    from fastdl.utils.data import default_collate
    xb, yb = default_collate(samples)  # stacked into shared memory, then dropped
    return float(xb.numpy().sum()), yb


def test_no_shared_memory_left_behind_by_custom_collate_or_failed_start():
    dl = DataLoader(Images(64), batch_size=16, num_workers=2, collate_fn=_collate_sum,
                    persistent_workers=True)
    for _ in range(2):
        assert len([b for b in dl]) == 4
        assert _segments() == []  # nothing leaks while the workers live on
    dl._iterator._shutdown_workers()
    bad = DataLoader(Images(8), batch_size=2, num_workers=2, collate_fn=lambda s: s,
                     multiprocessing_context="spawn")
    with pytest.raises(Exception, match="(?i)pickl"):
        iter(bad)
    gc.collect()
    assert _segments() == []
