"""HNSW graph index (FAISS IndexHNSW*): fast and accurate, memory-hungry; tombstones via the selector."""

from __future__ import annotations

import faiss
import numpy as np

from mmret.index.base import (
    MAX_EF_SEARCH,
    Bitmap,
    FaissBackedIndex,
    SearchParams,
    ranked,
)
from mmret.index.vectors import Neighbors, decode


class HNSWIndex(FaissBackedIndex):
    kind = "hnsw"
    filters_in_search = False
    default_params = SearchParams(ef_search=64)
    read_flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY

    def __init__(self, factory: str, stored: np.ndarray, defaults: SearchParams, index: faiss.Index):
        super().__init__(factory, stored, defaults, index)
        self._params: dict[int, faiss.SearchParametersHNSW] = {}
        # A graph over the float vectors scores exactly; one over quantised codes is re-ranked.
        self._exact_scores = isinstance(faiss.downcast_index(index.storage), faiss.IndexFlat)

    @classmethod
    def train(cls, index: faiss.Index, stored: np.ndarray) -> None:
        if not index.is_trained:  # e.g. HNSW32,SQ8
            index.train(decode(stored[: 100_000]))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None, params: SearchParams | None = None) -> list[Neighbors]:
        params = (params or SearchParams()).over(self.defaults)
        live = self._live(allowed, excluded)
        ef = max(params.ef_search, k)
        if live is None:
            faiss_params = self._unfiltered_params(ef)
        else:
            bitmap = Bitmap(live)
            if allowed is None:  # tombstones or exclusions only; a filter's caller widens its search (filter_plan.py)
                ef = min(int(ef / max(np.count_nonzero(live) / len(live), 1e-3) ** 0.5), MAX_EF_SEARCH)
            faiss_params = faiss.SearchParametersHNSW(efSearch=ef, sel=bitmap.selector)
        fetch = min(k, len(self))
        scores, positions = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), fetch,
                                               params=faiss_params)
        if self._exact_scores:
            return [_sorted(row_positions, row_scores) for row_positions, row_scores in zip(positions, scores)]
        return ranked(queries, positions, self._stored, k)

    def _unfiltered_params(self, ef: int) -> faiss.SearchParametersHNSW:
        """FAISS's parameter object per efSearch, made once (making one costs about a tenth of a small search)."""
        if ef not in self._params:
            self._params[ef] = faiss.SearchParametersHNSW(efSearch=ef)
        return self._params[ef]



def _sorted(positions: np.ndarray, scores: np.ndarray) -> Neighbors:
    """FAISS's list (best first, -1 = none) with ties ordered by position; without ties it is already so."""
    if len(positions) and positions[-1] < 0:
        found = positions >= 0
        positions, scores = positions[found], scores[found]
    if len(scores) > 1 and not (scores[1:] < scores[:-1]).all():
        order = np.lexsort((positions, -scores))
        positions, scores = positions[order], scores[order]
    return Neighbors(positions, scores)
