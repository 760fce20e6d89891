"""Renamed and moved files, found by content: a new file whose content hash equals that of a stored file that has
vanished takes over the vanished file's stored vectors under its new path, in one commit with the removal of the
old record, instead of being embedded again (reuse.py; audio and video are embedded again).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ..data.items import Item
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.segments import SEGMENT_OF
from .reuse import digest_of, reusable, size_of, upsert_reusing


def find_moves(items: Iterable[Item], stored: set[str], gone: list[Record]) -> list[tuple[Item, Record]]:
    """Pairs of (new item, vanished record) with the same modality and content; each record is paired at most
    once. Only new files whose size matches a vanished file's are read to hash them."""
    candidates: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for record in gone:
        if reusable(record.modality) and SEGMENT_OF not in record.metadata and record.content_hash:
            candidates[(record.modality, record.size)].append(record)
    pairs = []
    for item in items:
        if item.id in stored or item.path is None or not reusable(item.modality):
            continue
        same_size = candidates.get((item.modality, size_of(item.path)))
        if not same_size:
            continue
        digest = digest_of(item)
        match = next((record for record in same_size if record.content_hash == digest), None)
        if match is not None:
            same_size.remove(match)
            pairs.append((item, match))
    return pairs


def write_moves(collection: CollectionBase, pairs: list[tuple[Item, Record]]) -> None:
    """One commit: each new item stored with its old record's vectors, the old records removed."""
    if not pairs:
        return
    with collection.transaction():
        upsert_reusing(collection, pairs)
        collection.remove([old.item_id for _, old in pairs])
