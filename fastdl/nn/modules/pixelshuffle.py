"""``PixelShuffle``, ``PixelUnshuffle`` and ``ChannelShuffle`` (channel rearrangements)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r) (``F.pixel_shuffle``).
    Example: ``nn.PixelShuffle(3)(fastdl.randn(1, 9, 4, 4)).shape == (1, 1, 12, 12)``"""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):  # noqa: A002
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W) (``F.pixel_unshuffle``).
    Example: ``nn.PixelUnshuffle(3)(fastdl.randn(1, 1, 12, 12)).shape == (1, 9, 4, 4)``"""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):  # noqa: A002
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Shuffle the channels of (N, C, *) in ``groups`` (``F.channel_shuffle``).
    Example: ``nn.ChannelShuffle(2)(fastdl.randn(1, 4, 2, 2))``"""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):  # noqa: A002
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
