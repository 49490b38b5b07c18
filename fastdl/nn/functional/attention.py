"""``fastdl.nn.functional``: embedding and attention ops.

``embedding`` and ``scaled_dot_product_attention`` are single ops (one forward, one analytic
backward on arrays); ``multi_head_attention_forward`` is composed of them and ``F.linear``.
"""
from __future__ import annotations

import math

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...random import default_generator
from ...tensor import Tensor, as_tensor

__all__ = ["embedding", "scaled_dot_product_attention", "multi_head_attention_forward"]


def _t(x):
    return x if isinstance(x, Tensor) else as_tensor(x)


# ---------------------------------------------------------------------------------------
# embedding


class _Embedding(_Op):
    _double = True

    @staticmethod
    def forward(ctx, weight, idx, padding_idx):
        ctx.idx, ctx.n, ctx.padding_idx = idx, weight.shape[0], padding_idx
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):  # create_graph: a recorded scatter-add (double: a gather)
            return _EmbeddingBackward.apply(g, ctx.idx, ctx.n, ctx.padding_idx), None, None
        n, dim = ctx.n, g.shape[-1]
        flat = ctx.idx.reshape(-1)
        g2 = g.reshape(-1, dim)
        if ctx.padding_idx is not None:
            keep = flat != ctx.padding_idx
            flat, g2 = flat[keep], g2[keep]
        gw = np.zeros((n, dim), dtype=g.dtype)
        # sort once and add each run of equal indices with one reduceat (fast, deterministic)
        if flat.size:
            order = np.argsort(flat, kind="stable")
            fs = flat[order]
            starts = np.flatnonzero(np.concatenate(([True], fs[1:] != fs[:-1])))
            gw[fs[starts]] = np.add.reduceat(g2[order], starts, axis=0)
        return gw, None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight``: ``out[..., :] = weight[input[...], :]``.

    ``input`` holds int64 indices in [0, num_embeddings); ``padding_idx`` (may be negative)
    names a row that receives no gradient. With ``max_norm``, every row that is looked up and
    whose ``norm_type``-norm exceeds ``max_norm`` is rescaled in place to norm ``max_norm``
    first (as PyTorch does). ``scale_grad_by_freq`` and ``sparse`` are not supported.

    Example: ``F.embedding(fastdl.tensor([[0, 2]]), fastdl.randn(5, 3)).shape == (1, 2, 3)``
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    weight = _t(weight)
    idx = input._array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices, got {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for {n} embeddings "
                         f"(input shape {idx.shape})")
    idx = idx.astype(np.int64, copy=False)
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"[-{n}, {n - 1}]")
        padding_idx = int(padding_idx) % n
    if max_norm is not None:
        rows = np.unique(idx)
        w = weight._array[rows]
        norms = np.linalg.norm(w, ord=norm_type, axis=1) if norm_type != 2 else \
            np.sqrt((w * w).sum(1))
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
            weight._array[rows[over]] = w[over] * scale[:, None]
            weight._vc[0] += 1
    return _Embedding.apply(weight, idx, padding_idx)


# ---------------------------------------------------------------------------------------
# attention


def _softmax_last(s):
    """Softmax over the last axis; a row that is entirely -inf gives zeros (not NaN)."""
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0
    e = np.exp(s - m)
    tot = e.sum(axis=-1, keepdims=True)
    np.divide(e, tot, out=e, where=tot > 0)
    return e


class _Attention(_Op):
    """softmax(q kᵀ·scale + mask) (dropout) v on (..., L, E) / (..., S, E) arrays.

    Outputs (out, probs) where probs are the (dropped-out) attention weights; both are
    differentiable. ``mask`` is an additive float array (or None) broadcast to (..., L, S).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, dropout_p, want_probs):
        q, k, v = np.ascontiguousarray(q), np.ascontiguousarray(k), np.ascontiguousarray(v)
        s = _C.matmul(q, k, trans_b=True)
        s *= scale
        if mask is not None:
            s += mask
        p = _softmax_last(s)
        dmask = None
        if dropout_p > 0.0:
            keep = default_generator().random(p.shape) >= dropout_p
            dmask = keep.astype(p.dtype) / p.dtype.type(1.0 - dropout_p)
            pd = p * dmask
        else:
            pd = p
        out = _C.matmul(pd, v)
        ctx.scale, ctx.dmask, ctx.mshape = scale, dmask, None if mask is None else mask.shape
        ctx.save_for_backward(q, k, v, p, pd)
        return out, (pd if want_probs else np.empty((0,), p.dtype))

    @staticmethod
    def backward(ctx, g, gp):
        q, k, v, p, pd = ctx.saved_tensors
        n = ctx.needs_input_grad
        gq = gk = gv = gm = None
        if g is None:
            g = np.zeros(q.shape[:-1] + (v.shape[-1],), q.dtype)
        g = np.ascontiguousarray(g)
        if n[2]:
            gv = _C.matmul(pd, g, trans_a=True)
        if n[0] or n[1] or n[3]:
            dpd = _C.matmul(g, v, trans_b=True)
            if gp is not None and gp.size:
                dpd += gp
            dp = dpd * ctx.dmask if ctx.dmask is not None else dpd
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
            if n[3]:
                gm = ds.copy() if (n[0] or n[1]) else ds
            ds *= ctx.scale
            if n[0]:
                gq = _C.matmul(ds, k)
            if n[1]:
                gk = _C.matmul(ds, q, trans_a=True)
        return gq, gk, gv, gm, None, None, None


class _Split3(_Op):
    """Three equal parts along ``axis`` (0 or -1) in one op (backward concatenates; a slice
    per part would scatter-add each gradient into a full-size zero array)."""

    @staticmethod
    def forward(ctx, a, axis):
        ctx.shape, ctx.axis = a.shape, axis
        E = a.shape[axis] // 3
        if axis == 0:
            return a[:E], a[E:2 * E], a[2 * E:]
        return a[..., :E], a[..., E:2 * E], a[..., 2 * E:]

    @staticmethod
    def backward(ctx, *gs):
        sh = list(ctx.shape)
        sh[ctx.axis] //= 3
        dt = next(g.dtype for g in gs if g is not None)
        parts = [np.zeros(sh, dt) if g is None else g for g in gs]
        return np.concatenate(parts, axis=ctx.axis), None


def _mask_to_additive(mask, dtype, attend_when_true, what):
    """A bool or float mask as an additive float array (bool: -inf where not attended)."""
    m = mask._array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == np.bool_:
        blocked = ~m if attend_when_true else m
        out = np.zeros(m.shape, dtype)
        out[blocked] = -np.inf
        return out
    if m.dtype.kind != "f":
        raise TypeError(f"{what}: the mask must be bool or floating point, got {m.dtype}")
    return m.astype(dtype, copy=False)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(Q Kᵀ · scale + M) V`` with ``scale = 1/√E`` by default.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) → (..., L, Ev); leading
    dims broadcast. ``attn_mask``: bool (True = take part in attention, as in PyTorch) or a
    float mask added to the scores, broadcastable to (..., L, S) (a float mask that requires
    grad gets a gradient). ``is_causal`` masks keys after the query position (top-left
    aligned, like PyTorch; it cannot be combined with attn_mask). ``dropout_p`` drops
    attention weights (draws from fastdl's seeded generator). A query row whose keys are all
    masked gives zeros (as PyTorch's fused kernels do).

    Example::

        q = fastdl.randn(2, 4, 10, 8); k = v = fastdl.randn(2, 4, 12, 8)
        F.scaled_dot_product_attention(q, k, v, is_causal=True).shape   # (2, 4, 10, 8)
    """
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    q, k, v = _t(query), _t(key), _t(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                         f"dimensions, got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query {tuple(q.shape)}, key "
                         f"{tuple(k.shape)} and value {tuple(v.shape)} do not fit (need "
                         f"query E == key E and key S == value S)")
    if q.dtype.kind != "f" or q.dtype != k.dtype or q.dtype != v.dtype:
        raise TypeError(f"scaled_dot_product_attention: query, key, value must share one "
                        f"float dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got "
                         f"{dropout_p}")
    L, S = q.shape[-2], k.shape[-2]
    sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                             "is_causal=True, not both")
        mask = np.zeros((L, S), q.dtype)
        mask[np.triu_indices(L, 1, S)] = -np.inf
    elif attn_mask is not None:
        am = attn_mask._array if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        try:
            np.broadcast_shapes(am.shape, q.shape[:-2] + (L, S))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {am.shape} "
                             f"does not broadcast to {q.shape[:-2] + (L, S)}") from None
        if isinstance(attn_mask, Tensor) and attn_mask.requires_grad:
            mask = attn_mask.to(q.dtype)
        else:
            mask = _mask_to_additive(attn_mask, q.dtype, True, "scaled_dot_product_attention")
    out, _ = _Attention.apply(q, k, v, mask, sc, float(dropout_p), False)
    return out


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on sequence-first inputs, with PyTorch's signature.

    query (L, N, E) or unbatched (L, E); key (S, N, kdim), value (S, N, vdim). Projections
    ``q = query Wqᵀ + bq`` (Wq = in_proj_weight[:E], or q_proj_weight when
    ``use_separate_proj_weight``), per-head ``softmax(q kᵀ/√(E/h) + mask) v``, heads
    concatenated and projected by ``out_proj``. ``attn_mask`` (L, S) or (N·h, L, S): bool
    (True = NOT allowed to attend) or float (added); ``key_padding_mask`` (N, S): bool
    (True = ignore that key) or float (added). ``is_causal`` is a hint only, as in PyTorch:
    attn_mask must then be given. Returns ``(attn_output, attn_weights)``, the weights
    averaged over heads (N, L, S) when ``average_attn_weights`` else (N, h, L, S), or None
    when ``need_weights`` is False. Not supported: bias_k/bias_v, add_zero_attn, static_k/v.
    Rows whose keys are all masked give zeros (PyTorch gives NaN on its need_weights path).

    Example: see ``fastdl.nn.MultiheadAttention``.
    """
    import fastdl.nn.functional as F
    if bias_k is not None or bias_v is not None or add_zero_attn or static_k is not None \
            or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: bias_k/bias_v, add_zero_attn "
                                  "and static_k/static_v are not supported")
    query, key, value = _t(query), _t(key), _t(value)
    batched = query.ndim == 3
    if not batched:
        if query.ndim != 2 or key.ndim != 2 or value.ndim != 2:
            raise ValueError(f"multi_head_attention_forward: query, key and value must all be "
                             f"3-D (L, N, E) or 2-D (L, E), got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            kp = key_padding_mask._array if isinstance(key_padding_mask, Tensor) else \
                np.asarray(key_padding_mask)
            key_padding_mask = kp[None]
    elif key.ndim != 3 or value.ndim != 3:
        raise ValueError(f"multi_head_attention_forward: key {tuple(key.shape)} and value "
                         f"{tuple(value.shape)} must be 3-D like query {tuple(query.shape)}")
    L, N, E = query.shape
    S = key.shape[0]
    if E != embed_dim_to_check:
        raise ValueError(f"multi_head_attention_forward: query has embedding dim {E}, "
                         f"expected {embed_dim_to_check}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
        raise ValueError(f"multi_head_attention_forward: key {tuple(key.shape)} and value "
                         f"{tuple(value.shape)} must have the same length and batch as "
                         f"query {tuple(query.shape)}")
    h = num_heads
    if E % h:
        raise ValueError(f"multi_head_attention_forward: embed_dim {E} is not divisible by "
                         f"num_heads {h}")
    d = E // h
    if is_causal and attn_mask is None:
        raise ValueError("multi_head_attention_forward: is_causal is a hint and needs "
                         "attn_mask (e.g. a causal mask); pass attn_mask")
    b = None if in_proj_bias is None else _t(in_proj_bias)
    if query is key and key is value and not use_separate_proj_weight:
        # self-attention: one GEMM for the three projections
        q, k, v = _Split3.apply(F.linear(query, _t(in_proj_weight), b), -1)
    else:
        bq = bk = bv = None
        if b is not None:
            bq, bk, bv = _Split3.apply(b, 0)
        if use_separate_proj_weight:
            wq, wk, wv = _t(q_proj_weight), _t(k_proj_weight), _t(v_proj_weight)
        else:
            wq, wk, wv = _Split3.apply(_t(in_proj_weight), 0)
        q = F.linear(query, wq, bq)
        k = F.linear(key, wk, bk)
        v = F.linear(value, wv, bv)
    # (L, N, E) -> (N, h, L, d)
    q = q.reshape(L, N, h, d).permute(1, 2, 0, 3)
    k = k.reshape(S, N, h, d).permute(1, 2, 0, 3)
    v = v.reshape(S, N, h, d).permute(1, 2, 0, 3)
    dt = q.dtype
    mask = None
    if attn_mask is not None:
        am = _mask_to_additive(attn_mask, dt, False, "multi_head_attention_forward")
        if am.ndim == 2:
            if am.shape != (L, S):
                raise ValueError(f"multi_head_attention_forward: the 2-D attn_mask should be "
                                 f"{(L, S)}, got {am.shape}")
        elif am.ndim == 3:
            if am.shape != (N * h, L, S):
                raise ValueError(f"multi_head_attention_forward: the 3-D attn_mask should be "
                                 f"{(N * h, L, S)}, got {am.shape}")
            am = am.reshape(N, h, L, S)
        else:
            raise ValueError(f"multi_head_attention_forward: attn_mask must be 2-D or 3-D, "
                             f"got shape {am.shape}")
        mask = am
    if key_padding_mask is not None:
        kp = _mask_to_additive(key_padding_mask, dt, False, "multi_head_attention_forward")
        if kp.shape != (N, S):
            raise ValueError(f"multi_head_attention_forward: key_padding_mask should be "
                             f"{(N, S)}, got {kp.shape}")
        kp = kp.reshape(N, 1, 1, S)
        mask = kp if mask is None else mask + kp
    p = float(dropout_p) if training else 0.0
    out, probs = _Attention.apply(q, k, v, mask, 1.0 / math.sqrt(d), p, bool(need_weights))
    out = out.permute(2, 0, 1, 3).reshape(L, N, E)
    out = F.linear(out, _t(out_proj_weight),
                   None if out_proj_bias is None else _t(out_proj_bias))
    weights = None
    if need_weights:
        weights = probs.mean(1) if average_attn_weights else probs
        if not batched:
            weights = weights.squeeze(0)
    if not batched:
        out = out.squeeze(1)
    return out, weights


class _EmbeddingBackward(_Op):
    """embedding's backward as an op of g: rows of g summed into the weight's shape at the
    indices (padding_idx skipped); its backward gathers those rows, ``gg[idx]``."""

    _double = True

    @staticmethod
    def forward(ctx, g, idx, n, padding_idx):
        ctx.idx, ctx.n, ctx.padding_idx = idx, n, padding_idx
        return _Embedding.backward(ctx, g)[0]

    @staticmethod
    def backward(ctx, gg):
        idx, pad = ctx.idx, ctx.padding_idx
        if isinstance(gg, Tensor):
            out = _Embedding.apply(gg, idx, pad)
            if pad is not None:
                out = out * Tensor._make((idx != pad)[..., None].astype(gg._array.dtype))
            return out, None, None, None
        out = gg[idx]
        if pad is not None:
            out = out * (idx != pad)[..., None]
        return out, None, None, None
