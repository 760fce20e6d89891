"""The call convention shared by the losses, turned into queries, a gallery and masks over their pairs.

    loss(a, b)                matched pairs: row i of a matches row i of b and nothing else
    loss(a, b, labels=l)      labelled pairs: a_i and b_j match iff l_i == l_j (a_i and b_i share l_i)
    loss(x, labels=l)         one labelled batch: x_i and x_j match iff l_i == l_j, an item never meets itself
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import BadInput


@dataclass(frozen=True)
class Pairs:
    queries: Tensor  # (nq, d)
    gallery: Tensor  # (ng, d)
    positive: Tensor  # (nq, ng) bool: the pair matches
    valid: Tensor  # (nq, ng) bool: the pair counts at all (False only for an item against itself)


def make_pairs(a: Tensor, b: Tensor | None = None, labels: Tensor | None = None) -> Pairs:
    _check_batch("a", a)
    if b is None:
        if labels is None:
            raise BadInput("a single batch needs labels=...; for matched pairs pass both a and b")
        same = _same_labels(labels, a)
        not_self = ~torch.eye(len(a), dtype=torch.bool, device=a.device)
        return Pairs(a, a, same & not_self, not_self)
    _check_batch("b", b)
    if b.shape != a.shape:
        raise BadInput(f"paired batches must have the same shape, got a {tuple(a.shape)} and b {tuple(b.shape)}")
    if labels is None:
        labels = torch.arange(len(a), device=a.device)
    same = _same_labels(labels, a)
    return Pairs(a, b, same, torch.ones_like(same))


def over_directions(loss: Callable[[Tensor, Tensor, Tensor], Tensor], scores: Tensor, pairs: Pairs, both: bool) -> Tensor:
    """loss(scores, positive, valid) for queries against the gallery and, if both, the mean with the reverse."""
    forward = loss(scores, pairs.positive, pairs.valid)
    if not both:
        return forward
    return (forward + loss(scores.T, pairs.positive.T, pairs.valid.T)) / 2


def mean_or_zero(values: Tensor) -> Tensor:
    """Mean that is 0 (still attached to the graph) when nothing is selected."""
    return values.sum() / max(values.numel(), 1)


def _check_batch(name: str, x: Tensor) -> None:
    if x.dim() != 2 or len(x) == 0:
        raise BadInput(f"{name} must be a non-empty (n, d) batch of embeddings, got shape {tuple(x.shape)}")


def _same_labels(labels: Tensor, x: Tensor) -> Tensor:
    labels = torch.as_tensor(labels, device=x.device)
    if labels.shape != (len(x),):
        raise BadInput(f"labels must have shape ({len(x)},), got {tuple(labels.shape)}")
    return labels[:, None] == labels[None, :]
