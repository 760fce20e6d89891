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

from collections.abc import Iterator, Mapping, Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from ..errors import BadInput
from .rank import DECISION_FUSIONS, comb_mnz, comb_prod, comb_sum, fuse_runs, rrf
from .scores import NORMS, SpaceCalibration, normalise

if TYPE_CHECKING:
    from .base import FeatureFusion

# The torch modules load on first use, so that searching (rank fusion, scores) imports no torch.
_LAZY = {
    "AttentionFusion": "attention", "FeatureFusion": "base", "ConcatFusion": "concat", "GatedFusion": "gated",
    "LowRankTensorFusion": "low_rank", "WeightedMeanFusion": "mean", "PathFusion": "paths",
    "QueryHeadFusion": "query_head", "ResidualFusion": "residual", "TensorFusion": "tensor",
    "adapt_queries": "vectors", "fuse_vectors": "vectors",
}
_FEATURE_FUSIONS = {"mean": "WeightedMeanFusion", "concat": "ConcatFusion", "tensor": "TensorFusion",
                    "low_rank": "LowRankTensorFusion", "attention": "AttentionFusion", "gated": "GatedFusion",
                    "query_head": "QueryHeadFusion"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'mmret.fusion' has no attribute {name!r}")
    return getattr(import_module(f".{_LAZY[name]}", __name__), name)


class _FusionRegistry(Mapping):
    """name -> feature-level fusion class, each imported when first asked for."""

    def __getitem__(self, name: str) -> type[FeatureFusion]:
        return __getattr__(_FEATURE_FUSIONS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(_FEATURE_FUSIONS)

    def __len__(self) -> int:
        return len(_FEATURE_FUSIONS)


FUSIONS: Mapping[str, type[FeatureFusion]] = _FusionRegistry()


def build_fusion(name: str, in_dims: Sequence[int], dim: int, residual: bool = False, **options) -> FeatureFusion:
    """The feature-level fusion registered under name: build_fusion("low_rank", (384, 384), 384, rank=16)."""
    if name not in FUSIONS:
        raise BadInput(f"unknown fusion {name!r}; choose from {sorted(FUSIONS)} (decision level: "
                       f"{sorted(DECISION_FUSIONS)})")
    fusion = FUSIONS[name](in_dims, dim, **options)
    return __getattr__("ResidualFusion")(fusion) if residual else fusion


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
