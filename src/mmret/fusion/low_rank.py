"""Low-rank multimodal fusion (LMF, Liu et al., ACL 2018): tensor fusion with its weight tensor factorised into
`rank` modality-specific factors, computed without ever forming the outer product."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion
from .tensor import with_one


class LowRankTensorFusion(FeatureFusion):
    """sum_r prod_m (W_m^(r) [x_m; 1]) + b, with W_m^(r) of shape (dim, d_m + 1).

    At rank >= the full tensor's rank it can express any TensorFusion (reduce=0) exactly.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, rank: int = 8):
        super().__init__(in_dims, dim)
        if rank < 1:
            raise BadInput(f"LowRankTensorFusion: rank must be >= 1, got {rank}")
        self.rank = rank
        self.factors = nn.ParameterList(nn.Parameter(torch.randn(rank, d + 1, dim) * (d + 1) ** -0.5)
                                        for d in self.in_dims)
        self.bias = nn.Parameter(torch.zeros(dim))

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        product = None
        for factor, part in zip(self.factors, parts):
            projected = torch.einsum("nd,rde->rne", with_one(part), factor)  # (rank, n, dim)
            product = projected if product is None else product * projected
        return product.sum(dim=0) + self.bias

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}"
