"""Exact inner-product FAISS index over unit float32 vectors keyed by int64 ids."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np

NORM_TOLERANCE = 1e-3


class Neighbors(NamedTuple):
    """Results of one query, best first: ties are ordered by ascending id."""

    ids: np.ndarray  # int64 (m,)
    scores: np.ndarray  # float32 (m,)


class FaissIndex:
    """`IndexIDMap2(IndexFlatIP(dim))` with validated inputs and deterministic results."""

    def __init__(self, dim: int, index: faiss.IndexIDMap2 | None = None):
        if dim < 1:
            raise ValueError(f"dimension must be positive, got {dim}")
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return self._index.ntotal

    def ids(self) -> np.ndarray:
        """All stored ids (int64), in insertion order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = _as_ids(ids)
        vectors = self._as_matrix(vectors, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        already = ids[np.isin(ids, self.ids())]
        if len(already):
            raise ValueError(f"ids already in the index: {already[:5].tolist()}")
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids; unknown ids are ignored. Returns how many were removed."""
        ids = _as_ids(ids)
        if not len(ids) or not len(self):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> list[Neighbors]:
        """Top-k by inner product per query, restricted to `allowed` ids and never `excluded` ones.

        Filtering happens inside FAISS, so a query gets k results whenever k candidates pass.
        """
        queries = self._as_matrix(queries, "queries")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if allowed is not None and excluded is not None:
            allowed, excluded = np.setdiff1d(_as_ids(allowed), _as_ids(excluded)), None
        if len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return [_no_neighbors() for _ in queries]
        # The selector objects must outlive the search: SearchParameters only holds raw pointers.
        selectors = _selectors(allowed, excluded)
        params = faiss.SearchParameters(sel=selectors[-1]) if selectors else None
        fetch = min(k + 1, len(self))
        scores, ids = self._index.search(queries, fetch, params=params)
        return [self._rank(query, row_ids, row_scores, k, fetch, params)
                for query, row_ids, row_scores in zip(queries, ids, scores)]

    def _rank(self, query, ids, scores, k: int, fetch: int, params) -> Neighbors:
        # One extra result was fetched so a tie across the k-th place is visible; widen until it is
        # resolved, because the final order (score desc, id asc) must not depend on FAISS's heap.
        while True:
            found = ids >= 0
            ids, scores = ids[found], scores[found]
            exhausted = len(ids) < fetch or fetch == len(self)
            if exhausted or scores[k - 1] != scores[k]:
                break
            fetch = min(2 * fetch, len(self))
            wider_scores, wider_ids = self._index.search(query[None, :], fetch, params=params)
            ids, scores = wider_ids[0], wider_scores[0]
        order = np.lexsort((ids, -scores))[:k]
        return Neighbors(ids[order].astype(np.int64), scores[order].astype(np.float32))

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically and durably: a temp file beside `path`, fsync, then rename over it."""
        path = Path(path)
        temp = path.with_name(path.name + ".tmp")
        with open(temp, "wb") as file:
            file.write(faiss.serialize_index(self._index).tobytes())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FaissIndex:
        data = np.fromfile(path, dtype=np.uint8)
        index = faiss.deserialize_index(data)
        if not isinstance(index, faiss.IndexIDMap2) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{path}: not an inner-product IndexIDMap2 index")
        return cls(index.d, index)

    def _as_matrix(self, array: np.ndarray, name: str) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (n, {self.dim}), got {array.shape}")
        return np.ascontiguousarray(array, dtype=np.float32)


def checked_unit_vectors(array: np.ndarray, dim: int, labels: list[str]) -> np.ndarray:
    """A float32 copy of `array` once it is known to hold one finite unit vector per label.

    Raises ValueError naming the label of the first bad vector.
    """
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"dtype must be floating point, got {array.dtype}")
    if array.shape != (len(labels), dim):
        raise ValueError(f"expected shape ({len(labels)}, {dim}) for {len(labels)} records, got {array.shape}")
    array = np.array(array, dtype=np.float32)  # a private copy: the caller may reuse its buffer
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise ValueError(f"non-finite value in the vector of {labels[int(np.argmin(finite))]!r}")
    norms = np.linalg.norm(array, axis=1)
    off = np.abs(norms - 1.0) > NORM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"vector of {labels[row]!r} has norm {norms[row]:.6f}, expected L2-normalised (norm 1)")
    return array


def _as_ids(ids) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D integer array, got shape {ids.shape} dtype {ids.dtype}")
    return np.ascontiguousarray(ids, dtype=np.int64)


def _selectors(allowed: np.ndarray | None, excluded: np.ndarray | None) -> list:
    """The selector chain; the last element is the one to search with."""
    if allowed is not None:
        return [faiss.IDSelectorBatch(_as_ids(allowed))]
    if excluded is not None and len(excluded):
        blocked = faiss.IDSelectorBatch(_as_ids(excluded))
        return [blocked, faiss.IDSelectorNot(blocked)]
    return []


def _no_neighbors() -> Neighbors:
    return Neighbors(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
