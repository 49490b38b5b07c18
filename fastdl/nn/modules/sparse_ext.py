"""``EmbeddingBag``: sums, means or maxima of bags of embeddings (PyTorch's names)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import init
from ...autograd import no_grad
from ...tensor import Tensor
from .linear import _factory_dtype
from .module import Module, Parameter

__all__ = ["EmbeddingBag"]


class EmbeddingBag(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` whose forward reduces
    bags of looked-up rows (``F.embedding_bag``: sum, mean — the default — or max), without
    materialising the per-entry lookup. ``weight`` ~ N(0, 1), the ``padding_idx`` row zero.

    Example::

        bag = nn.EmbeddingBag(10, 3, mode="sum")
        bag(fastdl.tensor([1, 2, 4, 5, 4, 3]), fastdl.tensor([0, 3]))   # (2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("EmbeddingBag: scale_grad_by_freq and sparse are not "
                                      "supported")
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got "
                             f"{mode!r}")
        dt = _factory_dtype(dtype, device, "EmbeddingBag")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.mode = mode
        self.include_last_offset = include_last_offset
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} must be within "
                                 f"num_embeddings ({num_embeddings})")
            padding_idx = int(padding_idx) % num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), dt))
            self.reset_parameters()
        else:
            w = _weight._array if isinstance(_weight, Tensor) else np.asarray(_weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight has shape {w.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(np.array(w))

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._array[self.padding_idx] = 0

    def forward(self, input, offsets=None, per_sample_weights=None):  # noqa: A002
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is (a copy of) the 2-D ``embeddings``, frozen by
        default. Example: ``nn.EmbeddingBag.from_pretrained(fastdl.randn(5, 3))``"""
        w = embeddings._array if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if w.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                             f"{w.shape}")
        bag = cls(w.shape[0], w.shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  w, include_last_offset, padding_idx, dtype=w.dtype)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode='{self.mode}'"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
