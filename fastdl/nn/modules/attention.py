"""Attention layers: ``MultiheadAttention`` and ``TransformerEncoderLayer`` (PyTorch's names,
parameter layout and initialisation)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import init
from ...tensor import as_tensor
from .linear import Linear, _factory_dtype
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class MultiheadAttention(Module):
    """Multi-head attention: ``MultiHead(Q, K, V) = Concat(head_1..head_h) W_oᵀ + b_o`` with
    ``head_i = softmax(Q W_qiᵀ (K W_kiᵀ)ᵀ / √(E/h) + mask) V W_viᵀ``.

    Parameters as in PyTorch: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) — or,
    when kdim/vdim differ from E, ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim) — and ``out_proj`` (a Linear(E, E)); projections are
    xavier-uniform, biases zero. Inputs are (L, N, E) — (N, L, E) with ``batch_first`` — or
    unbatched (L, E). Masks: ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or
    (N·h, L, S), bool (True = do not attend) or float (added to the scores).
    ``forward`` returns ``(attn_output, attn_weights)``; the weights (averaged over heads
    unless ``average_attn_weights=False``) are None with ``need_weights=False``.
    ``add_bias_kv`` and ``add_zero_attn`` are not supported.

    Example::

        mha = nn.MultiheadAttention(16, 4, batch_first=True)
        x = fastdl.randn(2, 10, 16)
        out, w = mha(x, x, x)          # (2, 10, 16), (2, 10, 10)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported")
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) and num_heads "
                             f"({num_heads}) must be > 0")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout}")
        dt = _factory_dtype(dtype, device, "MultiheadAttention")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.zeros((E, E), dt))
            self.k_proj_weight = Parameter(np.zeros((E, self.kdim), dt))
            self.v_proj_weight = Parameter(np.zeros((E, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.zeros((3 * E, E), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros((3 * E,), dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
        same_kv = key is value
        same_qk = query is key
        if self.batch_first and q.ndim == 3:
            q = q.transpose(0, 1)
            k = q if same_qk else k.transpose(0, 1)
            v = k if same_kv else v.transpose(0, 1)
        out, w = F.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            None, None, False, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and q.ndim == 3:
            out = out.transpose(0, 1)
        return out, w

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and
    LayerNorm (post-norm by default, pre-norm with ``norm_first``)::

        post-norm: x = norm1(x + SA(x));  x = norm2(x + FF(x))
        pre-norm:  x = x + SA(norm1(x));  x = x + FF(norm2(x))
        SA(x) = dropout1(self_attn(x, x, x)),  FF(x) = dropout2(linear2(dropout(act(linear1(x)))))

    Submodules named as in PyTorch (self_attn, linear1, dropout, linear2, norm1, norm2,
    dropout1, dropout2), so a PyTorch state_dict loads. ``activation`` is 'relu', 'gelu' or a
    callable.

    Example::

        layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64,
                                           batch_first=True)
        layer(fastdl.randn(2, 10, 32)).shape          # (2, 10, 32)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        from ... import nn as _nn
        dt = _factory_dtype(dtype, device, "TransformerEncoderLayer")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = _nn.Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = bool(norm_first)
        ln_kw = {} if bias else {"bias": False}
        self.norm1 = _nn.LayerNorm(d_model, eps=layer_norm_eps, **ln_kw)
        self.norm2 = _nn.LayerNorm(d_model, eps=layer_norm_eps, **ln_kw)
        self.dropout1 = _nn.Dropout(dropout)
        self.dropout2 = _nn.Dropout(dropout)
        if dt != np.float32:
            self.norm1.to(dt)
            self.norm2.to(dt)
        self.batch_first = bool(batch_first)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise ValueError(f"TransformerEncoderLayer: activation should be relu/gelu, "
                                 f"not {activation!r}")
            self.activation_name = activation
            self.activation = None
        elif callable(activation):
            self.activation_name = None
            self.activation = activation
        else:
            raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a "
                            f"callable, got {type(activation).__name__}")

    def _act(self, x):
        if self.activation is not None:
            return self.activation(x)
        return F.relu(x) if self.activation_name == "relu" else F.gelu(x)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self._act(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (L, N, E) — (N, L, E) with batch_first — or (L, E); masks as in
        ``MultiheadAttention`` (src_mask = attn_mask). Returns the same shape as src."""
        x = as_tensor(src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: independent weights, as
    PyTorch's) applied in turn, then ``norm`` if given. Submodules ``layers.0`` … and
    ``norm``, as in PyTorch, so its state dicts load.

    Example::

        layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, batch_first=True)
        enc = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(32))
        enc(fastdl.randn(2, 10, 32)).shape             # (2, 10, 32)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        import copy

        from .module import ModuleList
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got "
                            f"{type(encoder_layer).__name__}")
        if int(num_layers) < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be >= 1, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """src as for ``TransformerEncoderLayer``; the masks go to every layer."""
        x = as_tensor(src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x
