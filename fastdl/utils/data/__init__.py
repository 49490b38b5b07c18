"""fastdl.utils.data (PyTorch's ``torch.utils.data``): datasets (``Dataset``,
``IterableDataset``, ``TensorDataset``, ``StackDataset``, ``ConcatDataset``, ``ChainDataset``,
``Subset``, ``random_split``), samplers (``Sampler``, ``SequentialSampler``, ``RandomSampler``,
``SubsetRandomSampler``, ``WeightedRandomSampler``, ``BatchSampler``, ``DistributedSampler``),
``default_collate`` / ``default_convert``, ``get_worker_info`` and the ``DataLoader`` (worker
processes, shared-memory batches), plus the offline data sets in ``datasets`` (``MNIST``,
``Digits``, ``ImageFolder``). ``fastdl.data`` is the same package under its older name.

Example::

    from fastdl.utils.data import DataLoader, random_split
    from fastdl.utils.data.datasets import MNIST
    train, val = random_split(MNIST(train=True), [55000, 5000], seed=0)
    for xb, yb in DataLoader(train, batch_size=128, shuffle=True, num_workers=2):
        ...
"""
from .dataset import *  # noqa: F401,F403
from .sampler import *  # noqa: F401,F403
from ._collate import default_collate, default_convert  # noqa: F401
from ._worker import WorkerInfo, get_worker_info  # noqa: F401
from .dataloader import DataLoader  # noqa: F401
from . import dataset, sampler, dataloader, datasets  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler", "default_collate", "default_convert", "get_worker_info",
           "WorkerInfo", "DataLoader"]
