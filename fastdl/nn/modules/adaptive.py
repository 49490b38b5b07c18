"""``AdaptiveLogSoftmaxWithLoss``: the efficient softmax approximation of Grave et al. for
large vocabularies (PyTorch's parameters, submodule names and outputs)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import functional as F
from ...tensor import Tensor, as_tensor, cat
from .linear import Linear, _factory_dtype
from .module import Module, ModuleList, Sequential

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: frequent classes (below ``cutoffs[0]``) are scored by the ``head``
    together with one logit per tail cluster; a class in cluster i gets
    ``log p(cluster i | x) + log p(class | cluster i, x)``, the second term from
    ``tail[i]`` = Linear(in, in // div_value^(i+1)) → Linear(…, cluster size), no biases.

    ``forward(input, target)`` returns ``(output, loss)``: the target log-probabilities (N,)
    and their negated mean. ``log_prob(input)`` gives all (N, n_classes) log-probabilities,
    ``predict(input)`` the most likely class.

    Example::

        asm = nn.AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[10, 40])
        out, loss = asm(fastdl.randn(8, 16), fastdl.randint(0, 100, (8,)))
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        dt = _factory_dtype(dtype, device, "AdaptiveLogSoftmaxWithLoss")
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             f"n_classes-1 (got {cutoffs} for n_classes={n_classes})")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dt)
        tails = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tails.append(Sequential(Linear(in_features, hsz, bias=False, dtype=dt),
                                    Linear(hsz, osz, bias=False, dtype=dt)))
        self.tail = ModuleList(tails)

    def reset_parameters(self):
        self.head.reset_parameters()
        for seq in self.tail:
            for lin in seq:
                lin.reset_parameters()

    def forward(self, input, target):  # noqa: A002
        x = input if isinstance(input, Tensor) else as_tensor(input)
        t = target._array if isinstance(target, Tensor) else np.asarray(target)
        t = t.astype(np.int64)
        unbatched = x.ndim == 1
        if unbatched:
            if t.ndim != 0:
                raise RuntimeError("1D target tensor expects 0D input tensors, but found "
                                   f"inputs with size {tuple(x.shape)}")
            x, t = x.unsqueeze(0), t.reshape(1)
        elif x.ndim == 2:
            if t.ndim != 1:
                raise RuntimeError("2D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {tuple(x.shape)}")
        else:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported "
                               f"(input of shape {tuple(x.shape)})")
        if x.shape[0] != t.shape[0]:
            raise RuntimeError("Input and target should have the same size in the batch "
                               f"dimension ({x.shape[0]} vs {t.shape[0]})")
        if x.shape[1] != self.in_features:
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: input has {x.shape[1]} features, "
                               f"expected {self.in_features}")
        N = t.shape[0]
        if N and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{t.min()}, {t.max()}] were found. ")
        head_lp = F.log_softmax(self.head(x), dim=1)
        gather = t.copy()
        pieces, order = [], []
        bounds = [0] + self.cutoffs
        for i in range(1, len(bounds) - 1):
            lo, hi = bounds[i], bounds[i + 1]
            rows = np.flatnonzero((t >= lo) & (t < hi))
            if rows.size == 0:
                continue
            gather[rows] = self.shortlist_size + i - 1
            clp = F.log_softmax(self.tail[i - 1](x[rows]), dim=1)
            pieces.append(clp.gather(1, (t[rows] - lo)[:, None]).reshape(-1))
            order.append(rows)
        out = head_lp.gather(1, gather[:, None]).reshape(-1)
        if pieces:
            rows = np.concatenate(order)
            tail_lp = cat(pieces) if len(pieces) > 1 else pieces[0]
            # scatter the tail terms back to their rows: pad with the shortlist rows (0) and
            # reorder by the inverse permutation
            rest = np.setdiff1d(np.arange(N), rows)
            zeros = Tensor._make(np.zeros(rest.size, dtype=x._array.dtype))
            allv = cat([tail_lp, zeros]) if rest.size else tail_lp
            inv = np.empty(N, dtype=np.int64)
            inv[np.concatenate([rows, rest])] = np.arange(N)
            out = out + allv[inv]
        loss = (-out).mean()
        if unbatched:
            out = out.reshape(())
        return _ASMoutput(out, loss)

    def _full_log_prob(self, x, head_output):
        head_lp = F.log_softmax(head_output, dim=1)
        parts = [head_lp[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            clp = F.log_softmax(self.tail[i](x), dim=1)
            parts.append(clp + head_lp[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return cat(parts, 1)

    def log_prob(self, input):  # noqa: A002
        """All (N, n_classes) — or (n_classes,) — log-probabilities.
        Example: ``asm.log_prob(x).exp().sum(1)`` is all 1."""
        x = input if isinstance(input, Tensor) else as_tensor(input)
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out.squeeze(0) if unbatched else out

    def predict(self, input):  # noqa: A002
        """The most likely class of each row (int64). Example: ``asm.predict(x)``"""
        lp = self.log_prob(input)
        return Tensor._make(np.argmax(lp._array, axis=-1).astype(np.int64))

    def extra_repr(self):
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, "
                f"cutoffs={self.cutoffs[:-1]}, div_value={self.div_value}")
