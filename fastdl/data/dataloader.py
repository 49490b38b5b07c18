"""``DataLoader``: batches of a dataset as tuples of Tensors, shuffled reproducibly, the next
batch prepared on a background thread while the current one trains."""
from __future__ import annotations

import numbers
import queue
import threading

import numpy as np

from ..random import default_generator
from ..tensor import Tensor, _as_array

__all__ = ["DataLoader", "default_collate"]


def _stack_arrays(arrs, who):
    first = arrs[0]
    shape = first.shape
    for k, a in enumerate(arrs):
        if a.shape != shape:
            raise ValueError(f"{who}: samples differ in shape: sample 0 has {shape}, sample {k} "
                             f"has {a.shape}; pass a collate_fn to batch ragged samples")
    out = np.empty((len(arrs),) + shape, dtype=first.dtype)
    for k, a in enumerate(arrs):  # one copy per sample straight into the batch buffer
        out[k] = a
    return out


def _collate_field(items, who):
    x0 = items[0]
    if isinstance(x0, Tensor):
        arrs = [t._array if isinstance(t, Tensor) else np.asarray(t) for t in items]
        return Tensor._make(_stack_arrays(arrs, who))
    if isinstance(x0, (np.ndarray, np.generic)):
        arrs = [np.asarray(a) for a in items]
        dts = {a.dtype for a in arrs}
        if len(dts) > 1:
            raise TypeError(f"{who}: samples have different dtypes {sorted(map(str, dts))}")
        out = _stack_arrays(arrs, who)
        return Tensor._make(_as_array(out, copy=False))
    if isinstance(x0, (bool, np.bool_)):
        return Tensor._make(np.array(items, dtype=np.bool_))
    if isinstance(x0, numbers.Integral):
        return Tensor._make(np.array(items, dtype=np.int64))
    if isinstance(x0, numbers.Real):
        return Tensor._make(np.array(items, dtype=np.float32))
    if isinstance(x0, str):
        return list(items)
    if isinstance(x0, dict):
        return {k: _collate_field([d[k] for d in items], who) for k in x0}
    if isinstance(x0, (tuple, list)):
        n = len(x0)
        for k, s in enumerate(items):
            if len(s) != n:
                raise ValueError(f"{who}: sample 0 has {n} fields, sample {k} has {len(s)}")
        return tuple(_collate_field([s[j] for s in items], who) for j in range(n))
    raise TypeError(f"{who}: cannot batch samples of type {type(x0).__name__}; pass a "
                    f"collate_fn")


def default_collate(samples):
    """Stack a list of samples into a batch, field by field, as PyTorch's default_collate:
    a tuple sample ``(x, y)`` gives a tuple ``(X, Y)`` of Tensors with a new first
    dimension; NumPy arrays and Tensors are copied once into one preallocated batch array
    (unsupported dtypes map as ``fastdl.tensor`` does: uint8 -> int64, float16 -> float32);
    Python ints -> int64, floats -> float32, bools -> bool; dicts collate per key; strings
    stay lists. Samples must agree in shape (else ValueError naming the first that differs).

    Example::

        xb, yb = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
        xb.shape, yb.tolist()      # ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("default_collate: expected a non-empty list of samples")
    return _collate_field(list(samples), "default_collate")


def _as_batch_tuple(batch):
    """get_batch results: arrays become Tensors (no copy when the dtype fits)."""
    if isinstance(batch, tuple):
        return tuple(b if isinstance(b, Tensor) else Tensor._make(_as_array(b, copy=False))
                     if isinstance(b, np.ndarray) else b for b in batch)
    return batch


_END = object()


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for xb, yb in DataLoader(ds, 64, shuffle=True)``.

    * ``batch_size``: samples per batch; the last batch is smaller unless ``drop_last``.
    * ``shuffle``: a new random order every epoch (every ``iter()``). With ``seed`` the
      orders come from the loader's own ``np.random.default_rng(seed)``, so two loaders
      with the same seed give the same sequence of epochs; without it each epoch's order
      is drawn from fastdl's generator (reproducible after ``fastdl.manual_seed``).
    * ``collate_fn``: turns a list of samples into a batch (default ``default_collate``).
      When ``collate_fn`` is None and the dataset has ``get_batch(indices)`` (TensorDataset,
      Subset of one, the bundled MNIST/Digits), a batch is fetched in one call by fancy
      indexing instead of sample by sample.
    * ``prefetch`` (fastdl extension, default 2): batches prepared ahead on a background
      thread while the current one trains (fastdl's kernels release the GIL, so the two
      overlap); 0 loads each batch in the iterating thread. Order and content do not depend
      on it. Exceptions raised while loading reach the loop at the batch that caused them.

    Differences from PyTorch: no worker processes (``num_workers`` is accepted only as 0),
    no samplers; ``seed`` replaces ``generator``.

    Example::

        ds = fastdl.data.TensorDataset(fastdl.randn(1000, 20), fastdl.randint(0, 3, (1000,)))
        loader = fastdl.data.DataLoader(ds, batch_size=64, shuffle=True, seed=0)
        for xb, yb in loader:
            ...                     # xb: (64, 20) float32, yb: (64,) int64
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 seed=None, prefetch=2, num_workers=0):
        if isinstance(batch_size, (bool, np.bool_)) or \
                not isinstance(batch_size, (numbers.Integral, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, numbers.Integral) or \
                prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an int >= 0, got {prefetch!r}")
        if num_workers != 0:
            raise ValueError("DataLoader: fastdl has no worker processes; num_workers must be 0 "
                             "(the next batch is prefetched on a thread; see prefetch)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        if seed is not None and (isinstance(seed, bool) or int(seed) < 0):
            raise ValueError(f"DataLoader: seed must be an int >= 0, got {seed!r}")
        try:
            len(dataset)
        except TypeError:
            raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} has no "
                            f"__len__ (only map-style datasets are supported)") from None
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.seed = None if seed is None else int(seed)
        self.prefetch = int(prefetch)
        self._rng = np.random.default_rng(self.seed) if self.seed is not None else None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = self._rng
        if rng is None:
            rng = np.random.default_rng(int(default_generator().integers(0, 2**63 - 1)))
        return rng.permutation(n).astype(np.int64, copy=False)

    def _batches_of(self, order):
        bs = self.batch_size
        nb = len(order) // bs if self.drop_last else -(-len(order) // bs)
        return [order[k * bs:(k + 1) * bs] for k in range(nb)]

    def _fetch(self, idx):
        ds = self.dataset
        if self.collate_fn is None:
            gb = getattr(ds, "get_batch", None)
            if gb is not None:
                return _as_batch_tuple(gb(idx))
            return default_collate([ds[int(i)] for i in idx])
        return self.collate_fn([ds[int(i)] for i in idx])

    def __iter__(self):
        # The order is drawn here, in the calling thread, so it never depends on timing.
        batches = self._batches_of(self._epoch_order())
        if self.prefetch == 0 or len(batches) <= 1:
            return self._iter_sync(batches)
        return self._iter_prefetch(batches)

    def _iter_sync(self, batches):
        for idx in batches:
            yield self._fetch(idx)

    def _iter_prefetch(self, batches):
        q = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def worker():
            try:
                for idx in batches:
                    if stop.is_set():
                        return
                    try:
                        item = (True, self._fetch(idx))
                    except BaseException as e:  # handed to the consumer, raised there
                        put((False, e))
                        return
                    if not put(item):
                        return
                put((True, _END))
            except BaseException:  # pragma: no cover - never let the thread die noisily
                return

        th = threading.Thread(target=worker, name="fastdl-DataLoader-prefetch", daemon=True)
        th.start()
        try:
            while True:
                ok, item = q.get()
                if not ok:
                    raise item
                if item is _END:
                    return
                yield item
        finally:
            stop.set()
            while th.is_alive():  # drain so a blocked put wakes up, then let the thread end
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass
                th.join(timeout=0.05)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}(len={len(self.dataset)}), "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed}, prefetch={self.prefetch})")
