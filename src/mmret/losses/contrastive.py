"""Margin contrastive loss over pairs (Hadsell, Chopra and LeCun 2006)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadInput
from .distances import check_distance, distance_matrix, paired_distance
from .pairs import make_pairs, mean_or_zero


class ContrastiveLoss(nn.Module):
    """y D²/2 + (1 - y) max(0, margin - D)²/2, averaged over pairs; y = 1 for a similar pair.

    D is the euclidean distance between L2-normalised vectors (in [0, 2]) or the cosine distance 1 - cos.

        loss(a, b, y)           the n pairs (a_i, b_i) with binary labels y (n,)
        loss(a, b)              matched pairs: all n² pairs (a_i, b_j), similar iff i == j
        loss(a, b, labels=l)    all n² pairs (a_i, b_j), similar iff l_i == l_j
        loss(x, labels=l)       all ordered pairs of distinct rows of x, similar iff same label
    """

    def __init__(self, margin: float = 1.0, distance: str = "euclidean"):
        super().__init__()
        self.margin = margin
        self.distance = check_distance(distance)

    def forward(self, a: Tensor, b: Tensor | None = None, y: Tensor | None = None, *, labels: Tensor | None = None) -> Tensor:
        if y is not None:
            if b is None or labels is not None:
                raise BadInput("pair labels y go with two batches a, b and no class labels")
            if y.shape != (len(a),):
                raise BadInput(f"y must have shape ({len(a)},), got {tuple(y.shape)}")
            return self.pair_losses(paired_distance(a, b, self.distance), y).mean()
        pairs = make_pairs(a, b, labels)
        losses = self.pair_losses(distance_matrix(pairs.queries, pairs.gallery, self.distance), pairs.positive)
        return mean_or_zero(losses[pairs.valid])

    def pair_losses(self, distances: Tensor, similar: Tensor) -> Tensor:
        """The per-pair terms for distances D and labels y of the same shape."""
        similar = similar.to(distances.dtype)
        pull = distances.square()
        push = F.relu(self.margin - distances).square()
        return (similar * pull + (1 - similar) * push) / 2

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}"
