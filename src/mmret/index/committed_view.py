"""The embedded collection's view of its last commit and its commit point (see collection.py's docstring).

A handle's view (vectors, metadata columns, item ids) is brought up to the generation SQLite records at the start
of each read transaction; a write holds the directory's exclusive lock, commits its generation in one SQLite
transaction and removes the files that no committed generation lists.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmret.errors import MmretError
from mmret.index.checks import DB_FILE
from mmret.index.columns import MetadataColumns
from mmret.index.commit_batch import Staged, write_batch
from mmret.index.generation import committed_spaces
from mmret.index.item_ids import ItemIds
from mmret.index.locking import fsync_directory, locked
from mmret.index.masks import CompiledFilters
from mmret.index.segment import remove_unlisted
from mmret.index.space import SpaceVectors
from mmret.index.store import Changes, MetadataStore, Row
from mmret.index.values import CollectionError, CollectionWriteFailed


class CommittedView:
    """The part of VectorCollection that keeps its view on the last commit and writes the next one."""

    _path: Path
    _store: MetadataStore
    _spaces: dict[str, int]
    _dtype: str
    _generation: int
    _next_id: int
    _vectors: dict[str, SpaceVectors]
    _columns: MetadataColumns
    _compiled: CompiledFilters
    _item_ids: ItemIds
    _seen_counter: bytes

    @contextmanager
    def _reading(self, whole: bool = False) -> Iterator[None]:
        """A read transaction on the last commit, this handle's view first brought up to it (or loaded whole)."""
        try:
            with self._store.reading():
                if whole or self._store.get_meta("generation") != self._generation:
                    self._catch_up(whole)
                self._seen_counter = self._store.change_counter()
                yield
        except sqlite3.DatabaseError as error:
            raise CollectionError(f"{self._path / DB_FILE}: cannot read the collection database: {error}") from error

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """The exclusive lock and this handle brought up to the last commit; if the write fails, one line saying
        what failed, and the view reloaded (it may hold part of the failed write)."""
        try:
            with locked(self._path) as held:
                if not held:
                    raise CollectionWriteFailed(f"{self._path}: cannot {what}: the directory is read-only or not writable")
                with self._reading():  # caught up to the last commit, whoever made it
                    pass
                yield
                self._remove_stale_files()
        except BaseException as error:
            self._load_committed()
            if isinstance(error, (OSError, sqlite3.Error)) and not isinstance(error, MmretError):
                raise CollectionWriteFailed(f"{self._path}: {what} failed and was undone (the last commit, "
                                            f"generation {self._generation}, is intact): {_reason(error)}") from error
            raise

    def _write_generation(self, staged: dict[str, Staged | None]) -> None:
        generation = self._generation + 1
        rows, removed_ids, changes, updates = write_batch(self._path, self._store, self._vectors, self._dtype,
                                                          generation, self._next_id, staged)
        self._commit_changes(generation, rows, removed_ids, changes)
        for space, added, removed, dead, undead in updates:
            self._vectors[space].changed(added, removed, dead, undead, self._vectors[space].built)

    def _commit_changes(self, generation: int, rows: list[Row], removed_ids: list[int], changes: Changes) -> None:
        fsync_directory(self._path)
        changes.meta["generation"] = generation
        self._store.apply(rows, removed_ids, changes)
        self._generation = generation
        self._next_id = changes.meta.get("next_id", self._next_id)
        self._columns.update(rows, removed_ids)
        self._item_ids.extend((row.id, row.record.item_id) for row in rows)
        self._compiled.clear()

    def _load_committed(self) -> None:
        """Load the committed generation whole; remove stale files if no writer is busy."""
        with self._reading(whole=True):
            pass
        with locked(self._path, blocking=False) as held:
            if held:
                self._remove_stale_files()

    def _catch_up(self, whole: bool = False) -> None:
        """Bring the view to the generation SQLite records (the caller holds a read transaction)."""
        self._spaces = self._store.get_meta("spaces")  # another handle may have added one
        try:
            self._vectors = committed_spaces(self._path, self._spaces, self._store, None if whole else self._vectors)
        except ValueError as error:
            self._vectors, self._generation = {}, -1  # maybe half caught up: the next read loads it whole
            raise CollectionError(str(error)) from error
        self._generation = self._store.get_meta("generation")
        self._next_id = self._store.get_meta("next_id")
        self._columns = MetadataColumns(self._store)
        self._compiled.clear()
        if whole:
            self._item_ids = ItemIds()
        else:
            self._item_ids.catch_up(self._store)

    def _remove_stale_files(self) -> None:
        """Delete data files that no committed generation lists (the caller holds the exclusive lock)."""
        built = [self._store.get_meta(f"index:{space}") for space in self._spaces]
        remove_unlisted(self._path, set(self._spaces), [name for name, _, _ in self._store.segments()],
                        [b["file"] for b in built if b and b["file"]])


def _reason(error: OSError | sqlite3.Error) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}" + (f": {error.filename}" if error.filename else "")
    return str(error)

