"""``fastdl.nn.functional``: spatial sampling — ``grid_sample`` (a C++ kernel:
``csrc/bindings/bind_sample.cpp`` → ``csrc/kernels/sample/``), ``affine_grid`` (a matmul of
the base grid with θ) and bicubic interpolation (two matmuls with per-axis weight matrices).
"""
from __future__ import annotations

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...tensor import Tensor
from ._args import _float as _f

__all__ = ["grid_sample", "affine_grid"]

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


class _GridSample(_Op):
    @staticmethod
    def forward(ctx, x, grid, mode, padding, ac):
        x, grid = np.ascontiguousarray(x), np.ascontiguousarray(grid)
        ctx.args = (mode, padding, ac)
        ctx.save_for_backward(x, grid)
        return _C.grid_sample(x, grid, mode, padding, ac)

    @staticmethod
    def backward(ctx, g):
        x, grid = ctx.saved_tensors
        need = ctx.needs_input_grad
        gi, gg = _C.grid_sample_backward(np.ascontiguousarray(g), x, grid, *ctx.args,
                                         bool(need[0]), bool(need[1]))
        return gi, gg, None, None, None


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros",  # noqa: A002
                align_corners=None):
    """Sample ``input`` (N, C, H, W) at the points of ``grid`` (N, H_out, W_out, 2) — or a
    volume (N, C, D, H, W) at ``grid`` (N, D_out, H_out, W_out, 3) — each point (x, y[, z])
    normalised to [−1, 1] (−1 = left/top/front edge): output (N, C, H_out, W_out) or
    (N, C, D_out, H_out, W_out).

    A grid coordinate maps to the pixel coordinate ``ix = ((x + 1)·W − 1)/2`` (pixel centres;
    with ``align_corners=True``, ``(x + 1)/2·(W − 1)``: corner pixels' centres). ``mode``
    'bilinear' blends the 4 neighbours (8 for a volume: trilinear), 'nearest' takes the
    nearest (half to even), 'bicubic' (4-D only) blends the 4×4 neighbours with Keys' cubic
    weights (a = −0.75). ``padding_mode`` for points outside: 'zeros' (taps outside count 0),
    'border' (clamp to the edge), 'reflection' (mirror about the edges). Differentiable in
    ``input`` and, except for 'nearest', in ``grid`` (PyTorch's conventions, also at the
    clamped edges).

    Example::

        theta = fastdl.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
        grid = F.affine_grid(theta, (1, 3, 8, 8), align_corners=False)
        out = F.grid_sample(img, grid, align_corners=False)     # the identity warp
    """
    fn = "grid_sample"
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in _PADDING:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    x, g = _f(input, fn, "input"), _f(grid, fn, "grid")
    if x.ndim not in (4, 5):
        raise ValueError(f"grid_sample: input must be (N, C, H, W) or (N, C, D, H, W), got "
                         f"shape {tuple(x.shape)}")
    dims = x.ndim - 2
    if mode == "bicubic" and dims != 2:
        raise ValueError(f"grid_sampler(): bicubic interpolation only supports 4D input, got "
                         f"input of shape {tuple(x.shape)}")
    if g.ndim != x.ndim or g.shape[-1] != dims:
        want = "(N, H_out, W_out, 2)" if dims == 2 else "(N, D_out, H_out, W_out, 3)"
        raise ValueError(f"grid_sample: grid must be {want} for input of shape "
                         f"{tuple(x.shape)}, got shape {tuple(g.shape)}")
    if g.shape[0] != x.shape[0]:
        raise ValueError(f"grid_sample: grid and input must have the same batch size, got "
                         f"grid {tuple(g.shape)} and input {tuple(x.shape)}")
    if g._array.dtype != x._array.dtype:
        raise TypeError(f"grid_sample: grid is {g._array.dtype} but input is {x._array.dtype}")
    return _GridSample.apply(x, g, _MODES[mode], _PADDING[padding_mode], bool(align_corners))


def _base(n, ac, dtype):
    if n <= 1:
        return np.zeros(max(n, 0), dtype=dtype)
    v = np.linspace(-1.0, 1.0, n)
    if not ac:
        v = v * (n - 1) / n
    return v.astype(dtype)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps ``theta``: (N, 2, 3) for a 2-D ``size``
    (N, C, H, W) gives (N, H, W, 2); (N, 3, 4) for a 3-D ``size`` (N, C, D, H, W) gives
    (N, D, H, W, 3). Grid point = θ · (x, y[, z], 1) with x, y, z the normalised output
    coordinates (pixel centres, or corners with ``align_corners``). Differentiable in θ.

    Example: ``F.affine_grid(fastdl.tensor([[[1., 0, 0], [0, 1, 0]]]), (1, 1, 4, 4))``
    """
    fn = "affine_grid"
    th = _f(theta, fn, "theta")
    size = tuple(int(s) for s in size)
    ac = bool(align_corners)
    if len(size) == 4:
        if th.ndim != 3 or tuple(th.shape[1:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {tuple(th.shape)}.")
        N, _, H, W = size
        xs, ys = _base(W, ac, th._array.dtype), _base(H, ac, th._array.dtype)
        gx, gy = np.meshgrid(xs, ys)                              # (H, W)
        base = np.stack([gx, gy, np.ones_like(gx)], -1).reshape(H * W, 3)
        out_shape = (N, H, W, 2)
    elif len(size) == 5:
        if th.ndim != 3 or tuple(th.shape[1:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {tuple(th.shape)}.")
        N, _, D, H, W = size
        xs, ys, zs = (_base(W, ac, th._array.dtype), _base(H, ac, th._array.dtype),
                      _base(D, ac, th._array.dtype))
        gz, gy, gx = np.meshgrid(zs, ys, xs, indexing="ij")       # (D, H, W)
        base = np.stack([gx, gy, gz, np.ones_like(gx)], -1).reshape(D * H * W, 4)
        out_shape = (N, D, H, W, 3)
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if th.shape[0] != N:
        raise ValueError(f"affine_grid: theta has batch {th.shape[0]}, size has {N}")
    grid = Tensor._make(np.ascontiguousarray(base)) @ th.transpose(1, 2)   # (N, P, k)
    return grid.reshape(*out_shape)


# ---------------------------------------------------------------------------------------
# bicubic interpolation (F.interpolate(mode="bicubic") comes here)

_A = -0.75


def _cubic_matrix(n_in, n_out, align_corners, scale, dtype):
    """(n_out, n_in) weights of Keys' cubic convolution (a = −0.75), PyTorch's source
    coordinates (not clamped) and clamped taps."""
    j = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = (j + 0.5) * scale - 0.5
    x0 = np.floor(src)
    t = src - x0
    x0 = x0.astype(np.int64)
    w = np.stack([((_A * (t + 1) - 5 * _A) * (t + 1) + 8 * _A) * (t + 1) - 4 * _A,
                  ((_A + 2) * t - (_A + 3)) * t * t + 1,
                  ((_A + 2) * (1 - t) - (_A + 3)) * (1 - t) * (1 - t) + 1,
                  ((_A * (2 - t) - 5 * _A) * (2 - t) + 8 * _A) * (2 - t) - 4 * _A], 1)
    m = np.zeros((n_out, n_in))
    for k in range(4):
        np.add.at(m, (np.arange(n_out), np.clip(x0 - 1 + k, 0, n_in - 1)), w[:, k])
    return m.astype(dtype)


def _bicubic(t, sizes, scales, align_corners):
    """Bicubic resize of (N, C, H, W) to ``sizes``: ``M_h · x · M_wᵀ`` (differentiable
    through the two matmuls)."""
    H, W = t.shape[2:]
    mh = _cubic_matrix(H, sizes[0], align_corners, scales[0], t._array.dtype)
    mw = _cubic_matrix(W, sizes[1], align_corners, scales[1], t._array.dtype)
    y = t @ Tensor._make(np.ascontiguousarray(mw.T))           # (N, C, H, oW)
    return Tensor._make(mh) @ y                                # (N, C, oH, oW)
