"""VSE++'s max-violation loss for cross-modal pairs (Faghri et al. 2018)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadInput
from .distances import cosine_matrix
from .pairs import make_pairs

REDUCTIONS = ("mean", "sum")


class MaxViolationLoss(nn.Module):
    """For each matched pair (a_i, b_i), a hinge against only the hardest in-batch negative, in both directions:
    max(0, m - s_ii + max_j s_ij) + max(0, m - s_ii + max_j s_ji) over non-matching j, s = cosine similarity.
    The per-pair terms are summed (as in the paper) or averaged (batch-size independent, the default).

        loss(a, b)              matched pairs; every other row is a negative
        loss(a, b, labels=l)    rows sharing a's label are not negatives
    """

    def __init__(self, margin: float = 0.2, reduction: str = "mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise BadInput(f"unknown reduction {reduction!r}; choose from {REDUCTIONS}")
        self.margin = margin
        self.reduction = reduction

    def forward(self, a: Tensor, b: Tensor, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        similarities = cosine_matrix(a, b)
        matched = similarities.diagonal()
        negatives = similarities.masked_fill(pairs.positive, -torch.inf)  # a row with no negative costs 0
        hardest_for_a = negatives.amax(1)
        hardest_for_b = negatives.amax(0)
        losses = F.relu(self.margin - matched + hardest_for_a) + F.relu(self.margin - matched + hardest_for_b)
        return losses.sum() if self.reduction == "sum" else losses.mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
