"""fastdl.nn.functional: dropout.

Masks come from a counter-based generator (Philox4x32-10, ``csrc/kernels/eltwise/``): word k
of the stream depends only on the seed and k, so the mask is the same whatever the thread
count or instruction set. Each call draws a fresh seed from ``fastdl.random`` (so
``fastdl.manual_seed`` reproduces every mask), and backward regenerates the mask from that
seed instead of storing it.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd import function as _fn
from ...autograd.function import _Op
from ...random import next_kernel_seed
from ...tensor import Tensor, _cl_only, _inplace, _nhwc, _to_cl, as_tensor
from ._args import _contig as _c, _float

__all__ = ["dropout", "dropout1d", "dropout2d"]

class _Dropout(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, p, seed, group):
        ctx.p, ctx.seed, ctx.group = p, seed, group
        ctx.cl = group == 1 and not x.flags.c_contiguous and _cl_only(x)
        if ctx.cl:  # channels last: the mask over the NHWC storage, as torch draws it
            return _C.dropout(_nhwc(x), p, seed, group).transpose(0, 3, 1, 2)
        return _C.dropout(_c(x), p, seed, group)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # create_graph: the same mask (same seed), recorded
            if ctx.cl:  # in the forward's memory order, where the mask was drawn
                from ...tensor import channels_last
                g = g.contiguous(memory_format=channels_last)
            return _Dropout.apply(g, ctx.p, ctx.seed, ctx.group), None, None, None
        if ctx.cl:
            return _C.dropout(_nhwc(_to_cl(g)), ctx.p, ctx.seed, ctx.group).transpose(
                0, 3, 1, 2), None, None, None
        g = _c(g)
        return _C.dropout(g, ctx.p, ctx.seed, ctx.group), None, None, None


def _check_p(p, name):
    p = float(p)
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def _run(input, p, group, inplace, name):
    t = _float(input, name)
    seed = next_kernel_seed()
    if not inplace:
        return _Dropout.apply(t, p, seed, group)
    if _fn._state.grad and t.requires_grad:
        return _inplace(t, _Dropout, p, seed, group)
    d = t._array
    if d.flags.c_contiguous and d.flags.writeable:
        _C.dropout(d, p, seed, group, out=d)
    else:
        d[...] = _C.dropout(_c(d), p, seed, group)
    t._vc[0] += 1
    return t


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (inverted
    dropout); the identity when ``training`` is False or p == 0. p outside [0, 1] is a
    ValueError.

    Example: ``fastdl.manual_seed(0); F.dropout(fastdl.ones(8), 0.5)`` gives 0s and 2s, the
    same ones on every run and thread count.
    """
    p = _check_p(p, "dropout")
    if not training or p == 0.0:
        return input if isinstance(input, Tensor) else as_tensor(input)
    return _run(input, p, 1, inplace, "dropout")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels with probability ``p`` (scaling the rest by 1 / (1 - p)): input
    (N, C, H, W), or (N, C, L) which PyTorch also treats channel-wise (it warns; fastdl does
    not). p outside [0, 1] is a ValueError.

    Example: ``F.dropout2d(fastdl.ones(2, 3, 4, 4), 0.5)``: each of the 6 (n, c) planes is
    all 0 or all 2.
    """
    p = _check_p(p, "dropout2d")
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if t._array.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got "
                         f"shape {tuple(t._array.shape)}")
    if not training or p == 0.0:
        return t
    group = int(np.prod(t._array.shape[2:], dtype=np.int64))
    if group == 0 or t._array.size == 0:
        return _Dropout.apply(t, p, next_kernel_seed(), 1)
    return _run(t, p, group, inplace, "dropout2d")


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, L) — or unbatched (C, L) — input with probability
    ``p``, scaling the rest by 1 / (1 − p) (the channel dropout of ``dropout2d``, one plane
    per (n, c) row).

    Example: ``F.dropout1d(fastdl.ones(2, 3, 5), 0.5)``: each of the 6 rows is all 0 or all 2.
    """
    t = input if isinstance(input, Tensor) else as_tensor(input)
    if t._array.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{tuple(t._array.shape)}")
    if t._array.ndim == 2:
        if inplace:
            raise ValueError("dropout1d: inplace is not supported for unbatched (C, L) input")
        return dropout2d(t.unsqueeze(0), p, training).squeeze(0)
    return dropout2d(t, p, training, inplace)
