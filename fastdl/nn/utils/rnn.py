"""``fastdl.nn.utils.rnn``: batches of variable-length sequences — padded
(``pad_sequence``) or packed (``PackedSequence``: the time-major concatenation of the
sequences' steps, longest first, with ``batch_sizes[t]`` sequences still running at step
t). ``nn.RNN``/``LSTM``/``GRU`` accept a ``PackedSequence`` and return one.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ... import stack
from ...tensor import Tensor, as_tensor, cat
from .. import functional as F

__all__ = ["pad_sequence", "unpad_sequence", "PackedSequence", "pack_padded_sequence",
           "pad_packed_sequence", "pack_sequence", "unpack_sequence", "invert_permutation"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into one (L_max, B, *) tensor — (B, L_max, *) with
    ``batch_first`` — filling with ``padding_value`` after each sequence (before it with
    ``padding_side='left'``). Differentiable in every sequence.

    Example: ``pad_sequence([fastdl.ones(3, 2), fastdl.ones(1, 2)]).shape == (3, 2, 2)``
    """
    seqs = [s if isinstance(s, Tensor) else as_tensor(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    trail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.ndim < 1 or tuple(s.shape[1:]) != trail:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; all "
                             f"must be (L, {', '.join(map(str, trail))})" if trail else
                             f"pad_sequence: sequence {i} has shape {tuple(s.shape)}; all must "
                             "be 1-D (L,)")
    L = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        extra = L - s.shape[0]
        # F.pad pads trailing dims first: (0, 0) for each trailing dim, then the length dim
        spec = (0, 0) * len(trail) + ((0, extra) if padding_side == "right" else (extra, 0))
        padded.append(F.pad(s, spec, value=padding_value) if extra else s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of ``pad_sequence`` (right padding): the list of the first ``lengths[i]``
    steps of each sequence.

    Example: ``unpad_sequence(pad_sequence([a, b]), [len(a), len(b)])`` gives ``[a, b]``.
    """
    t = padded_sequences if isinstance(padded_sequences, Tensor) else as_tensor(padded_sequences)
    if not batch_first:
        t = t.transpose(0, 1)
    lengths = [int(n) for n in (lengths.tolist() if hasattr(lengths, "tolist") else lengths)]
    if len(lengths) != t.shape[0]:
        raise ValueError(f"unpad_sequence: {len(lengths)} lengths for a batch of {t.shape[0]}")
    if any(n < 0 or n > t.shape[1] for n in lengths):
        raise ValueError(f"unpad_sequence: lengths {lengths} must lie in [0, {t.shape[1]}]")
    return [t[i, :n] for i, n in enumerate(lengths)]


def invert_permutation(permutation):
    """The inverse of an int64 permutation (None stays None).
    Example: ``invert_permutation(fastdl.tensor([2, 0, 1]))`` gives ``[1, 2, 0]``."""
    if permutation is None:
        return None
    p = permutation._array if isinstance(permutation, Tensor) else np.asarray(permutation)
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return Tensor._make(out.astype(np.int64))


class PackedSequence(NamedTuple):
    """A packed batch of sequences: ``data`` (Σ lengths, *) holds step 0 of every sequence
    (longest first), then step 1 of those still running, …; ``batch_sizes`` (int64, one
    per step) how many run at each step; ``sorted_indices`` / ``unsorted_indices`` the
    permutation from the original batch order to the packed order and back (None when the
    input was already sorted). Build it with ``pack_padded_sequence`` or ``pack_sequence``.

    Example::

        packed = pack_sequence([fastdl.ones(3, 2), fastdl.ones(1, 2)])
        packed.batch_sizes.tolist() == [2, 1, 1]
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None

    def to(self, *args, **kwargs):
        return self._replace(data=self.data.to(*args, **kwargs))

    def double(self):
        return self._replace(data=self.data.double())

    def float(self):
        return self._replace(data=self.data.float())

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def _lengths(lengths, fn):
    a = lengths._array if isinstance(lengths, Tensor) else np.asarray(lengths)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: lengths must be integers (int64), got {a.dtype}")
    return a.astype(np.int64).reshape(-1)


def _pack_index(lengths_sorted, B):
    """Row t·B + j of a (T, B) time-major batch (sorted order) for every packed entry."""
    T = int(lengths_sorted[0]) if lengths_sorted.size else 0
    bs = np.array([(lengths_sorted > t).sum() for t in range(T)], dtype=np.int64)
    idx = np.concatenate([t * B + np.arange(bs[t]) for t in range(T)]) if T else \
        np.zeros(0, np.int64)
    return bs, idx


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):  # noqa: A002
    """Pack a padded batch (T, B, *) — (B, T, *) with ``batch_first`` — whose sequence b has
    ``lengths[b]`` valid steps. With ``enforce_sorted`` the lengths must be non-increasing;
    otherwise the batch is sorted here and the permutation kept in the result.
    Differentiable in ``input``.

    Example: ``pack_padded_sequence(x, [5, 3, 2])`` for x of shape (5, 3, 8)
    """
    fn = "pack_padded_sequence"
    x = input if isinstance(input, Tensor) else as_tensor(input)
    lens = _lengths(lengths, fn)
    if batch_first:
        x = x.transpose(0, 1)
    T, B = x.shape[0], x.shape[1]
    if lens.size != B:
        raise ValueError(f"{fn}: expected {B} lengths (the batch of input {tuple(x.shape)}), "
                         f"got {lens.size}")
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lens.size and lens.max() > T:
        raise ValueError(f"{fn}: lengths {lens.tolist()} exceed the sequence length {T}")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_idx = None
        order = np.arange(B)
    else:
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        sorted_idx = Tensor._make(order)
    ls = lens[order]
    bs, idx = _pack_index(ls, B)
    # entry (t, j) of the sorted batch is row t·B + order[j] of the original one
    rows = (idx // B) * B + order[idx % B]
    data = x.reshape(T * B, *x.shape[2:])[rows]
    return PackedSequence(data, Tensor._make(bs), sorted_idx, invert_permutation(sorted_idx))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of ``pack_padded_sequence``: (padded (T, B, *) — (B, T, *) with
    ``batch_first`` —, lengths (B,) int64), in the original batch order; ``total_length``
    pads T further. Differentiable in ``sequence.data``.

    Example: ``out, lengths = pad_packed_sequence(packed)``
    """
    data, bs = sequence.data, sequence.batch_sizes._array.astype(np.int64)
    T = bs.size
    B = int(bs[0]) if T else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        Tout = int(total_length)
    else:
        Tout = T
    ls = np.array([(bs > j).sum() for j in range(B)], dtype=np.int64)   # sorted lengths
    order = sequence.sorted_indices._array if sequence.sorted_indices is not None else \
        np.arange(B)
    _, idx = _pack_index(ls, B)
    # padded row t·B + order[j] takes packed entry (t, j); the rest take the padding row
    src = np.full(Tout * B, data.shape[0], dtype=np.int64)
    src[(idx // B) * B + order[idx % B]] = np.arange(idx.size)
    pad = Tensor._make(np.full((1,) + tuple(data.shape[1:]), padding_value,
                               dtype=data._array.dtype))
    full = cat([data, pad], 0)[src].reshape(Tout, B, *data.shape[1:])
    lengths = np.empty(B, dtype=np.int64)
    lengths[order] = ls
    if batch_first:
        full = full.transpose(0, 1)
    return full, Tensor._make(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) sequences (longest first with ``enforce_sorted``).
    Example: ``pack_sequence([a, b, c], enforce_sorted=False)``"""
    seqs = [s if isinstance(s, Tensor) else as_tensor(s) for s in sequences]
    lengths = [s.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences in a ``PackedSequence`` (original order).
    Example: ``unpack_sequence(pack_sequence([a, b]))`` gives ``[a, b]``."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :int(n)] for i, n in enumerate(lengths._array)]


def _rnn_packed(rnn, packed, hx):
    """Run ``rnn`` on a PackedSequence: each group of sequences of equal length runs as one
    padded batch of exactly that length (so every sequence stops at its own last step, in
    both directions), and the outputs are packed like the input."""
    padded, lengths = pad_packed_sequence(packed)            # (T, B, in), original order
    lens = lengths._array
    B = lens.size
    lstm = rnn.mode == "LSTM"
    if hx is not None:
        h0, c0 = (hx if lstm else (hx, None))
    pieces, hs, cs, order = [], [], [], []
    offsets = {}
    pos = 0
    for Lk in sorted(set(lens.tolist()), reverse=True):
        rows = np.flatnonzero(lens == Lk)
        sub = padded[:Lk][:, rows]
        if hx is None:
            h = None
        elif lstm:
            h = (h0[:, rows], c0[:, rows])
        else:
            h = h0[:, rows]
        out, hn = rnn._forward_tensor(sub, h, force_batch_first=False)
        if lstm:
            hn, cn = hn
            cs.append(cn)
        hs.append(hn)
        for r_i, b in enumerate(rows):
            offsets[int(b)] = (pos, r_i, len(rows))
        pieces.append(out.reshape(Lk * len(rows), out.shape[-1]))
        pos += Lk * len(rows)
        order.append(rows)
    big = cat(pieces, 0) if len(pieces) > 1 else pieces[0]
    sorted_order = packed.sorted_indices._array if packed.sorted_indices is not None else \
        np.arange(B)
    bs = packed.batch_sizes._array
    take = []
    for t in range(bs.size):
        for j in range(int(bs[t])):
            off, r, n = offsets[int(sorted_order[j])]
            take.append(off + t * n + r)
    data = big[np.array(take, dtype=np.int64)]
    inv = invert_permutation(np.concatenate(order))._array
    h_n = (cat(hs, 1) if len(hs) > 1 else hs[0])[:, inv]
    out = PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                         packed.unsorted_indices)
    if lstm:
        c_n = (cat(cs, 1) if len(cs) > 1 else cs[0])[:, inv]
        return out, (h_n, c_n)
    return out, h_n
