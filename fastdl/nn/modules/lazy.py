"""Lazy modules: layers whose input size (``in_features``, ``in_channels``, ``num_features``)
is read from the first input they see (PyTorch's ``Lazy*``). Until then they hold no
parameters; the first ``forward`` — or loading a state dict that has the weights — builds
the full layer and the module becomes an instance of the ordinary class
(``LazyLinear`` → ``Linear``), exactly as PyTorch's do.

Example::

    net = nn.Sequential(nn.LazyConv2d(16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    net(fastdl.randn(2, 3, 32, 32))            # now Conv2d(3, 16, 3) and Linear(14400, 10)
"""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, as_tensor
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .conv3d import Conv3d, ConvTranspose3d
from .linear import Linear
from .module import Parameter
from .normalization import BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d
from .normalization_ext import BatchNorm3d, InstanceNorm3d

__all__ = ["LazyModuleMixin", "UninitializedParameter", "UninitializedBuffer", "LazyLinear",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class UninitializedParameter(Parameter):
    """A parameter of a lazy module that has no shape yet (its data is empty); the first
    forward replaces it. Example: ``isinstance(nn.LazyLinear(3).weight, nn.UninitializedParameter)``
    """

    __slots__ = ()

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty((0,), np.float32 if dtype is None else dtype), requires_grad)

    def __repr__(self):
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer of a lazy module that has no shape yet. Example: see ``LazyBatchNorm1d``."""

    __slots__ = ()

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty((0,), np.float32 if dtype is None else dtype))

    def __repr__(self):
        return "<UninitializedBuffer>"


class LazyModuleMixin:
    """Builds the layer from the first input: subclasses set ``cls_to_become`` and
    ``_infer(input)`` (the missing first constructor argument), and keep the other
    constructor arguments in ``_lazy_args``/``_lazy_kwargs``."""

    cls_to_become = None

    def _lazy_setup(self, args, kwargs, params, buffers=()):
        object.__setattr__(self, "_lazy_args", args)
        object.__setattr__(self, "_lazy_kwargs", kwargs)
        dt = kwargs.get("dtype")
        for p in params:
            self._parameters[p] = UninitializedParameter(dtype=dt)
        for b in buffers:
            self._buffers[b] = UninitializedBuffer(dtype=dt)

    def has_uninitialized_params(self):
        """True until the first forward (or a state-dict load) built the parameters."""
        return True

    def _materialize(self, first):
        training = self.training
        self.cls_to_become.__init__(self, first, *self._lazy_args, **self._lazy_kwargs)
        object.__setattr__(self, "__class__", self.cls_to_become)
        self.train(training)

    def initialize_parameters(self, input):  # noqa: A002
        """Build the parameters for ``input`` (called by the first forward)."""
        x = input if isinstance(input, Tensor) else as_tensor(input)
        self._materialize(self._infer(x))

    def forward(self, input, *args, **kwargs):  # noqa: A002
        self.initialize_parameters(input)
        return self.forward(input, *args, **kwargs)

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        return super().state_dict(destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict=True):
        key = self._shape_key
        if key in state_dict:
            v = state_dict[key]
            shape = tuple(v.shape)
            self._materialize(self._infer_from_state(shape))
            return self.load_state_dict(state_dict, strict)
        return super().load_state_dict(state_dict, strict)


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last size of the first input.
    Example: ``nn.LazyLinear(10)(fastdl.randn(4, 7))`` makes a Linear(7, 10)."""

    cls_to_become = Linear
    _shape_key = "weight"

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)
        self._lazy_setup((out_features, bias, device, dtype), {}, ["weight"] +
                         (["bias"] if bias else []))

    def _infer(self, x):
        return x.shape[-1]

    def _infer_from_state(self, shape):
        return shape[1]


def _lazy_conv(base, transposed):
    class _Lazy(LazyModuleMixin, base):
        cls_to_become = base
        _shape_key = "weight"

        def __init__(self, out_channels, kernel_size, stride=1, padding=0,
                     *rest, **kwargs):
            names = (("output_padding", "groups", "bias", "dilation", "padding_mode")
                     if transposed else ("dilation", "groups", "bias", "padding_mode"))
            kw = dict(zip(names, rest))
            kw.update(kwargs)
            groups = kw.get("groups", 1)
            base.__init__(self, groups, out_channels, kernel_size, stride, padding, **kw)
            self._lazy_setup((out_channels, kernel_size, stride, padding), kw,
                             ["weight"] + (["bias"] if kw.get("bias", True) else []))

        def _infer(self, x):
            unbatched = x.ndim == self._nd + 1
            return x.shape[0] if unbatched else x.shape[1]

        def _infer_from_state(self, shape):
            groups = self._lazy_kwargs.get("groups", 1)
            return shape[0] if transposed else shape[1] * groups

    return _Lazy


def _make(name, base, transposed, doc):
    cls = _lazy_conv(base, transposed)
    cls.__name__ = cls.__qualname__ = name
    cls.__doc__ = doc
    return cls


LazyConv1d = _make("LazyConv1d", Conv1d, False, """``Conv1d`` whose ``in_channels`` comes
from the first input. Example: ``nn.LazyConv1d(8, 3)(fastdl.randn(2, 4, 10))``""")
LazyConv2d = _make("LazyConv2d", Conv2d, False, """``Conv2d`` whose ``in_channels`` comes
from the first input. Example: ``nn.LazyConv2d(8, 3)(fastdl.randn(2, 4, 10, 10))``""")
LazyConv3d = _make("LazyConv3d", Conv3d, False, """``Conv3d`` whose ``in_channels`` comes
from the first input. Example: ``nn.LazyConv3d(8, 3)(fastdl.randn(1, 4, 5, 5, 5))``""")
LazyConvTranspose3d = _make("LazyConvTranspose3d", ConvTranspose3d, True, """
``ConvTranspose3d`` whose ``in_channels`` comes from the first input.
Example: ``nn.LazyConvTranspose3d(8, 2)(fastdl.randn(1, 4, 3, 3, 3))``""")
LazyConvTranspose1d = _make("LazyConvTranspose1d", ConvTranspose1d, True, """
``ConvTranspose1d`` whose ``in_channels`` comes from the first input.
Example: ``nn.LazyConvTranspose1d(8, 3)(fastdl.randn(2, 4, 10))``""")
LazyConvTranspose2d = _make("LazyConvTranspose2d", ConvTranspose2d, True, """
``ConvTranspose2d`` whose ``in_channels`` comes from the first input.
Example: ``nn.LazyConvTranspose2d(8, 3)(fastdl.randn(2, 4, 10, 10))``""")


def _lazy_norm(name, base, instance):
    class _Lazy(LazyModuleMixin, base):
        cls_to_become = base
        _shape_key = "running_mean"

        def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                     device=None, dtype=None):  # (PyTorch's defaults, instance norms too)
            base.__init__(self, 1, eps, momentum, affine, track_running_stats, device, dtype)
            params = ["weight", "bias"] if affine else []
            bufs = ["running_mean", "running_var"] if track_running_stats else []
            self._lazy_setup((eps, momentum, affine, track_running_stats, device, dtype), {},
                             params, bufs)
            object.__setattr__(self, "_shape_key",
                               "running_mean" if track_running_stats else "weight")

        def _infer(self, x):
            if instance:
                return x.shape[x.ndim - self._no_batch_dim]
            return x.shape[1]

        def _infer_from_state(self, shape):
            return shape[0]

    _Lazy.__name__ = _Lazy.__qualname__ = name
    _Lazy.__doc__ = (f"``{base.__name__}`` whose ``num_features`` is the channel size of the "
                     f"first input. Example: ``nn.{name}()(x)``")
    return _Lazy


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d, False)
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d, False)
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d, False)
LazyInstanceNorm1d = _lazy_norm("LazyInstanceNorm1d", InstanceNorm1d, True)
LazyInstanceNorm2d = _lazy_norm("LazyInstanceNorm2d", InstanceNorm2d, True)
LazyInstanceNorm3d = _lazy_norm("LazyInstanceNorm3d", InstanceNorm3d, True)
