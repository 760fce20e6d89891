"""SQLite metadata store: one row per item, the live vector segments, tombstones and a key/value `meta` table.

The integer primary key of `items` is the id the item's vectors carry in the segments. A replaced item gets
a new id; the vectors of its old id (and of removed items) are tombstoned until a merge drops them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmret.errors import BadInput
from mmret.index.keyword_index import WORDS_SCHEMA, KeywordTable
from mmret.index.readers import ThreadReaders
from mmret.index.values import Record

_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    modality TEXT NOT NULL,
    path TEXT,
    text TEXT,
    content_hash TEXT,
    size INTEGER,
    mtime REAL,
    metadata TEXT NOT NULL DEFAULT '{}',
    spaces TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX items_modality ON items(modality);
CREATE INDEX items_path ON items(path);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Added by format version 2 (a version 1 database gains them when it is migrated).
SEGMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, space TEXT NOT NULL, count INTEGER NOT NULL,
                                     sha256 TEXT, ids_sha256 TEXT);
CREATE TABLE IF NOT EXISTS tombstones (space TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (space, id));
"""
# The files' digests (checksums.py), added to a version 2 database by its first commit that records them; NULL for
# segments written before, or by an older mmret, which lists segments by name and never reads these columns.
DIGEST_COLUMNS = ("sha256", "ids_sha256")

_RECORD_COLUMNS = "item_id, modality, path, text, metadata, content_hash, size, mtime"
_CHUNK = 500  # ids per `IN (...)` query, well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Changes:
    """What one commit writes besides the item rows."""

    meta: dict[str, Any]
    segments_added: list[tuple[str, str, int]] = field(default_factory=list)  # (name, space, count)
    segments_removed: list[str] = field(default_factory=list)
    tombstones_added: list[tuple[str, int]] = field(default_factory=list)  # (space, id)
    tombstones_dropped: list[tuple[str, int]] = field(default_factory=list)
    digests: dict[str, tuple[str, str]] = field(default_factory=dict)  # segment name -> its files' digests


@dataclass(frozen=True)
class Row:
    """A record as the store holds it: with its FAISS id and the vector spaces it has vectors in."""

    id: int
    record: Record
    spaces: tuple[str, ...]


class MetadataStore:
    """Items and collection metadata in one SQLite file; writes happen in explicit transactions."""

    def __init__(self, path: str | os.PathLike):
        """Open an existing store file; `create` makes a new one."""
        self.path = os.fspath(path)
        # Autocommit mode: every write below is grouped by an explicit BEGIN ... COMMIT.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA secure_delete = ON")  # deleted rows (forgotten faces, names) are zeroed on disk
        self._thread = threading.get_ident()
        self._reads = 0  # depth of nested `reading()` blocks
        self._header: int | None = None  # a file descriptor for change_counter
        self._readers = ThreadReaders(self.path)  # for stored_fields on other threads

    @classmethod
    def create(cls, path: str | os.PathLike, meta: dict[str, Any]) -> MetadataStore:
        store = cls(path)
        store._db.executescript(_SCHEMA + SEGMENT_SCHEMA + WORDS_SCHEMA)
        store.set_meta({**meta, "words_generation": meta["generation"]})
        return store

    @property
    def usable_here(self) -> bool:
        """Open, and on the thread that opened it (SQLite connections refuse other threads)."""
        return self._db is not None and threading.get_ident() == self._thread

    def close(self) -> None:
        self._readers.close()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._header is not None:
            os.close(self._header)
            self._header = None

    # -- meta -----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._transaction():
            self._write_meta(values)

    @property
    def words(self) -> KeywordTable:
        """The keyword index (keyword_index.py), on this store's connection."""
        return KeywordTable(self._db)

    def rebuild_words(self, fields: list[str] | None = None) -> None:
        """The keyword index made afresh from the items, in one transaction; with `fields`, of those metadata
        fields from now on."""
        with self._transaction():
            if fields is not None:
                self._write_meta({"words_from": fields})
            self.words.rebuild()
            self._write_meta({"words_generation": self.get_meta("generation")})

    def _write_meta(self, values: dict[str, Any]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(key, json.dumps(value)) for key, value in values.items()],
        )

    # -- reads ----------------------------------------------------------------------------------

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def max_id(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]

    def get(self, item_id: str) -> Row | None:
        cursor = self._db.execute(
            f"SELECT id, spaces, {_RECORD_COLUMNS} FROM items WHERE item_id = ?", (item_id,)
        )
        row = cursor.fetchone()
        return None if row is None else _to_row(row)

    def rows(self) -> Iterator[Row]:
        """All rows in id order."""
        cursor = self._db.execute(f"SELECT id, spaces, {_RECORD_COLUMNS} FROM items ORDER BY id")
        return (_to_row(row) for row in cursor)

    def records_by_id(self, ids: Iterable[int]) -> dict[int, Record]:
        found = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(
                f"SELECT id, spaces, {_RECORD_COLUMNS} FROM items WHERE id IN ({marks})", chunk
            )
            found.update((row.id, row.record) for row in map(_to_row, cursor))
        return found

    def stored_fields(self, ids: list[int]) -> dict[int, tuple]:
        """id -> the record's fields as stored (`record_of` decodes them), for the stored ones of `ids`. Unlike the
        other reads, usable on any thread and after `close` (on another connection: see readers.py)."""
        if self.usable_here:
            return _stored_fields(self._db, ids)
        return self._readers.read(lambda db: _stored_fields(db, ids))

    def ids_of(self, item_ids: Iterable[str]) -> dict[str, int]:
        """item_id -> id for the item_ids that are stored."""
        found = {}
        for chunk in _chunks(list(dict.fromkeys(item_ids))):
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(f"SELECT item_id, id FROM items WHERE item_id IN ({marks})", chunk)
            found.update(cursor)
        return found

    def item_ids_from(self, first_id: int) -> list[tuple[int, str]]:
        """(id, item_id) of the rows whose id is first_id or more."""
        return self._db.execute("SELECT id, item_id FROM items WHERE id >= ?", (first_id,)).fetchall()

    def change_counter(self) -> bytes:
        """SQLite's file change counter (header bytes 24-27), which every commit bumps in the rollback-journal mode
        this store uses: one pread, no lock, so a reader can tell cheaply whether anyone committed since it last
        looked. A read racing a commit sees the old or the new value, as if it came before or after the commit."""
        if self._header is None:
            self._header = os.open(self.path, os.O_RDONLY)
        return os.pread(self._header, 4, 24)

    def all_ids(self) -> np.ndarray:
        return np.fromiter((row[0] for row in self._db.execute("SELECT id FROM items")), dtype=np.int64)

    def column_values(self, key: str, is_field: bool) -> Iterator[tuple[int, str | None, Any]]:
        """(id, JSON type, value) of one metadata key, or (id, None, value) of a record field, per item."""
        if is_field:
            return ((row_id, None, value) for row_id, value in self._db.execute(f"SELECT id, {key} FROM items"))
        if '"' in key:
            raise BadInput(f"metadata filter key {key!r} must not contain '\"'")
        path = f'$."{key}"'
        return iter(self._db.execute(
            "SELECT id, json_type(metadata, ?), json_extract(metadata, ?) FROM items", (path, path)))

    def spaces_of(self, ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        found = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(f"SELECT id, spaces FROM items WHERE id IN ({marks})", chunk)
            found.update((row_id, tuple(json.loads(spaces))) for row_id, spaces in cursor)
        return found

    def segments(self) -> list[tuple[str, str, int]]:
        """(name, space, count) of the live segments, oldest first."""
        return list(self._db.execute("SELECT name, space, count FROM segments ORDER BY rowid"))

    def tombstones(self) -> list[tuple[str, int]]:
        return list(self._db.execute("SELECT space, id FROM tombstones"))

    def file_state(self) -> dict[str, tuple[int | None, float | None, str | None]]:
        cursor = self._db.execute("SELECT item_id, size, mtime, content_hash FROM items")
        return {item_id: (size, mtime, digest) for item_id, size, mtime, digest in cursor}

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, upserts: list[Row], removed_ids: list[int], changes: Changes) -> None:
        """In one transaction: delete `removed_ids`, insert or replace `upserts`, record `changes`."""
        with self._transaction():
            for chunk in _chunks(removed_ids):
                self._db.execute(f"DELETE FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            self._db.executemany(
                f"INSERT OR REPLACE INTO items (id, spaces, {_RECORD_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_to_params(row) for row in upserts],
            )
            self._db.executemany("DELETE FROM segments WHERE name = ?", [(name,) for name in changes.segments_removed])
            self._db.executemany("INSERT INTO segments (name, space, count) VALUES (?, ?, ?)", changes.segments_added)
            if changes.digests:
                self._add_digest_columns()
                self._db.executemany("UPDATE segments SET sha256 = ?, ids_sha256 = ? WHERE name = ?",
                                     [(*digests, name) for name, digests in changes.digests.items()])
            # Added before dropped: a tombstone of a vector that this same commit merged away must not stay.
            self._db.executemany("INSERT OR IGNORE INTO tombstones (space, id) VALUES (?, ?)", changes.tombstones_added)
            self._db.executemany("DELETE FROM tombstones WHERE space = ? AND id = ?", changes.tombstones_dropped)
            if "generation" in changes.meta:  # the words of this commit's items, in the same transaction
                self.words.write([(row.id, row.record.text, row.record.path, row.record.metadata) for row in upserts],
                                 removed_ids)
                changes.meta["words_generation"] = changes.meta["generation"]
            self._write_meta(changes.meta)

    def integrity_check(self) -> list[str]:
        """SQLite's own check of the file: ["ok"], or the problems it found."""
        return [row[0] for row in self._db.execute("PRAGMA integrity_check")]

    def has_digests(self) -> bool:
        """Whether the segments table has the digest columns."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(segments)")}
        return set(DIGEST_COLUMNS) <= columns

    def segment_digests(self) -> dict[str, tuple[str | None, str | None]]:
        """name -> (data digest, ids digest) of each live segment (None where not recorded)."""
        if not self.has_digests():
            return {name: (None, None) for name, _, _ in self.segments()}
        return {name: (data, ids) for name, data, ids in self._db.execute(
            "SELECT name, sha256, ids_sha256 FROM segments")}

    def _add_digest_columns(self) -> None:
        if not self.has_digests():
            for column in DIGEST_COLUMNS:
                self._db.execute(f"ALTER TABLE segments ADD COLUMN {column} TEXT")

    def migrate_schema(self, meta: dict[str, Any], segments: list[tuple[str, str, int]]) -> None:
        """Give a version 1 database the segment tables and its first segments, in one transaction."""
        with self._transaction():
            for statement in SEGMENT_SCHEMA.strip().split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.executemany("INSERT INTO segments (name, space, count) VALUES (?, ?, ?)", segments)
            self._write_meta(meta)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction around the block (nested blocks join it): every query in it sees the same
        commit, and no writer can commit until it ends."""
        if self._reads == 0:
            self._db.execute("BEGIN")
        self._reads += 1
        try:
            yield
        finally:
            self._reads -= 1
            if self._reads == 0 and self._db.in_transaction:
                self._db.execute("COMMIT")

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the block raises."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, error_type, error, traceback):
        try:
            if not error_type:
                self._db.execute("COMMIT")
        finally:
            if self._db.in_transaction:  # a failed block or COMMIT; SQLite itself rolls back after some errors
                self._db.execute("ROLLBACK")


def _stored_fields(db: sqlite3.Connection, ids: list[int]) -> dict[int, tuple]:
    found = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update((row[0], row[1:]) for row in db.execute(
            f"SELECT id, {_RECORD_COLUMNS} FROM items WHERE id IN ({marks})", chunk))
    return found


def record_of(fields: tuple) -> Record:
    """A Record from its stored fields, in `_RECORD_COLUMNS` order (item_id first)."""
    item_id, modality, path, text, metadata, content_hash, size, mtime = fields
    return Record(item_id, modality, path, text, json.loads(metadata), content_hash, size, mtime)


def _to_row(row: tuple) -> Row:
    return Row(row[0], record_of(row[2:]), tuple(json.loads(row[1])))


def _to_params(row: Row) -> tuple:
    r = row.record
    metadata = json.dumps(r.metadata, ensure_ascii=False)
    return (row.id, json.dumps(list(row.spaces)), r.item_id, r.modality, r.path, r.text, metadata,
            r.content_hash, r.size, r.mtime)


def _chunks(values: list) -> Iterator[list]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
