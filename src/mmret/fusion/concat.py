"""Concatenation of the modality vectors (and their presence flags) followed by a linear or MLP projection."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import FeatureFusion


class ConcatFusion(FeatureFusion):
    """Linear or MLP over [x_1; ...; x_m; mask]: the flags let the projection tell a missing part from a zero one.

    hidden: 0 for a linear projection, else the width of the MLP's hidden layer.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, hidden: int = 0, dropout: float = 0.0):
        super().__init__(in_dims, dim)
        width = sum(self.in_dims) + self.modalities
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout else []
        layers += [nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, dim)] if hidden else [nn.Linear(width, dim)]
        self.projection = nn.Sequential(*layers)

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        return self.projection(torch.cat([*parts, mask.to(parts[0].dtype)], dim=1))
