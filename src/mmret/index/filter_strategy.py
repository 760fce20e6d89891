"""The ways a filtered search runs over a space's indexed segment, and the fixed rule that chose between them
before `optimize` measured a plan (filter_plan.py).

- exact: the allowed vectors scanned exactly (gathered once per filter into one block when it fits, prefilter.py);
- selector: inside the index, FAISS skipping the vectors not allowed as it searches (IVF lists, HNSW graph walk);
- postfilter: the index's top k/share (twice over), then the allowed ones among them.
The two index strategies search wider than an unfiltered search (efSearch times `widen`, nprobe times its square
root), and a query they leave with fewer than k allowed hits is answered exactly, so it gets k whenever k pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mmret.index.base import MAX_EF_SEARCH, SearchParams, VectorIndex
from mmret.index.segment import Segment
from mmret.index.vectors import Neighbors

EXACT, SELECTOR, POSTFILTER = "exact", "selector", "postfilter"
STRATEGIES = (EXACT, SELECTOR, POSTFILTER)
PREFILTER_UP_TO = 20_000  # the fixed rule: allowed vectors searched exactly (about 0.4 ms at 384-d)
POSTFILTER_MARGIN = 2.0  # a post-filter fetches this many times k/share candidates from the index


@dataclass(frozen=True)
class Strategy:
    name: str
    widen: float = 1.0  # efSearch times this, nprobe times its square root (selector and postfilter)

    @property
    def label(self) -> str:
        return self.name if self.name == EXACT else f"{self.name} x{self.widen:g}"


def available(index: VectorIndex) -> tuple[str, ...]:
    """The strategies worth measuring on `index`: an exact index post-filtered would only scan more."""
    return (EXACT, SELECTOR) if index.kind == "flat" else STRATEGIES


def fixed_rule(count: int, share: float, kind: type[VectorIndex]) -> Strategy:
    """The choice for a collection optimized before filter plans: exact up to PREFILTER_UP_TO allowed vectors, else
    inside an IVF (or exact) index, post-filtered from an HNSW graph, widened by 1/share."""
    if count <= PREFILTER_UP_TO:
        return Strategy(EXACT)
    return Strategy(SELECTOR if kind.filters_in_search else POSTFILTER, 1 / share)


def search_broadly(index: VectorIndex, segment: Segment, queries: np.ndarray, k: int, live: np.ndarray,
                   params: SearchParams | None, strategy: Strategy) -> list[Neighbors]:
    """Top k row ids per query among the positions `live` allows, by `strategy` (exact here means a masked scan of
    the segment in place: the allowed vectors were too many to gather)."""
    if strategy.name == EXACT:
        return segment.search(queries, k, live)
    widened = widen_params((params or SearchParams()).over(index.defaults), strategy.widen)
    if strategy.name == SELECTOR:
        fetch, results = k, index.search(queries, k, allowed=live, params=widened)
    else:
        share = max(np.count_nonzero(live) / len(live), 1e-6)  # (a bool array's mean is 10x slower)
        fetch = min(len(segment), int(np.ceil(POSTFILTER_MARGIN * k / share)))
        results = index.search(queries, fetch, params=widened)
    found = []
    for query, neighbors in zip(queries, results):
        keep = live[neighbors.ids]
        if keep.sum() >= k or fetch == len(segment):
            found.append(Neighbors(segment.ids[neighbors.ids[keep][:k]], neighbors.scores[keep][:k]))
        else:
            found.append(segment.search(query[None, :], k, live)[0])
    return found


def widen_params(params: SearchParams, widen: float) -> SearchParams:
    """Search wider for a filter: its k-th allowed neighbour lies deeper than the k-th of all."""
    return replace(params, ef_search=params.ef_search and min(int(np.ceil(params.ef_search * widen)), MAX_EF_SEARCH),
                   nprobe=params.nprobe and int(np.ceil(params.nprobe * widen**0.5)))
