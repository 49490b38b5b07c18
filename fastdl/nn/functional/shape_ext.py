"""``fastdl.nn.functional``: pixel (un)shuffle and channel shuffle — pure rearrangements
(a reshape, a permute, a reshape), differentiable through those ops.
"""
from __future__ import annotations

from ._args import _tensor as _t

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]


def _factor(r, name, what):
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"{name}: {what} must be a positive int, got {r!r}")
    return r


def pixel_shuffle(input, upscale_factor):
    """(*, C·r², H, W) → (*, C, H·r, W·r): ``out[..., c, h·r+i, w·r+j] =
    in[..., c·r² + i·r + j, h, w]`` (sub-pixel convolution's rearrangement).

    Example: ``F.pixel_shuffle(fastdl.randn(1, 8, 3, 3), 2).shape == (1, 2, 6, 6)``
    """
    t = _t(input)
    r = _factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    if t.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {t.ndim} dimension(s)")
    C, H, W = t.shape[-3:]
    if C % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={C} "
                           f"is not divisible by {r * r}")
    batch = tuple(t.shape[:-3])
    oc = C // (r * r)
    x = t.reshape(-1, oc, r, r, H, W).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(*batch, oc, H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """The inverse of ``pixel_shuffle``: (*, C, H·r, W·r) → (*, C·r², H, W).

    Example: ``F.pixel_unshuffle(fastdl.randn(1, 2, 6, 6), 2).shape == (1, 8, 3, 3)``
    """
    t = _t(input)
    r = _factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    if t.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {t.ndim} dimension(s)")
    C, H, W = t.shape[-3:]
    if H % r or W % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but input of shape {tuple(t.shape)} is not "
                           f"divisible by {r}")
    batch = tuple(t.shape[:-3])
    x = t.reshape(-1, C, H // r, r, W // r, r).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(*batch, C * r * r, H // r, W // r)


def channel_shuffle(input, groups):
    """Shuffle the channels of (N, C, *) in ``groups``: view C as (groups, C/groups),
    transpose to (C/groups, groups), flatten (ShuffleNet).

    Example: ``F.channel_shuffle(fastdl.arange(4.0).reshape(1, 4, 1, 1), 2)`` orders the
    channels 0, 2, 1, 3.
    """
    t = _t(input)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"Number of groups to divide channels in must be positive. Value of "
                         f"groups:{groups}")
    if t.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {t.ndim} dimension(s)")
    N, C = t.shape[0], t.shape[1]
    if C % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {C} channels "
                           f"and {groups} groups.")
    rest = tuple(t.shape[2:])
    x = t.reshape(N, groups, C // groups, -1).transpose(1, 2)
    return x.reshape(N, C, *rest)


native_channel_shuffle = channel_shuffle
