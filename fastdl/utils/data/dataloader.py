"""``DataLoader``: batches of a dataset, with PyTorch's signature and semantics.

Reading order: ``DataLoader.__init__`` builds the index sampler (a ``BatchSampler`` over a
``SequentialSampler``/``RandomSampler`` unless given); ``__iter__`` returns a
single-process iterator (``num_workers=0``: the batches are fetched in the calling thread,
or one batch ahead on a background thread with ``prefetch``) or a multi-process one
(``num_workers > 0``: worker processes fetch and collate, see ``_worker``; batches come back
through shared memory, see ``_shm``, and are delivered in sampler order).
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import numbers
import os
import queue
import threading
import time
import uuid
import warnings

import numpy as np

from . import _shm, _worker
from ._collate import default_collate, default_convert
from ._rng import draw_seed, resolve_generator
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

get_worker_info = _worker.get_worker_info


class _InfiniteConstantSampler(Sampler):
    """``None`` forever: the index sampler of an IterableDataset (indices are unused)."""

    def __iter__(self):
        while True:
            yield None


def _is_int(x):
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for xb, yb in DataLoader(ds, 64, shuffle=True)``.

    Arguments as PyTorch's ``torch.utils.data.DataLoader``:

    * ``batch_size`` (default 1; ``None`` turns automatic batching off: samples come one by
      one through ``default_convert``), ``shuffle`` (a new random order every epoch),
      ``drop_last``; or a ``sampler`` (iterable of indices) or a ``batch_sampler``
      (iterable of index lists), which exclude ``shuffle`` (and, for ``batch_sampler``,
      ``batch_size``/``drop_last``).
    * ``collate_fn``: a list of samples -> a batch (``default_collate``). With the default
      and a dataset that has ``get_batch(indices)`` (TensorDataset, a Subset of one, MNIST,
      Digits), a batch is cut by one fancy-indexing call instead of sample by sample.
    * ``num_workers``: worker processes (``multiprocessing_context``, default the
      platform's) that fetch and collate batches; each has ``prefetch_factor`` (default 2)
      batches in flight, arrays come back through shared memory, batches are delivered in
      order. ``worker_init_fn(worker_id)`` runs first in each worker, which is seeded with
      ``base_seed + worker_id`` (``base_seed`` drawn from ``generator`` each epoch, as
      PyTorch). ``persistent_workers`` keeps them across epochs. ``timeout`` (seconds, 0 =
      wait forever) bounds the wait for one batch. An exception in a worker is re-raised
      here with the worker's traceback; a worker that dies is a RuntimeError. Workers are
      shut down when the iterator is exhausted, garbage-collected or the loop breaks.
    * ``generator``: the random stream of ``shuffle`` and of the worker seeds (a
      ``numpy.random.Generator`` or fastdl generator; default fastdl's global one, so
      ``fastdl.manual_seed`` makes the run reproducible).
    * ``pin_memory``, ``pin_memory_device``: accepted, no effect (CPU only). ``in_order``:
      accepted; batches are always delivered in order.

    fastdl extensions (keyword only): ``seed`` (an int: shorthand for
    ``generator=np.random.default_rng(seed)``) and ``prefetch`` (``num_workers=0`` only:
    batches prepared ahead on a background thread; default 0, the calling thread).

    Example::

        ds = fastdl.utils.data.TensorDataset(fastdl.randn(1000, 20), fastdl.randint(0, 3, (1000,)))
        loader = fastdl.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=2)
        for xb, yb in loader:
            ...                     # xb: (64, 20) float32, yb: (64,) int64
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None, prefetch=0):
        if not _is_int(num_workers) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (not _is_int(prefetch_factor) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive int, got "
                             f"{prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError("DataLoader: worker_init_fn must be callable")
        if not _is_int(prefetch) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an int >= 0, got {prefetch!r}")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: pass either seed= or generator=, not both")
            if not _is_int(seed) or seed < 0:
                raise ValueError(f"DataLoader: seed must be an int >= 0, got {seed!r}")
            generator = np.random.default_rng(int(seed))
        if generator is not None:
            resolve_generator(generator, "DataLoader")  # type check now, not at iter()
        if isinstance(multiprocessing_context, str):
            multiprocessing_context = mp.get_context(multiprocessing_context)

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = bool(persistent_workers)
        self.in_order = bool(in_order)
        self.generator = generator
        self.seed = seed
        self.prefetch = int(prefetch)

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            self._dataset_kind = "map"
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is "
                                 "mutually exclusive with drop_last")
        elif not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            else:
                try:
                    len(dataset)
                except TypeError:
                    raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} "
                                    f"has no __len__; a map-style dataset needs one (or "
                                    f"derive from IterableDataset)") from None
                sampler = RandomSampler(dataset, generator=generator) if shuffle \
                    else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator = None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._dataset_kind == "iterable":
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def _fetcher(self):
        return _worker.make_fetcher(self._dataset_kind, self.dataset, self._auto_collation,
                                    self.collate_fn, self.drop_last, self._default_collate)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(first=False)
            return self._iterator
        return _MultiProcessIter(self)

    def __repr__(self):
        n = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={n}), "
                f"batch_size={self.batch_size}, sampler={type(self.sampler).__name__}, "
                f"num_workers={self.num_workers}, drop_last={self.drop_last})")


class _BaseIter:
    def __init__(self, loader):
        self._loader = loader
        self._index_sampler = loader._index_sampler
        self._sampler_iter = None

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def _next_index(self):
        return next(self._sampler_iter)


_END = object()


class _SingleProcessIter(_BaseIter):
    """Batches fetched in the calling thread (or one ``prefetch`` thread)."""

    def __init__(self, loader):
        super().__init__(loader)
        draw_seed(loader.generator)  # keep the generator's stream as with workers
        self._sampler_iter = iter(self._index_sampler)
        self._fetch = loader._fetcher()
        self._thread = None
        if loader.prefetch > 0:
            self._start_thread(loader.prefetch)

    def _next_data(self):
        index = self._next_index()
        return self._fetch.fetch(index)

    def __next__(self):
        if self._thread is None:
            return self._next_data()
        ok, item = self._q.get()
        if not ok:
            raise item
        if item is _END:
            raise StopIteration
        return item

    def _start_thread(self, depth):
        # The thread holds the sampler iterator and the fetcher, not this iterator, so
        # dropping the iterator (a loop that breaks) stops the thread.
        self._q = q = queue.Queue(maxsize=depth)
        self._stop = stop = threading.Event()
        self._thread = threading.Thread(target=_prefetch_run,
                                        args=(q, stop, self._sampler_iter, self._fetch),
                                        name="fastdl-DataLoader-prefetch", daemon=True)
        self._thread.start()

    def __del__(self):
        if getattr(self, "_thread", None) is not None:
            self._stop.set()


def _prefetch_run(q, stop, sampler_iter, fetcher):
    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    while not stop.is_set():
        try:
            item = (True, fetcher.fetch(next(sampler_iter)))
        except StopIteration:
            put((True, _END))
            return
        except BaseException as e:  # handed to the consumer, raised there
            put((False, e))
            return
        if not put(item):
            return


class _MultiProcessIter(_BaseIter):
    """Worker processes fetch; the main process hands out indices and reorders results."""

    def __init__(self, loader):
        super().__init__(loader)
        self._shutdown = True  # until the workers exist
        n = loader.num_workers
        self._num_workers = n
        self._prefetch_factor = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        ctx = loader.multiprocessing_context or mp.get_context()
        self._base_seed = draw_seed(loader.generator)
        self._shm_prefix = f"fdl{os.getpid()}_{uuid.uuid4().hex[:10]}"
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        try:
            self._start_workers(ctx, loader, n)
        except BaseException:
            self._shutdown = False
            self._shutdown_workers(grace=0.5)
            raise
        self._shutdown = False
        self._generation = 0
        self._reset(first=True)

    def _start_workers(self, ctx, loader, n):
        for wid in range(n):
            iq = ctx.Queue()
            iq.cancel_join_thread()
            w = ctx.Process(
                target=_worker.worker_loop, name=f"fastdl-DataLoader-worker-{wid}",
                args=(loader._dataset_kind, loader.dataset, iq, self._result_queue,
                      self._done_event, loader._auto_collation, loader.collate_fn,
                      loader.drop_last, loader._default_collate, self._base_seed,
                      loader.worker_init_fn, wid, n, self._shm_prefix, os.getpid()),
                daemon=True)
            w.start()
            self._index_queues.append(iq)
            self._workers.append(w)

    def _reset(self, first):
        self._sampler_iter = iter(self._index_sampler)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._queue_cycle = itertools.cycle(range(self._num_workers))
        if not first:
            self._generation += 1
            for q in self._index_queues:
                q.put(_worker._ResumeIteration(self._generation))
            acks = 0
            while acks < self._num_workers:
                data = self._get_data()
                if isinstance(data[0], _worker._ResumeIteration) and \
                        data[0].generation == self._generation:
                    acks += 1
                # else: a stale batch of the previous epoch, dropped (its memory unlinked)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        if self._tasks_outstanding >= self._prefetch_factor * self._num_workers:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._queue_cycle)
            if self._workers_status[wid]:
                break
        else:
            return  # no active worker (iterable dataset exhausted everywhere)
        self._index_queues[wid].put((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _check_workers(self):
        dead = [w for i, w in enumerate(self._workers)
                if self._workers_status[i] and not w.is_alive()]
        if dead:
            desc = ", ".join(f"pid {w.pid}, exit code {w.exitcode}" for w in dead)
            self._shutdown_workers(grace=0.5)
            raise RuntimeError(f"DataLoader worker ({desc}) exited unexpectedly. A worker "
                               f"that is killed (e.g. by the out-of-memory killer, or a "
                               f"crash in native code) cannot report an exception.")

    def _get_data(self):
        deadline = None if self._timeout <= 0 else time.monotonic() + self._timeout
        while True:
            wait = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            try:
                payload = self._result_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                if deadline is not None and time.monotonic() >= deadline:
                    self._shutdown_workers(grace=0.2)
                    raise RuntimeError(f"DataLoader timed out after {self._timeout:g} "
                                       f"seconds") from None
                continue
            return _shm.loads(payload)

    def __next__(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            if self._shutdown:
                raise StopIteration
            idx, data = self._get_data()
            if isinstance(idx, _worker._ResumeIteration):
                continue
            self._tasks_outstanding -= 1
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if idx in self._task_info:
                    self._task_info[idx] = self._task_info[idx] + (data,)
                continue
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process(data)

    def _process(self, data):
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            if not self._persistent:
                self._shutdown_workers()
            data.reraise()
        return data

    def _shutdown_workers(self, grace=5.0):
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except Exception:  # pragma: no cover
                    pass
            deadline = time.monotonic() + grace
            for w in self._workers:
                while w.is_alive() and time.monotonic() < deadline:
                    self._drain()  # a worker blocked on a full pipe needs a reader
                    w.join(timeout=0.05)
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
            self._drain()
            for q in self._index_queues:
                q.close()
            self._result_queue.cancel_join_thread()
            self._result_queue.close()
        finally:
            _shm.unlink_prefix(self._shm_prefix)

    def _drain(self):
        while True:
            try:
                payload = self._result_queue.get(timeout=0.01)
            except (queue.Empty, OSError, ValueError, EOFError):
                return
            try:
                _shm.loads(payload)  # maps and unlinks its segments; then dropped
            except Exception:
                pass

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
