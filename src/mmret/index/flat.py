"""Exact search over the stored (memory-mapped) vectors: no extra file, perfect recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmret.index.base import SearchParams, VectorIndex
from mmret.index.vectors import Neighbors, exact_search


class FlatIndex(VectorIndex):
    kind = "flat"

    @classmethod
    def build(cls, factory: str, stored: np.ndarray) -> FlatIndex:
        return cls(factory, stored, SearchParams())

    def add(self, vectors: np.ndarray) -> None:
        self._stored = np.concatenate([self._stored, vectors])
        self._dead = np.concatenate([self._dead, np.zeros(len(vectors), dtype=bool)])

    def extend(self, stored: np.ndarray) -> None:
        """`stored` (beginning with this index's vectors) becomes its vectors as it is."""
        self._dead = np.concatenate([self._dead, np.zeros(len(stored) - len(self), dtype=bool)])
        self._stored = stored

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None, params: SearchParams | None = None) -> list[Neighbors]:
        positions = np.arange(len(self), dtype=np.int64)
        return exact_search(self._stored, positions, queries, k, self._live(allowed, excluded))

    def save(self, path: Path) -> None:
        """Nothing to write: the segment's vectors are the index."""

    @classmethod
    def load(cls, path: Path, factory: str, stored: np.ndarray, defaults: SearchParams) -> FlatIndex:
        return cls(factory, stored, defaults)
