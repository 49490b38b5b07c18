"""NumPy reference of grid_sample on 2-D images (csrc/kernels/sample/): per-point loops in
float64, written from the definition (PyTorch's coordinate, padding and rounding rules)."""
import numpy as np

__all__ = ["grid_sample_ref"]


def _source(g, size, padding, ac):
    x = (g + 1) / 2 * (size - 1) if ac else ((g + 1) * size - 1) / 2
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


def grid_sample_ref(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    N, C, H, W = x.shape
    _, Ho, Wo, _ = grid.shape
    out = np.zeros((N, C, Ho, Wo))

    def tap(n, yy, xx):
        if 0 <= yy < H and 0 <= xx < W:
            return x[n, :, yy, xx].astype(np.float64)
        return np.zeros(C)

    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                ix = _source(float(grid[n, i, j, 0]), W, padding_mode, align_corners)
                iy = _source(float(grid[n, i, j, 1]), H, padding_mode, align_corners)
                if mode == "nearest":
                    out[n, :, i, j] = tap(n, int(np.rint(iy)), int(np.rint(ix)))
                    continue
                x0, y0 = int(np.floor(ix)), int(np.floor(iy))
                tx, ty = ix - x0, iy - y0
                out[n, :, i, j] = (tap(n, y0, x0) * (1 - tx) * (1 - ty) +
                                   tap(n, y0, x0 + 1) * tx * (1 - ty) +
                                   tap(n, y0 + 1, x0) * (1 - tx) * ty +
                                   tap(n, y0 + 1, x0 + 1) * tx * ty)
    return out
