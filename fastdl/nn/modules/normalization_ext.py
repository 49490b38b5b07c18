"""``RMSNorm``, ``LocalResponseNorm``, ``CrossMapLRN2d``, ``BatchNorm3d``,
``InstanceNorm3d`` and ``SyncBatchNorm`` (a single-process stand-in)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .module import Module, Parameter
from .normalization import _BatchNorm, _float_dtype, _InstanceNorm

__all__ = ["RMSNorm", "LocalResponseNorm", "CrossMapLRN2d", "BatchNorm3d", "InstanceNorm3d",
           "SyncBatchNorm"]


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims:
    ``y = x / sqrt(mean(x²) + eps) · weight`` (``F.rms_norm``); ``weight`` (ones) when
    ``elementwise_affine``; ``eps=None`` is the input dtype's machine epsilon.

    Example: ``nn.RMSNorm(16)(fastdl.randn(2, 5, 16))``"""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        if not self.normalized_shape or any(s <= 0 for s in self.normalized_shape):
            raise ValueError(f"RMSNorm: normalized_shape must be positive sizes, got "
                             f"{normalized_shape!r}")
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        dt = _float_dtype(dtype, "RMSNorm")
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight._array[...] = 1

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels (``F.local_response_norm``).
    Example: ``nn.LocalResponseNorm(2)(fastdl.randn(2, 8, 5, 5))``"""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):  # noqa: A002
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """Local response normalisation of a 4-D (N, C, H, W) input across channels (Lua
    Torch's name for ``LocalResponseNorm`` on 4-D input).
    Example: ``nn.CrossMapLRN2d(3)(fastdl.randn(2, 8, 5, 5))``"""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):  # noqa: A002
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D "
                             f"(shape {tuple(input.shape)})")
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of an (N, C, D, H, W) input over N, D, H, W per channel; see
    ``BatchNorm1d`` for training, eval and running statistics.
    Example: ``nn.BatchNorm3d(4)(fastdl.randn(2, 4, 3, 5, 5))``"""

    _expected_dims = (5,)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of an (N, C, D, H, W) or unbatched (C, D, H, W) input over
    D, H, W per (sample, channel); options as ``InstanceNorm1d``.
    Example: ``nn.InstanceNorm3d(3)(fastdl.randn(2, 3, 4, 4, 4))``"""

    _no_batch_dim = 4


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose statistics would be reduced over all processes of a
    process group. fastdl runs in one process, so this is ``BatchNorm`` over (N, C, *)
    input of 2 or more dims (same parameters, buffers, state-dict keys); a
    ``process_group`` other than None is accepted and ignored.

    Example::

        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)   # BatchNorm*d -> SyncBatchNorm
    """

    _expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, x):
        if x.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {x.ndim}D input)")
        super()._check_input_dim(x)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm1d/2d/3d`` in ``module`` (recursively, or ``module``
        itself) by a ``SyncBatchNorm`` sharing its parameters and buffers; returns the
        converted module. Example: ``nn.SyncBatchNorm.convert_sync_batchnorm(net)``"""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm) and \
                not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in list(module._modules.items()):
            if child is not None:
                out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
