"""NumPy references: pooling (forward and backward), written for clarity: explicit loops
over output positions and window taps, vectorised over the (N, C) planes.

PyTorch's rules: max pooling ignores padding, the first maximum (row-major) wins, NaN
propagates (the last NaN wins), a window with no element inside the input (possible with
dilation) gives -inf at the nearest element (PyTorch's index there can lie outside the input); average pooling clips the window to the padded input for
``count_include_pad``; adaptive windows are [floor(i·H/OH), ceil((i+1)·H/OH)).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["pool_output_size_ref", "max_pool2d_ref", "max_pool2d_backward_ref",
           "avg_pool2d_ref", "avg_pool2d_backward_ref", "adaptive_avg_pool2d_ref",
           "adaptive_avg_pool2d_backward_ref", "adaptive_max_pool2d_ref"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def pool_output_size_ref(size, kernel_size, stride, padding=0, dilation=1, ceil_mode=False):
    """Count windows: with floor every window lies inside the padded input; with ceil a window
    may overhang the right padding, as long as the previous one (position −1 for the first)
    did not reach the padded end
    and it starts inside the input or its left padding."""
    span = dilation * (kernel_size - 1) + 1
    n = 0
    while True:
        start = n * stride
        if ceil_mode:
            ok = (n - 1) * stride + span < size + 2 * padding and \
                start < size + padding
        else:
            ok = start + span <= size + 2 * padding
        if not ok:
            return n
        n += 1


def _window_max(x, rows, cols, first):
    """(max, index h·W + w) over the taps rows × cols of x (N, C, H, W), per (N, C) plane, in
    row-major order: an element replaces the maximum when it is greater or NaN (so the first
    maximum and the last NaN win); with no tap, (-inf, first)."""
    N, C, _, W = x.shape
    m = np.full((N, C), -np.inf, x.dtype)
    mi = np.full((N, C), first, np.int64)
    for h in rows:
        for c in cols:
            v = x[:, :, h, c]
            upd = (v > m) | np.isnan(v)
            m = np.where(upd, v, m)
            mi = np.where(upd, h * W + c, mi)
    return m, mi


def max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(values, int64 indices h·W + w) of 2-D max pooling on (N, C, H, W)."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    N, C, H, W = x.shape
    OH = pool_output_size_ref(H, kh, sh, ph, dh, ceil_mode)
    OW = pool_output_size_ref(W, kw, sw, pw, dw, ceil_mode)
    y = np.empty((N, C, OH, OW), x.dtype)
    idx = np.empty((N, C, OH, OW), np.int64)
    for i in range(OH):
        taps_h = [i * sh - ph + a * dh for a in range(kh)]
        rows = [h for h in taps_h if 0 <= h < H]
        for j in range(OW):
            taps_w = [j * sw - pw + b * dw for b in range(kw)]
            cols = [c for c in taps_w if 0 <= c < W]
            if rows and cols:
                first = rows[0] * W + cols[0]
            else:  # no element inside (dilation): -inf at the nearest element, never outside
                h0 = min(max(rows[0] if rows else next(t for t in taps_h if t >= 0), 0), H - 1)
                w0 = min(max(cols[0] if cols else next(t for t in taps_w if t >= 0), 0), W - 1)
                first = h0 * W + w0
            y[:, :, i, j], idx[:, :, i, j] = _window_max(x, rows, cols, first)
    return y, idx


def max_pool2d_backward_ref(gy, idx, H, W):
    """Scatter-add gy at idx into (N, C, H, W) (also adaptive max pooling's backward)."""
    N, C = gy.shape[:2]
    gx = np.zeros((N, C, H * W), gy.dtype)
    for n in range(N):
        for c in range(C):
            np.add.at(gx[n, c], idx[n, c].ravel(), gy[n, c].ravel())
    return gx.reshape(N, C, H, W)


def _avg_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                 divisor_override):
    OH = pool_output_size_ref(H, kh, sh, ph, 1, ceil_mode)
    OW = pool_output_size_ref(W, kw, sw, pw, 1, ceil_mode)
    out = []
    for i in range(OH):
        h0 = i * sh - ph
        h1 = min(h0 + kh, H + ph)
        for j in range(OW):
            w0 = j * sw - pw
            w1 = min(w0 + kw, W + pw)
            area = (h1 - h0) * (w1 - w0)
            a0, a1, b0, b1 = max(h0, 0), min(h1, H), max(w0, 0), min(w1, W)
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = area
            else:
                div = (a1 - a0) * (b1 - b0)
            out.append((i, j, a0, a1, b0, b1, div))
    return OH, OW, out


def avg_pool2d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True, divisor_override=None):
    """2-D average pooling on (N, C, H, W), PyTorch's divisor rule."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    N, C, H, W = x.shape
    OH, OW, wins = _avg_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                                divisor_override)
    y = np.zeros((N, C, OH, OW), x.dtype)
    for i, j, a0, a1, b0, b1, div in wins:
        y[:, :, i, j] = x[:, :, a0:a1, b0:b1].sum(axis=(2, 3)) / div
    return y


def avg_pool2d_backward_ref(gy, H, W, kernel_size, stride=None, padding=0, ceil_mode=False,
                            count_include_pad=True, divisor_override=None):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    N, C = gy.shape[:2]
    _, _, wins = _avg_windows(H, W, kh, kw, sh, sw, ph, pw, ceil_mode, count_include_pad,
                              divisor_override)
    gx = np.zeros((N, C, H, W), gy.dtype)
    for i, j, a0, a1, b0, b1, div in wins:
        gx[:, :, a0:a1, b0:b1] += (gy[:, :, i, j] / div)[:, :, None, None]
    return gx


def _ad(i, n_in, n_out):
    return (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)


def adaptive_avg_pool2d_ref(x, output_size):
    OH, OW = _pair(output_size)
    N, C, H, W = x.shape
    y = np.empty((N, C, OH, OW), x.dtype)
    for i in range(OH):
        h0, h1 = _ad(i, H, OH)
        for j in range(OW):
            w0, w1 = _ad(j, W, OW)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def adaptive_avg_pool2d_backward_ref(gy, H, W):
    N, C, OH, OW = gy.shape
    gx = np.zeros((N, C, H, W), gy.dtype)
    for i in range(OH):
        h0, h1 = _ad(i, H, OH)
        for j in range(OW):
            w0, w1 = _ad(j, W, OW)
            gx[:, :, h0:h1, w0:w1] += (gy[:, :, i, j] / ((h1 - h0) * (w1 - w0)))[:, :, None,
                                                                                  None]
    return gx


def adaptive_max_pool2d_ref(x, output_size):
    """(values, indices) of adaptive 2-D max pooling (first max wins, NaN propagates)."""
    OH, OW = _pair(output_size)
    N, C, H, W = x.shape
    y = np.empty((N, C, OH, OW), x.dtype)
    idx = np.empty((N, C, OH, OW), np.int64)
    for i in range(OH):
        h0, h1 = _ad(i, H, OH)
        for j in range(OW):
            w0, w1 = _ad(j, W, OW)
            y[:, :, i, j], idx[:, :, i, j] = _window_max(x, range(h0, h1), range(w0, w1),
                                                         h0 * W + w0)
    return y, idx
