"""A directory holding one collection: SQLite records plus one FAISS index per vector space.

Every commit writes a new generation of FAISS files (`<space>.g000007.faiss`), then records the rows
and the generation number in a single SQLite transaction. The generation in SQLite is the commit
point: files of any other generation are leftovers of an interrupted commit and are removed.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmret.index.faiss_index import FaissIndex, checked_unit_vectors
from mmret.index.store import MetadataStore, Record, Row, check_records

__all__ = ["FORMAT_VERSION", "CollectionError", "Hit", "Record", "VectorCollection"]

FORMAT_VERSION = 1
DB_FILE = "collection.sqlite"
LOCK_FILE = "collection.lock"
_SPACE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_FAISS_FILE = re.compile(r"(?P<space>[A-Za-z0-9_-]+)\.g(?P<generation>\d+)\.faiss(?P<temp>\.tmp)?")


@dataclass(frozen=True)
class Hit:
    record: Record
    score: float  # inner product (cosine for unit vectors), higher is better
    space: str


class CollectionError(Exception):
    """A collection cannot be opened, created or written as asked."""


@dataclass(frozen=True)
class _Staged:
    record: Record
    vectors: dict[str, np.ndarray]  # space -> (dim,) unit float32 vector


class VectorCollection:
    """Records with vectors in named spaces; writes are staged and become visible on `commit`.

    Reads (`get`, `records`, `search`, ...) see the last commit. Outside `transaction()` every
    `upsert` and `remove` commits at once.
    """

    def __init__(self, path: Path, store: MetadataStore):
        """Use `create`, `open` or `open_or_create`."""
        self._path = path
        self._store = store
        self._model_id: str = store.get_meta("model_id")
        self._spaces: dict[str, int] = store.get_meta("spaces")
        self._generation = 0
        self._indexes: dict[str, FaissIndex] = {}
        self._staged: dict[str, _Staged | None] = {}  # item_id -> new state, None = removed
        self._in_transaction = False
        self._load_committed()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, model_id: str, spaces: dict[str, int]) -> VectorCollection:
        path = Path(path)
        _check_settings(model_id, spaces)
        if (path / DB_FILE).exists():
            raise CollectionError(f"{path}: already holds a collection")
        path.mkdir(parents=True, exist_ok=True)
        for space, dim in spaces.items():
            FaissIndex(dim).save(path / _faiss_name(space, 0))
        # Build the database under a temporary name so a half-created collection is never seen.
        temp = path / (DB_FILE + ".tmp")
        temp.unlink(missing_ok=True)
        meta = {"format_version": FORMAT_VERSION, "model_id": model_id, "spaces": dict(spaces), "generation": 0}
        MetadataStore.create(temp, meta).close()
        os.replace(temp, path / DB_FILE)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> VectorCollection:
        path = Path(path)
        if not (path / DB_FILE).is_file():
            raise CollectionError(f"{path}: no collection here (missing {DB_FILE})")
        store = MetadataStore(path / DB_FILE)
        try:
            _check_format(path, store)
            return cls(path, store)
        except BaseException:
            store.close()
            raise

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path) / DB_FILE).is_file()

    @classmethod
    def open_or_create(cls, path: str | os.PathLike, model_id: str, spaces: dict[str, int]) -> VectorCollection:
        if not (Path(path) / DB_FILE).exists():
            return cls.create(path, model_id, spaces)
        collection = cls.open(path)
        if collection.model_id != model_id or collection.spaces != dict(spaces):
            collection.close()
            raise CollectionError(
                f"{path}: holds a collection of model {collection.model_id!r} with spaces "
                f"{collection.spaces}, not of model {model_id!r} with spaces {dict(spaces)}"
            )
        return collection

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> VectorCollection:  # noqa: PYI034 -- Python 3.10 has no typing.Self
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- properties ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spaces(self) -> dict[str, int]:
        return dict(self._spaces)

    @property
    def generation(self) -> int:
        """Number of the last commit (0 for a new collection)."""
        return self._generation

    def __len__(self) -> int:
        return self._store.count()

    def vector_count(self, space: str) -> int:
        return len(self._index(space))

    # -- reads --------------------------------------------------------------------------------

    def get(self, item_id: str) -> Record | None:
        row = self._store.get(item_id)
        return None if row is None else row.record

    def records(self) -> Iterator[Record]:
        return (row.record for row in self._store.rows())

    def find(self, where: dict[str, Any]) -> list[Record]:
        """Committed records matching `where` (the search filter's syntax), in storage order."""
        try:
            ids = self._store.ids_matching(where)
        except ValueError as error:
            raise CollectionError(f"bad filter: {error}") from None
        found = self._store.records_by_id(ids)
        return [found[i] for i in ids]

    def file_state(self) -> dict[str, tuple[int | None, float | None, str | None]]:
        """item_id -> (size, mtime, content_hash), to decide what needs re-indexing."""
        return self._store.file_state()

    def search(
        self,
        space: str,
        queries: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        exclude: list[str] | None = None,
    ) -> list[list[Hit]]:
        """The k best records per query row, by inner product in `space`.

        `where` maps metadata keys to required values (all must match); the keys `modality`,
        `path` and `path_prefix` filter the record's own fields. `exclude` lists item_ids to skip.
        """
        index = self._index(space)
        queries = _as_queries(queries, space, self._spaces[space])
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CollectionError(f"search k must be a positive integer, got {k!r}")
        try:
            allowed = np.asarray(self._store.ids_matching(where), dtype=np.int64) if where else None
        except ValueError as error:
            raise CollectionError(f"bad search filter: {error}") from None
        excluded = np.asarray(list(self._store.ids_of(_id_list(exclude)).values()), dtype=np.int64) if exclude else None
        neighbors = index.search(queries, k, allowed, excluded)
        records = self._store.records_by_id(int(i) for found in neighbors for i in found.ids)
        return [
            [Hit(records[i], score, space) for i, score in zip(found.ids.tolist(), found.scores.tolist())]
            for found in neighbors
        ]

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, records: list[Record], vectors: dict[str, np.ndarray]) -> None:
        """Add records, or replace those whose item_id is stored (row and all its vectors).

        `vectors[space]` holds one unit vector per record; a space left out means these records
        have no vector there. Nothing is staged if any record or vector is invalid.
        """
        records = list(records)
        try:
            check_records(records)
        except ValueError as error:
            raise CollectionError(str(error)) from None
        checked = {space: self._checked_vectors(space, array, records) for space, array in vectors.items()}
        for row, record in enumerate(records):
            self._staged[record.item_id] = _Staged(record, {space: array[row] for space, array in checked.items()})
        self._autocommit()

    def remove(self, item_ids: Iterable[str]) -> int:
        """Remove items by item_id; unknown ids are ignored. Returns how many were present."""
        item_ids = list(dict.fromkeys(_id_list(item_ids)))
        stored = self._store.ids_of(item_id for item_id in item_ids if item_id not in self._staged)
        present = [i for i in item_ids if (self._staged[i] is not None if i in self._staged else i in stored)]
        for item_id in present:
            self._staged[item_id] = None
        self._autocommit()
        return len(present)

    @contextmanager
    def transaction(self) -> Iterator[VectorCollection]:
        """Group writes into one commit; on an exception they are all discarded."""
        if self._in_transaction:
            raise CollectionError(f"{self._path}: transactions do not nest")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._staged.clear()
            raise
        else:
            self.commit()
        finally:
            self._in_transaction = False

    def commit(self) -> None:
        """Make staged writes durable and visible, all or nothing."""
        if not self._staged:
            return
        staged, self._staged = self._staged, {}
        try:
            with self._lock(exclusive=True) as locked:
                if not locked:
                    raise CollectionError(f"{self._path}: cannot commit, the directory is read-only")
                self._check_current()
                self._write_generation(staged)
                self._remove_stale_files(self._generation)
        except BaseException:
            # The in-memory indexes may hold part of the failed commit: reload the committed state.
            self._load_committed()
            raise

    # -- internals ----------------------------------------------------------------------------

    def _autocommit(self) -> None:
        if not self._in_transaction:
            self.commit()

    def _index(self, space: str) -> FaissIndex:
        if space not in self._indexes:
            raise CollectionError(f"{self._path}: unknown vector space {space!r}; spaces are {sorted(self._spaces)}")
        return self._indexes[space]

    def _checked_vectors(self, space: str, array: np.ndarray, records: list[Record]) -> np.ndarray:
        dim = self._index(space).dim
        try:
            return checked_unit_vectors(array, dim, [record.item_id for record in records])
        except ValueError as error:
            raise CollectionError(f"vectors[{space!r}]: {error}") from None

    def _write_generation(self, staged: dict[str, _Staged | None]) -> None:
        generation = self._generation + 1
        stored = self._store.ids_of(staged)
        rows = _new_rows(staged, stored, first_free_id=self._store.max_id() + 1)
        # Every stored item touched by this commit loses its old vectors: removed or replaced.
        touched = np.fromiter(stored.values(), dtype=np.int64, count=len(stored))
        for space, index in self._indexes.items():
            index.remove(touched)
            added = [(row.id, vectors[space]) for row, vectors in rows if space in vectors]
            if added:
                row_ids, arrays = zip(*added)
                index.add(np.asarray(row_ids, dtype=np.int64), np.stack(arrays))
            index.save(self._path / _faiss_name(space, generation))
        _fsync_directory(self._path)
        removed = [stored[item_id] for item_id, item in staged.items() if item is None and item_id in stored]
        self._store.apply([row for row, _ in rows], removed, {"generation": generation})
        self._generation = generation

    def _load_committed(self) -> None:
        """Load the committed generation; remove stale files if no writer is busy."""
        with self._lock(exclusive=False):
            self._generation = self._store.get_meta("generation")
            self._indexes = {space: self._load_index(space, dim) for space, dim in self._spaces.items()}
        with self._lock(exclusive=True, blocking=False) as locked:
            if locked:
                self._remove_stale_files(self._store.get_meta("generation"))

    def _load_index(self, space: str, dim: int) -> FaissIndex:
        file = self._path / _faiss_name(space, self._generation)
        try:
            index = FaissIndex.load(file)
        except (OSError, ValueError, RuntimeError) as error:
            raise CollectionError(f"{file}: cannot load the index of space {space!r}: {error}") from error
        expected = self._store.count_with_space(space)
        if index.dim != dim or len(index) != expected:
            raise CollectionError(
                f"{file}: holds {len(index)} vectors of dimension {index.dim}, "
                f"but the collection expects {expected} of dimension {dim}"
            )
        return index

    def _check_current(self) -> None:
        committed = self._store.get_meta("generation")
        if committed != self._generation:
            raise CollectionError(
                f"{self._path}: another writer committed generation {committed} after this handle "
                f"loaded generation {self._generation}; the staged changes were discarded"
            )

    def _remove_stale_files(self, committed: int) -> None:
        for file in self._path.iterdir():
            match = _FAISS_FILE.fullmatch(file.name)
            stale = match and (match["temp"] or int(match["generation"]) != committed)
            if stale and match["space"] in self._spaces:
                file.unlink(missing_ok=True)

    @contextmanager
    def _lock(self, exclusive: bool, blocking: bool = True) -> Iterator[bool]:
        """flock on the lock file: exclusive for commits and cleanup, shared for loading.

        Yields whether the lock is held. In a read-only directory nobody can write, so a shared
        lock is not needed there and an exclusive one is refused.
        """
        try:
            handle = open(self._path / LOCK_FILE, "a")  # noqa: SIM115 -- held across the yield, closed below
        except PermissionError:
            handle = None
        if handle is None:
            yield not exclusive
            return
        with handle:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle, mode)
                locked = True
            except BlockingIOError:
                locked = False
            yield locked


def _new_rows(
    staged: dict[str, _Staged | None], stored: dict[str, int], first_free_id: int
) -> list[tuple[Row, dict[str, np.ndarray]]]:
    """Rows to write with their vectors: stored items keep their id, new ones get the next free."""
    rows, next_id = [], first_free_id
    for item_id, item in staged.items():
        if item is None:
            continue
        row_id = stored.get(item_id)
        if row_id is None:
            row_id, next_id = next_id, next_id + 1
        rows.append((Row(row_id, item.record, tuple(sorted(item.vectors))), item.vectors))
    return rows


def _id_list(item_ids: Iterable[str]) -> list[str]:
    if isinstance(item_ids, str):  # a lone id would otherwise be read as its characters
        raise CollectionError(f"expected a list of item_ids, got the string {item_ids!r}")
    return list(item_ids)


def _faiss_name(space: str, generation: int) -> str:
    return f"{space}.g{generation:06d}.faiss"


def _check_settings(model_id: str, spaces: dict[str, int]) -> None:
    if not isinstance(model_id, str) or not model_id:
        raise CollectionError(f"model_id must be a non-empty string, got {model_id!r}")
    if not isinstance(spaces, dict) or not spaces:
        raise CollectionError(f"spaces must be a non-empty dict of name -> dimension, got {spaces!r}")
    for name, dim in spaces.items():
        if not isinstance(name, str) or not _SPACE_NAME.fullmatch(name):
            raise CollectionError(f"space name {name!r} must use only letters, digits, '_' and '-'")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise CollectionError(f"space {name!r}: dimension must be a positive integer, got {dim!r}")


def _check_format(path: Path, store: MetadataStore) -> None:
    try:
        version = store.get_meta("format_version")
    except (sqlite3.DatabaseError, ValueError) as error:
        raise CollectionError(f"{path / DB_FILE}: not a collection database ({error})") from error
    if not isinstance(version, int):
        raise CollectionError(f"{path / DB_FILE}: not a collection database (no format version)")
    if version > FORMAT_VERSION:
        raise CollectionError(
            f"{path}: collection format version {version} is newer than this mmret supports ({FORMAT_VERSION})"
        )


def _as_queries(queries: np.ndarray, space: str, dim: int) -> np.ndarray:
    queries = np.asarray(queries)
    if queries.ndim != 2 or queries.shape[1] != dim or not np.issubdtype(queries.dtype, np.floating):
        raise CollectionError(
            f"queries for space {space!r} must be a float array of shape (q, {dim}), "
            f"got {queries.dtype} {queries.shape}"
        )
    if not np.isfinite(queries).all():
        raise CollectionError(f"queries for space {space!r} contain non-finite values")
    return queries


def _fsync_directory(path: Path) -> None:
    """Make the renames of new files durable before the database points at them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
