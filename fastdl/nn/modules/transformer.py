"""The decoder side of the Transformer and the full encoder-decoder ``Transformer``
(PyTorch's names, submodule layout, state-dict keys and initialisation)."""
from __future__ import annotations

import copy

import numpy as np

from .. import functional as F
from .. import init
from ...tensor import Tensor, as_tensor
from .attention import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer
from .linear import Linear, _factory_dtype
from .module import Module, ModuleList

__all__ = ["TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


def _activation(activation, who):
    """('relu' | 'gelu' | callable) -> callable on tensors."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{who}: activation should be relu/gelu, not {activation!r}")
    if callable(activation):
        return activation
    raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                    f"{type(activation).__name__}")


def _layer_norm(d_model, eps, bias, dt):
    from .normalization import LayerNorm
    ln = LayerNorm(d_model, eps=eps, **({} if bias else {"bias": False}))
    if dt != np.float32:
        ln.to(dt)
    return ln


class TransformerDecoderLayer(Module):
    """Self-attention on the target, cross-attention on the encoder's ``memory`` and a
    feed-forward block, each with a residual connection and LayerNorm::

        post-norm: x = norm1(x + SA(x)); x = norm2(x + MHA(x, mem)); x = norm3(x + FF(x))
        pre-norm:  x = x + SA(norm1(x)); x = x + MHA(norm2(x), mem); x = x + FF(norm3(x))
        SA(x) = dropout1(self_attn(x, x, x)), MHA(x, m) = dropout2(multihead_attn(x, m, m)),
        FF(x) = dropout3(linear2(dropout(act(linear1(x)))))

    Submodules named as PyTorch's (self_attn, multihead_attn, linear1, dropout, linear2,
    norm1..3, dropout1..3), so a PyTorch state dict loads unchanged.

    Example::

        layer = nn.TransformerDecoderLayer(d_model=32, nhead=4, batch_first=True)
        out = layer(fastdl.randn(2, 7, 32), fastdl.randn(2, 10, 32))   # (2, 7, 32)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        from .dropout import Dropout
        dt = _factory_dtype(dtype, device, "TransformerDecoderLayer")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = bool(norm_first)
        self.norm1 = _layer_norm(d_model, layer_norm_eps, bias, dt)
        self.norm2 = _layer_norm(d_model, layer_norm_eps, bias, dt)
        self.norm3 = _layer_norm(d_model, layer_norm_eps, bias, dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.batch_first = bool(batch_first)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """tgt (T, N, E) and memory (S, N, E) — batch first with ``batch_first`` — or
        unbatched (T, E), (S, E); masks as in ``MultiheadAttention``. Returns tgt's shape."""
        x = as_tensor(tgt)
        mem = as_tensor(memory)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn to the target (each
    attending to the same ``memory``), then ``norm`` if given. Submodules ``layers.0`` …
    and ``norm``, as PyTorch's.

    Example::

        layer = nn.TransformerDecoderLayer(d_model=32, nhead=4)
        dec = nn.TransformerDecoder(layer, num_layers=2)
        dec(fastdl.randn(7, 2, 32), fastdl.randn(10, 2, 32)).shape     # (7, 2, 32)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got "
                            f"{type(decoder_layer).__name__}")
        if int(num_layers) < 1:
            raise ValueError(f"TransformerDecoder: num_layers must be >= 1, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Arguments as ``TransformerDecoderLayer.forward``; every layer gets the masks."""
        x = as_tensor(tgt)
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need":
    ``out = decoder(tgt, encoder(src))``, both stacks ending in a LayerNorm. Every
    parameter with more than one dimension is xavier-uniform initialised (as PyTorch's).
    Submodules ``encoder`` (a ``TransformerEncoder``) and ``decoder`` (a
    ``TransformerDecoder``), or the ``custom_encoder``/``custom_decoder`` given.

    Example::

        model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2,
                               num_decoder_layers=2, dim_feedforward=64)
        src, tgt = fastdl.randn(10, 2, 32), fastdl.randn(7, 2, 32)
        mask = nn.Transformer.generate_square_subsequent_mask(7)
        out = model(src, tgt, tgt_mask=mask)                            # (7, 2, 32)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        dt = _factory_dtype(dtype, device, "Transformer")
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, dtype=dt)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              _layer_norm(d_model, layer_norm_eps, bias, dt))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                            activation, layer_norm_eps, batch_first,
                                            norm_first, bias, dtype=dt)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              _layer_norm(d_model, layer_norm_eps, bias, dt))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = bool(batch_first)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """src (S, N, E), tgt (T, N, E) — batch first with ``batch_first`` — or unbatched
        (S, E), (T, E). Returns (T, N, E). A batch or feature size that does not agree is a
        RuntimeError."""
        src, tgt = as_tensor(src), as_tensor(tgt)
        is_batched = src.ndim == 3
        if not self.batch_first and src.shape[1] != tgt.shape[1] and is_batched:
            raise RuntimeError(f"the batch number of src and tgt must be equal (src "
                               f"{tuple(src.shape)}, tgt {tuple(tgt.shape)})")
        if self.batch_first and src.shape[0] != tgt.shape[0] and is_batched:
            raise RuntimeError(f"the batch number of src and tgt must be equal (src "
                               f"{tuple(src.shape)}, tgt {tuple(tgt.shape)})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}); got src {tuple(src.shape)}, tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) float causal mask: 0 on and below the diagonal, -inf above it (a
        position may attend to itself and earlier ones).

        Example: ``nn.Transformer.generate_square_subsequent_mask(3)``
        """
        from ...tensor import _canon_dtype
        dt = _canon_dtype(dtype, "generate_square_subsequent_mask") if dtype is not None \
            else np.dtype(np.float32)
        if device is not None and str(device) != "cpu":
            raise ValueError(f"generate_square_subsequent_mask: only device='cpu' is "
                             f"supported, got {device!r}")
        sz = int(sz)
        if sz < 0:
            raise ValueError(f"generate_square_subsequent_mask: sz must be >= 0, got {sz}")
        m = np.triu(np.full((sz, sz), -np.inf, dtype=dt), k=1)
        return Tensor._make(m)
