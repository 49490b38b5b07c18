"""``fastdl.nn.functional``: the remaining small functions of ``torch.nn.functional`` —
the deprecated ``upsample*`` spellings, ``pdist``, ``conv_tbc`` and
``linear_cross_entropy`` — each a composition of existing differentiable ops.
"""
from __future__ import annotations

import warnings

import numpy as np

from ...tensor import Tensor, as_tensor
from .conv import conv1d
from .linear import linear
from .loss import cross_entropy
from .shape import interpolate

__all__ = ["upsample", "upsample_nearest", "upsample_bilinear", "pdist", "conv_tbc",
           "linear_cross_entropy", "GRID_SAMPLE_INTERPOLATION_MODES",
           "GRID_SAMPLE_PADDING_MODES"]

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


def upsample(input, size=None, scale_factor=None, mode="nearest",  # noqa: A002
             align_corners=None):
    """Deprecated spelling of ``interpolate`` (warns, as PyTorch).
    Example: ``F.upsample(x, scale_factor=2)``"""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):  # noqa: A002
    """Deprecated: ``interpolate(..., mode='nearest')`` (warns).
    Example: ``F.upsample_nearest(x, scale_factor=2)``"""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):  # noqa: A002
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)`` (warns).
    Example: ``F.upsample_bilinear(x, scale_factor=2)``"""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pdist(input, p=2):  # noqa: A002
    """The p-norm distances between all pairs of rows of an (N, M) input, as the condensed
    upper triangle (N·(N − 1)/2,) in row-major order: ``‖x_i − x_j‖_p`` for i < j.

    Example: ``F.pdist(fastdl.randn(4, 3)).shape == (6,)``
    """
    x = input if isinstance(input, Tensor) else as_tensor(input)
    if x.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.ndim}D")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    i, j = np.triu_indices(x.shape[0], k=1)
    d = (x[i] - x[j]).abs()
    if p == float("inf"):
        return d.amax(1)
    if p == 0:
        return Tensor._make((d._array != 0).sum(1).astype(x._array.dtype))
    if p == 1:
        return d.sum(1)
    return (d ** float(p)).sum(1) ** (1.0 / p)


def conv_tbc(input, weight, bias, pad=0):  # noqa: A002
    """1-D convolution in time-batch-channel layout: input (T, B, C_in), weight
    (k, C_in, C_out), bias (C_out,) → (T + 2·pad − k + 1, B, C_out).

    Example: ``F.conv_tbc(fastdl.randn(10, 2, 3), fastdl.randn(3, 3, 4), fastdl.zeros(4))``
    """
    x = input if isinstance(input, Tensor) else as_tensor(input)
    w = weight if isinstance(weight, Tensor) else as_tensor(weight)
    if x.ndim != 3 or w.ndim != 3:
        raise RuntimeError(f"conv_tbc: input must be (T, B, C) and weight (k, C_in, C_out), got "
                           f"{tuple(x.shape)} and {tuple(w.shape)}")
    if x.shape[2] != w.shape[1]:
        raise RuntimeError(f"conv_tbc: input has {x.shape[2]} channels, weight expects "
                           f"{w.shape[1]}")
    y = conv1d(x.permute(1, 2, 0), w.permute(2, 1, 0), bias, 1, int(pad))
    return y.permute(2, 0, 1)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None,  # noqa: A002
                         weight=None, reduction="mean", ignore_index=None,
                         label_smoothing=0.0, options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` (PyTorch's
    reference definition; ``options`` for its chunked path are accepted and unused).
    ``ignore_index=None`` ignores nothing.

    Example: ``F.linear_cross_entropy(x, w, y)`` for x (N, in), w (C, in), y (N,)
    """
    w = linear_weight if isinstance(linear_weight, Tensor) else as_tensor(linear_weight)
    x = input if isinstance(input, Tensor) else as_tensor(input)
    C = w.shape[0]
    out_feat = tuple(w.shape[1:-1])
    logits = linear(x, w.reshape(-1, w.shape[-1]),
                    None if linear_bias is None else linear_bias.reshape(-1))
    if out_feat:                                  # (N, C, d1, ...) for K-dimensional loss
        logits = logits.reshape(*x.shape[:-1], C, *out_feat)
    kw = {} if ignore_index is None else {"ignore_index": ignore_index}
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         label_smoothing=label_smoothing, **kw)
