"""Fusion of modalities, at feature level (torch modules: several modality vectors of an item -> one vector) and
at decision level (pure functions: several ranked lists -> one).

Feature level, one call convention (fusion/base.py): `fusion(parts, mask)` with parts a list of m (n, d_m)
tensors and mask an (n, m) bool tensor, True where the item has the modality; returns (n, dim), not normalised.
Every module is built as `build_fusion(name, in_dims, dim, **options)`; `residual=True` adds it to the mean of the
parts (fusion/residual.py). A module may also adapt queries (`adapt_query`, identity unless it learns a query side).

Decision level (fusion/rank.py): `DECISION_FUSIONS[name](lists, weights, norm=...)` over (queries, items) score
arrays with NaN for unretrieved items; `fuse_runs` over {id: score} lists. `PathFusion` (fusion/paths.py) is a
learned decision-level fusion of the paths of one space (a video's shots, sounds and speech).
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import BadInput
from .attention import AttentionFusion
from .base import FeatureFusion
from .concat import ConcatFusion
from .gated import GatedFusion
from .low_rank import LowRankTensorFusion
from .mean import WeightedMeanFusion
from .paths import PathFusion
from .query_head import QueryHeadFusion
from .rank import DECISION_FUSIONS, comb_mnz, comb_prod, comb_sum, fuse_runs, rrf
from .residual import ResidualFusion
from .scores import NORMS, SpaceCalibration, normalise
from .tensor import TensorFusion
from .vectors import adapt_queries, fuse_vectors

FUSIONS: dict[str, type[FeatureFusion]] = {
    "mean": WeightedMeanFusion,
    "concat": ConcatFusion,
    "tensor": TensorFusion,
    "low_rank": LowRankTensorFusion,
    "attention": AttentionFusion,
    "gated": GatedFusion,
    "query_head": QueryHeadFusion,
}


def build_fusion(name: str, in_dims: Sequence[int], dim: int, residual: bool = False, **options) -> FeatureFusion:
    """The feature-level fusion registered under name: build_fusion("low_rank", (384, 384), 384, rank=16)."""
    if name not in FUSIONS:
        raise BadInput(f"unknown fusion {name!r}; choose from {sorted(FUSIONS)} (decision level: "
                       f"{sorted(DECISION_FUSIONS)})")
    fusion = FUSIONS[name](in_dims, dim, **options)
    return ResidualFusion(fusion) if residual else fusion


__all__ = [
    "DECISION_FUSIONS",
    "FUSIONS",
    "NORMS",
    "AttentionFusion",
    "ConcatFusion",
    "FeatureFusion",
    "GatedFusion",
    "LowRankTensorFusion",
    "PathFusion",
    "QueryHeadFusion",
    "ResidualFusion",
    "SpaceCalibration",
    "TensorFusion",
    "WeightedMeanFusion",
    "adapt_queries",
    "build_fusion",
    "comb_mnz",
    "comb_prod",
    "comb_sum",
    "fuse_runs",
    "fuse_vectors",
    "normalise",
    "rrf",
]
