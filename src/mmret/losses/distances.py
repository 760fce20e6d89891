"""Distances and similarities between embeddings, always computed on L2-normalised vectors."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..errors import BadInput

DISTANCES = ("euclidean", "cosine")

# Floor under squared distances: keeps sqrt's gradient finite for identical vectors (e.g. an item against itself).
_MIN_SQUARED = 1e-12


def check_distance(kind: str) -> str:
    if kind not in DISTANCES:
        raise BadInput(f"unknown distance {kind!r}; choose from {DISTANCES}")
    return kind


def cosine_matrix(queries: Tensor, gallery: Tensor) -> Tensor:
    """(nq, ng) cosine similarities."""
    return F.normalize(queries, dim=1) @ F.normalize(gallery, dim=1).T


def paired_cosine(a: Tensor, b: Tensor) -> Tensor:
    """(n,) cosine similarity of row i of a with row i of b."""
    return (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1)


def cosine_to_distance(cos: Tensor, kind: str) -> Tensor:
    """Cosine distance 1 - cos, or the euclidean distance of unit vectors, sqrt(2 - 2 cos)."""
    if kind == "cosine":
        return 1 - cos
    return (2 - 2 * cos).clamp_min(_MIN_SQUARED).sqrt()


def distance_matrix(queries: Tensor, gallery: Tensor, kind: str) -> Tensor:
    return cosine_to_distance(cosine_matrix(queries, gallery), kind)


def paired_distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    return cosine_to_distance(paired_cosine(a, b), kind)
