"""Image operations behind ``fastdl.transforms``, on NumPy arrays of layout ``(..., C, H, W)``
(one image ``(C, H, W)`` or a batch ``(N, C, H, W)``; every leading dimension is processed at
once, vectorised: no loop over pixels or images runs in Python).

Float images hold values in [0, 1], integer images in [0, max of the dtype] (uint8: 255);
results keep the input's dtype (integers rounded). Semantics follow
``torchvision.transforms.v2.functional``: ``resize`` (bilinear with antialias as PyTorch's
``interpolate(antialias=True)``), ``affine`` (angle clockwise in degrees, about the centre,
sampled like ``grid_sample(align_corners=False)`` with ``fill`` outside), ``rotate`` (angle
counter-clockwise), colour adjustments as blends with a degenerate image.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["resize", "crop", "center_crop", "pad", "hflip", "vflip", "affine", "rotate",
           "gaussian_blur", "adjust_brightness", "adjust_contrast", "adjust_saturation",
           "adjust_hue", "rgb_to_grayscale", "erase", "normalize", "to_dtype"]


def _bound(a):
    return float(np.iinfo(a.dtype).max) if a.dtype.kind in "iu" else 1.0


def _as_float(a):
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _back(out, like):
    """Cast a float result back to ``like``'s dtype (integers rounded and clipped)."""
    if like.dtype.kind == "f":
        return out.astype(like.dtype, copy=False)
    if like.dtype == np.bool_:
        return out > 0.5
    info = np.iinfo(like.dtype)
    return np.clip(np.rint(out), info.min, info.max).astype(like.dtype)


def _check_image(a, who):
    if a.ndim < 2:
        raise ValueError(f"{who}: expected an image (..., H, W), got shape {a.shape}")


def _pair(x, who, name):
    if isinstance(x, numbers.Number):
        return int(x), int(x)
    x = tuple(x)
    if len(x) == 1:
        return int(x[0]), int(x[0])
    if len(x) != 2:
        raise ValueError(f"{who}: {name} must be an int or a pair, got {x}")
    return int(x[0]), int(x[1])


# ---- resize --------------------------------------------------------------------------------
def _output_size(h, w, size, max_size, who):
    if isinstance(size, numbers.Number) or (isinstance(size, (list, tuple)) and len(size) == 1):
        s = int(size if isinstance(size, numbers.Number) else size[0])
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = s, int(s * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_short, new_long) if h <= w else (new_long, new_short)
    oh, ow = _pair(size, who, "size")
    if max_size is not None:
        raise ValueError(f"{who}: max_size is only allowed with a single int size")
    return oh, ow


def _interp_matrix(n_in, n_out, antialias):
    """(n_out, n_in) weights of 1-d linear interpolation, align_corners=False; with
    ``antialias`` PyTorch's anti-aliased triangle filter (wider when downsampling)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), np.float64)
    i = np.arange(n_out)
    if antialias:
        support = scale if scale >= 1.0 else 1.0
        inv = 1.0 / scale if scale >= 1.0 else 1.0
        center = scale * (i + 0.5)
        lo = np.maximum((center - support + 0.5).astype(np.int64), 0)
        hi = np.minimum((center + support + 0.5).astype(np.int64), n_in)
        width = int((hi - lo).max()) if n_out else 0
        j = lo[:, None] + np.arange(width)[None, :]
        w = np.maximum(0.0, 1.0 - np.abs((j - center[:, None] + 0.5) * inv))
        w[j >= hi[:, None]] = 0.0
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-30)
        np.add.at(m, (np.repeat(i, width), np.minimum(j, n_in - 1).reshape(-1)), w.reshape(-1))
        return m
    src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    np.add.at(m, (i, i0), 1.0 - lam)
    np.add.at(m, (i, i1), lam)
    return m


def resize(a, size, interpolation="bilinear", max_size=None, antialias=True):
    """Resize the last two dimensions to ``size`` ((h, w), or an int: the shorter edge,
    keeping the aspect ratio). ``interpolation``: "bilinear" or "nearest"."""
    _check_image(a, "resize")
    h, w = a.shape[-2:]
    oh, ow = _output_size(h, w, size, max_size, "resize")
    if oh <= 0 or ow <= 0:
        raise ValueError(f"resize: output size ({oh}, {ow}) must be positive")
    if (oh, ow) == (h, w):
        return a.copy()
    mode = str(getattr(interpolation, "value", interpolation)).lower()
    if mode == "nearest":
        iy = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        ix = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        return a[..., iy[:, None], ix[None, :]]
    if mode != "bilinear":
        raise ValueError(f"resize: interpolation must be 'bilinear' or 'nearest', got "
                         f"{interpolation!r}")
    x = _as_float(a)
    ft = x.dtype
    my = _interp_matrix(h, oh, antialias).astype(ft)
    mx = _interp_matrix(w, ow, antialias).astype(ft)
    out = np.matmul(np.matmul(my, x), mx.T)
    return _back(out, a)


# ---- crops, pads, flips ----------------------------------------------------------------------
def pad(a, padding, fill=0, padding_mode="constant"):
    """Pad the last two dimensions: ``padding`` an int (all sides), (left/right, top/bottom)
    or (left, top, right, bottom); ``padding_mode`` constant (with ``fill``), edge, reflect
    or symmetric."""
    if isinstance(padding, numbers.Number):
        l = t = r = b = int(padding)
    else:
        p = [int(v) for v in padding]
        if len(p) == 1:
            l = t = r = b = p[0]
        elif len(p) == 2:
            l, t = p
            r, b = p
        elif len(p) == 4:
            l, t, r, b = p
        else:
            raise ValueError(f"pad: padding must be an int or a sequence of 1, 2 or 4 ints, "
                             f"got {padding}")
    if min(l, t, r, b) < 0:
        raise ValueError(f"pad: padding must be non-negative, got {padding}")
    width = [(0, 0)] * (a.ndim - 2) + [(t, b), (l, r)]
    if padding_mode == "constant":
        return np.pad(a, width, mode="constant", constant_values=fill)
    if padding_mode not in ("edge", "reflect", "symmetric"):
        raise ValueError(f"pad: padding_mode must be constant, edge, reflect or symmetric, "
                         f"got {padding_mode!r}")
    if padding_mode == "reflect" and (max(t, b) >= a.shape[-2] or max(l, r) >= a.shape[-1]):
        raise ValueError(f"pad: reflect padding {padding} must be smaller than the image "
                         f"size {a.shape[-2:]}")
    return np.pad(a, width, mode=padding_mode)


def crop(a, top, left, height, width):
    """``a[..., top:top+height, left:left+width]``, zero-padded where the box leaves the
    image (as torchvision)."""
    h, w = a.shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pl, pt = max(-left, 0), max(-top, 0)
        pr, pb = max(left + width - w, 0), max(top + height - h, 0)
        a = pad(a, (pl, pt, pr, pb))
        top, left = top + pt, left + pl
    return np.ascontiguousarray(a[..., top:top + height, left:left + width])


def center_crop(a, output_size):
    """The central ``output_size`` box (zero-padded when the image is smaller)."""
    oh, ow = _pair(output_size, "center_crop", "output_size")
    h, w = a.shape[-2:]
    if oh > h or ow > w:
        a = pad(a, ((ow - w) // 2 if ow > w else 0, (oh - h) // 2 if oh > h else 0,
                    (ow - w + 1) // 2 if ow > w else 0, (oh - h + 1) // 2 if oh > h else 0))
        h, w = a.shape[-2:]
    top = int(round((h - oh) / 2.0))
    left = int(round((w - ow) / 2.0))
    return crop(a, top, left, oh, ow)


def hflip(a):
    """Mirror left-right (the last dimension)."""
    return np.ascontiguousarray(a[..., ::-1])


def vflip(a):
    """Mirror top-bottom (the second-last dimension)."""
    return np.ascontiguousarray(a[..., ::-1, :])


# ---- affine ---------------------------------------------------------------------------------
def _rss(angle, scale, shear):
    """2x2 rotation-scale-shear in image coordinates (y down), angle clockwise in degrees,
    as torchvision: R(angle) S(scale) SHy(shear_y) SHx(shear_x)."""
    a = math.radians(angle)
    sx, sy = (math.radians(s) for s in shear)
    ca = math.cos(a - sy) / math.cos(sy)
    sa = math.sin(a - sy) / math.cos(sy)
    return scale * np.array([[ca, -ca * math.tan(sx) - math.sin(a)],
                             [sa, -sa * math.tan(sx) + math.cos(a)]])


def _sample(a, sx, sy, interpolation, fill):
    """Sample ``a`` (..., H, W) at source pixel coordinates (sx, sy) of shape (h, w)."""
    h, w = a.shape[-2:]
    x = _as_float(a)
    fill_arr = np.asarray(0.0 if fill is None else fill, x.dtype)
    if fill_arr.ndim == 1 and a.ndim >= 3:
        fill_arr = fill_arr.reshape(-1, 1, 1)
    mode = str(getattr(interpolation, "value", interpolation)).lower()
    if mode == "nearest":
        ix, iy = np.rint(sx).astype(np.int64), np.rint(sy).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        v = x[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        return _back(np.where(inside, v, fill_arr), a)
    if mode != "bilinear":
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    fx, fy = (sx - x0).astype(x.dtype), (sy - y0).astype(x.dtype)
    out = 0.0
    mass = 0.0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            cx, cy = x0 + dx, y0 + dy
            ok = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h)
            wgt = np.where(ok, wx * wy, 0).astype(x.dtype)
            out = out + x[..., np.clip(cy, 0, h - 1), np.clip(cx, 0, w - 1)] * wgt
            mass = mass + wgt
    return _back(out + (1 - mass) * fill_arr, a)


def affine(a, angle, translate, scale, shear, interpolation="nearest", fill=0, center=None,
           out_size=None):
    """Affine map about ``center`` (default the image centre): rotate by ``angle`` degrees
    clockwise, scale, shear by ``shear`` (x, y degrees), then translate by ``translate``
    (pixels). Output pixels whose source falls outside get ``fill``."""
    _check_image(a, "affine")
    if not isinstance(shear, (list, tuple)):
        shear = (shear, 0.0)
    if len(shear) == 1:
        shear = (shear[0], 0.0)
    if scale <= 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")
    h, w = a.shape[-2:]
    oh, ow = (h, w) if out_size is None else out_size
    cx, cy = ((w - 1) * 0.5, (h - 1) * 0.5) if center is None else (center[0], center[1])
    inv = np.linalg.inv(_rss(angle, scale, shear))
    # output pixel grid, relative to the output's centre plus the translation
    ocx, ocy = (ow - 1) * 0.5 + (cx - (w - 1) * 0.5), (oh - 1) * 0.5 + (cy - (h - 1) * 0.5)
    gy, gx = np.meshgrid(np.arange(oh, dtype=np.float64), np.arange(ow, dtype=np.float64),
                         indexing="ij")
    u = gx - ocx - translate[0]
    v = gy - ocy - translate[1]
    sx = inv[0, 0] * u + inv[0, 1] * v + cx
    sy = inv[1, 0] * u + inv[1, 1] * v + cy
    return _sample(a, sx, sy, interpolation, fill)


def rotate(a, angle, interpolation="nearest", expand=False, center=None, fill=0):
    """Rotate by ``angle`` degrees counter-clockwise about ``center``; ``expand`` grows the
    output to hold the whole rotated image."""
    h, w = a.shape[-2:]
    out = None
    if expand:
        r = _rss(-angle, 1.0, (0.0, 0.0))
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        pts = corners @ r.T
        tol = 1e-4
        size = np.ceil(np.trunc(pts.max(0) / tol) * tol) - np.floor(np.trunc(pts.min(0) / tol)
                                                                     * tol)
        out = (int(size[1]), int(size[0]))
        center = None
    return affine(a, -angle, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation, fill, center, out)


# ---- blur ----------------------------------------------------------------------------------
def _gauss1d(k, sigma):
    x = np.linspace(-(k - 1) * 0.5, (k - 1) * 0.5, k)
    p = np.exp(-0.5 * (x / sigma) ** 2)
    return p / p.sum()


def gaussian_blur(a, kernel_size, sigma=None):
    """Separable Gaussian blur of the last two dimensions with reflect padding;
    ``kernel_size`` odd (int or (kx, ky)), ``sigma`` (sx, sy) (default 0.3((k-1)/2-1)+0.8)."""
    kx, ky = _pair(kernel_size, "gaussian_blur", "kernel_size")
    if kx <= 0 or ky <= 0 or kx % 2 == 0 or ky % 2 == 0:
        raise ValueError(f"gaussian_blur: kernel_size must be odd and positive, got "
                         f"{kernel_size}")
    if sigma is None:
        sx = 0.3 * ((kx - 1) * 0.5 - 1) + 0.8
        sy = 0.3 * ((ky - 1) * 0.5 - 1) + 0.8
    elif isinstance(sigma, numbers.Number):
        sx = sy = float(sigma)
    else:
        s = list(sigma)
        sx, sy = (s[0], s[0]) if len(s) == 1 else (s[0], s[1])
    if sx <= 0 or sy <= 0:
        raise ValueError(f"gaussian_blur: sigma must be positive, got {sigma}")
    x = _as_float(a)
    xp = pad(x, (kx // 2, ky // 2), padding_mode="reflect")
    h, w = a.shape[-2:]
    wy, wx = _gauss1d(ky, sy).astype(x.dtype), _gauss1d(kx, sx).astype(x.dtype)
    tmp = sum(wy[k] * xp[..., k:k + h, :] for k in range(ky))  # loop over taps, not pixels
    out = sum(wx[k] * tmp[..., :, k:k + w] for k in range(kx))
    return _back(out, a)


# ---- colour --------------------------------------------------------------------------------
def rgb_to_grayscale(a, num_output_channels=1):
    """ITU-R 601-2 luma: 0.2989 R + 0.587 G + 0.114 B (a 1-channel image is returned as is)."""
    if a.shape[-3] == 1:
        g = _as_float(a)
    else:
        x = _as_float(a)
        g = (0.2989 * x[..., 0, :, :] + 0.587 * x[..., 1, :, :] +
             0.114 * x[..., 2, :, :])[..., None, :, :].astype(x.dtype)
    if num_output_channels == 3:
        g = np.repeat(g, 3, axis=-3)
    return _back(g, a)


def _blend(a, other, ratio):
    bound = _bound(a)
    x = _as_float(a)
    return _back(np.clip(ratio * x + (1.0 - ratio) * other, 0, bound), a)


def _check_channels(a, who, allowed=(1, 3)):
    if a.ndim < 3 or a.shape[-3] not in allowed:
        raise ValueError(f"{who}: expected (..., C, H, W) with C in {allowed}, got {a.shape}")


def adjust_brightness(a, brightness_factor):
    """``clip(factor * image)``."""
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    return _blend(a, 0.0, brightness_factor)


def adjust_contrast(a, contrast_factor):
    """Blend with the mean grey level of each image."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _check_channels(a, "adjust_contrast")
    g = _as_float(rgb_to_grayscale(_as_float(a)))
    mean = g.mean(axis=(-3, -2, -1), keepdims=True)
    return _blend(a, mean, contrast_factor)


def adjust_saturation(a, saturation_factor):
    """Blend with the image's greyscale version."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _check_channels(a, "adjust_saturation")
    if a.shape[-3] == 1:
        return a.copy()
    return _blend(a, _as_float(rgb_to_grayscale(_as_float(a))), saturation_factor)


def adjust_hue(a, hue_factor):
    """Shift the hue (HSV) by ``hue_factor`` of a full turn, in [-0.5, 0.5]."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check_channels(a, "adjust_hue")
    if a.shape[-3] == 1:
        return a.copy()
    x = _as_float(a) / _bound(a)
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    maxc = np.maximum(np.maximum(r, g), b)
    minc = np.minimum(np.minimum(r, g), b)
    delta = maxc - minc
    safe = np.where(delta == 0, 1, delta)
    s = np.where(maxc == 0, 0, delta / np.where(maxc == 0, 1, maxc))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta == 0, 0.0, (h / 6.0) % 1.0)
    h = (h + hue_factor) % 1.0
    v = maxc
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    sel = [i == k for k in range(6)]
    out_r = np.select(sel, [v, q, p, p, t, v])
    out_g = np.select(sel, [t, v, v, q, p, p])
    out_b = np.select(sel, [p, p, t, v, v, q])
    out = np.stack([out_r, out_g, out_b], axis=-3).astype(_as_float(a).dtype) * _bound(a)
    return _back(out, a)


# ---- erase, normalise, dtype -----------------------------------------------------------------
def erase(a, i, j, h, w, v, inplace=False):
    """Set the box ``[i:i+h, j:j+w]`` of every channel to ``v`` (a scalar or an array that
    broadcasts to (..., C, h, w))."""
    out = a if inplace else a.copy()
    out[..., i:i + h, j:j + w] = v
    return out


def normalize(a, mean, std, inplace=False):
    """``(image - mean[c]) / std[c]`` per channel (float images only)."""
    if a.dtype.kind != "f":
        raise TypeError(f"normalize: input should be a float image, got dtype {a.dtype}")
    _check_image(a, "normalize")
    if a.ndim < 3:
        raise ValueError(f"normalize: expected (..., C, H, W), got shape {a.shape}")
    mean = np.asarray(mean, a.dtype).reshape(-1, 1, 1)
    std = np.asarray(std, a.dtype).reshape(-1, 1, 1)
    if np.any(std == 0):
        raise ValueError(f"std evaluated to zero after conversion to {a.dtype}, leading to "
                         f"division by zero.")
    if mean.shape[0] not in (1, a.shape[-3]) or std.shape[0] not in (1, a.shape[-3]):
        raise ValueError(f"normalize: {a.shape[-3]} channels, mean has {mean.shape[0]} and std "
                         f"{std.shape[0]} values")
    if inplace:
        a -= mean
        a /= std
        return a
    return (a - mean) / std


def to_dtype(a, dtype, scale=False):
    """Convert to ``dtype``; with ``scale`` map value ranges (integers [0, max] <-> floats
    [0, 1])."""
    dtype = np.dtype(dtype)
    if not scale or a.dtype.kind == dtype.kind == "f" or a.dtype == dtype:
        return a.astype(dtype)
    if dtype.kind == "f":
        if a.dtype.kind not in "iu":
            return a.astype(dtype)
        return (a.astype(dtype) / np.asarray(np.iinfo(a.dtype).max, dtype)).astype(dtype)
    if a.dtype.kind == "f":
        mx = float(np.iinfo(dtype).max)
        return np.clip(a * (mx + 1.0 - 1e-3), 0, mx).astype(dtype)
    src, dst = np.iinfo(a.dtype).max, np.iinfo(dtype).max
    return (a.astype(np.float64) * (dst / src)).round().astype(dtype)
