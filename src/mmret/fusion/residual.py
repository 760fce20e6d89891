"""A fusion module added to the plain mean of the present parts: the module only has to learn a correction, which
a few thousand training pairs can teach, instead of the whole map from scratch."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion


class ResidualFusion(FeatureFusion):
    """mean of the present parts + scale * inner(parts), with a learnable scale (started small, not at zero, so
    that gradients reach the inner module from the first step). The parts must all have the output's size."""

    def __init__(self, inner: FeatureFusion, scale: float = 0.1):
        super().__init__(inner.in_dims, inner.dim)
        if any(d != inner.dim for d in inner.in_dims):
            raise BadInput(f"ResidualFusion: in_dims {list(inner.in_dims)} must all equal dim {inner.dim}")
        self.inner = inner
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        weights = mask.to(parts[0].dtype) / mask.sum(dim=1, keepdim=True)
        mean = sum(weights[:, i, None] * part for i, part in enumerate(parts))
        return mean + self.scale * self.inner.fuse(parts, mask)

    def adapt_query(self, queries: Tensor) -> Tensor:
        return self.inner.adapt_query(queries)
