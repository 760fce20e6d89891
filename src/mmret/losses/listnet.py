"""ListNet's listwise loss (Cao et al. 2007), top-one form."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .distances import cosine_matrix
from .pairs import make_pairs, mean_or_zero, over_directions


class ListNetLoss(nn.Module):
    """Cross-entropy from the target distribution over a query's gallery list to softmax(cos / temperature).

    The target is the relevance normalised to sum 1, i.e. ListNet's top-one probability with φ = log; for
    binary relevance that is uniform over the positives. Queries without a positive are left out.

        loss(x, labels=l)       each row of x ranks the rest of the batch
        loss(a, b)              each a_i ranks all of b, where b_i is the only relevant item;
        loss(a, b, labels=l)    relevant items share the label; if symmetric, averaged with b ranking a
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = True):
        super().__init__()
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, a: Tensor, b: Tensor | None = None, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        similarities = cosine_matrix(pairs.queries, pairs.gallery)
        return over_directions(self._one_direction, similarities, pairs, self.symmetric and b is not None)

    def _one_direction(self, similarities: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        # a finite fill rather than -inf: 0 target × -inf log-probability would be NaN
        logits = (similarities / self.temperature).masked_fill(~valid, torch.finfo(similarities.dtype).min)
        relevance = positive.to(similarities.dtype)
        target = relevance / relevance.sum(1, keepdim=True).clamp_min(1)
        cross_entropy = -(target * logits.log_softmax(1)).sum(1)
        return mean_or_zero(cross_entropy[positive.any(1)])

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, symmetric={self.symmetric}"
