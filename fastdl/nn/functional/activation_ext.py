"""``fastdl.nn.functional``: GLU, randomized leaky ReLU, Gumbel-softmax.

Each is a composition of differentiable Tensor ops (a split and a product, a mask product,
a softmax): one or two elementwise passes, no kernel of its own.
"""
from __future__ import annotations

import numpy as np

from ...autograd import function as _fn
from ...random import default_generator
from ...tensor import Tensor
from ._args import _float
from . import activation as _act
from .activation import sigmoid, softmax

__all__ = ["glu", "rrelu", "rrelu_", "gumbel_softmax", "threshold_"]


def glu(input, dim=-1):
    """Gated linear unit: split ``input`` in halves a, b along ``dim``; ``a · sigmoid(b)``.

    The size along ``dim`` must be even (else a RuntimeError naming it, as PyTorch's).

    Example: ``F.glu(fastdl.randn(4, 6)).shape == (4, 3)``
    """
    t = _float(input, "glu")
    if t.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + t.ndim if dim < 0 else dim
    if not 0 <= d < t.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for a {t.ndim}-D input")
    n = t.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n} "
                           f"(glu input of shape {tuple(t.shape)})")
    h = n // 2
    lo = (slice(None),) * d + (slice(0, h),)
    hi = (slice(None),) * d + (slice(h, n),)
    return t[lo] * sigmoid(t[hi])


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: ``x`` where x ≥ 0, else ``a·x``. In training each element draws
    its own slope ``a ~ U(lower, upper)`` (from fastdl's seeded generator); in eval
    ``a = (lower + upper) / 2``. The backward uses the same slopes.

    Example: ``F.rrelu(fastdl.tensor([-1.0, 2.0]))`` gives ``[-0.2292, 2.]``.
    """
    t = _float(input, "rrelu")
    lower, upper = float(lower), float(upper)
    if lower > upper:
        raise ValueError(f"rrelu: lower bound {lower} must be <= upper bound {upper}")
    x = t._array
    if training:
        a = default_generator().uniform(lower, upper, size=x.shape).astype(x.dtype)
    else:
        a = np.full(x.shape, (lower + upper) / 2, dtype=x.dtype)
    slope = np.where(x >= 0, np.ones((), x.dtype), a)
    out = t * Tensor._make(slope)
    if not inplace:
        return out
    if t.requires_grad and _fn._state.grad:
        raise RuntimeError("rrelu: in-place on a tensor that requires grad is not supported; "
                           "use inplace=False")
    t._array[...] = out._array
    t._vc[0] += 1
    return t


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place ``rrelu``. Example: ``F.rrelu_(x)``"""
    return rrelu(input, lower, upper, training, inplace=True)


def threshold_(input, threshold, value):
    """In-place ``threshold``. Example: ``F.threshold_(x, 0.5, 0.0)``"""
    return _act.threshold(input, threshold, value, inplace=True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Sample from the Gumbel-softmax distribution: ``y = softmax((logits + g) / tau)``
    with ``g = −log(E)``, ``E ~ Exp(1)`` i.i.d. (fastdl's seeded generator). With ``hard``
    the result is the one-hot of ``argmax y`` in the forward pass and ``y``'s gradient in
    the backward (straight-through: ``y_hard − y.detach() + y``). ``eps`` is unused (kept
    for PyTorch's signature).

    Example: ``F.gumbel_softmax(fastdl.randn(4, 10), tau=0.5, hard=True).sum(-1)`` is all 1.
    """
    t = _float(logits, "gumbel_softmax")
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be > 0, got {tau}")
    e = default_generator().exponential(1.0, size=t.shape)
    g = Tensor._make((-np.log(e)).astype(t._array.dtype))
    y = softmax((t + g) / float(tau), dim=dim)
    if not hard:
        return y
    d = dim + t.ndim if dim < 0 else dim
    idx = np.argmax(y._array, axis=d)
    onehot = np.zeros_like(y._array)
    np.put_along_axis(onehot, np.expand_dims(idx, d), 1, axis=d)
    return Tensor._make(onehot) - y.detach() + y
