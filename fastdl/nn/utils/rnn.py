"""``fastdl.nn.utils.rnn``: padding a list of variable-length sequences into one batch.

(Packed sequences are not implemented: the recurrent layers run on padded batches.)
"""
from __future__ import annotations

from ... import stack
from ...tensor import Tensor, as_tensor
from .. import functional as F

__all__ = ["pad_sequence", "unpad_sequence"]


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
