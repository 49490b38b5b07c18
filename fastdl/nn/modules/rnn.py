"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells (PyTorch's names, shapes,
gate orders and initialisation, so a PyTorch ``state_dict`` loads unchanged).

Gate math (W·x means ``x Wᵀ``; ⊙ elementwise):

* RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
* LSTM: [i, f, g, o] = W_ih x + b_ih + W_hh h + b_hh (chunks of H, in that order);
  i, f, o = σ(·), g = tanh(·); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c')
* GRU:  [r, z, n] chunks; r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h' = (1 − z) ⊙ n + z ⊙ h

A layer computes the input projection of all time steps with one GEMM per layer and
direction (``F.linear``), then runs the recurrence as one op per layer and direction
(``F.rnn_recurrence``, the C++ kernel family csrc/kernels/rnn): its forward loops over time in
C++ (one (B, H)×(H, G·H) GEMM and one fused, vectorised pass of gate math per step), its
backward is backpropagation through time in one loop (no graph of T·k nodes, no recursion),
with the weight gradient as one GEMM over all steps. The cells,
and the layers with ``fused=False`` (``_fused`` attribute), use plain Tensor ops instead;
tests hold the two paths to each other and to PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import init
from ...autograd.function import _Op
from ...tensor import Tensor, as_tensor, cat, stack, zeros
from ..functional._args import _float
from .linear import _factory_dtype
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---------------------------------------------------------------------------------------
# the plain Tensor-op path (cells and fused=False layers)


class _Unstack(_Op):
    """Split (T, ...) into T tensors with one op (backward stacks the gradients back)."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return tuple(x[t] for t in range(x.shape[0]))

    @staticmethod
    def backward(ctx, *gs):
        out = np.zeros(ctx.shape, ctx.dtype)
        for t, g in enumerate(gs):
            if g is not None:
                out[t] = g
        return (out,)


def _cell_step(mode, xp, h, c, w_hh, b_hh):
    """One step from the input projection ``xp`` (incl. b_ih) with Tensor ops."""
    H = w_hh.shape[0] // _GATES[mode]  # (w_hh.shape[1] is the size of h: P with a projection)
    hp = F.linear(h, w_hh, b_hh)
    if mode == "LSTM":
        a = xp + hp
        i = a[:, :H].sigmoid()
        f = a[:, H:2 * H].sigmoid()
        g = a[:, 2 * H:3 * H].tanh()
        o = a[:, 3 * H:].sigmoid()
        c2 = f * c + i * g
        return o * c2.tanh(), c2
    if mode == "GRU":
        rz = (xp[:, :2 * H] + hp[:, :2 * H]).sigmoid()
        r, z = rz[:, :H], rz[:, H:]
        n = (xp[:, 2 * H:] + r * hp[:, 2 * H:]).tanh()
        return n + z * (h - n), None
    a = xp + hp
    return (a.tanh() if mode == "RNN_TANH" else F.relu(a)), None


def _recurrence_tensor_ops(xp, w_hh, b_hh, h0, c0, mode, reverse, w_hr=None):
    steps = _Unstack.apply(xp)
    if not isinstance(steps, tuple):
        steps = (steps,)
    T = len(steps)
    order = range(T - 1, -1, -1) if reverse else range(T)
    h, c = h0, c0
    outs = [None] * T
    for t in order:
        h, c = _cell_step(mode, steps[t], h, c, w_hh, b_hh)
        if w_hr is not None:  # LSTM with projection: h_t = W_hr (o ⊙ tanh c_t)
            h = F.linear(h, w_hr)
        outs[t] = h
    out = stack(outs, 0)
    return (out, h, c) if mode == "LSTM" else (out, h)


# ---------------------------------------------------------------------------------------
# layers


class RNNBase(Module):
    """Common machinery of ``RNN``, ``LSTM`` and ``GRU`` (see the module docstring).

    Parameters per layer k and direction (suffix ``_reverse`` for the backward one):
    ``weight_ih_l{k}`` (G·H, in_k), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (G·H,), with G = 1 (RNN), 4 (LSTM), 3 (GRU), in_0 = input_size and
    in_k = H·num_directions after; all ~ U(−1/√H, 1/√H).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a non-negative int, got "
                             f"{proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size argument is only supported for LSTM, not RNN "
                             "or GRU")
        if proj_size and isinstance(hidden_size, int) and proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) has to be smaller than "
                             f"hidden_size ({hidden_size})")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"{name}: input_size must be an int >= 0, got {input_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        dt = _factory_dtype(dtype, device, name)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        self._fused = True
        G = _GATES[mode]
        D = 2 if bidirectional else 1
        R = self.proj_size or hidden_size  # the size of h (the projection's, if any)
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            in_k = input_size if layer == 0 else R * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes = [(G * hidden_size, in_k), (G * hidden_size, R)]
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(G * hidden_size,), (G * hidden_size,)]
                if self.proj_size:
                    names.append(f"weight_hr{sfx}")
                    shapes.append((self.proj_size, hidden_size))
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(np.zeros(s, dt)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for n in self._flat_weights_names:
            init.uniform_(getattr(self, n), -k, k)

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _check_hidden(self, hx, expect, what, dt):
        hx = as_tensor(hx)
        if tuple(hx.shape) != expect:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expect}, got "
                             f"{tuple(hx.shape)}")
        return hx.to(dt) if hx.dtype != dt else hx

    def flatten_parameters(self):
        """A no-op kept for PyTorch programs (the weights are already used in place)."""

    def forward(self, input, hx=None):  # noqa: A002
        """input (T, B, in) — (B, T, in) with batch_first — or unbatched (T, in), or a
        ``PackedSequence``; hx (L·D, B, H) (LSTM: a tuple (h0, c0)), zeros when None.
        Returns (output (T, B, D·H), h_n (L·D, B, H)) (LSTM: (output, (h_n, c_n))); for a
        packed input the output is packed like it and h_n holds each sequence's state at its
        own last step."""
        from ..utils.rnn import PackedSequence, _rnn_packed
        if isinstance(input, PackedSequence):
            return _rnn_packed(self, input, hx)
        return self._forward_tensor(input, hx)

    def _forward_tensor(self, input, hx=None, force_batch_first=None):  # noqa: A002
        name = type(self).__name__
        x = _float(input, name)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: input must be 3-D (batched) or 2-D (unbatched), got "
                             f"shape {tuple(x.shape)}")
        pdt = getattr(self, self._flat_weights_names[0]).dtype
        if x.dtype != pdt:
            raise TypeError(f"{name}: input is {x.dtype} but the parameters are {pdt} "
                            f"(convert one with .to())")
        batched = x.ndim == 3
        batch_first = self.batch_first if force_batch_first is None else force_batch_first
        if not batched:
            x = x.unsqueeze(1)
        elif batch_first:
            x = x.transpose(0, 1)
        T, B, I = x.shape
        if I != self.input_size:
            raise ValueError(f"{name}: input has {I} features, expected input_size="
                             f"{self.input_size} (input shape {tuple(as_tensor(input).shape)})")
        if T == 0:
            raise ValueError(f"{name}: expected a sequence length > 0, got input of shape "
                             f"{tuple(as_tensor(input).shape)}")
        L, D, H = self.num_layers, 2 if self.bidirectional else 1, self.hidden_size
        P = self.proj_size or H  # size of h
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = zeros(L * D, B, P, dtype=pdt)
            c0 = zeros(L * D, B, H, dtype=pdt) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h0, c0)")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            shape = (L * D, B, H) if batched else (L * D, H)
            hshape = shape[:-1] + (P,)
            h0 = self._check_hidden(h0, hshape, "h0" if lstm else "hx", pdt)
            if lstm:
                c0 = self._check_hidden(c0, shape, "c0", pdt)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
        layer_in = x
        hn, cn = [], []
        for layer in range(L):
            outs = []
            for d in range(D):
                names = self._all_weights[layer * D + d]
                w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
                b_ih = getattr(self, names[2]) if self.bias else None
                b_hh = getattr(self, names[3]) if self.bias else None
                k = layer * D + d
                xp = F.linear(layer_in.reshape(T * B, layer_in.shape[-1]), w_ih, b_ih)
                xp = xp.reshape(T, B, w_ih.shape[0])
                hk = h0[k]
                ck = c0[k] if lstm else None
                if self.proj_size:  # the C++ time loop has no projection: Tensor ops
                    res = _recurrence_tensor_ops(xp, w_hh, b_hh, hk, ck, self.mode, d == 1,
                                                 getattr(self, names[-1]))
                elif self._fused:
                    res = F.rnn_recurrence(xp, w_hh, b_hh, hk, ck, self.mode, d == 1)
                else:
                    res = _recurrence_tensor_ops(xp, w_hh, b_hh, hk, ck, self.mode, d == 1)
                outs.append(res[0])
                hn.append(res[1])
                if lstm:
                    cn.append(res[2])
            layer_in = outs[0] if D == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < L - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = layer_in
        h_n = stack(hn, 0)
        c_n = stack(cn, 0) if lstm else None
        if not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        elif batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)``, act = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; see ``RNNBase``.

    Example::

        rnn = nn.RNN(10, 20, 2)
        out, h_n = rnn(fastdl.randn(5, 3, 10))      # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; gates i, f, g, o (PyTorch's order) — see the module docstring.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)``; ``forward(input, (h0, c0))`` returns ``(output,
    (h_n, c_n))``. With ``proj_size`` P > 0, h is projected, ``h_t = W_hr (o_t ⊙ tanh c_t)``
    (``weight_hr_l{k}`` (P, H)), so h0/h_n/output have P features (c keeps H); that case runs
    the time loop in Tensor ops rather than the C++ kernel.

    Example::

        lstm = nn.LSTM(10, 20, 2, batch_first=True)
        out, (h, c) = lstm(fastdl.randn(3, 5, 10))   # (3, 5, 20), (2, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit; gates r, z, n (PyTorch's order, r applied to W_hn h + b_hn).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``.

    Example::

        gru = nn.GRU(10, 20, bidirectional=True)
        out, h_n = gru(fastdl.randn(5, 3, 10))      # (5, 3, 40), (2, 3, 20)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------
# cells


class RNNCellBase(Module):
    """Common machinery of the cells: ``weight_ih`` (G·H, in), ``weight_hh`` (G·H, H),
    ``bias_ih``, ``bias_hh`` (G·H,), all ~ U(−1/√H, 1/√H)."""

    _mode = None

    def __init__(self, input_size, hidden_size, bias=True, num_chunks=1, device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be a positive int, got {hidden_size!r}")
        dt = _factory_dtype(dtype, device, name)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bool(bias)
        G = num_chunks
        self.weight_ih = Parameter(np.zeros((G * hidden_size, input_size), dt))
        self.weight_hh = Parameter(np.zeros((G * hidden_size, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.zeros((G * hidden_size,), dt))
            self.bias_hh = Parameter(np.zeros((G * hidden_size,), dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _prep(self, input, hx, lstm):  # noqa: A002
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: input must be 2-D (batch, input_size) or 1-D, got shape "
                             f"{tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {x.shape[-1]} features, expected "
                             f"input_size={self.input_size}")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        B, H = x.shape[0], self.hidden_size
        dt = self.weight_ih.dtype
        if hx is None:
            h = zeros(B, H, dtype=dt)
            c = zeros(B, H, dtype=dt) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: hx must be a tuple (h, c)")
                h, c = as_tensor(hx[0]), as_tensor(hx[1])
            else:
                h, c = as_tensor(hx), None
            want = (B, H) if batched else (H,)
            for t, n in ((h, "h"), (c, "c")):
                if t is not None and tuple(t.shape) != want:
                    raise ValueError(f"{name}: expected {n} of shape {want}, got "
                                     f"{tuple(t.shape)}")
            if not batched:
                h = h.unsqueeze(0)
                c = c.unsqueeze(0) if lstm else None
        return x, h, c, batched

    def _step(self, input, hx, lstm):  # noqa: A002
        x, h, c, batched = self._prep(input, hx, lstm)
        xp = F.linear(x, self.weight_ih, self.bias_ih)
        h2, c2 = _cell_step(self._mode, xp, h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h2 = h2.squeeze(0)
            c2 = c2.squeeze(0) if lstm else None
        return (h2, c2) if lstm else h2

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, act tanh or relu.

    Example: ``h = nn.RNNCell(10, 20)(fastdl.randn(3, 10))  # (3, 20)``
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx=None):  # noqa: A002
        return self._step(input, hx, False)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); ``forward(input, (h, c))`` returns ``(h', c')``.

    Example: ``h, c = nn.LSTMCell(10, 20)(fastdl.randn(3, 10))``
    """

    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._step(input, hx, True)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; r multiplies W_hn h + b_hn).

    Example: ``h = nn.GRUCell(10, 20)(fastdl.randn(3, 10))  # (3, 20)``
    """

    _mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        return self._step(input, hx, False)
