"""The shared frame of the losses that score a query's gallery list by cosine similarity over a temperature."""
from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from .distances import cosine_matrix
from .pairs import make_pairs, over_directions


class ListwiseLoss(nn.Module, ABC):
    """Holds temperature and symmetric, and runs a subclass's per-direction loss over the cosine matrix.

        loss(x, labels=l)       each row of x queries the rest of the batch
        loss(a, b)              each a_i queries all of b, where b_i is the only positive;
        loss(a, b, labels=l)    positives share the label; if symmetric, averaged with b querying a
    """

    def __init__(self, temperature: float, symmetric: bool = True):
        super().__init__()
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, a: Tensor, b: Tensor | None = None, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        similarities = cosine_matrix(pairs.queries, pairs.gallery)
        return over_directions(self._one_direction, similarities, pairs, self.symmetric and b is not None)

    @abstractmethod
    def _one_direction(self, similarities: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        """The loss of queries (rows) against the gallery (columns), given the pairs that match and count."""

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, symmetric={self.symmetric}"
