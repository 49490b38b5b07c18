"""``AlphaDropout``, ``FeatureAlphaDropout`` and ``Dropout3d``."""
from __future__ import annotations

from .. import functional as F
from .dropout import _DropoutNd

__all__ = ["AlphaDropout", "FeatureAlphaDropout", "Dropout3d"]


class AlphaDropout(_DropoutNd):
    """Alpha dropout (``F.alpha_dropout``): keeps SELU activations' mean and variance.
    Example: ``nn.AlphaDropout(0.2)(fastdl.randn(4, 8))``"""

    def forward(self, input):  # noqa: A002
        return F.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels (``F.feature_alpha_dropout``).
    Example: ``nn.FeatureAlphaDropout(0.2)(fastdl.randn(2, 4, 8, 8))``"""

    def forward(self, input):  # noqa: A002
        return F.feature_alpha_dropout(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole (N, C) volumes of an (N, C, D, H, W) input (``F.dropout3d``).
    Example: ``nn.Dropout3d(0.5)(fastdl.randn(2, 3, 4, 4, 4))``"""

    def forward(self, input):  # noqa: A002
        return F.dropout3d(input, self.p, self.training, self.inplace)
