"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm (PyTorch's names,
arguments, parameters and buffers)."""
from __future__ import annotations

import numbers

import numpy as np

from ...tensor import Tensor, _canon_dtype
from ...utils import hooks as _hooks
from .. import functional as F
from ..functional import normalization as _FN
from .activation import Hardtanh, ReLU, ReLU6
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d"]


def _float_dtype(dtype, what):
    dt = _canon_dtype(dtype, what) if dtype is not None else np.dtype(np.float32)
    if dt.kind != "f":
        raise TypeError(f"{what}: dtype must be float32 or float64, got {dt}")
    return dt


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def _hooked(m):
    """Module ``m`` has a forward or backward hook registered now."""
    d = m.__dict__
    return any(d.get(n) for n in _HOOK_DICTS)


def _global_hooks():
    """A process-wide module hook is registered now."""
    return bool(_hooks._global_forward_pre_hooks or _hooks._global_forward_hooks or
                _hooks._global_backward_pre_hooks or _hooks._global_backward_hooks)


class _BatchNorm(Module):
    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) \
                or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        dt = _float_dtype(dtype, name)
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(num_features, dt))
            self.bias = Parameter(np.zeros(num_features, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor._make(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor._make(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked",
                                 Tensor._make(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean._array[...] = 0
            self.running_var._array[...] = 1
            self.num_batches_tracked._array[...] = 0

    def reset_parameters(self):
        """Reset running statistics, weight to 1 and bias to 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight._array[...] = 1
            self.bias._array[...] = 0

    def _check_input_dim(self, x):
        if x.ndim not in self._expected_dims:
            want = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input (got {x.ndim}D "
                             f"input of shape {tuple(x.shape)})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"in dimension 1, got input of shape {tuple(x.shape)}")

    def forward(self, input):  # noqa: A002
        return self._forward(input)

    def _fuse_next(self, nxt, x):
        """``nn.Sequential``'s question when this batch norm is followed by module ``nxt``:
        ``nxt(self(x))`` computed in one kernel pass when ``nxt`` is a ReLU, ReLU6 or
        Hardtanh and this batch norm's own output cannot be observed (no forward hooks on
        either, neither subclassed, the fusion switch on); None otherwise."""
        cls = type(nxt)
        if cls is ReLU:
            code, params = _FN._RELU, []
        elif cls is ReLU6:
            code, params = _FN._HARDTANH, [0.0, 6.0]
        elif cls is Hardtanh:
            code, params = _FN._HARDTANH, [float(nxt.min_val), float(nxt.max_val)]
        else:
            return None
        if not _FN._FUSE_FORWARD[0] or (self._has_hooks and _hooked(self)) or \
                (nxt._has_hooks and _hooked(nxt)) or (_hooks._any_global[0] and _global_hooks()) \
                or type(self).forward is not _BatchNorm.forward or not isinstance(x, Tensor):
            return None
        return self._forward(x, (_FN._act_kind(code, params), code, params))

    def _forward(self, input, act=None):  # noqa: A002
        if not self.training and 4 in self._expected_dims:
            y = _FN._eval_plain(input, self.num_features, self.running_mean, self.running_var,
                                self.weight, self.bias, self.eps, act)
            if y is not None:
                return y
        x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._array[...] += 1
            self.num_batches_tracked._vc[0] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._array)
            else:
                factor = self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return _FN._batch_norm(x, self.running_mean if use_running else None,
                               self.running_var if use_running else None, self.weight, self.bias,
                               bn_training, factor, self.eps, act)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of a (N, C) or (N, C, L) input over N (and L), per channel:
    ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias``.

    Training uses the batch statistics and updates ``running_mean``/``running_var`` with
    ``momentum`` (``None``: cumulative average) using the unbiased batch variance, counting
    ``num_batches_tracked`` (an int64 buffer in the state dict); eval uses the running
    statistics. ``affine=False``: no weight/bias; ``track_running_stats=False``: batch
    statistics in both modes and no buffers.

    Example::

        bn = fastdl.nn.BatchNorm1d(16)
        y = bn(fastdl.randn(32, 16))
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of an (N, C, H, W) input over N, H, W per channel; see
    ``BatchNorm1d`` for the semantics of training, eval and the running statistics.

    Example::

        bn = fastdl.nn.BatchNorm2d(8)
        y = bn(fastdl.randn(4, 8, 16, 16))
    """

    _expected_dims = (4,)


class _InstanceNorm(_BatchNorm):
    _no_batch_dim = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def forward(self, input):  # noqa: A002
        x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
        name, nb = type(self).__name__, self._no_batch_dim
        if x.ndim not in (nb, nb + 1):
            raise ValueError(f"{name}: expected {nb}D (unbatched) or {nb + 1}D (batched) input "
                             f"(got {x.ndim}D input of shape {tuple(x.shape)})")
        cdim = x.ndim - nb
        if x.shape[cdim] != self.num_features and self.affine:
            raise ValueError(f"{name}: expected input's size at dim={cdim} to match "
                             f"num_features ({self.num_features}), but got: {x.shape[cdim]}.")
        unbatched = x.ndim == nb
        if unbatched:
            x = x.unsqueeze(0)
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of an (N, C, L) or unbatched (C, L) input: each (sample,
    channel) row normalised over L (``F.instance_norm``). PyTorch's defaults: no affine
    weight/bias (``affine=True`` adds them), no running statistics
    (``track_running_stats=True`` keeps them, updated in training and used in eval).

    Example: ``fastdl.nn.InstanceNorm1d(4)(fastdl.randn(2, 4, 10)).shape == (2, 4, 10)``
    """

    _no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of an (N, C, H, W) or unbatched (C, H, W) input over H, W per
    (sample, channel); options as ``InstanceNorm1d``.

    Example: ``fastdl.nn.InstanceNorm2d(3, affine=True)(fastdl.randn(2, 3, 8, 8))``
    """

    _no_batch_dim = 3


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dimensions:
    ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias`` with ``weight`` (ones) and ``bias``
    (zeros) of shape ``normalized_shape`` when ``elementwise_affine`` (``bias=False`` drops
    the bias).

    Example::

        ln = fastdl.nn.LayerNorm(64)
        y = ln(fastdl.randn(8, 10, 64))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        if not self.normalized_shape or any(s <= 0 for s in self.normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got "
                             f"{normalized_shape!r}")
        dt = _float_dtype(dtype, "LayerNorm")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight._array[...] = 1
        if self.bias is not None:
            self.bias._array[...] = 0

    def forward(self, input):  # noqa: A002
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalisation: the ``num_channels`` channels split into ``num_groups`` groups,
    each (sample, group) normalised by its own mean and biased variance, then scaled and
    shifted per channel by ``weight`` (ones) and ``bias`` (zeros) when ``affine``.

    Example::

        gn = fastdl.nn.GroupNorm(4, 16)
        y = gn(fastdl.randn(2, 16, 8, 8))
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        dt = _float_dtype(dtype, "GroupNorm")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        if self.affine:
            self.weight = Parameter(np.ones(num_channels, dt))
            self.bias = Parameter(np.zeros(num_channels, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.affine:
            self.weight._array[...] = 1
            self.bias._array[...] = 0

    def forward(self, input):  # noqa: A002
        x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with {self.num_channels} channels in "
                             f"dimension 1, got shape {tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
