"""Copied files, found by content: a new or changed file whose content hash equals a stored file's (same modality,
same text) takes copies of that file's stored vectors instead of being embedded (reuse.py); its path, file name
and folder, and so its words in the keyword index, are its own. All of a run's copies are one commit. With OCR or
faces on, photos are embedded (Ingest._reusable)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from ..data.items import Item
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.segments import SEGMENT_OF
from .reuse import digest_of, reusable, size_of, upsert_reusing
from .writer import FileState


def find_copies(collection: CollectionBase, items: list[Item]) -> list[tuple[Item, Record]]:
    """Pairs of (item, stored record of the same content) for the file items that have one. Only files whose size
    matches a stored file's are read to hash them."""
    files = [item for item in items if item.path is not None and reusable(item.modality)
             and SEGMENT_OF not in item.metadata]
    if not files:
        return []
    by_size: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, (size, _, content_hash) in collection.file_state().items():
        if size is not None and content_hash:
            by_size[size].append((item_id, content_hash))
    indexing = {item.id for item in items}
    pairs = []
    for item in files:
        same_size = by_size.get(size_of(item.path))
        if same_size and (source := _same_content(collection, item, same_size, indexing)) is not None:
            pairs.append((item, source))
    return pairs


def write_copies(collection: CollectionBase, pairs: list[tuple[Item, Record]],
                 states: Mapping[str, FileState]) -> None:
    if pairs:
        with collection.transaction():
            upsert_reusing(collection, pairs, states)


def _same_content(collection: CollectionBase, item: Item, same_size: list[tuple[str, str]],
                  indexing: set[str]) -> Record | None:
    digest = digest_of(item)
    for item_id, content_hash in same_size:
        if content_hash != digest or item_id in indexing:  # a stored file that is read again itself is no source:
            continue  # what changed may be how files are indexed (their faces, their text read)
        record = collection.get(item_id)
        if (record is not None and record.modality == item.modality and record.text == item.text
                and SEGMENT_OF not in record.metadata):
            return record
    return None
