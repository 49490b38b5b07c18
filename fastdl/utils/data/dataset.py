"""Datasets with PyTorch's names and semantics: the map-style ``Dataset`` and the
``IterableDataset`` protocols, ``TensorDataset``, ``StackDataset``, ``ConcatDataset``,
``ChainDataset``, ``Subset`` and ``random_split``.

A map-style dataset has ``__len__`` and ``__getitem__(i)`` returning one sample (usually a
tuple ``(x, y)``); it may define ``__getitems__(indices)`` (a list of samples, as PyTorch's
fetcher uses) and the fastdl extension ``get_batch(indices)``, returning the already-collated
batch for an int64 index array. With the default collate function the ``DataLoader`` uses
``get_batch`` instead of fetching and stacking sample by sample, which for in-memory data is
one fancy-indexing copy per array per batch.
"""
from __future__ import annotations

import bisect
import math
import numbers
import warnings

import numpy as np

from ...tensor import Tensor, as_tensor
from ._rng import resolve_generator

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__(i)`` (one sample)
    and ``__len__``; optionally ``__getitems__(indices)`` (a list of samples) or
    ``get_batch(indices)`` (a collated batch, see the module docstring). ``a + b``
    concatenates two datasets.

    Example::

        class Squares(fastdl.utils.data.Dataset):
            def __len__(self):
                return 10
            def __getitem__(self, i):
                return np.float32(i), np.float32(i * i)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets that are a stream: subclasses define ``__iter__``. With
    ``num_workers > 0`` every worker process iterates its own copy; use ``get_worker_info()``
    inside ``__iter__`` to give each worker its share (else every sample comes once per
    worker, as in PyTorch). ``a + b`` chains two iterable datasets.

    Example::

        class Count(fastdl.utils.data.IterableDataset):
            def __init__(self, n):
                self.n = n
            def __iter__(self):
                info = fastdl.utils.data.get_worker_info()
                k, w = (0, 1) if info is None else (info.id, info.num_workers)
                return iter(range(k, self.n, w))
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


def _check_index(i, n, who):
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, (numbers.Integral, np.integer)):
        raise TypeError(f"{who}: index must be an int, got {type(i).__name__}")
    i = int(i)
    if i < -n or i >= n:
        raise IndexError(f"{who}: index {i} is out of range for a dataset of length {n}")
    return i + n if i < 0 else i


def _check_indices(indices, n, who):
    idx = np.asarray(indices)
    if idx.size == 0:
        return idx.astype(np.int64).reshape(0)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False).reshape(-1)
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"{who}: index {bad} is out of range for a dataset of length {n}")
    if lo < 0:
        idx = np.where(idx < 0, idx + n, idx)
    return idx


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long tensors: ``ds[i] == (t0[i], t1[i], ...)``.

    Accepts Tensors or NumPy arrays (arrays are converted once, as ``fastdl.as_tensor``
    does: no copy when already float32/float64/int64/bool and C-contiguous). Batches are
    cut by fancy indexing (``get_batch``), not by stacking samples.

    Example::

        ds = fastdl.utils.data.TensorDataset(fastdl.randn(100, 3), fastdl.randint(0, 2, (100,)))
        x0, y0 = ds[0]            # shapes (3,) and ()
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        ts = [as_tensor(t) for t in tensors]
        for k, t in enumerate(ts):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; every tensor needs a "
                                 f"first (sample) dimension")
        n = ts[0].shape[0]
        for k, t in enumerate(ts):
            if t.shape[0] != n:
                raise ValueError(f"TensorDataset: Size mismatch between tensors: tensor 0 has "
                                 f"{n} samples (shape {tuple(ts[0].shape)}), tensor {k} has "
                                 f"{t.shape[0]} (shape {tuple(t.shape)})")
        self.tensors = tuple(ts)
        self._arrays = tuple(t._array for t in ts)

    def __len__(self):
        return self._arrays[0].shape[0]

    def __getitem__(self, i):
        i = _check_index(i, len(self), "TensorDataset")
        return tuple(Tensor._make(a[i]) for a in self._arrays)

    def get_batch(self, indices):
        """The batch ``[t[indices] for t in tensors]`` as Tensors (one fancy-indexing copy
        per tensor; a list, as ``default_collate`` returns for tuple samples).
        Example: ``xb, yb = ds.get_batch(np.arange(8))``"""
        idx = _check_indices(indices, len(self), "TensorDataset.get_batch")
        return [Tensor._make(np.take(a, idx, axis=0)) for a in self._arrays]


class StackDataset(Dataset):
    """Samples of several equally long datasets side by side: ``StackDataset(a, b)[i] ==
    (a[i], b[i])``, or ``StackDataset(x=a, y=b)[i] == {'x': a[i], 'y': b[i]}`` (positional
    or keyword datasets, not both), as PyTorch's.

    Example: ``StackDataset(images=imgs, labels=labs)[0]`` -> ``{'images': .., 'labels': ..}``
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: supported either ``tuple``- (via ``args``) or "
                             "``dict``- (via ``kwargs``) like input/output, but both types "
                             "are given.")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        dss = list(args) if args else list(kwargs.values())
        self._length = len(dss[0])
        if any(len(d) != self._length for d in dss):
            raise ValueError(f"StackDataset: Size mismatch between datasets: lengths "
                             f"{[len(d) for d in dss]}")
        self.datasets = tuple(args) if args else dict(kwargs)

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        return [self[i] for i in indices]


class ConcatDataset(Dataset):
    """Datasets one after the other: sample ``i`` comes from the first dataset whose
    cumulative length exceeds ``i`` (negative ``i`` counts from the end).

    Example: ``both = fastdl.utils.data.ConcatDataset([train, extra])`` (or ``train + extra``)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use "
                                "ChainDataset)")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, i):
        i = _check_index(i, len(self), "ConcatDataset")
        d = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][i - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other (``ChainDataset([a, b])`` yields all of ``a``
    then all of ``b``); its ``len`` is the sum of theirs when they all have one.

    Example: ``for x in ChainDataset([stream_a, stream_b]): ...``
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The dataset restricted to ``indices`` (in that order): ``Subset(ds, idx)[k] ==
    ds[idx[k]]``. Forwards ``get_batch`` when the parent has it.

    Example: ``first100 = fastdl.utils.data.Subset(ds, range(100))``
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        n = len(dataset)
        idx = _check_indices(np.asarray(list(indices) if not isinstance(indices, np.ndarray)
                                        else indices), n, "Subset")
        self.indices = idx
        if hasattr(dataset, "get_batch"):
            self.get_batch = self._get_batch

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, (list, np.ndarray)):
            return [self.dataset[int(self.indices[j])] for j in i]
        i = _check_index(i, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def __getitems__(self, indices):
        sel = [int(self.indices[_check_index(i, len(self), "Subset")]) for i in indices]
        inner = getattr(self.dataset, "__getitems__", None)
        if inner is not None:
            return inner(sel)
        return [self.dataset[i] for i in sel]

    def _get_batch(self, indices):
        idx = _check_indices(indices, len(self), "Subset.get_batch")
        return self.dataset.get_batch(self.indices[idx])


def _split_lengths(lengths, n):
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0) \
            and sum(lengths) <= 1 + 1e-9:
        if any(x < 0 or x > 1 for x in lengths):
            raise ValueError(f"random_split: fraction at index {next(i for i, x in enumerate(lengths) if x < 0 or x > 1)} "
                             f"is not between 0 and 1 ({lengths})")
        out = [int(math.floor(n * f)) for f in lengths]
        for k in range(n - sum(out)):  # spread the remainder round-robin, as PyTorch does
            out[k % len(out)] += 1
        for k, s in enumerate(out):
            if s == 0:
                warnings.warn(f"Length of split at index {k} is 0. This might result in an "
                              f"empty dataset.", UserWarning, stacklevel=3)
        return out
    if all(isinstance(x, float) for x in lengths):
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths} (sum "
                         f"{sum(lengths)})")
    for x in lengths:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Integral, np.integer)) \
                or x < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints (or fractions "
                             f"summing to 1), got {lengths}")
    out = [int(x) for x in lengths]
    if sum(out) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input "
                         f"dataset! (random_split: lengths sum to {sum(out)}, the dataset "
                         f"has {n})")
    return out


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``
    (ints summing to ``len(dataset)``, or fractions summing to 1; the remainder of the
    fractional split goes round-robin to the first subsets, as in PyTorch).

    The permutation comes from ``generator`` (a ``np.random.Generator`` or fastdl
    generator) when given, from ``np.random.default_rng(seed)`` with the fastdl extension
    ``seed=``, else from fastdl's global generator (so ``fastdl.manual_seed`` makes it
    reproducible).

    Example: ``train, val = fastdl.utils.data.random_split(ds, [0.9, 0.1], seed=0)``
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    if seed is not None:
        rng = np.random.default_rng(seed)
    else:
        rng = resolve_generator(generator, "random_split", fresh=False)
    perm = rng.permutation(n)
    out, start = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[start:start + s]))
        start += s
    return out
