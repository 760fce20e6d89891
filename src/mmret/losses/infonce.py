"""InfoNCE over a batch of matched pairs with in-batch negatives: the CLIP loss (Radford et al. 2021)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .distances import cosine_matrix
from .pairs import make_pairs, over_directions
from .temperature import LogitScale


class InfoNCELoss(nn.Module):
    """Cross-entropy of each a_i picking its b_i among all b (and, if symmetric, the reverse), on cos / temperature.

    The temperature is learnable by default, stored as a log logit scale as in CLIP and kept within
    [min_temperature, max_temperature] (CLIP caps the logit scale at 100, i.e. temperature >= 0.01).

        loss(a, b)              matched pairs; the other rows of the batch are the negatives
        loss(a, b, labels=l)    every b_j with l_j == l_i is a correct answer for a_i (target spread evenly)
    """

    def __init__(
        self,
        init_temperature: float = 0.07,
        learnable: bool = True,
        min_temperature: float = 0.01,
        max_temperature: float = 1.0,
        label_smoothing: float = 0.0,
        symmetric: bool = True,
    ):
        super().__init__()
        self.logit_scale = LogitScale(1 / init_temperature, learnable, lower=1 / max_temperature, upper=1 / min_temperature)
        self.label_smoothing = label_smoothing
        self.symmetric = symmetric

    @property
    def temperature(self) -> float:
        return 1 / self.logit_scale.value()

    def forward(self, a: Tensor, b: Tensor, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        logits = self.logit_scale() * cosine_matrix(a, b)
        return over_directions(self._cross_entropy, logits, pairs, self.symmetric)

    def _cross_entropy(self, logits: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        target = positive / positive.sum(1, keepdim=True)
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, symmetric={self.symmetric}"
