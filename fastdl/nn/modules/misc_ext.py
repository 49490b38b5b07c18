"""``DataParallel`` (a single-device stand-in: fastdl runs on the CPU, where the kernels are
already multithreaded) and ``LinearCrossEntropyLoss`` (PyTorch's names and state-dict keys).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ...tensor import Tensor, _as_array
from .linear import Linear
from .module import Module

__all__ = ["DataParallel", "LinearCrossEntropyLoss", "Container", "factory_kwargs", "Buffer"]


class DataParallel(Module):
    """Wraps ``module`` as PyTorch's ``DataParallel`` does (it is ``self.module``, so the
    state-dict keys get the ``module.`` prefix), and calls it on the whole batch: on the CPU
    there is one device, and each kernel already uses every core. ``device_ids`` other than
    None/[] /['cpu'] are a ValueError.

    Example: ``model = nn.DataParallel(net); out = model(x)``
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if device_ids not in (None, [], ()) and list(device_ids) not in (["cpu"], [-1]):
            raise ValueError(f"DataParallel: fastdl runs on the CPU only, got device_ids "
                             f"{device_ids!r}")
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


class LinearCrossEntropyLoss(Module):
    """A ``Linear(in_features, num_classes · prod(out_features))`` (submodule ``linear``)
    followed by cross entropy against the target (``F.linear_cross_entropy``).

    Example: ``nn.LinearCrossEntropyLoss(16, 10)(fastdl.randn(4, 16), fastdl.tensor([1, 0, 9, 3]))``
    """

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None,
                 dtype=None, reduction="mean", weight=None, ignore_index=None,
                 label_smoothing=0.0, options=None):
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        self.out_features = tuple(out_features)
        n = num_classes
        for s in self.out_features:
            n *= s
        self.linear = Linear(in_features, n, bias=bias, device=device, dtype=dtype)
        self.reduction, self.weight = reduction, weight
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.options = options

    def forward(self, input, target):  # noqa: A002
        w = self.linear.weight.reshape(self.num_classes, *self.out_features,
                                       self.linear.in_features)
        b = self.linear.bias
        if b is not None:
            b = b.reshape(self.num_classes, *self.out_features)
        return F.linear_cross_entropy(input, w, target, linear_bias=b, weight=self.weight,
                                      reduction=self.reduction, ignore_index=self.ignore_index,
                                      label_smoothing=self.label_smoothing,
                                      options=self.options)


class Container(Module):
    """Deprecated (use ``Module``): a module whose keyword arguments become submodules.
    Example: ``nn.Container(fc=nn.Linear(2, 2))``"""

    def __init__(self, **kwargs):
        super().__init__()
        import warnings
        warnings.warn("nn.Container is deprecated. All of it's functionality is now "
                      "implemented in nn.Module. Subclass that instead.", stacklevel=2)
        for key, value in kwargs.items():
            self.add_module(key, value)


def factory_kwargs(kwargs):
    """The ``device``/``dtype``/``memory_format`` entries of ``kwargs`` (also accepted inside
    a ``factory_kwargs`` entry), as PyTorch's helper for module constructors; any other key
    is a TypeError. Example: ``nn.factory_kwargs({'dtype': fastdl.float64})``"""
    if kwargs is None:
        return {}
    simple = {"device", "dtype", "memory_format"}
    expected = simple | {"factory_kwargs"}
    if not kwargs.keys() <= expected:
        raise TypeError(f"unexpected kwargs {kwargs.keys() - expected}")
    r = dict(kwargs.get("factory_kwargs", {}))
    for k in simple:
        if k in kwargs:
            if k in r:
                raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
            r[k] = kwargs[k]
    return r


class Buffer(Tensor):
    """A Tensor that, assigned as a module attribute, registers itself as a buffer of the
    module (``persistent=False``: left out of the state dict), as PyTorch's ``nn.Buffer``.

    Example::

        self.running = nn.Buffer(fastdl.zeros(3))            # same as register_buffer
    """

    __slots__ = ("persistent",)
    _is_nn_buffer = True

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = np.empty((0,), np.float32)
        arr = data._array if isinstance(data, Tensor) else _as_array(data)
        Tensor.__init__(self, arr)
        if isinstance(data, Tensor):
            self._array = data._array          # share the storage
        self.persistent = bool(persistent)
