"""fastdl.data: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``random_split``, ``DataLoader`` (reproducible shuffling, background prefetch), and the
offline handwritten-digit data sets in ``fastdl.data.datasets`` (``MNIST``, ``Digits``).

Example::

    from fastdl.data import DataLoader, random_split
    from fastdl.data.datasets import MNIST
    train, val = random_split(MNIST(train=True), [55000, 5000], seed=0)
    for xb, yb in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...
"""
from .dataset import *  # noqa: F401,F403
from .dataloader import *  # noqa: F401,F403
from . import datasets  # noqa: F401
