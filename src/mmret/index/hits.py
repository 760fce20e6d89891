"""Search hits: the item_id and score at once, the record (path, text, metadata) decoded on first use.

A search reads its hits' rows in one SQLite query inside its read transaction (so they belong to the commit its
vectors do) but leaves their JSON undecoded: a caller that only needs ids and scores (re-ranking, fusion,
evaluation) does not pay for decoding metadata it never reads.
"""

from __future__ import annotations

from mmret.index.store import Record, record_of
from mmret.index.vectors import Neighbors


class Hit:
    __slots__ = ("_fields", "_record", "item_id", "score", "space")

    def __init__(self, record: Record, score: float, space: str):
        self.item_id = record.item_id
        self.score = score  # inner product (cosine for unit vectors), higher is better
        self.space = space
        self._record: Record | None = record
        self._fields: tuple | None = None

    @classmethod
    def stored(cls, fields: tuple, score: float, space: str) -> Hit:
        """A hit on the record whose stored fields (store.record_of's order) are `fields`."""
        hit = cls.__new__(cls)
        hit.item_id, hit.score, hit.space, hit._record, hit._fields = fields[0], score, space, None, fields
        return hit

    @property
    def record(self) -> Record:
        if self._record is None:
            self._record, self._fields = record_of(self._fields), None
        return self._record

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return (self.score, self.space, self.record) == (other.score, other.space, other.record)

    __hash__ = None  # equal hits must hash alike, and the record is decoded lazily

    def __repr__(self) -> str:
        return f"Hit(item_id={self.item_id!r}, score={self.score!r}, space={self.space!r})"


def hits_of(neighbors: list[Neighbors], stored: dict[int, tuple], space: str) -> list[list[Hit]]:
    """Each query's neighbours (row ids) as hits, from their rows' `stored` fields."""
    return [[Hit.stored(stored[row], score, space) for row, score in zip(found.ids.tolist(), found.scores.tolist())
             if row in stored] for found in neighbors]
