"""Query-side adaptation: the items are fused by another registered fusion, and a trained residual head moves
each caption query into the space of those fused items, so that queries and items meet in a learned space
instead of the text tower's (where a query is only as close to an item as to its title)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion


class QueryHeadFusion(FeatureFusion):
    """Items: `items` (a registered fusion built with `items_options`); queries: q + scale * MLP(q), with a learnable
    scale started small (0.1) so that training starts from the unadapted queries. hidden: the MLP's width."""

    def __init__(self, in_dims: Sequence[int], dim: int, items: str = "gated", items_options: dict | None = None,
                 hidden: int = 384, dropout: float = 0.1):
        super().__init__(in_dims, dim)
        from . import build_fusion  # the registry imports this module

        if items == "query_head":
            raise BadInput("QueryHeadFusion: items must be another fusion than query_head")
        if hidden < 1:
            raise BadInput(f"QueryHeadFusion: hidden must be >= 1, got {hidden}")
        self.items = build_fusion(items, in_dims, dim, **(items_options or {}))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.scale = nn.Parameter(torch.tensor(0.1))

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        return self.items.fuse(parts, mask)

    def adapt_query(self, queries: Tensor) -> Tensor:
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise BadInput(f"QueryHeadFusion: queries must have shape (n, {self.dim}), got {tuple(queries.shape)}")
        return queries + self.scale * self.head(queries)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, hidden={self.head[1].out_features}"
