"""``fastdl.nn.functional.embedding_bag``: sums, means or maxima of bags of embeddings,
without materialising the (entries, dim) lookup.

A bag is a run of consecutive indices (the rows of a 2-D input, or the runs of a 1-D input
that ``offsets`` starts). The Python layer checks the argument types and shapes; one C++ op
(``csrc/bindings/bind_embag.cpp`` → ``csrc/kernels/embag/``; NumPy twin in
``fastdl.testing.reference.embag``) checks the offsets, checks each index as it reads it,
skips padding entries, reduces the bags and scatters the gradient back into the table,
deterministically.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor

__all__ = ["embedding_bag"]

_MODES = {"sum": 0, "mean": 1, "max": 2}


class _EmbeddingBag(_Op):
    """weight (n, D), psw (E,) or None -> (B, D). Bags: ``offs`` (B,) of starts (the last
    bag runs to the end of idx), or None and bags of ``L`` entries; entries equal to ``pad``
    (-1: none) are left out. The binding checks the offsets and the indices."""

    @staticmethod
    def forward(ctx, weight, psw, idx, offs, L, pad, mode):
        weight = np.ascontiguousarray(weight)
        psw = None if psw is None else np.ascontiguousarray(psw)
        out, arg = _C.embedding_bag(weight, idx, offs, L, psw, mode, pad)
        ctx.args = (idx, offs, L, mode, pad, arg)
        ctx.save_for_backward(weight, psw)
        return out

    @staticmethod
    def backward(ctx, g):
        weight, psw = ctx.saved_tensors
        idx, offs, L, mode, pad, arg = ctx.args
        need = ctx.needs_input_grad
        gw, gp = _C.embedding_bag_backward(np.ascontiguousarray(g), weight, idx, offs, L, psw,
                                           mode, pad, arg, bool(need[0]),
                                           bool(need[1]) and psw is not None)
        return gw, gp, None, None, None, None, None


def _int_array(x, name):
    a = x._array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag: {name} must hold integers (int64), got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,  # noqa: A002
                  scale_grad_by_freq=False, mode="mean", sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Reduce bags of embedding rows: ``out[b] = reduce_{e in bag b} w_e · weight[input[e]]``
    with reduce = sum, mean or max (``mode``), ``w_e`` = ``per_sample_weights[e]`` (sum
    mode only) or 1.

    ``input`` is (B, L) — each row one bag, ``offsets`` None — or 1-D with ``offsets`` (B,)
    of bag starts (the first must be 0). With ``include_last_offset`` there are B + 1 offsets
    in CSR form: bag b is ``input[offsets[b]:offsets[b + 1]]``, so the last bag ends at the
    last offset, and entries after it belong to no bag (they are not read; their
    per-sample-weight gradient is 0). PyTorch documents that form (last offset = len(input));
    for a smaller last offset its float32 sum kernel agrees, while its other kernels run the
    last bag to the end of the input. Entries equal to ``padding_idx`` are left out of their
    bag (and of a mean's count); an empty bag gives zeros. ``max_norm`` renormalises the looked-up rows in
    place first, as ``embedding``. ``scale_grad_by_freq`` and ``sparse`` are not supported.
    Returns (B, embedding_dim).

    Example::

        w = fastdl.randn(10, 3)
        F.embedding_bag(fastdl.tensor([1, 2, 4, 5, 4]), w, fastdl.tensor([0, 2]),
                        mode="sum")                  # (2, 3): w[1]+w[2], w[4]+w[5]+w[4]
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: scale_grad_by_freq and sparse are not "
                                  "supported")
    if mode not in _MODES:
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    weight = weight if isinstance(weight, Tensor) else as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding_bag: weight has to be a 2D Tensor, but got Tensor of "
                         f"dimension {weight.ndim} (shape {tuple(weight.shape)})")
    if weight._array.dtype.kind != "f":
        raise TypeError(f"embedding_bag: weight must be float32 or float64, got "
                        f"{weight._array.dtype}")
    idx = _int_array(input, "input")
    n = weight.shape[0]
    offs, L = None, 0
    used = idx.size                                    # entries that belong to a bag
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets).__name__}")
        B, L = idx.shape
        if L == 0:                                     # B empty bags
            offs, L = np.zeros(B, np.int64), 0
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offs = _int_array(offsets, "offsets")
        if offs.ndim != 1:
            raise ValueError(f"offsets has to be a 1D Tensor, got shape {offs.shape}")
        if include_last_offset:
            # B + 1 offsets in CSR form: bag b is input[offsets[b]:offsets[b + 1]], so the
            # last bag ends at the last offset and entries after it belong to no bag
            if offs.size < 1:
                raise ValueError("embedding_bag: include_last_offset needs at least one offset")
            end = int(offs[-1])
            if offs.size == 1 and end != 0:
                raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                                   f"mini-batch has to start from position 0. However, got "
                                   f"{end}")
            if offs.size > 1 and end < offs[-2]:
                raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, got "
                                   f"offsets[{offs.size - 1}] = {end} after {int(offs[-2])}")
            if end > idx.size:
                raise RuntimeError(f"embedding_bag: offsets[-1] can not be greater than "
                                   f"input's length {idx.size} but got offsets[-1] of {end}")
            offs = offs[:-1]
            used = end
        # (the binding checks offsets[0] == 0, their order and the indices' range)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    psw = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request "
                                      f"on GitHub.")
        psw = per_sample_weights if isinstance(per_sample_weights, Tensor) else \
            as_tensor(per_sample_weights)
        want = tuple(np.shape(input._array if isinstance(input, Tensor) else input))
        if tuple(psw.shape) != want:
            raise ValueError(f"embedding_bag: per_sample_weights has shape {tuple(psw.shape)}, "
                             f"input {want}: they must be the same")
        if psw._array.dtype != weight._array.dtype:
            raise TypeError(f"embedding_bag: per_sample_weights is {psw._array.dtype} but weight "
                            f"is {weight._array.dtype}")
        psw = psw.reshape(-1)
        if used < idx.size:
            psw = psw[:used]                           # the rest gets a zero gradient
    if used < idx.size:
        idx = idx[:used]
    pad = -1
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} must be within "
                             f"[-{n}, {n - 1}]")
        pad = int(padding_idx) % n
    if max_norm is not None and idx.size:
        if idx.min() < 0 or idx.max() >= n:
            bad = int(idx.min() if idx.min() < 0 else idx.max())
            raise IndexError(f"embedding_bag: index {bad} is out of range for {n} embeddings")
        rows = np.unique(idx[idx != pad])
        w = weight._array[rows]
        norms = np.linalg.norm(w, ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
            weight._array[rows[over]] = w[over] * scale[:, None]
            weight._vc[0] += 1
    return _EmbeddingBag.apply(weight, psw, idx, offs, L, pad, _MODES[mode])
