"""One vector space of a collection: its segments, the ANN index over its merged segment, its tombstones.

A search covers the built index plus the small unmerged segments (exact), merging their top k. A filter
arrives as a boolean mask over row ids: narrow ones are searched exactly over the allowed vectors
(pre-filtering), broad ones inside an IVF index with a selector, or through a widened HNSW candidate list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmret.index.base import SearchParams, VectorIndex
from mmret.index.kinds import kind_of
from mmret.index.prefilter import FilterCache
from mmret.index.segment import Segment
from mmret.index.vectors import Neighbors, decode, merge_neighbors

POSTFILTER_MARGIN = 2.0  # a broad filter fetches this many times k/share candidates from the index


@dataclass(frozen=True)
class BuiltIndex:
    """What `optimize` recorded about a space's ANN index (stored as JSON in the collection's meta)."""

    segment: str
    factory: str
    file: str | None
    params: dict = field(default_factory=dict)
    recall: float | None = None

    def to_dict(self) -> dict:
        return {"segment": self.segment, "factory": self.factory, "file": self.file, "params": self.params,
                "recall": self.recall}


class SpaceVectors:
    def __init__(self, directory: Path, dim: int, segments: list[Segment], dead: np.ndarray,
                 built: BuiltIndex | None):
        self.directory = directory
        self.dim = dim
        self.segments = list(segments)
        self.dead = np.unique(np.asarray(dead, dtype=np.int64))
        self.built = built
        self._index: VectorIndex | None = None
        self._live: dict[str, np.ndarray | None] = {}
        self._filtered = FilterCache()

    @classmethod
    def open(cls, directory: Path, space: str, dim: int, segments: list[tuple[str, str, int]],
             tombstones: list[tuple[str, int]], built: dict | None) -> SpaceVectors:
        """A space as committed: `segments` and `tombstones` are the store's rows for every space."""
        opened = []
        for name, owner, count in segments:
            if owner == space:
                try:
                    opened.append(Segment.open(directory, name, count, dim))
                except (OSError, ValueError) as error:
                    raise ValueError(f"{directory / name}.npy: cannot load a segment of space {space!r}: "
                                     f"{error}") from error
        dead = np.array([i for owner, i in tombstones if owner == space], dtype=np.int64)
        return cls(directory, dim, opened, dead, BuiltIndex(**built) if built else None)

    def __len__(self) -> int:
        return sum(len(segment) for segment in self.segments) - len(self.dead)

    def live_vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row ids, float32 vectors) of each segment's vectors that no tombstone covers, as of this call."""
        segments, dead = list(self.segments), self.dead
        return ((np.asarray(s.ids[live]), decode(s.vectors[live]))
                for s in segments if (live := ~np.isin(s.ids, dead)).any())

    def vectors_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored (float32) vectors of row `ids`: a mask of the ids that have a live one, and those vectors."""
        ids = np.asarray(ids, dtype=np.int64)
        found, out = np.zeros(len(ids), bool), np.zeros((len(ids), self.dim), np.float32)
        alive = ~np.isin(ids, self.dead)
        for segment in self.segments:
            if not len(segment):
                continue
            at = np.minimum(np.searchsorted(segment.ids, ids), len(segment) - 1)
            here = alive & (segment.ids[at] == ids)
            out[here] = decode(segment.vectors[at[here]])
            found |= here
        return found, out[found]

    @property
    def loaded(self) -> bool:
        """Whether a search needs no file opened: the built index, if any, is loaded."""
        return self.built is None or self._index is not None

    def indexed_segment(self) -> Segment | None:
        return next((s for s in self.segments if self.built and s.name == self.built.segment), None)

    def unindexed(self) -> list[Segment]:
        return [s for s in self.segments if not (self.built and s.name == self.built.segment)]

    def changed(self, added: list[Segment], removed: list[str], dead: np.ndarray, undead: np.ndarray,
                built: BuiltIndex | None) -> None:
        """Apply a commit (or merge) to the in-memory view."""
        self.segments = [s for s in self.segments if s.name not in removed] + added
        self.dead = np.setdiff1d(np.union1d(self.dead, dead), undead)
        if built is not self.built:
            self.built, self._index = built, None
        self._live.clear()
        self._filtered.clear()
        if self._index is not None:
            self._index.remove(self.indexed_segment().positions(dead))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None, excluded: np.ndarray | None,
               params: SearchParams | None) -> list[Neighbors]:
        """Top k per query (row ids); `allowed` is a boolean mask over row ids, `excluded` a list of row ids."""
        parts: list[list[Neighbors]] = [[] for _ in queries]
        for segment in self.segments:
            indexed = self.built is not None and segment.name == self.built.segment
            live = self._live_mask(segment)
            if indexed and allowed is not None:
                rows = self._filtered.rows(segment, allowed, live)
                if rows.narrow:
                    for query, neighbors in enumerate(rows.search(queries, k, excluded)):
                        parts[query].append(neighbors)
                    continue
                live = rows.kept
            elif allowed is not None:
                live = segment.select(allowed) if live is None else live & segment.select(allowed)
            if excluded is not None and len(excluded):
                live = np.ones(len(segment), bool) if live is None else live.copy()
                live[segment.positions(excluded)] = False
            if not indexed:
                found = segment.search(queries, k, live)
            elif allowed is None:
                found = [Neighbors(segment.ids[n.ids], n.scores)
                         for n in self.index().search(queries, k, allowed=live, params=params)]
            else:
                found = self._broadly_filtered(segment, queries, k, live, params)
            for query, neighbors in enumerate(found):
                parts[query].append(neighbors)
        # Each part is ranked already: one part (a single, optimized segment) is the answer as it is.
        return [found[0] if len(found) == 1 else merge_neighbors(found, k) for found in parts]

    def index(self) -> VectorIndex:
        """The built index, loaded (memory-mapped) on first use so that opening stays instant."""
        if self._index is None:
            segment = self.indexed_segment()
            kind = kind_of(self.built.factory)
            file = self.directory / self.built.file if self.built.file else None
            self._index = kind.load(file, self.built.factory, segment.vectors,
                                    SearchParams.from_dict(self.built.params))
            self._index.remove(segment.positions(self.dead))
        return self._index

    def _broadly_filtered(self, segment: Segment, queries: np.ndarray, k: int, live: np.ndarray,
                      params: SearchParams | None) -> list[Neighbors]:
        """A broad filter, searched wider: inside the index if it filters as it searches (IVF), else the index's
        top k/share (twice over), then the allowed ones among them. A query left with fewer than k is answered
        exactly over the allowed vectors, so it gets k whenever k pass."""
        index, share = self.index(), max(np.count_nonzero(live) / len(live), 1e-6)  # (bool mean is 10x slower)
        widened = _widened((params or SearchParams()).over(index.defaults), share)
        if index.filters_in_search:
            fetch, results = k, index.search(queries, k, allowed=live, params=widened)
        else:
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

    def _live_mask(self, segment: Segment) -> np.ndarray | None:
        """Mask of a segment's positions not tombstoned (None: all live)."""
        if not len(self.dead):
            return None
        if segment.name not in self._live:
            dead = segment.positions(self.dead)
            live = None
            if len(dead):
                live = np.ones(len(segment), bool)
                live[dead] = False
            self._live[segment.name] = live
        return self._live[segment.name]



def _widened(params: SearchParams, share: float) -> SearchParams:
    """Search wider for a filter that keeps `share` of the vectors: its k-th allowed neighbour lies deeper."""
    return replace(params, ef_search=params.ef_search and min(int(np.ceil(params.ef_search / share)), 4096),
                   nprobe=params.nprobe and int(np.ceil(params.nprobe / share**0.5)))
