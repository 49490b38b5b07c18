"""fastdl.nn.functional: linear ops on the GEMM kernel (``csrc/kernels/gemm``).

``linear(input, weight, bias)`` is one ``_C.linear`` call (``input·weightᵀ`` with the bias
written first and accumulated into by the GEMM, so no extra pass over the output); its backward
is two ``_C.matmul`` calls with transposed operands read in place. ``bilinear`` is built from
three products per direction.
"""
from __future__ import annotations

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor
from ._args import _contig, _tensor as _t

__all__ = ["linear", "bilinear"]



def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class _Linear(_Op):
    @staticmethod
    def forward(ctx, x, w, b):
        x = _contig(x)
        w = _contig(w)
        if b is not None:
            b = _contig(b)
        if x.ndim == 0:
            raise ValueError(f"linear: input must have at least 1 dimension, got shape {x.shape}")
        if w.ndim != 2:
            raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got "
                             f"shape {w.shape}")
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input {x.shape} has {x.shape[-1]} features but weight "
                             f"{w.shape} expects {w.shape[1]}")
        lead = x.shape[:-1]
        x2 = x.reshape(_prod(lead), x.shape[-1])
        y = _C.linear(x2, w, b)
        ctx.save_for_backward(x, w)
        return y.reshape(lead + (w.shape[0],))

    _double = True
    _fresh_grads = True  # each gradient a new array (products and a sum)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph: the same products, recorded
            return _linear_backward_graph(x, w, g, nx, nw, nb)
        out_f, in_f = w.shape
        rows = _prod(x.shape[:-1])
        g2 = _contig(g, dtype=w.dtype).reshape(rows, out_f)
        gx = gw = gb = None
        if nx:
            gx = _C.matmul(g2, w).reshape(x.shape)                      # dX = dY · W
        if nw:
            gw = _C.matmul(g2, x.reshape(rows, in_f), trans_a=True)       # dW = dYᵀ · X
        if nb:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """Affine map ``y = input @ weight.T + bias`` as in ``torch.nn.functional.linear``.

    input (*, in_features), weight (out_features, in_features), bias (out_features,) or None
    -> (*, out_features); a 1-D weight (in_features,) gives ``input @ weight`` (+ bias), shape
    (*). The bias is written into the output before the GEMM accumulates into it (beta = 1),
    so it costs no separate pass. Differentiable in all three arguments.

    Example::

        y = F.linear(fastdl.randn(8, 3), fastdl.randn(5, 3), fastdl.zeros(5))   # (8, 5)
    """
    input, weight = _t(input), _t(weight)
    if bias is not None:
        bias = _t(bias)
    if weight.ndim == 1:
        from ...linalg import matmul
        y = matmul(input, weight)
        return y if bias is None else y + bias
    return _Linear.apply(input, weight, bias)


class _Bilinear(_Op):
    @staticmethod
    def forward(ctx, x1, x2, w, b):
        x1, x2, w = _contig(x1), _contig(x2), _contig(w)
        if b is not None:
            b = _contig(b)
        if w.ndim != 3:
            raise ValueError(f"bilinear: weight must be 3-D (out, in1, in2), got shape {w.shape}")
        if x1.ndim == 0 or x2.ndim == 0 or x1.shape[:-1] != x2.shape[:-1]:
            raise ValueError(f"bilinear: input batch dimensions do not match: input1 "
                             f"{x1.shape}, input2 {x2.shape}")
        O, I, J = w.shape
        if x1.shape[-1] != I or x2.shape[-1] != J:
            raise ValueError(f"bilinear: input1 {x1.shape} and input2 {x2.shape} do not match "
                             f"weight {w.shape} (expects in1={I}, in2={J})")
        if b is not None and b.shape != (O,):
            raise ValueError(f"bilinear: bias {b.shape} must have shape ({O},) for weight "
                             f"{w.shape}")
        if x1.dtype != w.dtype or x2.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
            raise TypeError(f"bilinear: dtypes differ: input1 {x1.dtype}, input2 {x2.dtype}, "
                            f"weight {w.dtype}" + ("" if b is None else f", bias {b.dtype}"))
        lead = x1.shape[:-1]
        n = _prod(lead)
        a1 = x1.reshape(n, I)
        a2 = x2.reshape(n, J)
        wf = w.reshape(O * I, J)
        # Z[n, (o, i)] = Σ_j x2[n, j] W[o, i, j];  y[n, o] = Σ_i Z[n, o, i] x1[n, i]
        z = _C.matmul(a2, wf, trans_b=True)
        y = _C.matmul(z.reshape(n, O, I), a1.reshape(n, I, 1)).reshape(n, O)
        if b is not None:
            y += b
        ctx.save_for_backward(a1, a2, w, z)
        ctx.lead = lead
        return y.reshape(lead + (O,))

    @staticmethod
    def backward(ctx, g):
        a1, a2, w, z = ctx.saved_tensors
        n1, n2, nw, nb = ctx.needs_input_grad
        O, I, J = w.shape
        n = a1.shape[0]
        g2 = _contig(g, dtype=w.dtype).reshape(n, O)
        g1 = g2x2 = gw = gb = None
        if n1:  # dx1[n, i] = Σ_o g[n, o] Z[n, o, i]
            g1 = _C.matmul(g2.reshape(n, 1, O), z.reshape(n, O, I)).reshape(ctx.lead + (I,))
        if n2 or nw:
            h = (g2[:, :, None] * a1[:, None, :]).reshape(n, O * I)  # g[n, o] x1[n, i]
            if n2:  # dx2 = H · W'
                g2x2 = _C.matmul(h, w.reshape(O * I, J)).reshape(ctx.lead + (J,))
            if nw:  # dW' = Hᵀ · x2
                gw = _C.matmul(h, a2, trans_a=True).reshape(O, I, J)
        if nb:
            gb = g2.sum(axis=0)
        return g1, g2x2, gw, gb


def bilinear(input1, input2, weight, bias=None):
    """Bilinear map ``y[..., o] = Σ_ij input1[..., i] · weight[o, i, j] · input2[..., j] +
    bias[o]`` as in ``torch.nn.functional.bilinear``.

    input1 (*, in1), input2 (*, in2) with the same leading dimensions, weight
    (out, in1, in2), bias (out,) or None -> (*, out). Differentiable in every argument.

    Example::

        y = F.bilinear(fastdl.randn(4, 3), fastdl.randn(4, 2), fastdl.randn(5, 3, 2))  # (4, 5)
    """
    input1, input2, weight = _t(input1), _t(input2), _t(weight)
    if bias is not None:
        bias = _t(bias)
    return _Bilinear.apply(input1, input2, weight, bias)


def _linear_backward_graph(x, w, g, nx, nw, nb):
    """``_Linear``'s backward on recorded Tensors (create_graph=True): dX = dY·W,
    dW = dYᵀ·X, db = Σ dY, each a recorded op whose own gradient is again a product."""
    out_f, in_f = w.shape
    g2 = g.reshape(-1, out_f)
    gx = gw = gb = None
    if nx:
        gx = g2.matmul(w).reshape(x.shape)
    if nw:
        gw = g2.transpose(0, 1).matmul(x.reshape(-1, in_f))
    if nb:
        gb = g2.sum(0)
    return gx, gw, gb
