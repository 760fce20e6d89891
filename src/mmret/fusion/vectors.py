"""Feature-level fusion at the numpy boundary: float32 (n, d) part vectors in, L2-normalised fused vectors out;
and queries moved to the fused items' space."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base import FeatureFusion

CHUNK = 1024


def fuse_vectors(fusion: FeatureFusion, parts: Sequence[np.ndarray], mask: np.ndarray | None = None) -> np.ndarray:
    """(n, fusion.dim) unit float32 vectors of items from their parts; mask (n, m) bool marks the present ones
    (the rows of a missing part may hold anything)."""
    n = len(parts[0])
    mask = np.ones((n, len(parts)), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    was_training = fusion.training
    fusion.eval()
    try:
        with torch.no_grad():
            chunks = [F.normalize(fusion([torch.from_numpy(np.ascontiguousarray(p[i:i + CHUNK], dtype=np.float32))
                                          for p in parts], torch.from_numpy(mask[i:i + CHUNK])), dim=1)
                      for i in range(0, n, CHUNK)]
    finally:
        fusion.train(was_training)
    return torch.cat(chunks).numpy().astype(np.float32) if chunks else np.zeros((0, fusion.dim), np.float32)


def adapt_queries(fusion: FeatureFusion, queries: np.ndarray) -> np.ndarray:
    """(n, fusion.dim) unit float32 query vectors in the fused items' space (the fusion's query side, if any)."""
    was_training = fusion.training
    fusion.eval()
    try:
        with torch.no_grad():
            adapted = fusion.adapt_query(torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)))
    finally:
        fusion.train(was_training)
    return F.normalize(adapted, dim=1).numpy().astype(np.float32)
