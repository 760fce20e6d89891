"""ListNet's listwise loss (Cao et al. 2007), top-one form."""
from __future__ import annotations

import torch
from torch import Tensor

from .listwise import ListwiseLoss
from .pairs import mean_or_zero


class ListNetLoss(ListwiseLoss):
    """Cross-entropy from the target distribution over a query's gallery list to softmax(cos / temperature).

    The target is the relevance normalised to sum 1, i.e. ListNet's top-one probability with φ = log; for
    binary relevance that is uniform over the positives. Queries without a positive are left out.
    Called as every ListwiseLoss.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = True):
        super().__init__(temperature, symmetric)

    def _one_direction(self, similarities: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        # a finite fill rather than -inf: 0 target × -inf log-probability would be NaN
        logits = (similarities / self.temperature).masked_fill(~valid, torch.finfo(similarities.dtype).min)
        relevance = positive.to(similarities.dtype)
        target = relevance / relevance.sum(1, keepdim=True).clamp_min(1)
        cross_entropy = -(target * logits.log_softmax(1)).sum(1)
        return mean_or_zero(cross_entropy[positive.any(1)])
