"""Image grids and image files, with torchvision.utils' names and arguments.

``make_grid`` tiles a batch of images ``(B, C, H, W)`` into one ``(3, H', W')`` image;
``save_image`` writes a tensor (or a grid of a batch) as an 8-bit image file. PNG is written
by fastdl itself (zlib from the standard library), so no imaging package is needed; other
formats go through Pillow when it is installed.
"""
from __future__ import annotations

import math
import struct
import zlib

import numpy as np

__all__ = ["make_grid", "save_image"]


def _array(t, name):
    if hasattr(t, "numpy") and not isinstance(t, np.ndarray):
        t = t.detach().numpy() if hasattr(t, "detach") else t.numpy()
    a = np.asarray(t)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a numeric tensor, got dtype {a.dtype}")
    return a


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile images into a grid: ``tensor`` is ``(B, C, H, W)`` (or a list of ``(C, H, W)``
    images, or one ``(C, H, W)`` / ``(H, W)`` image); ``nrow`` images per row, ``padding``
    pixels of ``pad_value`` around each. One-channel images become three-channel.
    ``normalize=True`` maps ``value_range`` (default: the min and max of the batch, or of each
    image with ``scale_each``) to [0, 1] after clamping to it. Returns a float Tensor
    ``(3, rows·(H+p)+p, cols·(W+p)+p)`` (a single image comes back as it is, as torchvision
    does).

    Example: ``grid = make_grid(samples, nrow=8, normalize=True)``"""
    from .. import tensor as _tensor
    if isinstance(tensor, (list, tuple)):
        a = np.stack([_array(t, "make_grid") for t in tensor])
    else:
        a = _array(tensor, "make_grid")
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"make_grid: padding must be a non-negative int, got {padding!r}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = np.concatenate([a, a, a], 0)
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected (B, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{a.shape}")
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    a = a.astype(np.float32, copy=True)
    if normalize:
        if value_range is not None and (not isinstance(value_range, (tuple, list)) or
                                        len(value_range) != 2):
            raise ValueError(f"make_grid: value_range must be a (min, max) tuple, got "
                             f"{value_range!r}")

        def norm(x):
            lo, hi = (value_range if value_range is not None else
                      (float(x.min()), float(x.max())))
            np.clip(x, lo, hi, out=x)
            x -= lo
            x /= max(hi - lo, 1e-5)

        if scale_each:
            for img in a:
                norm(img)
        else:
            norm(a)
    if a.shape[0] == 1:
        return _tensor(a[0])
    B, C, H, W = a.shape
    xmaps = min(nrow, B)
    ymaps = int(math.ceil(B / xmaps))
    h, w = H + padding, W + padding
    grid = np.full((C, h * ymaps + padding, w * xmaps + padding), pad_value, np.float32)
    for k in range(B):
        y, x = divmod(k, xmaps)
        grid[:, y * h + padding:y * h + padding + H, x * w + padding:x * w + padding + W] = a[k]
    return _tensor(grid)


def _png_bytes(img):
    """PNG of an 8-bit (H, W), (H, W, 3) or (H, W, 4) array."""
    if img.ndim == 2:
        color, ch = 0, 1
    else:
        ch = img.shape[2]
        color = {1: 0, 3: 2, 4: 6}[ch]
        if ch == 1:
            img = img[:, :, 0]
    h, w = img.shape[:2]
    raw = np.zeros((h, 1 + w * ch), np.uint8)   # filter byte 0 on every scanline
    raw[:, 1:] = img.reshape(h, w * ch)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def save_image(tensor, fp, format=None, **kwargs):  # noqa: A002 (torchvision's name)
    """Save ``tensor`` as an image: a batch is tiled by ``make_grid(tensor, **kwargs)``;
    values in [0, 1] become bytes as ``(x·255 + 0.5)`` clamped to [0, 255]. ``fp`` is a path
    or a binary file object; ``format`` defaults to the file extension (PNG is written
    without any imaging package; other formats need Pillow).

    Example: ``save_image(fake[:64], "samples.png", nrow=8, normalize=True)``"""
    grid = make_grid(tensor, **kwargs)
    a = _array(grid, "save_image")
    if a.ndim == 2:
        a = a[None]
    img = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    fmt = format
    if fmt is None and isinstance(fp, (str, bytes)) or hasattr(fp, "__fspath__"):
        import os
        ext = os.path.splitext(os.fspath(fp))[1].lower().lstrip(".")
        fmt = fmt or (ext if isinstance(ext, str) else ext.decode())
    fmt = (fmt or "png").lower()
    if fmt == "png":
        data = _png_bytes(img if img.shape[2] != 1 else img[:, :, 0])
        if hasattr(fp, "write"):
            fp.write(data)
        else:
            with open(fp, "wb") as f:
                f.write(data)
        return
    try:
        from PIL import Image
    except ImportError as e:
        raise ValueError(f"save_image: format {fmt!r} needs Pillow (pip install pillow); "
                         f"PNG works without it") from e
    Image.fromarray(img if img.shape[2] != 1 else img[:, :, 0]).save(fp, format=fmt.upper())
