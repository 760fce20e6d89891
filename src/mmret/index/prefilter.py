"""Narrow filters are searched exactly over the vectors they allow (pre-filtering), broad ones inside the ANN
index (see space.py); the choice is by the number of allowed vectors, counted once per filter, and a broad
filter's mask over the segment's positions is kept with the count.

A search repeats its filter query after query, and a collection compiles each filter once per committed state
into the same mask object (collection.py). So the allowed vectors of an indexed segment are gathered once from
the memory map into one contiguous float32 block and kept, beside the mask they came from, until the next
commit or a budget of memory pushes them out: an exact search over them then costs a scan of that block,
about as much as an ANN search of the whole segment while they number a few ten thousands.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from mmret.index.segment import Segment
from mmret.index.vectors import Neighbors, decode, exact_search

PREFILTER_UP_TO = 20_000  # allowed vectors of an indexed segment searched exactly (about 0.4 ms at 384-d)
CACHE_BYTES = 256 << 20  # gathered blocks kept per space...
CACHE_ENTRIES = 32  # ...and filters remembered


@dataclass(frozen=True)
class AllowedRows:
    """The rows of one indexed segment that one filter allows (tombstoned ones left out)."""

    mask: np.ndarray  # the filter's mask over row ids, held so that its identity keys this entry
    count: int
    kept: np.ndarray | None = None  # mask over the segment's positions, when the filter is broad
    ids: np.ndarray | None = None  # row ids of the allowed vectors, when the filter is narrow
    vectors: np.ndarray | None = None  # (count, d) float32, contiguous, when the filter is narrow

    @property
    def narrow(self) -> bool:
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

    def rows(self, segment: Segment, allowed: np.ndarray, live: np.ndarray | None) -> AllowedRows:
        """What `allowed` keeps of `segment`; `live` masks its tombstoned positions (None: none are)."""
        key = (segment.name, id(allowed))
        entry = self._entries.get(key)
        if entry is not None and entry.mask is allowed:
            self._entries.move_to_end(key)
            return entry
        kept = segment.select(allowed) if live is None else segment.select(allowed) & live
        count = int(np.count_nonzero(kept))
        if count > PREFILTER_UP_TO:
            entry = AllowedRows(allowed, count, kept=kept)
        else:
            positions = np.flatnonzero(kept)
            entry = AllowedRows(allowed, count, ids=np.asarray(segment.ids[positions]),
                                vectors=np.ascontiguousarray(decode(segment.vectors[positions]), dtype=np.float32))
        self._entries[key] = entry
        self._evict()
        return entry

    def _evict(self) -> None:
        used = sum(e.vectors.nbytes for e in self._entries.values() if e.narrow)
        while (used > self._budget or len(self._entries) > CACHE_ENTRIES) and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            used -= oldest.vectors.nbytes if oldest.narrow else 0
