"""The rows of an indexed segment that a filter allows, counted once per filter with the strategy its search takes
(filter_strategy.py): the allowed vectors gathered for an exact search, or their mask over the segment's positions
for a search through the index.

A search repeats its filter query after query, and a collection compiles each filter once per committed state
into the same mask object (collection.py). So the allowed vectors of an indexed segment are gathered once from
the memory map into one contiguous float32 block and kept, beside the mask they came from, until the next
commit or a budget of memory pushes them out: an exact search over them then costs a scan of that block,
about as much as an ANN search of the whole segment while they number a few ten thousands.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mmret.index.filter_strategy import EXACT, Strategy
from mmret.index.segment import Segment
from mmret.index.vectors import Neighbors, decode, exact_search

CACHE_BYTES = 256 << 20  # gathered blocks kept per space...
CACHE_ENTRIES = 32  # ...and filters remembered
GATHERED_BYTES = CACHE_BYTES // 2  # the largest block gathered for one filter; more is scanned in place


@dataclass(frozen=True)
class AllowedRows:
    """The rows of one indexed segment that one filter allows (tombstoned ones left out)."""

    mask: np.ndarray  # the filter's mask over row ids, held so that its identity keys this entry
    count: int
    strategy: Strategy
    kept: np.ndarray | None = None  # mask over the segment's positions, unless gathered
    ids: np.ndarray | None = None  # row ids of the allowed vectors, when gathered
    vectors: np.ndarray | None = None  # (count, d) float32, contiguous, when gathered

    @property
    def gathered(self) -> bool:
        return self.vectors is not None

    def search(self, queries: np.ndarray, k: int, excluded: np.ndarray | None) -> list[Neighbors]:
        keep = None
        if excluded is not None and len(excluded):
            keep = ~np.isin(self.ids, excluded)
        return exact_search(self.vectors, self.ids, queries, k, keep)


class FilterCache:
    """AllowedRows per (segment, filter mask), dropped whole when the space changes."""

    def __init__(self, budget: int = CACHE_BYTES):
        self._budget = budget
        self._entries: OrderedDict[tuple[str, int], AllowedRows] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def rows(self, segment: Segment, allowed: np.ndarray, live: np.ndarray | None,
             strategy_for: Callable[[int, int], Strategy]) -> AllowedRows:
        """What `allowed` keeps of `segment`, and how to search it: `live` masks its tombstoned positions (None:
        none are), `strategy_for(allowed count, segment length)` picks the strategy."""
        key = (segment.name, id(allowed))
        entry = self._entries.get(key)
        if entry is not None and entry.mask is allowed:
            self._entries.move_to_end(key)
            return entry
        kept = segment.select(allowed) if live is None else segment.select(allowed) & live
        count = int(np.count_nonzero(kept))
        strategy = strategy_for(count, len(segment))
        if strategy.name != EXACT or not gathers(count, segment.vectors.shape[1]):
            entry = AllowedRows(allowed, count, strategy, kept=kept)
        else:
            positions = np.flatnonzero(kept)
            entry = AllowedRows(allowed, count, strategy, ids=np.asarray(segment.ids[positions]),
                                vectors=np.ascontiguousarray(decode(segment.vectors[positions]), dtype=np.float32))
        self._entries[key] = entry
        self._evict()
        return entry

    def _evict(self) -> None:
        used = sum(e.vectors.nbytes for e in self._entries.values() if e.gathered)
        while (used > self._budget or len(self._entries) > CACHE_ENTRIES) and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            used -= oldest.vectors.nbytes if oldest.gathered else 0


def gathers(count: int, dim: int) -> bool:
    """Whether an exact search of `count` allowed vectors gathers them into one block."""
    return count * dim * 4 <= GATHERED_BYTES
