"""``fastdl.nn.functional``: 3-D convolution and transposed convolution as sums over the
depth taps of the 2-D kernels.

``conv3d``: for depth tap a, the input slices ``o·s_D + a·d_D`` (after depth padding) of all
output depths o form one batch of N·D_out images, convolved in 2-D with ``weight[:, :, a]``;
the kD results add up. ``conv_transpose3d``: each depth tap's 2-D transposed convolution of
the N·D input slices lands on output depths ``i·s_D + a·d_D − p_D``. Both are compositions of
differentiable ops (indexing, ``conv2d``/``conv_transpose2d``, sums), so they inherit the
2-D kernels' speed and backward; the 2-D kernels are the ``conv`` family's.
"""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, cat
from ._args import _float as _f, _tuple
from .conv import conv2d, conv_transpose2d
from .shape import pad as _pad

__all__ = ["conv3d", "conv_transpose3d"]


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
    if isinstance(padding, str):
        if padding == "valid":
            p = (0, 0, 0)
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError(f"{fn}: padding='same' is not supported for strided "
                                 f"convolutions")
            tot = [d[i] * (k[i] - 1) for i in range(3)]
            lo = [t // 2 for t in tot]
            if any(t % 2 for t in tot):   # asymmetric: pad the extra one on the right first
                x = _pad(x, (0, tot[2] - 2 * lo[2], 0, tot[1] - 2 * lo[1], 0, tot[0] - 2 * lo[0]))
            p = tuple(lo)
        else:
            raise ValueError(f"{fn}: padding must be 'valid', 'same', an int or a triple, got "
                             f"{padding!r}")
    else:
        p = _tuple(padding, 3, fn, "padding")
    if p[0]:
        x = _pad(x, (0, 0, 0, 0, p[0], p[0]))
    N, C, Dp, H, W = x.shape
    od = (Dp - d[0] * (k[0] - 1) - 1) // s[0] + 1
    if od < 1:
        raise ValueError(f"{fn}: input depth {Dp - 2 * p[0]} (padded {Dp}) is smaller than the "
                         f"dilated kernel depth {d[0] * (k[0] - 1) + 1}")
    out = None
    for a in range(k[0]):
        idx = np.arange(od) * s[0] + a * d[0]
        xs = x[:, :, idx].permute(0, 2, 1, 3, 4).reshape(N * od, C, H, W)
        y = conv2d(xs, w[:, :, a], None, s[1:], p[1:], d[1:], groups)
        out = y if out is None else out + y
    oh, ow = out.shape[-2:]
    out = out.reshape(N, od, w.shape[0], oh, ow).permute(0, 2, 1, 3, 4)
    if bias is not None:
        out = out + _f(bias, fn, "bias").reshape(1, -1, 1, 1, 1)
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
