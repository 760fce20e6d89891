"""Unit float32 vectors at the index boundary: validation, stored encodings and exact top-k ranking."""

from __future__ import annotations

from typing import NamedTuple

import faiss
import numpy as np

from mmret.errors import BadInput

NORM_TOLERANCE = 1e-3
STORAGE_DTYPES = ("float32", "float16", "int8")
_INT8_SCALE = 127.0  # unit vectors have components in [-1, 1]
_BLOCK = 65_536  # stored rows scored per matrix product, to bound memory on large segments
DENSE_SHARE = 0.05  # above this share of live rows an exact search scans every row and masks the rest


class Neighbors(NamedTuple):
    """Results of one query, best first: ties are ordered by ascending id."""

    ids: np.ndarray  # int64 (m,)
    scores: np.ndarray  # float32 (m,)


def checked_unit_vectors(array: np.ndarray, dim: int, labels: list[str]) -> np.ndarray:
    """A float32 copy of `array` once it is known to hold one finite unit vector per label.

    Raises ValueError naming the label of the first bad vector.
    """
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise BadInput(f"dtype must be floating point, got {array.dtype}")
    if array.shape != (len(labels), dim):
        raise BadInput(f"expected shape ({len(labels)}, {dim}) for {len(labels)} records, got {array.shape}")
    array = np.array(array, dtype=np.float32)  # a private copy: the caller may reuse its buffer
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise BadInput(f"non-finite value in the vector of {labels[int(np.argmin(finite))]!r}")
    norms = np.linalg.norm(array, axis=1)
    off = np.abs(norms - 1.0) > NORM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise BadInput(f"vector of {labels[row]!r} has norm {norms[row]:.6f}, expected L2-normalised (norm 1)")
    return array


def encode(vectors: np.ndarray, dtype: str) -> np.ndarray:
    """Unit float32 vectors in a storage dtype (int8 is scalar quantised with a fixed scale)."""
    if dtype == "int8":
        return np.clip(np.rint(vectors * _INT8_SCALE), -127, 127).astype(np.int8)
    return vectors.astype(dtype)


def decode(stored: np.ndarray) -> np.ndarray:
    if stored.dtype == np.int8:
        return stored.astype(np.float32) / _INT8_SCALE
    return np.asarray(stored, dtype=np.float32)


def exact_search(stored: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int,
                 live: np.ndarray | None = None) -> list[Neighbors]:
    """Top-k of `stored` rows (ids `ids`) by inner product per query, only rows where `live` is True."""
    candidates: list[list[Neighbors]] = [[] for _ in queries]
    # Gathering scattered rows costs more than scanning them all once a few percent are wanted.
    dense = live is None or (len(live) > 0 and np.count_nonzero(live) > DENSE_SHARE * len(live))
    rows = None if dense else np.flatnonzero(live)
    for start in range(0, len(stored) if rows is None else len(rows), _BLOCK):
        block = slice(start, start + _BLOCK) if rows is None else rows[start : start + _BLOCK]
        scores, block_ids = _inner_products(queries, stored[block]), ids[block]
        if dense and live is not None:
            # Left out rather than scored -inf: numpy's partition is 15x slower over many equal values.
            scores, block_ids = scores[:, live[block]], block_ids[live[block]]
        for query, row_scores in enumerate(scores):
            candidates[query].append(_top(block_ids, row_scores, k))
    return [merge_neighbors(found, k) for found in candidates]


def _inner_products(queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """(q, n) scores. One float32 query goes through FAISS's SIMD kernel, which beats BLAS's gemv on one core."""
    if len(queries) != 1 or stored.dtype != np.float32 or not stored.flags.c_contiguous:
        return queries @ decode(stored).T
    scores = np.empty((1, len(stored)), dtype=np.float32)
    query = np.ascontiguousarray(queries[0], dtype=np.float32)
    faiss.fvec_inner_products_ny(faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(stored),
                                 stored.shape[1], len(stored))
    return scores


def merge_neighbors(parts: list[Neighbors], k: int) -> Neighbors:
    """The k best of several result lists, ties by ascending id."""
    parts = [part for part in parts if len(part.ids)]
    if not parts:
        return Neighbors(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
    ids = np.concatenate([part.ids for part in parts])
    scores = np.concatenate([part.scores for part in parts])
    order = np.lexsort((ids, -scores))[:k]
    return Neighbors(ids[order].astype(np.int64), scores[order].astype(np.float32))


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> Neighbors:
    """Candidates for the top k: every row scoring at least the k-th best, so ties across the cut survive."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth
        ids, scores = ids[keep], scores[keep]
    return Neighbors(ids, scores)
