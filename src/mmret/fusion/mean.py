"""Weighted mean of the present modality vectors, the untrained baseline (and trainable: weights, projections)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion


class WeightedMeanFusion(FeatureFusion):
    """sum_m w_m p_m(x_m) / sum_m w_m over the present modalities, with w = softmax of learnable logits.

    weights: the starting weights (default equal); learnable: train them; project: a linear map per modality
    into dim (needed when in_dims differ from dim), started as the identity where the sizes match.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, weights: Sequence[float] | None = None,
                 learnable: bool = True, project: bool = False):
        super().__init__(in_dims, dim)
        weights = torch.ones(self.modalities) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if weights.shape != (self.modalities,) or (weights <= 0).any():
            raise BadInput(f"WeightedMeanFusion: weights must be {self.modalities} positive numbers, got {weights}")
        self.logits = nn.Parameter(weights.log(), requires_grad=learnable)
        if not project and any(d != dim for d in self.in_dims):
            raise BadInput(f"WeightedMeanFusion: in_dims {list(self.in_dims)} differ from dim {dim}; set project")
        self.projections = nn.ModuleList(_start_as_identity(nn.Linear(d, dim)) for d in self.in_dims) if project else None

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        if self.projections is not None:
            parts = [projection(part) for projection, part in zip(self.projections, parts)]
        weights = torch.softmax(self.logits, dim=0)[None, :] * mask.to(parts[0].dtype)
        weights = weights / weights.sum(dim=1, keepdim=True)
        return sum(weights[:, i, None] * part for i, part in enumerate(parts))


def _start_as_identity(linear: nn.Linear) -> nn.Linear:
    if linear.in_features == linear.out_features:
        with torch.no_grad():
            linear.weight.copy_(torch.eye(linear.in_features))
            linear.bias.zero_()
    return linear
