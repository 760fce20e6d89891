"""Attention fusion: one token per modality (its projected vector plus a learned modality embedding), a small
self-attention layer over the present tokens, and gated attention pooling that weighs each modality per item."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import BadInput
from .base import FeatureFusion


class AttentionFusion(FeatureFusion):
    """tokens -> multi-head self-attention (missing modalities masked as keys) + residual + LayerNorm ->
    per-token sigmoid gate and softmax pooling weight over the present tokens -> Linear(dim, dim)."""

    def __init__(self, in_dims: Sequence[int], dim: int, heads: int = 4, dropout: float = 0.0):
        super().__init__(in_dims, dim)
        if dim % heads:
            raise BadInput(f"AttentionFusion: dim {dim} is not divisible by heads {heads}")
        self.tokens = nn.ModuleList(nn.Linear(d, dim) for d in self.in_dims)
        self.modality_embeddings = nn.Parameter(torch.randn(self.modalities, dim) * 0.02)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.gate = nn.Linear(dim, 1)
        self.score = nn.Linear(dim, 1)
        self.output = nn.Linear(dim, dim)

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        tokens, weights = self._attend(parts, mask)
        return self.output((weights[:, :, None] * tokens).sum(dim=1))

    def modality_weights(self, parts: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        """(n, m) gated pooling weight of each modality per item (0 where missing): what the fusion attends to."""
        mask = self._checked_mask(parts, mask)
        return self._attend([p * mask[:, i, None].to(p.dtype) for i, p in enumerate(parts)], mask)[1]

    def _attend(self, parts: list[Tensor], mask: Tensor) -> tuple[Tensor, Tensor]:
        tokens = torch.stack([t(part) for t, part in zip(self.tokens, parts)], dim=1) + self.modality_embeddings
        attended, _ = self.attention(tokens, tokens, tokens, key_padding_mask=~mask, need_weights=False)
        tokens = self.norm(tokens + attended)
        scores = self.score(tokens).squeeze(-1).masked_fill(~mask, float("-inf"))
        return tokens, torch.softmax(scores, dim=1) * torch.sigmoid(self.gate(tokens)).squeeze(-1)
