"""The writer stage: embedded batches -> collection commits of about `commit_every` items each, or of what was
embedded in `commit_seconds` when that comes first, so an interrupted run keeps what it committed and the next run
resumes from there; `report.committed` counts the files committed so far. A changed file's old segments are replaced in
the same commit as its new ones. A file's size and mtime are recorded as they were when it was read if the mapper
ran elsewhere and noted them (`states`), otherwise as they are when it is written."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from ..data.items import Item
from ..data.sources import Skipped
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.batches import EmbeddedBatch
from ..media.face_segments import is_face
from ..media.segments import SEGMENT_OF
from .fused import missing_parts
from .report import IndexReport

FileState = tuple[int, float]  # (size in bytes, mtime)


class CollectionWriter:
    def __init__(self, collection: CollectionBase, report: IndexReport, skip: Callable[[Skipped], None],
                 commit_every: int = 1024, commit_seconds: float = 30.0):
        self.collection, self.report, self.skip = collection, report, skip
        self.commit_every, self.commit_seconds = commit_every, commit_seconds

    def write(self, batches: Iterable[EmbeddedBatch], stored_ids: set[str],
              states: Mapping[str, FileState] | None = None) -> None:
        """Commit the batches; `stored_ids` are the changed items that already had a record (updates), `states`
        the (size, mtime) of files by path when they were read."""
        for group in _chunked_batches(batches, self.commit_every, self.commit_seconds):
            files_before = self.report.added + self.report.updated
            with self.collection.transaction():
                for batch in group:
                    self._write(batch, stored_ids, states or {})
            self.report.committed += self.report.added + self.report.updated - files_before

    def _write(self, batch: EmbeddedBatch, stored_ids: set[str], states: Mapping[str, FileState]) -> None:
        for item, reason in batch.failures:
            self.skip(Skipped(item.path or item.id, reason))
        self.report.faces_too_small += batch.faces_too_small
        self.report.faces += sum(is_face(item.metadata) for item in batch.items)
        if not batch.items:
            return
        files = [item for item in batch.items if SEGMENT_OF not in item.metadata]
        updated = [item for item in files if item.id in stored_ids]
        self.report.updated += len(updated)
        self.report.added += len(files) - len(updated)
        self.report.missing_parts += missing_parts(batch)
        for item in updated:  # a changed file's old segments go; its new ones follow in this commit
            self.collection.remove(r.item_id for r in self.collection.find({SEGMENT_OF: item.id}))
        records = [_record(item, digest, states) for item, digest in zip(batch.items, batch.digests)]
        self.collection.upsert(records, batch.vectors)


def file_state(path: str) -> FileState:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime


def _record(item: Item, digest: str, states: Mapping[str, FileState]) -> Record:
    size = mtime = None
    if item.path is not None:
        size, mtime = states[item.path] if item.path in states else file_state(item.path)
    return Record(item_id=item.id, modality=item.modality, path=item.path, text=item.text,
                  metadata=item.metadata, content_hash=digest, size=size, mtime=mtime)


def _chunked_batches(batches: Iterable[EmbeddedBatch], commit_every: int,
                     commit_seconds: float) -> Iterator[list[EmbeddedBatch]]:
    """Groups of embedded batches holding about `commit_every` items each, or what `commit_seconds` embedded since
    the last commit when that is fewer: one commit per group."""
    group: list[EmbeddedBatch] = []
    count, started = 0, time.monotonic()
    for batch in batches:
        group.append(batch)
        count += len(batch.items) + len(batch.failures)
        if count >= commit_every or time.monotonic() - started >= commit_seconds:
            yield group
            group, count, started = [], 0, time.monotonic()
    if group:
        yield group
