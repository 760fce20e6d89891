"""Near-duplicate items of a collection: exact copies by content hash, near copies by their stored vectors.

Each stored vector is searched against the collection's own index (the ANN index when `optimize` built one, else
exact), a k-NN search widened until its last neighbour falls below the threshold, so the cost is one search per
item, not one comparison per pair. Pairs at or above the threshold are joined into groups (union-find), and so are
two photos among each other's neighbours above CANDIDATE_THRESHOLD whose perceptual hashes (perceptual_hash.py)
differ in at most `hash_distance` bits: the vectors of the offline model are semantic and miss many resized and
cropped copies that the hash catches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..encoders.base import SHARED
from ..errors import BadInput
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.segments import is_segment
from .perceptual_hash import BITS, PerceptualHashes

# Tuned in the image space on the first half of the benchmark's copied caltech101 photos (benchmarks/duplicates.py,
# RESULTS.md): the lowest threshold whose pair precision there reaches 0.98. With the offline model it finds about a
# third of the resized/recompressed/cropped copies; a lower one (0.9) finds more and groups some look-alikes too.
DEFAULT_THRESHOLD = 0.96
IMAGE_SPACE = "image"  # an image-only space, where it exists, tells copies from look-alikes better than the shared
# Tuned with DEFAULT_THRESHOLD on the same split: at 0.96 and 2 bits pair precision stays 1.000 there and recall goes
# from 0.334 to 0.629 (half-size, quality-60 and brightened copies); 4 bits or more chain look-alikes (0.971 at 4).
DEFAULT_HASH_DISTANCE = 2
CANDIDATE_THRESHOLD = 0.8  # the neighbours whose hashes are compared
FIRST_K = 8  # neighbours asked for first; rows whose last neighbour is still a copy are asked again for more
SEARCH_BATCH = 4096


@dataclass(frozen=True)
class Copy:
    record: Record
    similarity: float  # cosine similarity to the group's best copy (1.0 for the best copy and for exact copies)
    exact: bool  # the same content hash as the best copy


@dataclass(frozen=True)
class DuplicateGroup:
    copies: list[Copy]  # the best copy first: the largest file, then the oldest

    @property
    def best(self) -> Record:
        return self.copies[0].record

    def as_json(self) -> dict:
        return {"best": self.best.item_id, "copies": [
            {"id": c.record.item_id, "path": c.record.path, "modality": c.record.modality, "size": c.record.size,
             "mtime": c.record.mtime, "similarity": round(c.similarity, 6), "exact": c.exact} for c in self.copies]}


def find_duplicates(store: CollectionBase, threshold: float = DEFAULT_THRESHOLD, space: str | None = None,
                    texts: bool = False, segments: bool = False, hash_distance: int | None = DEFAULT_HASH_DISTANCE,
                    hashes: PerceptualHashes | None = None) -> list[DuplicateGroup]:
    """The groups of two or more items whose vectors in `space` (default: the image space if the collection has
    one, else the shared one) have cosine similarity >= `threshold` (joined transitively), or that share a content
    hash, or photos whose perceptual hashes differ in at most `hash_distance` bits (None: no hashes) and whose
    vectors are close enough to be compared; text items and audio/video segments only when asked for."""
    space = space or default_space(store)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1.0 <= threshold <= 1.0:
        raise BadInput(f"threshold: a cosine similarity between -1 and 1, got {threshold!r}")
    if hash_distance is not None and not 0 <= hash_distance <= BITS:
        raise BadInput(f"hash_distance: a number of differing hash bits from 0 to {BITS}, got {hash_distance!r}")
    if space not in store.spaces:
        raise BadInput(f"space: {space!r} is not a space of {store.path}; its spaces are {sorted(store.spaces)}")
    wanted = {r.item_id: r for r in store.records() if _wanted(r, texts, segments)}
    hashes = hashes or PerceptualHashes()
    compared = threshold if hash_distance is None else min(threshold, CANDIDATE_THRESHOLD)
    groups = _UnionFind()
    _join_exact_copies(wanted.values(), groups)
    for records, vectors in store.stored_vectors(space):
        kept = [i for i, record in enumerate(records) if record.item_id in wanted]
        for start in range(0, len(kept), SEARCH_BATCH):
            rows = kept[start:start + SEARCH_BATCH]
            ids = [records[i].item_id for i in rows]
            for item_id, neighbours in zip(ids, _neighbours_above(store, space, vectors[rows], compared, wanted)):
                for other, score in neighbours:
                    if score >= threshold or _hashes_close(hashes, wanted[item_id], wanted[other], hash_distance):
                        groups.join(item_id, other)
    return _ordered_groups(store, space, groups.sets(), wanted)


def duplicates_json(store: CollectionBase, threshold: float = DEFAULT_THRESHOLD, space: str | None = None,
                    texts: bool = False, segments: bool = False,
                    hash_distance: int | None = DEFAULT_HASH_DISTANCE) -> dict:
    """The groups as `mmret duplicates --json` prints them and `GET /api/duplicates` answers."""
    space = space or default_space(store)
    return groups_json(find_duplicates(store, threshold, space, texts, segments, hash_distance), threshold, space,
                       hash_distance)


def groups_json(groups: list[DuplicateGroup], threshold: float, space: str, hash_distance: int | None) -> dict:
    return {"threshold": threshold, "space": space, "hash_distance": hash_distance,
            "groups": [group.as_json() for group in groups]}


def default_space(store: CollectionBase) -> str:
    return IMAGE_SPACE if IMAGE_SPACE in store.spaces else SHARED


def _wanted(record: Record, texts: bool, segments: bool) -> bool:
    if is_segment(record.metadata):
        return segments
    return texts or record.modality != "text"


def _join_exact_copies(records, groups: _UnionFind) -> None:
    first_of_hash: dict[str, str] = {}
    for record in records:
        if record.content_hash:
            groups.join(first_of_hash.setdefault(record.content_hash, record.item_id), record.item_id)


def _hashes_close(hashes: PerceptualHashes, a: Record, b: Record, limit: int | None) -> bool:
    if limit is None or a.item_id == b.item_id:
        return False
    distance = hashes.distance(a, b)
    return distance is not None and distance <= limit


def _neighbours_above(store: CollectionBase, space: str, queries: np.ndarray, threshold: float,
                      wanted: dict[str, Record]) -> list[list[tuple[str, float]]]:
    """Per query row, the wanted items (with their similarity) whose similarity is >= threshold: a k-NN search
    with k doubled for the rows whose k-th neighbour still reaches the threshold (a range search on any index)."""
    found: list[list[tuple[str, float]]] = [[] for _ in range(len(queries))]
    pending, k, total = np.arange(len(queries)), FIRST_K, store.vector_count(space)
    while len(pending):
        k = min(k, total)
        again = []
        for row, hits in zip(pending.tolist(), store.search(space, queries[pending], k=k)):
            found[row] = [(h.item_id, h.score) for h in hits if h.score >= threshold and h.item_id in wanted]
            if len(hits) == k < total and hits[-1].score >= threshold:
                again.append(row)
        pending, k = np.array(again, dtype=np.int64), k * 4
    return found


def _ordered_groups(store: CollectionBase, space: str, sets: list[list[str]],
                    wanted: dict[str, Record]) -> list[DuplicateGroup]:
    groups = []
    for members in sets:
        records = sorted((wanted[i] for i in members), key=_best_first)
        vectors = store.vectors_of([r.item_id for r in records], space)
        best = records[0]
        copies = [Copy(r, _similarity(vectors, best.item_id, r.item_id),
                       bool(best.content_hash) and r.content_hash == best.content_hash) for r in records]
        groups.append(DuplicateGroup(copies))
    return sorted(groups, key=lambda g: (-len(g.copies), g.best.path or g.best.item_id))


def _best_first(record: Record) -> tuple:
    """The largest file first, then the oldest, then by id so that the order is stable."""
    return (-(record.size or 0), record.mtime if record.mtime is not None else float("inf"), record.item_id)


def _similarity(vectors: dict[str, np.ndarray], best: str, other: str) -> float:
    if best == other:
        return 1.0
    if best in vectors and other in vectors:
        return float(np.dot(vectors[best], vectors[other]))
    return 1.0  # an exact copy without a vector in this space


class _UnionFind:
    def __init__(self):
        self._parent: dict[str, str] = {}

    def join(self, a: str, b: str) -> None:
        root_a, root_b = self._root(a), self._root(b)
        if root_a != root_b:
            self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def _root(self, item: str) -> str:
        self._parent.setdefault(item, item)
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def sets(self) -> list[list[str]]:
        members: dict[str, list[str]] = {}
        for item in self._parent:
            members.setdefault(self._root(item), []).append(item)
        return [group for group in members.values() if len(group) > 1]
