"""Datasets: the map-style ``Dataset`` protocol, ``TensorDataset``, ``Subset``,
``ConcatDataset`` and ``random_split``, with PyTorch's names and semantics.

A map-style dataset has ``__len__`` and ``__getitem__(i)`` returning one sample (usually a
tuple ``(x, y)``). A dataset may also define the fastdl extension ``get_batch(indices)``,
returning the already-collated batch (a tuple of Tensors) for an int64 index array; the
``DataLoader`` uses it instead of fetching and stacking sample by sample, which for
in-memory data is one fancy-indexing copy per array per batch.
"""
from __future__ import annotations

import bisect
import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor, as_tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__(i)`` (one sample)
    and ``__len__``; optionally ``get_batch(indices)`` (a collated batch, see the module
    docstring). ``a + b`` concatenates two datasets.

    Example::

        class Squares(fastdl.data.Dataset):
            def __len__(self):
                return 10
            def __getitem__(self, i):
                return np.float32(i), np.float32(i * i)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


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

        ds = fastdl.data.TensorDataset(fastdl.randn(100, 3), fastdl.randint(0, 2, (100,)))
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
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has "
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
        """The batch ``tuple(t[indices] for t in tensors)`` as Tensors (one fancy-indexing
        copy per tensor). Example: ``xb, yb = ds.get_batch(np.arange(8))``"""
        idx = _check_indices(indices, len(self), "TensorDataset.get_batch")
        return tuple(Tensor._make(np.take(a, idx, axis=0)) for a in self._arrays)


class Subset(Dataset):
    """The dataset restricted to ``indices`` (in that order): ``Subset(ds, idx)[k] ==
    ds[idx[k]]``. Forwards ``get_batch`` when the parent has it.

    Example: ``first100 = fastdl.data.Subset(ds, range(100))``
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

    def _get_batch(self, indices):
        idx = _check_indices(indices, len(self), "Subset.get_batch")
        return self.dataset.get_batch(self.indices[idx])


class ConcatDataset(Dataset):
    """Datasets one after the other: sample ``i`` comes from the first dataset whose
    cumulative length exceeds ``i``.

    Example: ``both = fastdl.data.ConcatDataset([train, extra])`` (or ``train + extra``)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, i):
        i = _check_index(i, len(self), "ConcatDataset")
        d = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][i - start]


def _split_lengths(lengths, n):
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    fractional = all(isinstance(x, float) for x in lengths)
    if fractional:
        if any(x < 0 or x > 1 for x in lengths) or abs(sum(lengths) - 1.0) > 1e-6:
            raise ValueError(f"random_split: fractions must lie in [0, 1] and sum to 1, got "
                             f"{lengths}")
        out = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(out)):  # spread the remainder round-robin, as PyTorch does
            out[k % len(out)] += 1
        return out
    for x in lengths:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Integral, np.integer)) \
                or x < 0:
            raise ValueError(f"random_split: lengths must be non-negative ints (or fractions "
                             f"summing to 1), got {lengths}")
    out = [int(x) for x in lengths]
    if sum(out) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(out)}) does not equal "
                         f"the length of the dataset ({n})")
    return out


def random_split(dataset, lengths, seed=None, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``
    (ints summing to ``len(dataset)``, or fractions summing to 1; the remainder of the
    fractional split goes round-robin to the first subsets, as in PyTorch).

    The permutation comes from ``np.random.default_rng(seed)`` when ``seed`` is given, from
    ``generator`` (a ``np.random.Generator``) when given, else from fastdl's seeded generator
    (so ``fastdl.manual_seed`` makes it reproducible).

    Example: ``train, val = fastdl.data.random_split(ds, [0.9, 0.1], seed=0)``
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    if seed is not None:
        rng = np.random.default_rng(seed)
    elif generator is not None:
        rng = generator
    else:
        rng = default_generator()
    perm = rng.permutation(n)
    out, start = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[start:start + s]))
        start += s
    return out
