"""Indexing as a pipeline: reader (new or changed items) -> mapper (embedded batches) -> writer (commits).

Re-running on the same sources adds only new or changed items, and `sync` also drops stored files that have
vanished from the folders given; with `sync`, a vanished file found again under another path (renamed or moved,
same content) keeps its stored vectors (moves.py), and a new or changed file with a stored file's content takes
copies of its vectors (copies.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..data.items import Item
from ..data.sources import Skipped
from ..encoders.base import Encoder
from ..index.collection_base import CollectionBase
from ..index.values import Record
from ..media.segments import SEGMENT_OF
from ..media.timed_settings import TimedSettings
from .copies import find_copies, write_copies
from .mapper import embed_stream
from .moves import find_moves, write_moves
from .reader import ChangedItems, vanished
from .report import IndexReport
from .writer import CollectionWriter, FileState


@dataclass
class Ingest:
    collection: CollectionBase
    encoder: Encoder
    batch_size: int = 32
    workers: int | None = None
    commit_every: int = 1024
    commit_seconds: float = 30.0
    progress: bool = True
    on_skip: Callable[[Skipped], None] | None = None
    timed: TimedSettings = field(default_factory=TimedSettings)
    within: list[Path] | None = None  # manifest rows must name files inside these folders (a server's roots)

    def run(self, sources: Iterable[str | Path], sync: bool = False) -> IndexReport:
        sources = list(sources)
        report = IndexReport()

        def skip(skipped: Skipped) -> None:
            report.skipped.append(skipped)
            if self.on_skip:
                self.on_skip(skipped)

        try:
            self._run(sources, sync, report, skip)
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: the command says what was kept (report.kept)
            stop.index_report = report
            raise
        return report

    def _run(self, sources: list, sync: bool, report: IndexReport, skip: Callable[[Skipped], None]) -> None:
        reader = ChangedItems(self.collection, self.encoder, self.timed, report, skip, self.within)
        items = list(reader.read(sources))  # listed first, so that progress bars know their total
        gone = vanished(self.collection, sources, reader.seen)
        if sync:
            items, gone = self._move(items, reader.stored, gone, report)
        items = self._copy(items, reader.stored, reader.states, report)
        report.to_embed = len(items)
        self.map_and_write(items, reader.stored, report, skip, reader.states)
        files = sum(SEGMENT_OF not in record.metadata for record in gone)  # files, not their segments
        if sync:
            self.collection.remove(record.item_id for record in gone)
            report.removed = files
        else:
            report.gone = files

    def _move(self, items: list[Item], stored: set[str], gone: list[Record],
              report: IndexReport) -> tuple[list[Item], list[Record]]:
        """Store renamed and moved files under their new paths with their old vectors; the rest to embed and to
        remove."""
        pairs = find_moves(self._reusable(items), stored, gone)
        write_moves(self.collection, pairs)
        report.moved = len(pairs)
        moved_items = {item.id for item, _ in pairs}
        moved_records = {record.item_id for _, record in pairs}
        return ([item for item in items if item.id not in moved_items],
                [record for record in gone if record.item_id not in moved_records])

    def _copy(self, items: list[Item], stored: set[str], states: Mapping[str, FileState],
              report: IndexReport) -> list[Item]:
        """Store copies of stored files with the stored vectors; the rest to embed."""
        pairs = find_copies(self.collection, self._reusable(items))
        write_copies(self.collection, pairs, states)
        updated = sum(item.id in stored for item, _ in pairs)
        report.updated += updated
        report.added += len(pairs) - updated
        report.copied = len(pairs)
        copied = {item.id for item, _ in pairs}
        return [item for item in items if item.id not in copied]

    def _reusable(self, items: list[Item]) -> list[Item]:
        """The items whose stored vectors another file of the same content may take: not photos while photos are also
        read for their text or faces (a stored photo's record may lack those, and face segments are its own)."""
        if not (self.timed.ocr or self.timed.faces is not None):
            return items
        return [item for item in items if item.modality != "image"]

    def map_and_write(self, items: list[Item], stored: set[str], report: IndexReport,
                      skip: Callable[[Skipped], None], states: Mapping[str, FileState] | None = None) -> None:
        """The mapper and writer stages on the reader's items (`stored`: those that already have a record, `states`:
        files' (size, mtime) when they were read); a distributed runner (distributed/ray_pipeline.py) replaces this
        step alone."""
        batches = embed_stream(self.encoder, items, self.timed, self.batch_size, self.workers, self.progress)
        CollectionWriter(self.collection, report, skip, self.commit_every, self.commit_seconds).write(batches, stored, states)
