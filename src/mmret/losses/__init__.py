"""Metric-learning losses for training retrieval towers, each a torch.nn.Module configured by its constructor.

One call convention for all of them (parsed in pairs.py); embeddings need not be normalised, the losses do it:

    loss(a, b)                a batch of matched cross-modal pairs: row i of a matches row i of b, and
                              every other row of the batch is a negative (labels are the identity)
    loss(a, b, labels=l)      the same pairs with class labels shared by a_i and b_i: a_i matches every b_j
                              with l_j == l_i (several captions of one image, several images of one class)
    loss(x, labels=l)         one labelled batch (contrastive, triplet, smooth_ap, listnet only): each row is
                              compared with every other row, never with itself
    loss(a, b, y)             contrastive only: the n pairs (a_i, b_i) with binary similarity labels y

Query-based losses (infonce, triplet, smooth_ap, listnet) take `symmetric`: for two batches, average the
a -> b direction with b -> a. vsepp always counts both directions; contrastive and sigmoid are symmetric.
"""
from __future__ import annotations

from torch import nn

from ..errors import BadInput
from .contrastive import ContrastiveLoss
from .infonce import InfoNCELoss
from .listnet import ListNetLoss
from .sigmoid import SigmoidLoss
from .smooth_ap import SmoothAPLoss
from .triplet import AllTripletsMiner, BatchHardMiner, SemiHardMiner, TripletLoss
from .vsepp import MaxViolationLoss

LOSSES: dict[str, type[nn.Module]] = {
    "contrastive": ContrastiveLoss,
    "infonce": InfoNCELoss,
    "sigmoid": SigmoidLoss,
    "triplet": TripletLoss,
    "vsepp": MaxViolationLoss,
    "smooth_ap": SmoothAPLoss,
    "listnet": ListNetLoss,
}


def build_loss(name: str, **kwargs) -> nn.Module:
    """The loss registered under name, constructed with kwargs: build_loss("infonce", init_temperature=0.05)."""
    if name not in LOSSES:
        raise BadInput(f"unknown loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name](**kwargs)


__all__ = [
    "LOSSES",
    "AllTripletsMiner",
    "BatchHardMiner",
    "ContrastiveLoss",
    "InfoNCELoss",
    "ListNetLoss",
    "MaxViolationLoss",
    "SemiHardMiner",
    "SigmoidLoss",
    "SmoothAPLoss",
    "TripletLoss",
    "build_loss",
]
