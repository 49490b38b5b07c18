"""``fastdl.nn.functional``: 3-D convolution and transposed convolution.

``conv3d`` is one C++ op (``csrc/bindings/bind_conv3d.cpp`` → ``csrc/kernels/conv3d/``:
direct kernels on AVX2/AVX-512 where the shape fits, else vol2col + GEMM, forward and
backward; NumPy twin ``fastdl.testing.reference.conv3d``).
``conv_transpose3d`` is a sum over the depth taps of the 2-D kernels: each depth tap's 2-D
transposed convolution of the N·D input slices lands on output depths ``i·s_D + a·d_D − p_D``
(a composition of differentiable ops — indexing, ``conv_transpose2d``, sums — so it inherits
the ``conv`` family's speed and backward).
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor, cat
from ._args import _float as _f, _tuple
from .conv import conv_transpose2d

__all__ = ["conv3d", "conv_transpose3d"]


class _Conv3d(_Op):
    """x (N, C, D, H, W), w (K, C/groups, kd, kh, kw), b (K,) or None -> (N, K, *out)."""

    @staticmethod
    def forward(ctx, x, w, b, out, s, p, d, groups):
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        b = None if b is None else np.ascontiguousarray(b)
        ctx.args = (s, p, d, groups)
        ctx.save_for_backward(x, w)
        return _C.conv3d(x, w, b, out, s, p, d, groups)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gw, gb = _C.conv3d_backward(np.ascontiguousarray(g), x, w, *ctx.args,
                                        bool(need[0]), bool(need[1]), bool(need[2]))
        return gx, gw, gb, None, None, None, None, None


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """3-D convolution of (N, C_in, D, H, W) — or (C_in, D, H, W) — with ``weight``
    (C_out, C_in/groups, kD, kH, kW): ``y[n, o, d, h, w] = b[o] + Σ x[n, c, d·sD − pD + a·dD,
    …]·weight[o, c, a, …]``; ``padding`` an int, a triple, 'valid' or 'same' (stride 1).

    Example: ``F.conv3d(fastdl.randn(1, 2, 5, 6, 6), fastdl.randn(4, 2, 3, 3, 3)).shape ==
    (1, 4, 3, 4, 4)``
    """
    fn = "conv3d"
    x, w = _f(input, fn, "input"), _f(weight, fn, "weight")
    unbatched = x.ndim == 4
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != 5:
        raise ValueError(f"{fn}: expected 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got "
                         f"shape {tuple(input.shape)}")
    if w.ndim != 5:
        raise ValueError(f"{fn}: weight must be 5-D (C_out, C_in/groups, kD, kH, kW), got "
                         f"shape {tuple(w.shape)}")
    s, d = _tuple(stride, 3, fn, "stride"), _tuple(dilation, 3, fn, "dilation")
    k = tuple(w.shape[2:])
    if x.shape[1] != w.shape[1] * groups:
        raise ValueError(f"{fn}: expected input with {w.shape[1] * groups} channels (weight "
                         f"{tuple(w.shape)}, groups={groups}), got input of shape "
                         f"{tuple(x.shape)}")
    if groups < 1 or w.shape[0] % groups:
        raise ValueError(f"{fn}: groups={groups} must be >= 1 and divide the {w.shape[0]} "
                         f"output channels (weight {tuple(w.shape)})")
    if any(v < 1 for v in s + d):
        raise ValueError(f"{fn}: stride {s} and dilation {d} must be >= 1")
    D, H, W = x.shape[2:]
    out = None
    ext = [d[i] * (k[i] - 1) + 1 for i in range(3)]
    if isinstance(padding, str):
        if padding == "valid":
            p = (0, 0, 0)
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError(f"{fn}: padding='same' is not supported for strided "
                                 f"convolutions")
            p = tuple(d[i] * (k[i] - 1) // 2 for i in range(3))   # the extra one goes after
            out = (D, H, W)
        else:
            raise ValueError(f"{fn}: padding must be 'valid', 'same', an int or a triple, got "
                             f"{padding!r}")
    else:
        p = _tuple(padding, 3, fn, "padding")
        if any(v < 0 for v in p):
            raise ValueError(f"{fn}: padding {p} must be non-negative")
    if out is None:
        out = tuple((n + 2 * p[i] - ext[i]) // s[i] + 1 for i, n in enumerate((D, H, W)))
    for i, name in enumerate(("depth", "height", "width")):
        if out[i] < 1:
            n = (D, H, W)[i]
            raise ValueError(f"{fn}: input {name} {n} (padded {n + 2 * p[i]}) is smaller than "
                             f"the dilated kernel {name} {ext[i]} (input {tuple(x.shape)}, "
                             f"weight {tuple(w.shape)})")
    bias = None if bias is None else _f(bias, fn, "bias")
    out = _Conv3d.apply(x, w, bias, out, s, p, d, int(groups))
    return out.squeeze(0) if unbatched else out


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,  # noqa: A002
                     groups=1, dilation=1):
    """3-D transposed convolution (the adjoint of ``conv3d``) of (N, C_in, D, H, W) with
    ``weight`` (C_in, C_out/groups, kD, kH, kW); output depth
    ``(D − 1)·sD − 2·pD + dD·(kD − 1) + output_padding + 1`` (likewise H, W).

    Example: ``F.conv_transpose3d(fastdl.randn(1, 4, 3, 3, 3), fastdl.randn(4, 2, 2, 2, 2),
    stride=2).shape == (1, 2, 6, 6, 6)``
    """
    fn = "conv_transpose3d"
    x, w = _f(input, fn, "input"), _f(weight, fn, "weight")
    unbatched = x.ndim == 4
    if unbatched:
        x = x.unsqueeze(0)
    if x.ndim != 5 or w.ndim != 5:
        raise ValueError(f"{fn}: expected 5-D input and weight, got {tuple(input.shape)} and "
                         f"{tuple(w.shape)}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{fn}: weight {tuple(w.shape)} expects {w.shape[0]} input channels, "
                         f"got input of shape {tuple(x.shape)}")
    s, p = _tuple(stride, 3, fn, "stride"), _tuple(padding, 3, fn, "padding")
    op, d = _tuple(output_padding, 3, fn, "output_padding"), _tuple(dilation, 3, fn, "dilation")
    k = tuple(w.shape[2:])
    N, C, D, H, W = x.shape
    oD = (D - 1) * s[0] - 2 * p[0] + d[0] * (k[0] - 1) + op[0] + 1
    if oD < 1:
        raise ValueError(f"{fn}: the output depth {oD} is not positive")
    xs = x.permute(0, 2, 1, 3, 4).reshape(N * D, C, H, W)
    total = None
    for a in range(k[0]):
        y = conv_transpose2d(xs, w[:, :, a], None, s[1:], p[1:], op[1:], groups, d[1:])
        co, oh, ow = y.shape[1:]
        y = y.reshape(N, D, co, oh, ow)
        pos = np.arange(D) * s[0] + a * d[0] - p[0]
        src = np.full(oD, D, dtype=np.int64)           # D = the zero slice
        ok = (pos >= 0) & (pos < oD)
        if not ok.any():
            continue
        src[pos[ok]] = np.arange(D)[ok]
        z = cat([y, Tensor._make(np.zeros((N, 1, co, oh, ow), y._array.dtype))], 1)[:, src]
        total = z if total is None else total + z
    if total is None:
        raise ValueError(f"{fn}: no kernel tap reaches the output")
    out = total.permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + _f(bias, fn, "bias").reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out
