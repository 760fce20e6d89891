"""IVF index with compressed codes (IVF-PQ, OPQ+IVF-PQ, IVF-SQ): small and fast; its shortlist is re-ranked
exactly against the stored vectors, so scores are true inner products."""

from __future__ import annotations

import faiss
import numpy as np

from mmret.index.base import Bitmap, FaissBackedIndex, SearchParams, ranked
from mmret.index.vectors import Neighbors, decode

_TRAIN_PER_LIST = 64


class IVFPQIndex(FaissBackedIndex):
    kind = "ivfpq"
    default_params = SearchParams(nprobe=16, shortlist=100)
    # Read whole: codes are small (bytes per vector), and FAISS scans memory-mapped lists at half the speed.
    read_flags = 0

    def __init__(self, factory: str, stored: np.ndarray, defaults: SearchParams, index: faiss.Index):
        super().__init__(factory, stored, defaults, index)
        self.nlist = faiss.extract_index_ivf(index).nlist
        self._params: dict[int, faiss.SearchParametersIVF] = {}  # unfiltered, per nprobe: made once

    @classmethod
    def train(cls, index: faiss.Index, stored: np.ndarray) -> None:
        ivf = faiss.downcast_index(faiss.extract_index_ivf(index))
        if hasattr(ivf, "do_polysemous_training"):
            ivf.do_polysemous_training = False  # the factory's default; 30x slower training, no use here
        sample = np.random.default_rng(0).permutation(len(stored))[: max(ivf.nlist * _TRAIN_PER_LIST, 10_000)]
        index.train(decode(stored[np.sort(sample)]))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None, params: SearchParams | None = None) -> list[Neighbors]:
        params = (params or SearchParams()).over(self.defaults)
        live = self._live(allowed, excluded)
        nprobe = min(params.nprobe, self.nlist)
        if live is None:
            if nprobe not in self._params:
                self._params[nprobe] = faiss.SearchParametersIVF(nprobe=nprobe)
            faiss_params = self._params[nprobe]
        else:
            bitmap = Bitmap(live)
            faiss_params = faiss.SearchParametersIVF(nprobe=nprobe, sel=bitmap.selector)
        fetch = min(max(params.shortlist, k), len(self))
        _, positions = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), fetch, params=faiss_params)
        return ranked(queries, positions, self._stored, k)
