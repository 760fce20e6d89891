"""The index kinds by name, and the automatic choice of one by collection size and memory budget."""

from __future__ import annotations

import math

from mmret.errors import BadInput
from mmret.index.base import VectorIndex
from mmret.index.flat import FlatIndex
from mmret.index.hnsw import HNSWIndex
from mmret.index.ivfpq import IVFPQIndex

KINDS: dict[str, type[VectorIndex]] = {kind.kind: kind for kind in (FlatIndex, HNSWIndex, IVFPQIndex)}
DEFAULT_MEMORY_BUDGET = 4 << 30  # bytes an index may take beside the stored vectors
EXACT_UP_TO = 50_000  # below this many vectors an exact scan is about as fast as a graph
HNSW_M = 32  # graph links per node where the factory names none: the automatic choice (both backends)


def kind_of(factory: str) -> type[VectorIndex]:
    """The kind that runs a FAISS factory string ("Flat", "HNSW32", "IVF1024,PQ48", "OPQ48,IVF1024,PQ48", ...)."""
    if factory == "Flat":
        return FlatIndex
    if "HNSW" in factory:
        return HNSWIndex
    if "IVF" in factory:
        return IVFPQIndex
    raise BadInput(f"index factory {factory!r}: expected 'Flat', an HNSW one (e.g. 'HNSW32') or an IVF one "
                   "(e.g. 'IVF1024,PQ48')")


def auto_factory(count: int, dim: int, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> str:
    """Exact for small collections, HNSW when its graph and copy of the vectors fit the budget, else IVF-PQ."""
    if count <= EXACT_UP_TO:
        return "Flat"
    if hnsw_fits(count, dim, memory_budget):
        return f"HNSW{HNSW_M}"
    subquantizers = max(m for m in range(1, dim // 8 + 1) if dim % m == 0) if dim >= 8 else 1
    return f"IVF{ivf_lists(count)},PQ{subquantizers}"


def hnsw_fits(count: int, dim: int, memory_budget: int) -> bool:
    """Whether an HNSW graph of HNSW_M links per node and a float32 copy of `count` vectors fit the budget."""
    return count * (4 * dim + 2 * HNSW_M * 4 * 1.1) <= memory_budget


def ivf_lists(count: int) -> int:
    """The IVF list count for `count` vectors: the power of two nearest 4 * sqrt(count)."""
    return 2 ** round(math.log2(4 * math.sqrt(count)))
