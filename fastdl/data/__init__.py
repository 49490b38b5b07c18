"""``fastdl.data``: the older name of ``fastdl.utils.data`` (the same modules and classes,
so ``fastdl.data.DataLoader is fastdl.utils.data.DataLoader`` and ``import
fastdl.data.dataloader`` still works).

Example: ``from fastdl.data import DataLoader, TensorDataset``
"""
import sys as _sys

from ..utils import data as _data
from ..utils.data import *  # noqa: F401,F403
from ..utils.data import __all__  # noqa: F401
from ..utils.data import dataset, sampler, dataloader, datasets  # noqa: F401

for _name in ("dataset", "sampler", "dataloader", "datasets"):
    _sys.modules[f"{__name__}.{_name}"] = getattr(_data, _name)
del _sys, _name
