"""Renamed and moved files, found by content: a new file whose content hash equals that of a stored file that has
vanished takes over the vanished file's stored vectors under its new path, in one commit with the removal of the
old record, instead of being embedded again. Audio and video (stored with their timed segments) are embedded again.
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from ..data.items import Item
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.batches import text_digest
from ..media.segments import SEGMENT_OF, TIMED_MODALITIES


def find_moves(items: Iterable[Item], stored: set[str], gone: list[Record]) -> list[tuple[Item, Record]]:
    """Pairs of (new item, vanished record) with the same modality and content; each record is paired at most
    once. Only new files whose size matches a vanished file's are read to hash them."""
    candidates: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for record in gone:
        if _movable(record.modality) and SEGMENT_OF not in record.metadata and record.content_hash:
            candidates[(record.modality, record.size)].append(record)
    pairs = []
    for item in items:
        if item.id in stored or item.path is None or not _movable(item.modality):
            continue
        same_size = candidates.get((item.modality, _size(item.path)))
        if not same_size:
            continue
        digest = _digest(item)
        match = next((record for record in same_size if record.content_hash == digest), None)
        if match is not None:
            same_size.remove(match)
            pairs.append((item, match))
    return pairs


def write_moves(collection: CollectionBase, pairs: list[tuple[Item, Record]]) -> None:
    """One commit: each new item stored with its old record's vectors, the old records removed."""
    if not pairs:
        return
    old_ids = [old.item_id for _, old in pairs]
    vectors = {space: collection.vectors_of(old_ids, space) for space in collection.spaces}
    with collection.transaction():
        for item, old in pairs:
            stat = os.stat(item.path)
            record = Record(item_id=item.id, modality=item.modality, path=item.path, text=item.text,
                            metadata=item.metadata, content_hash=old.content_hash, size=stat.st_size,
                            mtime=stat.st_mtime)
            collection.upsert([record], {space: np.asarray(found[old.item_id])[None]
                                         for space, found in vectors.items() if old.item_id in found})
        collection.remove(old_ids)


def _movable(modality: str) -> bool:
    return modality not in TIMED_MODALITIES


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _digest(item: Item) -> str | None:
    """The content hash the mapper would record: of the text for a text file, else of the file's bytes."""
    if item.modality == "text":
        return text_digest(item.text or "")
    digest = hashlib.sha256()
    try:
        with open(item.path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
