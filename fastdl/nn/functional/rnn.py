"""The recurrent kernels' Python entry: ``rnn_recurrence`` runs the time loop of one RNN, LSTM
or GRU layer in one direction in C++ (``csrc/bindings/bind_rnn.cpp`` →
``csrc/kernels/rnn/``), forward and backward through time. ``nn.RNN``/``nn.LSTM``/``nn.GRU``
call it once per layer and direction, after one ``F.linear`` for the input projection of
every time step.

PyTorch has no functional form of its recurrent layers; this one is fastdl's own.
"""
from __future__ import annotations

from ... import _C
from ...autograd.function import _Op
from ._args import _contig, _float

__all__ = ["rnn_recurrence"]

# the kernel's mode numbers (csrc/kernels/rnn/rnn.h)
_MODE_ID = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}


def _seq_out(hs, reverse):
    """The output sequence in time order from the step-ordered states (a copy, so in-place
    edits of the output cannot touch the saved states)."""
    out = hs[1:]
    return (out[::-1] if reverse else out).copy()


class _Recurrence(_Op):
    """The time loop of one layer and direction: ``_C.rnn_forward`` / ``_C.rnn_backward``
    (one GEMM and one fused gate pass per step, the whole loop in C++).

    forward(xp (T, B, G·H) = input projection incl. b_ih, w_hh (G·H, H), b_hh (G·H,) or None,
    h0 (B, H), c0 (B, H) or None, mode, reverse) → (out (T, B, H), h_T[, c_T]).
    backward: dxp = the gate-pre-activation gradients, dW_hh = Σ_t dGᵀ h_{t−1} as one GEMM over
    all steps, db_hh = Σ dG.
    """

    @staticmethod
    def forward(ctx, xp, w_hh, b_hh, h0, c0, mode, reverse):
        m = _MODE_ID[mode]
        dt = w_hh.dtype
        hs, cs, acts, aux, aux2 = _C.rnn_forward(m, _contig(xp, dt), _contig(w_hh),
                                                 _contig(b_hh, dt), _contig(h0, dt),
                                                 _contig(c0, dt), bool(reverse))
        ctx.mode, ctx.reverse = m, bool(reverse)
        ctx.save_for_backward(w_hh, hs, cs, acts, aux, aux2)
        T = hs.shape[0] - 1
        if m == 2:
            return _seq_out(hs, reverse), hs[T].copy(), cs[T].copy()
        return _seq_out(hs, reverse), hs[T].copy()

    @staticmethod
    def backward(ctx, gout, ghT, gcT=None):
        w_hh, hs, cs, acts, aux, aux2 = ctx.saved_tensors
        m, reverse = ctx.mode, ctx.reverse
        dt = hs.dtype
        dX, dHh, dh0, dc0 = _C.rnn_backward(m, _contig(w_hh), hs, cs, acts, aux, aux2,
                                            _contig(gout, dt), _contig(ghT, dt),
                                            _contig(gcT, dt) if m == 2 else None, reverse)
        T1, B, H = hs.shape
        T = T1 - 1
        n = ctx.needs_input_grad
        dH = dHh if m == 3 else dX
        gxp = (dX[::-1] if reverse else dX) if n[0] else None
        gw = None
        if n[1]:
            gw = _C.matmul(dH.reshape(T * B, dH.shape[2]), hs[:-1].reshape(T * B, H),
                           trans_a=True)
        gb = dH.sum(axis=(0, 1)) if n[2] else None
        return gxp, gw, gb, (dh0 if n[3] else None), (dc0 if n[4] else None), None, None


def rnn_recurrence(input_projection, weight_hh, bias_hh, h0, c0=None, mode="LSTM",
                   reverse=False):
    """The recurrence of one RNN/LSTM/GRU layer in one direction, from the input projection
    ``xp = x W_ihᵀ + b_ih`` of every step (T, B, G·H), with ``G`` = 1 (RNN), 4 (LSTM: gates
    i, f, g, o) or 3 (GRU: r, z, n) and PyTorch's gate math (see ``nn.LSTM``):

    * ``RNN_TANH``/``RNN_RELU``: h_t = act(xp_t + W_hh h_{t−1} + b_hh)
    * ``LSTM``: c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t)
    * ``GRU``: n = tanh(xp_n + r ⊙ (W_hn h_{t−1} + b_hn)), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    ``weight_hh`` (G·H, H), ``bias_hh`` (G·H,) or None, ``h0`` (B, H), ``c0`` (B, H) for LSTM
    only; every operand of ``weight_hh``'s dtype. ``reverse=True`` runs from t = T−1 down to
    0 (the backward direction of a bidirectional layer); the output stays in time order.
    Returns ``(output (T, B, H), h_T)``, for LSTM ``(output, h_T, c_T)``; differentiable in
    every tensor argument (backpropagation through time in one C++ loop).

    Example::

        xp = F.linear(x.reshape(T * B, I), w_ih, b_ih).reshape(T, B, 4 * H)
        out, h, c = F.rnn_recurrence(xp, w_hh, b_hh, h0, c0, mode="LSTM")
    """
    fn = "rnn_recurrence"
    if mode not in _MODE_ID:
        raise ValueError(f"{fn}: mode must be one of {', '.join(_MODE_ID)}, got {mode!r}")
    if (c0 is None) == (mode == "LSTM"):
        raise ValueError(f"{fn}: c0 is {'required' if mode == 'LSTM' else 'only for LSTM'} "
                         f"(mode {mode!r})")
    w = _float(weight_hh, fn, "weight_hh")
    args = {"input_projection": input_projection, "bias_hh": bias_hh, "h0": h0, "c0": c0}
    t = {}
    for name, a in args.items():
        t[name] = None if a is None else _float(a, fn, name)
        if t[name] is not None and t[name].dtype != w.dtype:
            raise TypeError(f"{fn}: {name} is {t[name].dtype} but weight_hh is {w.dtype}")
    return _Recurrence.apply(t["input_projection"], w, t["bias_hh"], t["h0"], t["c0"], mode,
                             bool(reverse))
