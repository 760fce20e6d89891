"""Feature-level fusion at the numpy boundary: float32 (n, d) part vectors in, L2-normalised fused vectors out;
and queries moved to the fused items' space."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

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
    with _evaluating(fusion):
        chunks = [F.normalize(fusion([_tensor(p[i:i + CHUNK]) for p in parts], torch.from_numpy(mask[i:i + CHUNK])),
                              dim=1) for i in range(0, n, CHUNK)]
    return torch.cat(chunks).numpy().astype(np.float32) if chunks else np.zeros((0, fusion.dim), np.float32)


def adapt_queries(fusion: FeatureFusion, queries: np.ndarray) -> np.ndarray:
    """(n, fusion.dim) unit float32 query vectors in the fused items' space (the fusion's query side, if any)."""
    with _evaluating(fusion):
        adapted = fusion.adapt_query(_tensor(queries))
    return F.normalize(adapted, dim=1).numpy().astype(np.float32)


@contextmanager
def _evaluating(fusion: FeatureFusion) -> Iterator[None]:
    """The module in eval mode without gradients for the block, then back in the mode it was in."""
    was_training = fusion.training
    fusion.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        fusion.train(was_training)


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
