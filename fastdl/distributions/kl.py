"""``kl_divergence(p, q)`` = E_p[log p − log q] for the registered pairs of distribution
types (the most specific registration wins, as in torch)."""
from __future__ import annotations

import math

import numpy as np

_KL = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as the KL divergence of ``type_p`` from
    ``type_q``. Example: ``@register_kl(Normal, Normal) def kl_nn(p, q): ...``"""
    def deco(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return deco


def kl_divergence(p, q):
    """KL(p ‖ q), batched over the distributions' batch shape. Raises NotImplementedError
    for a pair with no registered formula.

    Example: ``kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0))``"""
    best, best_rank = None, None
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            rank = (type(p).__mro__.index(tp), type(q).__mro__.index(tq))
            if best_rank is None or rank < best_rank:
                best, best_rank = fn, rank
    if best is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} "
                                  f"and q = {type(q).__name__}")
    return best(p, q)


def _register_all():
    from .. import tensor
    from ..nn import functional as F
    from .basic import (Bernoulli, Categorical, Independent, MultivariateNormal, Normal,
                        OneHotCategorical, Uniform, _arr, _sum_rightmost, tri_solve)

    def _where_inf(mask, t):
        return t + tensor(np.where(mask, np.inf, 0.0).astype(_arr(t).dtype))

    @register_kl(Normal, Normal)
    def _kl_normal_normal(p, q):
        var_ratio = (p.scale / q.scale) ** 2
        t1 = ((p.loc - q.loc) / q.scale) ** 2
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())

    @register_kl(Bernoulli, Bernoulli)
    def _kl_bernoulli_bernoulli(p, q):
        t1 = p.probs * (F.softplus(-q.logits) - F.softplus(-p.logits))
        t2 = (1 - p.probs) * (F.softplus(q.logits) - F.softplus(p.logits))
        return t1 + t2

    @register_kl(Categorical, Categorical)
    def _kl_categorical_categorical(p, q):
        t = p.probs * (p.logits - q.logits)
        pz, qz = _arr(p.probs) == 0, _arr(q.probs) == 0
        keep = tensor((~pz).astype(_arr(t).dtype))
        t = t * keep                        # 0 · log 0 = 0
        t = _where_inf(qz & ~pz, t)         # mass where q has none: infinite
        return t.sum(-1)

    @register_kl(OneHotCategorical, OneHotCategorical)
    def _kl_onehot_onehot(p, q):
        return _kl_categorical_categorical(p._categorical, q._categorical)

    @register_kl(Uniform, Uniform)
    def _kl_uniform_uniform(p, q):
        r = ((q.high - q.low) / (p.high - p.low)).log()
        bad = (_arr(q.low) > _arr(p.low)) | (_arr(q.high) < _arr(p.high))
        return _where_inf(bad, r)

    @register_kl(Uniform, Normal)
    def _kl_uniform_normal(p, q):
        w = p.high - p.low
        t1 = (math.sqrt(math.pi * 2) * q.scale / w).log()
        t2 = w ** 2 / 12
        t3 = ((p.high + p.low - 2 * q.loc) / 2) ** 2
        return t1 + 0.5 * (t2 + t3) / q.scale ** 2

    @register_kl(Independent, Independent)
    def _kl_independent_independent(p, q):
        if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
            raise NotImplementedError("KL between Independents with different "
                                      "reinterpreted_batch_ndims")
        return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist),
                              p.reinterpreted_batch_ndims)

    @register_kl(MultivariateNormal, MultivariateNormal)
    def _kl_mvn_mvn(p, q):
        if p.event_shape != q.event_shape:
            raise ValueError("KL-divergence between two Multivariate Normals with different "
                             "event shapes cannot be computed")
        k = p.event_shape[0]
        half_term1 = q._half_log_det() - p._half_log_det()
        shape = np.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape))
        Lq = q.scale_tril.expand(*shape, k, k)
        Lp = p.scale_tril.expand(*shape, k, k)
        term2 = (tri_solve(Lq, Lp) ** 2).sum(-1).sum(-1)
        diff = (q.loc - p.loc).expand(*shape, k).unsqueeze(-1)
        term3 = (tri_solve(Lq, diff) ** 2).sum(-1).sum(-1)
        return half_term1 + 0.5 * (term2 + term3 - k)


_register_all()
