"""The VectorIndex interface: one ANN (or exact) index over the vectors of one merged segment.

An index's ids are the positions 0..n-1 of the vectors in the segment it was built from; the space layer
maps them to row ids. Removal is by tombstone (FAISS graph indexes cannot delete), dropped at the next build.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from mmret.errors import BadInput
from mmret.index.vectors import Neighbors, decode

MAX_EF_SEARCH = 4096  # the widest HNSW candidate list a search asks for (filters and tombstones widen it)
ADD_BLOCK = 65_536  # vectors decoded to float32 at once while adding: bounds the copy of float16/int8 storage


@dataclass(frozen=True)
class SearchParams:
    """Per-query knobs of the ANN kinds; None means the index's tuned (or default) value."""

    ef_search: int | None = None  # HNSW candidate list size
    nprobe: int | None = None  # IVF lists visited
    shortlist: int | None = None  # IVF-PQ candidates re-ranked exactly against the stored vectors

    def over(self, defaults: SearchParams) -> SearchParams:
        """These params, with the unset ones taken from `defaults`."""
        if self == _UNSET:
            return defaults
        return replace(defaults, **{f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None})

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchParams:
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise BadInput(f"unknown search parameters {sorted(unknown)}; known are {sorted(names)}")
        for key, value in values.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise BadInput(f"search parameter {key} must be a positive integer, got {value!r}")
        return cls(**values)


_UNSET = SearchParams()


class VectorIndex(ABC):
    kind: ClassVar[str]
    # Whether a search with a broad `allowed` mask keeps its recall, as the fixed rule of an index optimized before
    # filter plans assumes (filter_strategy.py): an IVF scan skips the vectors not allowed in the lists it visits; an
    # HNSW graph walk can lose its way through them, so that rule post-filters instead. A plan measures it.
    filters_in_search: ClassVar[bool] = True

    def __init__(self, factory: str, stored: np.ndarray, defaults: SearchParams):
        self.factory = factory
        self.defaults = defaults
        self._stored = stored  # the segment's vectors, for exact scores and re-ranking
        self._dead = np.zeros(len(stored), dtype=bool)
        self._any_dead = False  # a search checks this, not the whole mask

    def __len__(self) -> int:
        return len(self._stored)

    @classmethod
    @abstractmethod
    def build(cls, factory: str, stored: np.ndarray) -> VectorIndex:
        """Train (if the kind needs it) and add every row of `stored`."""

    @abstractmethod
    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; they get the next positions."""

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids):
            self._dead[ids] = True
            self._any_dead = True

    @abstractmethod
    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None, params: SearchParams | None = None) -> list[Neighbors]:
        """Top-k positions per query; `allowed` is a boolean mask over positions, `excluded` a list of them."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index durably (a temp file, fsync, rename)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, factory: str, stored: np.ndarray, defaults: SearchParams) -> VectorIndex:
        """Open a saved index (memory-mapped where that does not slow searches down)."""

    def _live(self, allowed: np.ndarray | None, excluded: np.ndarray | None) -> np.ndarray | None:
        """Boolean mask of the positions a search may return, or None for all of them."""
        if allowed is None and excluded is None and not self._any_dead:
            return None
        live = ~self._dead if self._any_dead else None
        if allowed is not None:
            live = allowed.copy() if live is None else live & allowed
        if excluded is not None and len(excluded):
            live = np.ones(len(self), dtype=bool) if live is None else live
            live[excluded] = False
        return live


class FaissBackedIndex(VectorIndex):
    """A kind whose positions live in a FAISS index (`_index`) fed with the decoded stored vectors."""

    default_params: ClassVar[SearchParams]  # the kind's search settings where none are tuned
    read_flags: ClassVar[int] = 0  # faiss.read_index's io_flags when a saved index is loaded

    def __init__(self, factory: str, stored: np.ndarray, defaults: SearchParams, index: faiss.Index):
        super().__init__(factory, stored, defaults)
        self._index = index

    @classmethod
    def build(cls, factory: str, stored: np.ndarray) -> FaissBackedIndex:
        index = faiss.index_factory(stored.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        cls.train(index, stored)
        built = cls(factory, stored[:0], cls.default_params, index)
        built.extend(stored)
        return built

    @classmethod
    @abstractmethod
    def train(cls, index: faiss.Index, stored: np.ndarray) -> None:
        """Train a new `index` on (a sample of) `stored`, if the kind needs training."""

    def save(self, path: Path) -> None:
        write_faiss(self._index, path)

    @classmethod
    def load(cls, path: Path, factory: str, stored: np.ndarray, defaults: SearchParams) -> FaissBackedIndex:
        index = faiss.read_index(str(path), cls.read_flags)
        return cls(factory, stored, defaults.over(cls.default_params), index)

    def add(self, vectors: np.ndarray) -> None:
        self.extend(np.concatenate([self._stored, vectors]) if len(self._stored) else vectors)

    def extend(self, stored: np.ndarray) -> None:
        """Index the rows of `stored` past those indexed (it begins with the index's own vectors); `stored`
        becomes the index's vectors as it is (a memory map stays one)."""
        for start in range(len(self), len(stored), ADD_BLOCK):
            self._index.add(decode(stored[start : start + ADD_BLOCK]))
        self._dead = np.concatenate([self._dead, np.zeros(len(stored) - len(self), dtype=bool)])
        self._stored = stored


class Bitmap:
    """A FAISS IDSelectorBitmap over positions, holding the bits it points to alive."""

    def __init__(self, mask: np.ndarray):
        self._bits = np.packbits(mask, bitorder="little")
        self.selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(self._bits))


def write_faiss(index: faiss.Index, path: Path) -> None:
    temp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(temp))
    with open(temp, "rb") as file:
        os.fsync(file.fileno())
    os.replace(temp, path)


def ranked(queries: np.ndarray, positions: np.ndarray, stored: np.ndarray, k: int) -> list[Neighbors]:
    """Exact scores of each query's candidate positions (-1 = none; FAISS lists each position at most once),
    best k first, ties by position."""
    found = []
    for query, candidates in zip(queries, positions):
        candidates = candidates[candidates >= 0]
        scores = _inner_products(query, stored, candidates)
        order = np.lexsort((candidates, -scores))[:k]
        found.append(Neighbors(candidates[order].astype(np.int64), scores[order]))
    return found


def _inner_products(query: np.ndarray, stored: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """query . stored[rows]; float32 rows are read in place by FAISS (no gathered copy: 5x faster for a
    shortlist of 50), compact ones decoded first."""
    if not len(rows):
        return np.empty(0, np.float32)
    if stored.dtype != np.float32 or not stored.flags.c_contiguous:
        return (decode(stored[rows]) @ query).astype(np.float32)
    scores = np.empty(len(rows), np.float32)
    query = np.ascontiguousarray(query, dtype=np.float32)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    faiss.fvec_inner_products_by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(stored),
                                     faiss.swig_ptr(rows), stored.shape[1], 1, len(rows))
    return scores
