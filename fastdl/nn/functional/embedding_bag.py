"""``fastdl.nn.functional.embedding_bag``: sums, means or maxima of bags of embeddings,
without materialising the (entries, dim) lookup.

A bag is a run of consecutive indices (the rows of a 2-D input, or the runs of a 1-D input
that ``offsets`` starts). The Python layer checks the arguments and drops padding entries;
one C++ op (``csrc/bindings/bind_embag.cpp`` → ``csrc/kernels/embag/``; NumPy twin in
``fastdl.testing.reference.embag``) reduces the bags and scatters the gradient back into
the table, deterministically.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor

__all__ = ["embedding_bag"]

_MODES = {"sum": 0, "mean": 1, "max": 2}


class _EmbeddingBag(_Op):
    """weight (n, D), psw (E,) or None -> (B, D); bag b is entries [starts[b], starts[b] +
    counts[b]) of idx (padding removed)."""

    @staticmethod
    def forward(ctx, weight, psw, idx, starts, counts, mode):
        weight = np.ascontiguousarray(weight)
        psw = None if psw is None else np.ascontiguousarray(psw)
        out, arg = _C.embedding_bag(weight, idx, starts, counts, psw, mode)
        ctx.args = (idx, starts, counts, mode, arg)
        ctx.save_for_backward(weight, psw)
        return out

    @staticmethod
    def backward(ctx, g):
        weight, psw = ctx.saved_tensors
        idx, starts, counts, mode, arg = ctx.args
        need = ctx.needs_input_grad
        gw, gp = _C.embedding_bag_backward(np.ascontiguousarray(g), weight, idx, starts,
                                           counts, psw, mode, arg, bool(need[0]),
                                           bool(need[1]) and psw is not None)
        return gw, gp, None, None, None, None


def _int_array(x, name):
    a = x._array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag: {name} must hold integers (int64), got {a.dtype}")
    return a.astype(np.int64, copy=False)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,  # noqa: A002
                  scale_grad_by_freq=False, mode="mean", sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Reduce bags of embedding rows: ``out[b] = reduce_{e in bag b} w_e · weight[input[e]]``
    with reduce = sum, mean or max (``mode``), ``w_e`` = ``per_sample_weights[e]`` (sum
    mode only) or 1.

    ``input`` is (B, L) — each row one bag, ``offsets`` None — or 1-D with ``offsets`` (B,)
    of bag starts (the first must be 0; with ``include_last_offset`` there are B + 1, and — as in
    PyTorch — the last bag runs to the end of the input whatever the last offset says). Entries equal to ``padding_idx`` are left out of their bag (and of a
    mean's count); an empty bag gives zeros. ``max_norm`` renormalises the looked-up rows in
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
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets).__name__}")
        B, L = idx.shape
        offs = np.arange(B, dtype=np.int64) * L
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offs = _int_array(offsets, "offsets")
        if offs.ndim != 1:
            raise ValueError(f"offsets has to be a 1D Tensor, got shape {offs.shape}")
        if include_last_offset:
            # B + 1 offsets; as PyTorch, the last bag runs to the end of the input
            if offs.size < 1:
                raise ValueError("embedding_bag: include_last_offset needs at least one offset")
            offs = offs[:-1]
        if offs.size and offs[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                               f"mini-batch has to start from position 0. However, got "
                               f"{int(offs[0])}")
        if offs.size and (np.any(np.diff(offs) < 0) or offs[-1] > idx.size):
            raise RuntimeError(f"embedding_bag: offsets must be non-decreasing and at most the "
                               f"input length {idx.size}, got {offs.tolist()}")
        B = offs.size
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if max_norm is not None and idx.size and (idx.min() < 0 or idx.max() >= n):
        # (otherwise the binding checks the indices, before the kernel reads any)
        bad = int(idx.min() if idx.min() < 0 else idx.max())
        raise IndexError(f"embedding_bag: index {bad} is out of range for {n} embeddings")
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
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} must be within "
                             f"[-{n}, {n - 1}]")
        padding_idx = int(padding_idx) % n
    # bag b is entries [offs[b], ends[b]); dropping padding entries shifts them
    E = idx.size
    ends = np.append(offs[1:], E).astype(np.int64) if B else offs
    starts, counts = offs.astype(np.int64), (ends - offs).astype(np.int64)
    if padding_idx is not None and E:
        keep = idx != padding_idx
        if not keep.all():
            kept_before = np.concatenate(([0], np.cumsum(keep)))
            starts, counts = kept_before[offs], kept_before[ends] - kept_before[offs]
            idx = idx[keep]
            if psw is not None:
                psw = psw[keep]
    if max_norm is not None and idx.size:
        rows = np.unique(idx)
        w = weight._array[rows]
        norms = np.linalg.norm(w, ord=norm_type, axis=1)
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
            weight._array[rows[over]] = w[over] * scale[:, None]
            weight._vc[0] += 1
    return _EmbeddingBag.apply(weight, psw, np.ascontiguousarray(idx), starts, counts,
                               _MODES[mode])
