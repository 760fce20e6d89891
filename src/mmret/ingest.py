"""Indexing as a pipeline: reader (sources) -> mapper (embed) -> writer (collection commits).

Re-running on the same sources adds only new or changed items: a file whose size and mtime are unchanged
is not read again. Work is committed every `commit_every` items, so an interrupted run keeps what it had
committed and the next run resumes from there.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from .data.items import Item
from .data.sources import Skipped, iter_items
from .embed import EmbeddedBatch, embed_items, text_digest
from .encoders.base import Encoder
from .index.collection import Record, VectorCollection
from .timed import (
    SEGMENT_OF,
    TIMED_MODALITIES,
    TimedEmbedder,
    TimedSettings,
    indexable_modalities,
    with_settings,
)


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed, {len(self.skipped)} skipped")


@dataclass
class Ingest:
    collection: VectorCollection
    encoder: Encoder
    batch_size: int = 32
    workers: int | None = None
    commit_every: int = 1024
    progress: bool = True
    on_skip: Callable[[Skipped], None] | None = None
    timed: TimedSettings = field(default_factory=TimedSettings)

    def run(self, sources: Iterable[str | Path], sync: bool = False) -> IndexReport:
        report = IndexReport()
        seen: set[str] = set()
        stored: set[str] = set()  # ids of changed items that already had a record: updates, not additions

        def skip(skipped: Skipped) -> None:
            report.skipped.append(skipped)
            if self.on_skip:
                self.on_skip(skipped)

        items = self._indexable(iter_items(sources, on_skip=skip), skip)
        pending = self._changed(items, seen, stored, report)
        for batches in _chunked_batches(self._embedded(pending), self.commit_every):
            with self.collection.transaction():
                for batch in batches:
                    self._write(batch, stored, report, skip)
        if sync:
            gone = self._vanished(sources, seen)
            self.collection.remove(record.item_id for record in gone)
            report.removed = sum(SEGMENT_OF not in record.metadata for record in gone)  # files, not segments
        return report

    def _indexable(self, items: Iterable[Item], skip: Callable[[Skipped], None]) -> Iterator[Item]:
        accepted = indexable_modalities(self.encoder)
        for item in items:
            if item.modality in TIMED_MODALITIES and item.modality in accepted:
                yield with_settings(item, self.timed)
            elif item.modality in accepted:
                yield item
            else:
                hint = "; add an audio path, e.g. --model offline+speech" if item.modality == "audio" else ""
                skip(Skipped(item.path or item.id, f"the model does not embed {item.modality}{hint}"))

    def _embedded(self, items: Iterable[Item]) -> Iterator[EmbeddedBatch]:
        """Runs of still images and texts go through `embed_items`; audio and video files through TimedEmbedder."""
        timed = TimedEmbedder(self.encoder, self.timed)
        for is_timed, run in groupby(items, key=lambda item: item.modality in TIMED_MODALITIES):
            if is_timed:
                yield from timed.embed(run, self.progress)
            else:
                yield from embed_items(self.encoder, run, self.batch_size, self.workers, self.progress)

    def _changed(self, items: Iterable[Item], seen: set[str], stored_ids: set[str],
                 report: IndexReport) -> Iterator[Item]:
        """Items that are new or differ from what is stored (by size+mtime, text or metadata)."""
        for item in items:
            seen.add(item.id)
            stored = self.collection.get(item.id)
            if stored is not None and _same(stored, item):
                report.unchanged += 1
                continue
            if stored is not None:
                stored_ids.add(item.id)
            yield item

    def _write(self, batch: EmbeddedBatch, stored_ids: set[str], report: IndexReport,
               skip: Callable[[Skipped], None]) -> None:
        for item, reason in batch.failures:
            skip(Skipped(item.path or item.id, reason))
        if not batch.items:
            return
        files = [item for item in batch.items if SEGMENT_OF not in item.metadata]
        updated = [item for item in files if item.id in stored_ids]
        report.updated += len(updated)
        report.added += len(files) - len(updated)
        for item in updated:  # a changed file's old segments go; its new ones follow in this commit
            self.collection.remove(r.item_id for r in self.collection.find({SEGMENT_OF: item.id}))
        records = [_record(item, digest) for item, digest in zip(batch.items, batch.digests)]
        self.collection.upsert(records, batch.vectors)

    def _vanished(self, sources: Iterable[str | Path], seen: set[str]) -> list[Record]:
        """Stored file items (and their segments) under the given folders that are gone."""
        roots = [str(Path(s).resolve()) for s in sources if Path(s).is_dir()]
        gone = []
        for record in self.collection.records():
            if record.item_id in seen or record.path is None:
                continue
            if any(record.path.startswith(root + os.sep) for root in roots) and not os.path.exists(record.path):
                gone.append(record)
        return gone


def _same(stored: Record, item: Item) -> bool:
    if stored.text != item.text or stored.metadata != item.metadata or stored.modality != item.modality:
        return False
    if item.path is None:
        return stored.content_hash == text_digest(item.text or "")
    try:
        stat = os.stat(item.path)
    except OSError:
        return False
    return stored.size == stat.st_size and stored.mtime == stat.st_mtime


def _record(item: Item, digest: str) -> Record:
    size = mtime = None
    if item.path is not None:
        stat = os.stat(item.path)
        size, mtime = stat.st_size, stat.st_mtime
    return Record(item_id=item.id, modality=item.modality, path=item.path, text=item.text,
                  metadata=item.metadata, content_hash=digest, size=size, mtime=mtime)


def _chunked_batches(batches: Iterable[EmbeddedBatch], commit_every: int) -> Iterator[list[EmbeddedBatch]]:
    """Groups of embedded batches holding about `commit_every` items each: one commit per group."""
    group: list[EmbeddedBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += len(batch.items) + len(batch.failures)
        if count >= commit_every:
            yield group
            group, count = [], 0
    if group:
        yield group
