"""The feature-level fusion interface: m modality vectors of an item (some possibly missing) -> one vector.

    fusion = build_fusion("attention", in_dims=(384, 384), dim=384)
    fused = fusion([image_vectors, text_vectors], mask)   # mask (n, m) bool, True where the modality is present

Every module is configured by its constructor and computes in `fuse`; `forward` checks the inputs and zeroes the
missing parts, so no module can read a missing modality's values. The output is not normalised: retrieval
callers L2-normalise it (fusion.vectors does at the numpy boundary). `adapt_query` is the identity unless the
module also learns where queries go (fusion/query_head.py); search applies it to text queries of fused items.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import BadInput


class FeatureFusion(nn.Module):
    def __init__(self, in_dims: Sequence[int], dim: int):
        super().__init__()
        if len(in_dims) < 1 or any(d <= 0 for d in in_dims) or dim <= 0:
            raise BadInput(f"{type(self).__name__}: needs positive in_dims and dim, got {list(in_dims)} and {dim}")
        self.in_dims = tuple(int(d) for d in in_dims)
        self.dim = int(dim)

    @property
    def modalities(self) -> int:
        return len(self.in_dims)

    def forward(self, parts: Sequence[Tensor], mask: Tensor | None = None) -> Tensor:
        mask = self._checked_mask(parts, mask)
        present = [part * mask[:, i, None].to(part.dtype) for i, part in enumerate(parts)]
        return self.fuse(present, mask)

    def fuse(self, parts: list[Tensor], mask: Tensor) -> Tensor:
        """(n, dim) from the parts (missing ones are zero) and the (n, m) bool mask of present ones."""
        raise NotImplementedError

    def adapt_query(self, queries: Tensor) -> Tensor:
        """(n, dim) query vectors moved into the space the fused items live in: as they are, unless the module
        learns a query side (fusion/query_head.py)."""
        return queries

    def _checked_mask(self, parts: Sequence[Tensor], mask: Tensor | None) -> Tensor:
        name = type(self).__name__
        if len(parts) != self.modalities:
            raise BadInput(f"{name}: expected {self.modalities} parts, got {len(parts)}")
        n = parts[0].shape[0]
        for i, (part, d) in enumerate(zip(parts, self.in_dims)):
            if part.ndim != 2 or part.shape != (n, d):
                raise BadInput(f"{name}: part {i} must have shape ({n}, {d}), got {tuple(part.shape)}")
        if mask is None:
            return torch.ones(n, self.modalities, dtype=torch.bool, device=parts[0].device)
        if mask.shape != (n, self.modalities):
            raise BadInput(f"{name}: mask must have shape ({n}, {self.modalities}), got {tuple(mask.shape)}")
        mask = mask.bool()
        if not mask.any(dim=1).all():
            rows = torch.nonzero(~mask.any(dim=1)).flatten()[:5].tolist()
            raise BadInput(f"{name}: rows {rows} have no modality present; an item needs at least one")
        return mask

    def extra_repr(self) -> str:
        return f"in_dims={list(self.in_dims)}, dim={self.dim}"
