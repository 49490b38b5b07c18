"""NumPy reference of grid_sample (csrc/kernels/sample/): per-point loops in float64, written
from the definition (PyTorch's coordinate, padding and rounding rules) — 2-D images
(bilinear, nearest, bicubic) and 3-D volumes (trilinear, nearest)."""
import itertools

import numpy as np

__all__ = ["grid_sample_ref"]


def _unnormalize(g, size, ac):
    return (g + 1) / 2 * (size - 1) if ac else ((g + 1) * size - 1) / 2


def _fold(x, size, padding, ac):
    if padding == "border":
        return min(max(x, 0.0), size - 1.0)
    if padding == "reflection":
        lo, hi = (0.0, size - 1.0) if ac else (-0.5, size - 0.5)
        span = hi - lo
        if span <= 0:
            return 0.0
        x = abs(x - lo)
        flips, extra = divmod(x, span)
        x = lo + (extra if int(flips) % 2 == 0 else span - extra)
        return min(max(x, 0.0), size - 1.0)
    return x


def _source(g, size, padding, ac):
    return _fold(_unnormalize(g, size, ac), size, padding, ac)


def _cubic(t, a=-0.75):
    def near(u):   # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1

    def far(u):    # 1 < |u| < 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample_ref(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """x (N, C, *S) with S = (H, W) or (D, H, W); grid (N, *S_out, len(S)) in (x, y[, z])
    order; returns (N, C, *S_out) in float64."""
    N, C = x.shape[:2]
    S = x.shape[2:]
    dims = len(S)
    sizes = S[::-1]                       # (W, H[, D]) in grid-coordinate order
    out_sp = grid.shape[1:-1]
    out = np.zeros((N, C) + tuple(out_sp))

    def tap(n, coords):                   # coords in grid order (x, y[, z])
        if all(0 <= c < s for c, s in zip(coords, sizes)):
            return x[(n, slice(None)) + tuple(coords[::-1])].astype(np.float64)
        return np.zeros(C)

    for n in range(N):
        for o in np.ndindex(*out_sp):
            g = [float(v) for v in grid[(n,) + o]]
            if mode == "bicubic":
                u = [_unnormalize(g[d], sizes[d], align_corners) for d in range(2)]
                f = [int(np.floor(v)) for v in u]
                cx, cy = _cubic(u[0] - f[0]), _cubic(u[1] - f[1])
                acc = np.zeros(C)
                for j in range(4):
                    yy = _fold(f[1] - 1 + j, sizes[1], padding_mode, align_corners)
                    for i in range(4):
                        xx = _fold(f[0] - 1 + i, sizes[0], padding_mode, align_corners)
                        acc += cx[i] * cy[j] * tap(n, [int(xx), int(yy)])
                out[(n, slice(None)) + o] = acc
                continue
            c = [_source(g[d], sizes[d], padding_mode, align_corners) for d in range(dims)]
            if mode == "nearest":
                out[(n, slice(None)) + o] = tap(n, [int(np.rint(v)) for v in c])
                continue
            f = [int(np.floor(v)) for v in c]
            t = [v - fl for v, fl in zip(c, f)]
            acc = np.zeros(C)
            for bits in itertools.product((0, 1), repeat=dims):
                w = np.prod([t[d] if b else 1 - t[d] for d, b in enumerate(bits)])
                acc += w * tap(n, [f[d] + b for d, b in enumerate(bits)])
            out[(n, slice(None)) + o] = acc
    return out
