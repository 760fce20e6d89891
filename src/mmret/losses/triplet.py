"""Triplet margin loss and the in-batch miners that choose its triplets."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadInput
from .distances import check_distance, distance_matrix
from .pairs import make_pairs, mean_or_zero, over_directions

# (anchor, positive, negative) indices: anchors index the queries, positives and negatives the gallery.
Triplets = tuple[Tensor, Tensor, Tensor]


class AllTripletsMiner(nn.Module):
    """Every triplet the batch offers."""

    def forward(self, distances: Tensor, positive: Tensor, negative: Tensor) -> Triplets:
        return torch.nonzero(positive[:, :, None] & negative[:, None, :], as_tuple=True)


class BatchHardMiner(nn.Module):
    """One triplet per anchor: its farthest positive and its nearest negative (Hermans et al. 2017)."""

    def forward(self, distances: Tensor, positive: Tensor, negative: Tensor) -> Triplets:
        farthest_positive = distances.masked_fill(~positive, -torch.inf).argmax(1)
        nearest_negative = distances.masked_fill(~negative, torch.inf).argmin(1)
        anchors = torch.nonzero(positive.any(1) & negative.any(1)).squeeze(1)
        return anchors, farthest_positive[anchors], nearest_negative[anchors]


class SemiHardMiner(nn.Module):
    """Triplets whose negative is farther than the positive but still within the margin (Schroff et al. 2015)."""

    def __init__(self, margin: float):
        super().__init__()
        self.margin = margin

    def forward(self, distances: Tensor, positive: Tensor, negative: Tensor) -> Triplets:
        anchors, positives, negatives = AllTripletsMiner()(distances, positive, negative)
        to_positive = distances[anchors, positives]
        to_negative = distances[anchors, negatives]
        keep = (to_negative > to_positive) & (to_negative < to_positive + self.margin)
        return anchors[keep], positives[keep], negatives[keep]

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


MINERS = ("all", "batch_hard", "semi_hard")
REDUCTIONS = ("mean", "mean_nonzero")


class TripletLoss(nn.Module):
    """max(0, D(anchor, positive) - D(anchor, negative) + margin) over the mined triplets.

    reduction "mean_nonzero" (the default, as pytorch-metric-learning's AvgNonZeroReducer) averages over the
    triplets that still violate the margin, so easy triplets do not dilute the loss as training goes on;
    "mean" averages over every mined triplet. With no triplet (or none violating) the loss is 0.
    miner is "all", "batch_hard", "semi_hard" (with this loss's margin) or any module with the miners' call.

        loss(x, labels=l)       anchors, positives and negatives all from one labelled batch
        loss(a, b)              anchors from a, positives and negatives from b (matched pairs);
        loss(a, b, labels=l)    if symmetric, averaged with anchors from b against a
    """

    def __init__(
        self,
        margin: float = 0.2,
        distance: str = "euclidean",
        miner: str | nn.Module = "all",
        reduction: str = "mean_nonzero",
        symmetric: bool = True,
    ):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise BadInput(f"unknown reduction {reduction!r}; choose from {REDUCTIONS}")
        self.margin = margin
        self.distance = check_distance(distance)
        self.miner = miner if isinstance(miner, nn.Module) else _build_miner(miner, margin)
        self.reduction = reduction
        self.symmetric = symmetric

    def forward(self, a: Tensor, b: Tensor | None = None, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        distances = distance_matrix(pairs.queries, pairs.gallery, self.distance)
        return over_directions(self._one_direction, distances, pairs, self.symmetric and b is not None)

    def _one_direction(self, distances: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        with torch.no_grad():
            anchors, positives, negatives = self.miner(distances, positive, valid & ~positive)
        losses = F.relu(distances[anchors, positives] - distances[anchors, negatives] + self.margin)
        if self.reduction == "mean_nonzero":
            losses = losses[losses > 0]
        return mean_or_zero(losses)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}, reduction={self.reduction!r}, symmetric={self.symmetric}"


def _build_miner(name: str, margin: float) -> nn.Module:
    if name == "all":
        return AllTripletsMiner()
    if name == "batch_hard":
        return BatchHardMiner()
    if name == "semi_hard":
        return SemiHardMiner(margin)
    raise BadInput(f"unknown miner {name!r}; choose from {MINERS}")
