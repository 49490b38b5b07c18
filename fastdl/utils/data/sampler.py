"""Samplers: iterables of dataset indices (or, for ``BatchSampler``, of lists of indices),
with PyTorch's names, arguments and semantics.

Random samplers draw from ``generator`` (a ``numpy.random.Generator`` or fastdl generator,
advanced across epochs) or, without one, from a fresh stream seeded by one draw from
fastdl's global generator on every ``__iter__`` (as PyTorch), so ``fastdl.manual_seed``
makes a whole run reproducible. Orders are drawn with NumPy and are not PyTorch's orders.
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

from ._rng import resolve_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler"]


def _is_int(x):
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


class Sampler:
    """Base class of samplers: ``__iter__`` yields indices; ``__len__`` (optional) says how
    many. Any iterable of indices can be passed as a DataLoader ``sampler``.

    Example::

        class Evens(fastdl.utils.data.Sampler):
            def __init__(self, n): self.n = n
            def __iter__(self): return iter(range(0, self.n, 2))
            def __len__(self): return (self.n + 1) // 2
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Example: ``list(SequentialSampler(range(3)))  # [0, 1, 2]``
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices of ``data_source``: without ``replacement`` a permutation per
    ``len(data_source)`` indices (``num_samples`` larger than the dataset gives whole
    permutations then part of one, as PyTorch); with ``replacement`` ``num_samples``
    independent uniform draws. ``num_samples`` defaults to ``len(data_source)``.

    Example: ``list(RandomSampler(range(4), generator=np.random.default_rng(0)))``
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not _is_int(num_samples) or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        n = len(self.data_source)
        rng = resolve_generator(self.generator, "RandomSampler")
        m = self.num_samples
        if self.replacement:
            for start in range(0, m, 32):  # draw in chunks, as PyTorch, so a partial
                yield from rng.integers(0, n, size=min(32, m - start)).tolist()
            return
        for _ in range(m // n if n else 0):
            yield from rng.permutation(n).tolist()
        if n:
            yield from rng.permutation(n)[:m % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new one every epoch).

    Example: ``SubsetRandomSampler([0, 5, 7], generator=np.random.default_rng(0))``
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        rng = resolve_generator(self.generator, "SubsetRandomSampler")
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))`` drawn with probability proportional
    to ``weights`` (need not sum to 1), with or without ``replacement``.

    Example: ``list(WeightedRandomSampler([0.1, 0.9, 0.4], 5))`` mostly yields 1.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"WeightedRandomSampler: weights must be finite, non-negative "
                             f"and not all zero (got {w.size} weights, sum {w.sum()})")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} "
                               f"without replacement from {np.count_nonzero(w)} non-zero "
                               f"weights")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = resolve_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        yield from rng.choice(len(p), size=self.num_samples, replace=self.replacement,
                              p=p).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``).

    Example: ``list(BatchSampler(SequentialSampler(range(5)), 2, False))``
    gives ``[[0, 1], [2, 3], [4]]``
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


_WORLD_ENV = (("WORLD_SIZE", "RANK"), ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
              ("PMI_SIZE", "PMI_RANK"), ("PMIX_SIZE", "PMIX_RANK"),
              ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"), ("SLURM_NTASKS", "SLURM_PROCID"))


def _world_from_env():
    for size_var, rank_var in _WORLD_ENV:
        if size_var in os.environ and rank_var in os.environ:
            try:
                return int(os.environ[size_var]), int(os.environ[rank_var])
            except ValueError:
                continue
    return None


class DistributedSampler(Sampler):
    """The ``rank``-th of ``num_replicas`` equal shares of a dataset, for data-parallel
    training (one process per rank, e.g. under MPI).

    Every rank computes the same order (a permutation seeded by ``(seed, epoch)`` when
    ``shuffle``, else ``0..n-1``), pads it by repeating its start until it divides evenly
    (or, with ``drop_last``, cuts the tail), and takes every ``num_replicas``-th index from
    position ``rank``: the shares are disjoint up to the padding and cover the dataset.
    Call ``set_epoch(e)`` before each epoch for a new order (the same on every rank).

    ``num_replicas``/``rank`` default to the launcher's environment (``WORLD_SIZE``/``RANK``,
    Open MPI's ``OMPI_COMM_WORLD_SIZE``/``OMPI_COMM_WORLD_RANK``, ``PMI_SIZE``/``PMI_RANK``,
    MVAPICH, Slurm); with none set they must be passed (fastdl has no process group).

    Example::

        sampler = DistributedSampler(ds, num_replicas=comm.size, rank=comm.rank, seed=0)
        loader = DataLoader(ds, batch_size=32, sampler=sampler)
        for epoch in range(10):
            sampler.set_epoch(epoch)
            for xb, yb in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            env = _world_from_env()
            if env is None:
                raise RuntimeError("DistributedSampler: num_replicas and rank were not given "
                                   "and no launcher environment (WORLD_SIZE/RANK, "
                                   "OMPI_COMM_WORLD_SIZE/OMPI_COMM_WORLD_RANK, PMI_SIZE/"
                                   "PMI_RANK) is set; pass num_replicas= and rank=")
            num_replicas = env[0] if num_replicas is None else num_replicas
            rank = env[1] if rank is None else rank
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not _is_int(rank) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if not _is_int(seed):
            raise TypeError(f"DistributedSampler: seed must be an int, got {seed!r}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = bool(shuffle)
        self.seed = int(seed)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0 and n > 0:
                order = np.concatenate([order, np.resize(order, pad)])
        else:
            order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch that seeds the next order (the same on every rank).
        Example: ``sampler.set_epoch(3)``"""
        self.epoch = int(epoch)
