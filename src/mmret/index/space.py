"""One vector space of a collection: its segments, the ANN index over its merged segment, its tombstones.

A search covers the built index plus the small unmerged segments (exact), merging their top k. A filter
arrives as a boolean mask over row ids; on the indexed segment it is searched by the strategy the index's filter
plan gives for the share of vectors it allows (filter_plan.py; the fixed rule of filter_strategy.py for an index
optimized before plans).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmret.errors import BadInput
from mmret.index.base import SearchParams, VectorIndex
from mmret.index.checks import DB_FILE
from mmret.index.filter_plan import FilterPlan
from mmret.index.filter_strategy import Strategy, fixed_rule, search_broadly
from mmret.index.kinds import kind_of
from mmret.index.prefilter import FilterCache
from mmret.index.segment import Segment
from mmret.index.values import BuiltIndex
from mmret.index.vectors import Neighbors, decode, merge_neighbors


@dataclass(frozen=True, kw_only=True)
class SegmentIndex(BuiltIndex):
    """The embedded backend's BuiltIndex: over one merged segment, kept in `file` (None for Flat), with the filter
    plan `optimize` measured (stored as JSON in the collection's meta)."""

    segment: str
    file: str | None
    filter_plan: FilterPlan | None = None  # None: optimized before plans were measured

    def to_dict(self) -> dict:
        values = {"segment": self.segment, "factory": self.factory, "file": self.file, "params": self.params,
                  "recall": self.recall}
        if self.filter_plan is not None:  # left out, an older index's settings read back as they were stored
            values["filter_plan"] = self.filter_plan.to_dict()
        return values

    @classmethod
    def stored(cls, directory: Path, space: str, values: dict | None) -> SegmentIndex | None:
        """The settings as `optimize` stored them for `space` (None: no index built); ValueError naming the
        database, the setting and what is wrong with it."""
        if values is None:
            return None
        try:
            plan = values.get("filter_plan")
            return cls(**{**values, "filter_plan": FilterPlan.from_dict(plan) if plan is not None else None})
        except (ValueError, TypeError) as error:
            raise BadInput(f"{directory / DB_FILE}: setting index:{space}: {error}") from None


class SpaceVectors:
    def __init__(self, directory: Path, dim: int, segments: list[Segment], dead: np.ndarray,
                 built: SegmentIndex | None):
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
                    raise BadInput(f"{directory / name}.npy: cannot load a segment of space {space!r}: "
                                   f"{error}") from error
        dead = np.array([i for owner, i in tombstones if owner == space], dtype=np.int64)
        return cls(directory, dim, opened, dead, SegmentIndex.stored(directory, space, built))

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
                built: SegmentIndex | None) -> None:
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
                rows = self._filtered.rows(segment, allowed, live, self.filter_strategy)
                if rows.gathered:
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
                found = search_broadly(self.index(), segment, queries, k, live, params, rows.strategy)
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

    def filter_strategy(self, count: int, total: int) -> Strategy:
        """How a filter allowing `count` of the indexed segment's `total` vectors is searched."""
        if self.built.filter_plan is not None:
            return self.built.filter_plan.strategy_for(count / total)
        return fixed_rule(count, max(count / total, 1e-6), kind_of(self.built.factory))

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

