"""Stored items as query parts ("more like this"): a part of modality "item" names a stored item, and its vector in
the space searched is the one the collection keeps for it, so no file is read and no encoder runs.

An item is named by its id, or a file by its path (its id is its absolute path). An audio or video file's own
record has no vectors (its segments have them): it stands for the mean of its segments' vectors in that space.
Every record of a named item's file (the file and all its segments) is left out of the results.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import BadInput, NotFound
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.segments import SEGMENT_OF, source_id
from .parts import ITEM, QueryPart


class UnknownItem(NotFound, ValueError):
    """A query names an item the collection does not hold."""


class StoredParts:
    """The stored items named by a query's parts: their records, their vectors per space, what to leave out."""

    def __init__(self, store: CollectionBase | None, parts: Sequence[QueryPart]):
        """`store` None: a query without stored items (their vectors are read from a collection)."""
        if store is None and any(part.modality == ITEM for part in parts):
            raise BadInput("a query naming a stored item needs the collection holding it")
        self.store = store
        self._records = {part.value: _named_record(store, part.value) for part in parts if part.modality == ITEM}
        self._vectors: dict[tuple[str, str], np.ndarray | None] = {}

    @property
    def left_out(self) -> list[str]:
        """The ids of every record of the named items' files."""
        return [item_id for record in self._records.values() for item_id in _file_records(self.store, record)]

    def has_vector(self, name: str, space: str) -> bool:
        return self._lookup(name, space) is not None

    def vector(self, name: str, space: str) -> np.ndarray:
        """The unit vector standing for the item `name` in `space`; a ValueError saying so when it has none."""
        vector = self._lookup(name, space)
        if vector is None:
            record = self._records[name]
            has = [s for s in sorted(self.store.spaces) if s != space and self.has_vector(name, s)]
            raise BadInput(f"like {name!r}: item {record.item_id!r} of {self.store.path} has no vector in space "
                           f"{space!r} (it has vectors in: {', '.join(has) or 'no space'})")
        return vector

    def _lookup(self, name: str, space: str) -> np.ndarray | None:
        if (name, space) not in self._vectors:
            self._vectors[name, space] = _stored_vector(self.store, self._records[name], space)
        return self._vectors[name, space]


def stored_record(store: CollectionBase, name: str) -> Record | None:
    """The item with id `name`, else the file at path `name` (relative, or through a symlink), else None. The name
    is taken as written: `~` is the caller's to expand, so a name from a request never asks the system about its
    users."""
    return store.get(name) or _stored_file(store, name)


def _named_record(store: CollectionBase, name: str) -> Record:
    record = stored_record(store, name)
    if record is None:
        raise UnknownItem(f"like {name!r}: no stored item has this id or path in {store.path}")
    return record


def _stored_file(store: CollectionBase, name: str) -> Record | None:
    try:
        resolved = Path(name).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: no stored file has such a name
        return None
    return store.get(str(resolved))


def _stored_vector(store: CollectionBase, record: Record, space: str) -> np.ndarray | None:
    """The item's own vector in `space`, or for a file stored as segments the unit mean of theirs."""
    own = store.vectors_of([record.item_id], space)
    if own:
        return own[record.item_id]
    segments = store.vectors_of([r.item_id for r in store.find({SEGMENT_OF: record.item_id})], space)
    if not segments:
        return None
    mean = np.mean(list(segments.values()), axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _file_records(store: CollectionBase, record: Record) -> list[str]:
    file_id = source_id(record.item_id, record.metadata)
    return [file_id, *(r.item_id for r in store.find({SEGMENT_OF: file_id}))]
