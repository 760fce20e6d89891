"""Confidence-gated fusion: a small gate reads an item's parts and says, per item, how much each one counts, so a
vague title ("a dog runs") can lean on the photo while a precise one keeps the lead."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion


class GatedFusion(FeatureFusion):
    """sum_m g_m x_m over the present parts, with g = softmax over the present modalities of gate([x_1; ...; x_m;
    cosines of every pair; mask]); the pair cosines tell the gate whether the parts agree.

    The gate's last layer starts near zero, so the fusion starts as the plain mean of the present parts. hidden:
    the gate's width; project: a linear map per modality into dim first (needed when in_dims differ from dim).
    """

    def __init__(self, in_dims: Sequence[int], dim: int, hidden: int = 64, dropout: float = 0.1,
                 project: bool = False):
        super().__init__(in_dims, dim)
        if not project and any(d != dim for d in self.in_dims):
            raise BadInput(f"GatedFusion: in_dims {list(self.in_dims)} differ from dim {dim}; set project")
        if hidden < 1:
            raise BadInput(f"GatedFusion: hidden must be >= 1, got {hidden}")
        self.projections = nn.ModuleList(nn.Linear(d, dim) for d in self.in_dims) if project else None
        self.pairs = [(i, j) for i in range(self.modalities) for j in range(i + 1, self.modalities)]
        width = dim * self.modalities + len(self.pairs) + self.modalities
        self.gate = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, hidden), nn.GELU(),
                                  nn.Linear(hidden, self.modalities))
        nn.init.normal_(self.gate[-1].weight, std=1e-3)
        nn.init.zeros_(self.gate[-1].bias)

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        parts = self._projected(parts, mask)
        weights = self._weights(parts, mask)
        return sum(weights[:, i, None] * part for i, part in enumerate(parts))

    def modality_weights(self, parts: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """(n, m) weight of each modality per item (0 where missing, rows sum to 1)."""
        mask = self._checked_mask(parts, mask)
        present = [p * mask[:, i, None].to(p.dtype) for i, p in enumerate(parts)]
        return self._weights(self._projected(present, mask), mask)

    def _projected(self, parts: list[Tensor], mask: Tensor) -> list[Tensor]:
        """The parts in dim (a missing part stays zero, not its projection's bias)."""
        if self.projections is None:
            return parts
        return [projection(part) * mask[:, i, None].to(part.dtype)
                for i, (projection, part) in enumerate(zip(self.projections, parts))]

    def _weights(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        agreement = [F.cosine_similarity(parts[i], parts[j], dim=1)[:, None] for i, j in self.pairs]
        logits = self.gate(torch.cat([*parts, *agreement, mask.to(parts[0].dtype)], dim=1))
        return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, hidden={self.gate[-1].in_features}"
