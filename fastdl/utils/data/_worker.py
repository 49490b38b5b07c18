"""What runs inside a DataLoader worker process, and ``get_worker_info``.

A worker takes ``(task index, batch indices)`` from its own index queue, fetches and
collates the batch (into shared memory, see ``_shm``), and puts ``(task index, batch)`` on
the result queue shared by all workers. An exception is sent back wrapped with its
traceback; the end of an iterable dataset is sent as ``_IterableDatasetStopIteration``.
``None`` on the index queue (or the main process disappearing) ends the worker.
"""
from __future__ import annotations

import os
import queue
import random
import sys
import traceback

import numpy as np

from . import _collate, _shm

_POLL = 1.0  # seconds between checks that the main process is still alive


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id`` (0..num_workers-1),
    ``num_workers``, ``seed`` (``base_seed + id``; fastdl, ``random`` and NumPy's legacy
    global generator are seeded from it) and ``dataset`` (this worker's copy)."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        return f"WorkerInfo({', '.join(f'{k}={getattr(self, k)!r}' for k in self.__keys)})"


_worker_info = None


def get_worker_info():
    """Inside a DataLoader worker process: a ``WorkerInfo`` (``id``, ``num_workers``,
    ``seed``, ``dataset``); in the main process: ``None``. Use it in an
    ``IterableDataset.__iter__`` or a ``worker_init_fn`` to give each worker its share.

    Example::

        info = fastdl.utils.data.get_worker_info()
        start = 0 if info is None else info.id
    """
    return _worker_info


class _IterableDatasetStopIteration:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    """Sent to persistent workers at the start of an epoch; echoed back as an ack."""

    def __init__(self, generation):
        self.generation = generation


class ExceptionWrapper:
    """An exception raised in a worker, with its formatted traceback, re-raised in the main
    process as the same type (RuntimeError when that type cannot be rebuilt from a
    message)."""

    def __init__(self, exc_info, where):
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyError(msg)  # KeyError quotes its message; keep newlines readable
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last, use_get_batch):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.get_batch = getattr(dataset, "get_batch", None) if use_get_batch else None
        self.getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.get_batch is not None:
            return _batch_result(self.get_batch(np.asarray(index, dtype=np.int64)))
        if self.getitems is not None:
            data = self.getitems(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.it))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
            return self.collate_fn(data)
        return self.collate_fn(next(self.it))


def _batch_result(batch):
    """A ``get_batch`` result as ``default_collate`` would give it: arrays become Tensors,
    a tuple of fields a list."""
    from ...tensor import Tensor, _as_array

    def conv(b):
        return Tensor._make(_as_array(b, copy=False)) if isinstance(b, np.ndarray) else b
    if isinstance(batch, tuple) and not hasattr(batch, "_fields"):
        return [conv(b) for b in batch]
    if isinstance(batch, list):
        return [conv(b) for b in batch]
    return conv(batch)


def make_fetcher(kind, dataset, auto_collation, collate_fn, drop_last, use_get_batch):
    if kind == "iterable":
        return _IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
    return _MapFetcher(dataset, auto_collation, collate_fn, drop_last, use_get_batch)


def _seed_worker(seed, worker_id, base_seed):
    from ... import random as frandom
    random.seed(seed)
    frandom.manual_seed(seed % (2**63))
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))


def worker_loop(kind, dataset, index_queue, result_queue, done_event, auto_collation,
                collate_fn, drop_last, use_get_batch, base_seed, init_fn, worker_id,
                num_workers, shm_prefix, parent_pid):
    global _worker_info
    try:
        from ... import _C
        _C.set_num_threads(1)  # as PyTorch: one thread per worker, the cores go to workers
    except Exception:  # pragma: no cover
        pass
    seed = base_seed + worker_id
    _seed_worker(seed, worker_id, base_seed)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                              dataset=dataset)
    allocator = _shm.SegmentAllocator(f"{shm_prefix}_{worker_id}")
    _collate._alloc["fn"] = allocator.alloc
    where = f"in DataLoader worker process {worker_id}"
    init_error = None
    fetcher = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(kind, dataset, auto_collation, collate_fn, drop_last,
                               use_get_batch)
    except Exception:
        init_error = ExceptionWrapper(sys.exc_info(), where)
    ended = False
    try:
        while True:
            try:
                r = index_queue.get(timeout=_POLL)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    break  # the main process is gone
                continue
            if r is None:
                break
            if isinstance(r, _ResumeIteration):
                ended = False
                if kind == "iterable" and init_error is None:
                    try:
                        fetcher = make_fetcher(kind, dataset, auto_collation, collate_fn,
                                               drop_last, use_get_batch)
                    except Exception:
                        init_error = ExceptionWrapper(sys.exc_info(), where)
                result_queue.put(_shm.dumps((r, None), None))
                continue
            if done_event.is_set() or ended:
                continue
            idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if kind != "iterable":
                        data = ExceptionWrapper(sys.exc_info(), where)
                    else:
                        data = _IterableDatasetStopIteration(worker_id)
                        ended = True
                except Exception:
                    data = ExceptionWrapper(sys.exc_info(), where)
            try:
                payload = _shm.dumps((idx, data), allocator)
            except Exception:
                payload = _shm.dumps((idx, ExceptionWrapper(sys.exc_info(), where)), None)
            del data
            result_queue.put(payload)
            del payload
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        result_queue.cancel_join_thread()
    result_queue.close()
