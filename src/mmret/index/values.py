"""The values both collection backends take and give back: records, search hits, built indexes, the error.

Layers above `index/` use these and the collection base (collection_base.py), never a concrete backend."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

from mmret.errors import BadInput, Conflict, NotFound, StorageFailure, Unavailable


class CollectionError(BadInput):
    """A collection cannot be opened, created or written as asked."""


class NoCollection(NotFound, CollectionError):
    """No collection at the place named."""


class CollectionConflict(Conflict, CollectionError):
    """The place holds another collection than the one asked for, or another process holds it."""


class CollectionWriteFailed(StorageFailure, CollectionError):
    """A write failed (a read-only folder, a full disk) and was undone: the last commit is intact."""


class CollectionUnreachable(Unavailable, CollectionError):
    """The Milvus server holding the collection does not answer."""


class ItemGone(CollectionError):
    """A hit's item was removed or replaced after the search that found it."""


@dataclass(frozen=True)
class Record:
    """One stored item, without its vectors."""

    item_id: str
    modality: str
    path: str | None = None
    text: str | None = None
    metadata: dict = field(default_factory=dict)
    content_hash: str | None = None
    size: int | None = None
    mtime: float | None = None


@dataclass(frozen=True)
class BuiltIndex:
    """What `optimize` built for a space: its index factory, the search parameters tuned for it and the recall@10
    measured with them."""

    factory: str
    params: dict = field(default_factory=dict)
    recall: float | None = None


def check_records(records: list[Record]) -> None:
    """Raise ValueError, naming the item, unless every record can be stored as given."""
    seen = set()
    for record in records:
        if not isinstance(record, Record):
            raise BadInput(f"expected Record objects, got {type(record).__name__}")
        if not isinstance(record.item_id, str) or not record.item_id:
            raise BadInput(f"item_id must be a non-empty string, got {record.item_id!r}")
        if not isinstance(record.modality, str) or not record.modality:
            raise BadInput(f"record {record.item_id!r}: modality must be a non-empty string")
        if record.item_id in seen:
            raise BadInput(f"record {record.item_id!r} appears twice in one batch")
        seen.add(record.item_id)
        if not isinstance(record.metadata, dict):
            raise BadInput(f"record {record.item_id!r}: metadata must be a dict")
        try:
            json.dumps(record.metadata, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise BadInput(f"record {record.item_id!r}: metadata is not JSON-serialisable: {error}") from None


class LazyRecords(Protocol):
    """The records of one search's hits, read when the first is asked for (the embedded backend's SearchRows)."""

    def record(self, row_id: int, item_id: str) -> Record: ...


WORDS = "words"  # a keyword hit's `space`, and the channel of the keyword index
VECTORS = "vectors"  # the channel of vector search


@dataclass(frozen=True)
class Snippet:
    """A stretch of an item's stored text, with the [start, end) character ranges of the matched words."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ChannelRank:
    """Where one channel (WORDS or VECTORS) ranked a hit (from 1), and its score there."""

    rank: int
    score: float


class Hit:
    __slots__ = ("_record", "_row_id", "_rows", "channels", "item_id", "relevance", "score", "snippet", "space")

    def __init__(self, record: Record, score: float, space: str, snippet: Snippet | None = None,
                 channels: dict[str, ChannelRank] | None = None):
        self.item_id = record.item_id
        self.score = score  # inner product (cosine for unit vectors), BM25 for words, fused: higher is better
        self.space = space
        self.snippet = snippet  # the matched words in context, for a hit of the keyword index
        self.channels = channels  # channel -> its rank and score, for a hit of a keyword or hybrid search
        self.relevance: float | None = None  # a calibrated probability of relevance, where the search has one
        self._record: Record | None = record
        self._rows: LazyRecords | None = None
        self._row_id = 0

    @classmethod
    def found(cls, item_id: str, row_id: int, score: float, space: str, rows: LazyRecords) -> Hit:
        """A hit on row `row_id`, whose record `rows` reads when first asked for."""
        hit = cls.__new__(cls)
        hit.item_id, hit.score, hit.space, hit._record, hit._rows, hit._row_id, hit.relevance = \
            item_id, score, space, None, rows, row_id, None
        hit.snippet = hit.channels = None
        return hit

    @property
    def record(self) -> Record:
        if self._record is None:
            self._record = self._rows.record(self._row_id, self.item_id)
        return self._record

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return (self.score, self.space, self.record) == (other.score, other.space, other.record)

    __hash__ = None  # equal hits must hash alike, and the record is read lazily

    def __repr__(self) -> str:
        return f"Hit(item_id={self.item_id!r}, score={self.score!r}, space={self.space!r})"


def readable(hits: list[Hit]) -> list[Hit]:
    """The hits whose records can be read: those of items removed or replaced since the search are left out, as a
    search made after their removal would have."""
    return [hit for hit in hits if _has_record(hit)]


def _has_record(hit: Hit) -> bool:
    try:
        return hit.record is not None
    except ItemGone:
        return False
