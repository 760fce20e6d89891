"""Storing a file under its own record with the stored vectors of another record of the same content (a moved or a
copied file), instead of embedding it again. Audio and video, stored with their timed segments, are not reused."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from ..data.items import Item
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.batches import text_digest
from ..media.segments import TIMED_MODALITIES
from .writer import FileState, file_state


def reusable(modality: str) -> bool:
    return modality not in TIMED_MODALITIES


def size_of(path: str) -> int | None:
    try:
        return file_state(path)[0]
    except OSError:
        return None


def digest_of(item: Item) -> str | None:
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


def upsert_reusing(collection: CollectionBase, pairs: list[tuple[Item, Record]],
                   states: Mapping[str, FileState] | None = None) -> None:
    """Store each item with the content hash and vectors of its stored record; its path, text and metadata are its
    own, its size and mtime those of `states` (as read) or of the file now. Call within a transaction."""
    sources = [source.item_id for _, source in pairs]
    vectors = {space: collection.vectors_of(sources, space) for space in collection.spaces}
    by_spaces: dict[tuple[str, ...], list[tuple[Item, Record]]] = defaultdict(list)
    for item, source in pairs:  # one upsert per set of spaces: each needs a vector for every record it holds
        by_spaces[tuple(space for space, found in vectors.items() if source.item_id in found)].append((item, source))
    for spaces, group in by_spaces.items():
        records = [_record(item, source.content_hash, (states or {}).get(item.path)) for item, source in group]
        collection.upsert(records, {space: np.stack([vectors[space][source.item_id] for _, source in group])
                                    for space in spaces})


def _record(item: Item, content_hash: str | None, state: FileState | None) -> Record:
    size, mtime = state or file_state(item.path)
    return Record(item_id=item.id, modality=item.modality, path=item.path, text=item.text, metadata=item.metadata,
                  content_hash=content_hash, size=size, mtime=mtime)
