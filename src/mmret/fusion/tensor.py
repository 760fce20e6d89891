"""Tensor fusion (Zadeh et al., EMNLP 2017): the outer product of the modality vectors, each extended by a
constant 1, so the product holds every unimodal, bimodal, ... m-modal interaction; then a linear map to dim."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .base import FeatureFusion


def with_one(x: Tensor) -> Tensor:
    """[x; 1] per row."""
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)


def outer_product(parts: Sequence[Tensor]) -> Tensor:
    """(n, prod(d_m + 1)): the flattened outer product of the [x_m; 1], first modality slowest."""
    product = with_one(parts[0])
    for part in parts[1:]:
        product = (product[:, :, None] * with_one(part)[:, None, :]).flatten(1)
    return product


class TensorFusion(FeatureFusion):
    """Linear(prod(r_m + 1) -> dim) of the outer product of [z_m; 1], where z_m = x_m (reduce=0) or a linear
    reduction of x_m to `reduce` dimensions (TFN's modality subnetworks), which keeps it small at d = 384.

    A missing modality's z_m is zero, so only the interactions among the present modalities remain.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, reduce: int = 32):
        super().__init__(in_dims, dim)
        self.reductions = nn.ModuleList(nn.Linear(d, reduce) for d in self.in_dims) if reduce else None
        sizes = [reduce] * self.modalities if reduce else list(self.in_dims)
        width = 1
        for size in sizes:
            width *= size + 1
        self.projection = nn.Linear(width, dim)

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        if self.reductions is not None:
            parts = [r(part) * mask[:, i, None].to(part.dtype) for i, (r, part) in enumerate(zip(self.reductions, parts))]
        return self.projection(outer_product(parts))
