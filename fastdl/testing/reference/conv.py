"""NumPy references: convolution (forward and the three gradients), written for clarity.

Padding is given per side as ``(top, bottom, left, right)`` (or a pair / an int, symmetric),
so PyTorch's asymmetric 'same' padding is covered. Inputs are (N, C, H, W); weights
(K, C/groups, R, S).
"""
from __future__ import annotations

import numpy as np

__all__ = ["conv2d_ref", "conv2d_backward_ref", "conv_output_size_ref"]


def _pads(padding):
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_output_size_ref(size, kernel_size, stride=1, padding_before=0, padding_after=None,
                         dilation=1):
    """Count the window positions whose whole (dilated) kernel fits in the padded input."""
    if padding_after is None:
        padding_after = padding_before
    span = dilation * (kernel_size - 1) + 1
    n = 0
    while n * stride + span <= size + padding_before + padding_after:
        n += 1
    return n


def _geometry(x, w, stride, padding, dilation):
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    sh, sw = _pair(stride)
    dh, dw = _pair(dilation)
    pt, pb, pl, pr = _pads(padding)
    OH = conv_output_size_ref(H, R, sh, pt, pb, dh)
    OW = conv_output_size_ref(W, S, sw, pl, pr, dw)
    return (N, C, H, W, K, Cg, R, S, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr)


def conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n,k,i,j] = b[k] + Σ_{c,r,s} w[k,c,r,s]·xpad[n, g(k)·Cg + c, i·sh + r·dh, j·sw + s·dw]."""
    (N, C, H, W, K, Cg, R, S, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr) = _geometry(
        x, w, stride, padding, dilation)
    Kg = K // groups
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    y = np.zeros((N, K, OH, OW), dtype=np.result_type(x, w))
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        wg = w[g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                patch = xg[:, :, r * dh:r * dh + sh * (OH - 1) + 1:sh,
                           s * dw:s * dw + sw * (OW - 1) + 1:sw]
                y[:, g * Kg:(g + 1) * Kg] += np.einsum("nchw,kc->nkhw", patch, wg[:, :, r, s])
    if b is not None:
        y += b.reshape(1, K, 1, 1)
    return y


def conv2d_backward_ref(x, w, gy, stride=1, padding=0, dilation=1, groups=1):
    """(grad_input, grad_weight, grad_bias) of ``conv2d_ref`` for upstream gradient gy."""
    (N, C, H, W, K, Cg, R, S, OH, OW, sh, sw, dh, dw, pt, pb, pl, pr) = _geometry(
        x, w, stride, padding, dilation)
    Kg = K // groups
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for g in range(groups):
        xg = xp[:, g * Cg:(g + 1) * Cg]
        gyg = gy[:, g * Kg:(g + 1) * Kg]
        for r in range(R):
            for s in range(S):
                sl = (slice(None), slice(g * Cg, (g + 1) * Cg),
                      slice(r * dh, r * dh + sh * (OH - 1) + 1, sh),
                      slice(s * dw, s * dw + sw * (OW - 1) + 1, sw))
                patch = xg[:, :, sl[2], sl[3]]
                gw[g * Kg:(g + 1) * Kg, :, r, s] = np.einsum("nkhw,nchw->kc", gyg, patch)
                gxp[sl] += np.einsum("nkhw,kc->nchw", gyg, w[g * Kg:(g + 1) * Kg, :, r, s])
    gx = gxp[:, :, pt:pt + H, pl:pl + W]
    return np.ascontiguousarray(gx), gw, gy.sum(axis=(0, 2, 3))
