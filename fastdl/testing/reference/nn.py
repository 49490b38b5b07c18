"""NumPy references of the nn layers: linear, bilinear, embedding, RNN/LSTM/GRU cells and
layers, scaled dot-product attention, multi-head attention, TransformerEncoderLayer.

Plain forward computations on arrays, written from the formulas (loops where clearer); the
parameters come as a dict keyed by PyTorch's names (``module.state_dict()`` converted to
arrays), so ``ref(params, x)`` and the layer compute the same thing.
"""
from __future__ import annotations

import math

import numpy as np

from .norm import layer_norm_nd_ref

__all__ = ["embedding_ref", "rnn_cell_ref", "lstm_cell_ref",
           "gru_cell_ref", "rnn_ref", "sdpa_ref", "mha_ref",
           "transformer_encoder_layer_ref"]


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _linear(x, w, b=None):
    """y = x Wᵀ + b in the inputs' dtype (the exported, float64 ``linear_ref`` is gemm's)."""
    y = x @ w.T
    return y if b is None else y + b


def embedding_ref(idx, w):
    """out[...] = W[idx[...]]."""
    return w[np.asarray(idx)]


def rnn_cell_ref(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)."""
    a = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)


def lstm_cell_ref(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """Gates i, f, g, o; c' = f c + i g; h' = o tanh(c'). Returns (h', c')."""
    a = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    i, f, g, o = np.split(a, 4, axis=-1)
    c2 = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c2), c2


def gru_cell_ref(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """r, z = σ(·); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 − z) n + z h."""
    xr, xz, xn = np.split(_linear(x, w_ih, b_ih), 3, axis=-1)
    hr, hz, hn = np.split(_linear(h, w_hh, b_hh), 3, axis=-1)
    r, z = _sig(xr + hr), _sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def rnn_ref(mode, params, x, h0=None, c0=None, num_layers=1, bidirectional=False,
            batch_first=False):
    """A whole RNN/LSTM/GRU layer stack (no dropout), step by step with the cells above.

    mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'; params: PyTorch's names
    (weight_ih_l0, ..., _reverse); x (T, B, in) or (B, T, in) with batch_first.
    Returns (out, h_n) or, for LSTM, (out, h_n, c_n).
    """
    if batch_first:
        x = x.transpose(1, 0, 2)
    T, B, _ = x.shape
    D = 2 if bidirectional else 1
    H = params["weight_hh_l0"].shape[1]
    if h0 is None:
        h0 = np.zeros((num_layers * D, B, H), x.dtype)
    if c0 is None:
        c0 = np.zeros((num_layers * D, B, H), x.dtype)
    inp = x
    hn, cn = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih, b_hh = params.get("bias_ih" + sfx), params.get("bias_hh" + sfx)
            h, c = h0[layer * D + d], c0[layer * D + d]
            out = np.empty((T, B, H), x.dtype)
            for t in (range(T - 1, -1, -1) if d else range(T)):
                if mode == "LSTM":
                    h, c = lstm_cell_ref(inp[t], h, c, w_ih, w_hh, b_ih, b_hh)
                elif mode == "GRU":
                    h = gru_cell_ref(inp[t], h, w_ih, w_hh, b_ih, b_hh)
                else:
                    h = rnn_cell_ref(inp[t], h, w_ih, w_hh, b_ih, b_hh,
                                     "tanh" if mode == "RNN_TANH" else "relu")
                out[t] = h
            outs.append(out)
            hn.append(h)
            cn.append(c)
        inp = np.concatenate(outs, -1)
    out = inp.transpose(1, 0, 2) if batch_first else inp
    if mode == "LSTM":
        return out, np.stack(hn), np.stack(cn)
    return out, np.stack(hn)


def sdpa_ref(q, k, v, mask=None, scale=None):
    """softmax(q kᵀ·scale + mask) v; ``mask`` additive float (or None); rows of all −inf
    give 0. Returns (out, probabilities)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ np.swapaxes(k, -1, -2)) * scale
    if mask is not None:
        s = s + mask
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(s - m)
    tot = e.sum(-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    return p @ v, p


def mha_ref(params, query, key, value, num_heads, key_padding_mask=None, attn_mask=None):
    """Multi-head attention (sequence-first (L, N, E) inputs, no dropout), PyTorch's param
    names. Bool masks mean True = do not attend. Returns (out, weights (N, h, L, S))."""
    L, N, E = query.shape
    S = key.shape[0]
    h, d = num_heads, E // num_heads
    if "in_proj_weight" in params:
        wq, wk, wv = np.split(params["in_proj_weight"], 3)
    else:
        wq, wk, wv = params["q_proj_weight"], params["k_proj_weight"], params["v_proj_weight"]
    b = params.get("in_proj_bias")
    bq, bk, bv = np.split(b, 3) if b is not None else (None, None, None)
    q = _linear(query, wq, bq).reshape(L, N, h, d).transpose(1, 2, 0, 3)
    k = _linear(key, wk, bk).reshape(S, N, h, d).transpose(1, 2, 0, 3)
    v = _linear(value, wv, bv).reshape(S, N, h, d).transpose(1, 2, 0, 3)
    mask = np.zeros((N, h, L, S), query.dtype)
    if attn_mask is not None:
        am = np.where(attn_mask, -np.inf, 0.0) if attn_mask.dtype == bool else attn_mask
        mask = mask + (am.reshape(N, h, L, S) if am.ndim == 3 else am)
    if key_padding_mask is not None:
        kp = key_padding_mask
        kp = np.where(kp, -np.inf, 0.0) if kp.dtype == bool else kp
        mask = mask + kp[:, None, None, :]
    out, p = sdpa_ref(q, k, v, mask)
    out = out.transpose(2, 0, 1, 3).reshape(L, N, E)
    return _linear(out, params["out_proj.weight"], params.get("out_proj.bias")), p


def transformer_encoder_layer_ref(params, x, nhead, norm_first=False, activation="relu",
                                  eps=1e-5, src_mask=None, src_key_padding_mask=None):
    """TransformerEncoderLayer in eval mode (no dropout), sequence-first input (L, N, E)."""
    def sub(prefix):
        return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

    def sa(y):
        return mha_ref(sub("self_attn."), y, y, y, nhead, src_key_padding_mask, src_mask)[0]

    def act(y):
        if activation == "relu":
            return np.maximum(y, 0)
        from math import erf
        return 0.5 * y * (1 + np.vectorize(erf)(y / math.sqrt(2)))

    def ff(y):
        return _linear(act(_linear(y, params["linear1.weight"], params["linear1.bias"])),
                          params["linear2.weight"], params["linear2.bias"])

    def n1(y):
        return layer_norm_nd_ref(y, y.shape[-1:], params["norm1.weight"],
                                 params["norm1.bias"], eps)

    def n2(y):
        return layer_norm_nd_ref(y, y.shape[-1:], params["norm2.weight"],
                                 params["norm2.bias"], eps)

    if norm_first:
        x = x + sa(n1(x))
        return x + ff(n2(x))
    x = n1(x + sa(x))
    return n2(x + ff(x))
