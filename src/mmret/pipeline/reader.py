"""The reader stage: sources -> the items that need embedding, i.e. the new or changed ones that the model can
embed. A file whose size and mtime are unchanged is not read again; a text whose digest is unchanged is not
embedded again. A changed file's size and mtime are taken before its content is read (a text file's again, after
that), so a file that changes while it is indexed is found changed by the next run rather than stored stale. The collection's own folder is never read, even inside a folder it indexes. Also finds stored files
that have vanished from the folders indexed."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ..data.items import Item
from ..data.sources import Skipped, iter_items
from ..encoders.base import Encoder
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.batches import text_digest
from ..media.face_segments import PEOPLE, with_face_settings
from ..media.segments import TIMED_MODALITIES, reserved_key
from ..media.timed_mapper import indexable_modalities
from ..media.timed_settings import TimedSettings, with_settings
from .report import IndexReport


class ChangedItems:
    """Iterates the items of `sources` that differ from what `collection` stores, counting unchanged ones in
    `report`; afterwards `seen` holds every item id reached, `stored` those of changed items already stored and
    `states` the (size, mtime) of each changed file by path, as it was before it was read."""

    def __init__(self, collection: CollectionBase, encoder: Encoder, timed: TimedSettings, report: IndexReport,
                 skip: Callable[[Skipped], None], within: Sequence[Path] | None = None):
        self.collection, self.encoder, self.timed = collection, encoder, timed
        self.report, self.skip, self.within = report, skip, within
        self.seen: set[str] = set()
        self.stored: set[str] = set()
        self.states: dict[str, tuple[int, float]] = {}

    def read(self, sources: Iterable[str | Path]) -> Iterator[Item]:
        own_folder = [self.collection.path] if Path(self.collection.path).is_dir() else []
        for item in self._indexable(iter_items(sources, on_skip=self.skip, within=self.within, exclude=own_folder)):
            self.seen.add(item.id)
            stored = self.collection.get(item.id)
            state = _state(item.path)
            if stored is not None and _same(stored, item, state):
                self.report.unchanged += 1
                continue
            if item.path is not None:
                if state is None:  # gone since it was listed
                    continue
                self.states[item.path] = state
            if stored is not None:
                self.stored.add(item.id)
            yield item

    def _indexable(self, items: Iterable[Item]) -> Iterator[Item]:
        accepted = indexable_modalities(self.encoder)
        for item in items:
            if reserved := reserved_key(item.metadata):
                self.skip(Skipped(item.path or item.id, reserved))
            elif item.modality in TIMED_MODALITIES and item.modality in accepted:
                yield with_settings(item, self.timed)
            elif item.modality == "image":
                yield with_face_settings(item, None if self.timed.faces is None else self.timed.faces.describe())
            elif item.modality in accepted:
                yield item
            else:
                hint = "; add an audio path, e.g. --model offline+speech" if item.modality == "audio" else ""
                self.skip(Skipped(item.path or item.id, f"the model does not embed {item.modality}{hint}"))


def vanished(collection: CollectionBase, sources: Iterable[str | Path], seen: set[str]) -> list[Record]:
    """Stored file items (and their segments) under the given folders that are gone."""
    roots = [str(Path(s).resolve()) for s in sources if Path(s).is_dir()]
    gone = []
    for record in collection.records():
        if record.item_id in seen or record.path is None:
            continue
        if any(record.path.startswith(root + os.sep) for root in roots) and not os.path.exists(record.path):
            gone.append(record)
    return gone


def _state(path: str | None) -> tuple[int, float] | None:
    """(size, mtime) of a file, None if it is gone (or is not a file item)."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime


def _same(stored: Record, item: Item, state: tuple[int, float] | None) -> bool:
    named = {key: value for key, value in stored.metadata.items() if key != PEOPLE}  # written by `faces name`
    if stored.text != item.text or named != item.metadata or stored.modality != item.modality:
        return False
    if item.path is None:
        return stored.content_hash == text_digest(item.text or "")
    return state is not None and (stored.size, stored.mtime) == state
