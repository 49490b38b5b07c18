"""Loss layers: ``MultiMarginLoss``, ``MultiLabelMarginLoss``, ``MultiLabelSoftMarginLoss``,
``TripletMarginWithDistanceLoss``, ``CTCLoss`` and the deprecated ``NLLLoss2d`` (PyTorch's
names, arguments and defaults; each forwards to ``fastdl.nn.functional``)."""
from __future__ import annotations

from .. import functional as F
from .loss import NLLLoss, _Loss, _WeightedLoss

__all__ = ["MultiMarginLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss",
           "TripletMarginWithDistanceLoss", "CTCLoss", "NLLLoss2d"]


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (``F.multi_margin_loss``).
    Example: ``nn.MultiMarginLoss()(fastdl.randn(3, 5), fastdl.tensor([1, 0, 4]))``"""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got {p}")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: weight must be 1-D, got shape "
                             f"{tuple(weight.shape)}")
        self.p, self.margin = p, margin

    def forward(self, input, target):  # noqa: A002
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss (``F.multilabel_margin_loss``); targets end at the first -1.
    Example: ``nn.MultiLabelMarginLoss()(x, fastdl.tensor([[3, 0, -1, 1]]))``"""

    def forward(self, input, target):  # noqa: A002
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-vs-all logistic loss (``F.multilabel_soft_margin_loss``).
    Example: ``nn.MultiLabelSoftMarginLoss()(x, y)`` for (N, C) scores and 0/1 targets."""

    def forward(self, input, target):  # noqa: A002
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet loss with a custom distance (``F.triplet_margin_with_distance_loss``).
    Example: ``nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance())``"""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, "
                             f"got {margin}")
        self.distance_function = distance_function if distance_function is not None \
            else F.pairwise_distance
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (``F.ctc_loss``, C++ forward-backward).
    Example: ``nn.CTCLoss()(log_probs, targets, input_lengths, target_lengths)``"""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)


class NLLLoss2d(NLLLoss):
    """Deprecated alias of ``NLLLoss`` (which handles (N, C, H, W) input), kept for old
    model definitions. Example: ``nn.NLLLoss2d()(logp, target)``"""
