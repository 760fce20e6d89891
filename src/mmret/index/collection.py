"""A directory holding one collection: SQLite records plus, per vector space, immutable vector segments.

A commit writes only its own batch: one memory-mapped segment per space (`<space>.g000007-0.npy` and its
`.ids.npy`), and records the rows, the new segment and tombstones (the ids of replaced and removed vectors)
with the generation number in a single SQLite transaction. That transaction is the commit point: segment
and index files that no committed generation lists are leftovers of an interrupted commit and are removed.
`optimize` merges a space's segments, drops its tombstones and builds its ANN index (see optimize.py). The view
of the last commit and the code of the commit point are in committed_view.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmret.index.base import SearchParams
from mmret.index.checks import (
    DB_FILE,
    FORMAT_VERSION,
    as_queries,
    check_format,
    check_settings,
)
from mmret.index.checksums import segment_digests
from mmret.index.collection_base import CollectionBase
from mmret.index.columns import MetadataColumns
from mmret.index.commit_batch import Staged
from mmret.index.committed_view import CommittedView
from mmret.index.creation import create_database
from mmret.index.hits import hits_of
from mmret.index.item_ids import ItemIds
from mmret.index.keyword_search import KeywordSearch
from mmret.index.locking import locked
from mmret.index.masks import CompiledFilters
from mmret.index.migrate import migrate_if_older
from mmret.index.space import SegmentIndex, SpaceVectors
from mmret.index.staging import id_list
from mmret.index.store import Changes, MetadataStore
from mmret.index.values import (
    CollectionConflict,
    CollectionError,
    CollectionWriteFailed,
    Hit,
    ItemGone,
    NoCollection,
    Record,
    check_records,
    readable,
)
from mmret.index.vectors import Neighbors, checked_unit_vectors
from mmret.index.where import keys_of, parse_where

__all__ = ["FORMAT_VERSION", "CollectionError", "Hit", "ItemGone", "Record", "SearchParams", "VectorCollection",
           "readable"]


class VectorCollection(CommittedView, KeywordSearch, CollectionBase):
    """Records with vectors in named spaces; writes are staged and become visible on `commit`.

    Reads (`get`, `records`, `search`, ...) see the last commit, whichever process made it (see generation.py).
    Outside `transaction()` every `upsert` and `remove` commits at once; a commit applies the staged writes on
    top of the last commit.
    """

    def __init__(self, path: Path, store: MetadataStore):
        """Use `create`, `open` or `open_or_create`."""
        self._path = path
        self._store = store
        self._model_id: str = store.get_meta("model_id")
        self._spaces: dict[str, int] = store.get_meta("spaces")
        self._dtype: str = store.get_meta("vector_dtype") or "float32"
        self._generation = 0
        self._next_id = 1
        self._vectors: dict[str, SpaceVectors] = {}
        self._columns = MetadataColumns(store)
        self._compiled = CompiledFilters()  # for the committed state
        self._item_ids = ItemIds()
        self._seen_counter = b""  # the store's change counter when this handle last saw the last commit
        self._start_staging()
        self._load_committed()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, model_id: str, spaces: dict[str, int],
               vector_dtype: str = "float32") -> VectorCollection:
        """A new, empty collection; `vector_dtype` (float32, float16 or int8) is how vectors are stored."""
        create_database(Path(path), model_id, spaces, vector_dtype)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> VectorCollection:
        path = Path(path)
        if not (path / DB_FILE).is_file():
            raise NoCollection(f"{path}: no collection here (missing {DB_FILE})")
        store = MetadataStore(path / DB_FILE)
        try:
            if check_format(path, store) < FORMAT_VERSION:
                migrate_if_older(path, store)
            return cls(path, store)
        except BaseException:
            store.close()
            raise

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path) / DB_FILE).is_file()

    def close(self) -> None:
        self._store.close()

    # -- properties ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spaces(self) -> dict[str, int]:
        if self._store.change_counter() != self._seen_counter:  # another handle committed: maybe a space added
            with self._reading():
                pass
        return dict(self._spaces)

    @property
    def vector_dtype(self) -> str:
        return self._dtype

    @property
    def generation(self) -> int:
        """Number of the commit this handle's reads last saw (0 for a new collection)."""
        return self._generation

    def committed_generation(self) -> int:
        """The generation SQLite records as committed: one read of the meta table, this handle's view unchanged."""
        return self._store.get_meta("generation")

    def __len__(self) -> int:
        with self._reading():
            return self._store.count()

    def vector_count(self, space: str) -> int:
        with self._reading():
            return len(self._space(space))

    def segment_count(self, space: str) -> int:
        with self._reading():
            return len(self._space(space).segments)

    def built_index(self, space: str) -> SegmentIndex | None:
        """What the last `optimize` built for `space` (factory, tuned params, measured recall), if anything."""
        with self._reading():
            return self._space(space).built

    def setting(self, key: str) -> Any:
        """A JSON value that a layer above stored with the collection (e.g. a space's score calibration), or None."""
        return self._store.get_meta(f"setting:{key}")

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON value with the collection at once (no commit: it is not part of the items' state)."""
        with locked(self._path) as held:
            if not held:
                raise CollectionWriteFailed(f"{self._path}: cannot store setting {key!r}, the directory is read-only")
            self._store.set_meta({f"setting:{key}": value})

    # -- reads --------------------------------------------------------------------------------

    def get(self, item_id: str) -> Record | None:
        with self._reading():
            row = self._store.get(item_id)
        return None if row is None else row.record

    def records(self) -> Iterator[Record]:
        with self._reading():
            rows = list(self._store.rows())  # read whole: a cursor left open would hold writers back
        return (row.record for row in rows)

    def find(self, where: dict[str, Any]) -> list[Record]:
        """Committed records matching `where` (the search filter's syntax, see filters.py), in storage order."""
        with self._reading():
            ids = np.flatnonzero(self._compiled.mask(where, self._columns, "bad filter")).tolist()
            found = self._store.records_by_id(ids)
        return [found[i] for i in ids if i in found]

    def stored_vectors(self, space: str) -> Iterator[tuple[list[Record], np.ndarray]]:
        """The committed records with a vector in `space`, a segment at a time, with those (n, d) vectors.
        The segments are those of the generation committed at the first step; an item that a later commit
        removed is left out with its vector."""
        with self._reading():
            batches = self._space(space).live_vectors()
        for ids, vectors in batches:
            with self._reading():
                records = self._store.records_by_id(ids.tolist())
            kept = np.fromiter((i in records for i in ids.tolist()), bool, len(ids))
            yield [records[i] for i in ids[kept].tolist()], vectors[kept]

    def vectors_of(self, item_ids: Iterable[str], space: str) -> dict[str, np.ndarray]:
        """item_id -> its stored vector in `space` (float32, as stored: a float16 or int8 collection's decoded),
        for those of `item_ids` that are stored with a vector there."""
        with self._reading():
            stored = self._store.ids_of(id_list(item_ids))
            found, vectors = self._space(space).vectors_of(np.fromiter(stored.values(), np.int64, len(stored)))
        return dict(zip(np.array(list(stored), dtype=object)[found].tolist(), vectors))

    def absent_filter_keys(self, where: dict[str, Any]) -> list[str]:
        """Metadata keys of `where` that no stored item has (a likely typo)."""
        with self._reading():
            alive = self._columns.alive
            return sorted(key for key in keys_of(parse_where(where)) if not self._columns.column(key).kind[alive].any())

    def file_state(self) -> dict[str, tuple[int | None, float | None, str | None]]:
        """item_id -> (size, mtime, content_hash), to decide what needs re-indexing."""
        with self._reading():
            return self._store.file_state()

    def search(self, space: str, queries: np.ndarray, k: int = 10, where: dict[str, Any] | None = None,
               exclude: list[str] | None = None, params: SearchParams | None = None) -> list[list[Hit]]:
        """The k best records per query row, by inner product in `space` (each hit's record is read when first
        used: see hits.py).

        `where` filters on metadata and on `modality`, `path`, `path_prefix` (syntax in filters.py);
        `exclude` lists item_ids to skip; `params` overrides the tuned ANN parameters for this search.
        """
        queries = as_queries(queries, space, self._space(space).dim)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CollectionError(f"search k must be a positive integer, got {k!r}")
        neighbors = None if exclude else self._searched_in_memory(space, queries, k, where, params)
        if neighbors is None:
            with self._reading():
                allowed = self._compiled.mask(where, self._columns, "bad search filter") if where else None
                excluded = None
                if exclude:
                    excluded = np.fromiter(self._store.ids_of(id_list(exclude)).values(), dtype=np.int64)
                if not self._item_ids.loaded:
                    self._item_ids.load(self._store)
                neighbors = self._space(space).search(queries, k, allowed, excluded, params)
        return hits_of(neighbors, [self._item_ids.of(found.ids) for found in neighbors], self._store, space)

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
            self._staged[record.item_id] = Staged(record, {space: array[row] for space, array in checked.items()})
        self._autocommit()

    def add_space(self, space: str, dim: int) -> None:
        """Add an empty vector space in a commit of its own; nothing if it is there with this dimension."""
        with self._writing("add a space"):
            if space in self._spaces:
                if self._spaces[space] != dim:
                    raise CollectionConflict(f"{self._path}: space {space!r} has dimension {self._spaces[space]}, "
                                             f"not {dim}")
                return
            spaces = {**self._spaces, space: dim}
            check_settings(self._model_id, spaces)
            self._commit_changes(self._generation + 1, [], [], Changes({"spaces": spaces}))
            self._spaces = spaces
            self._vectors[space] = SpaceVectors.open(self._path, space, dim, [], [], None)

    def commit(self) -> None:
        """Make staged writes durable and visible, all or nothing."""
        if not self._staged:
            return
        staged, self._staged = self._staged, {}
        with self._writing("commit"):
            self._write_generation(staged)

    def optimize(self, space: str | None = None, factory: str | None = None, target_recall: float = 0.95,
                 memory_budget: int | None = None, progress: bool = False) -> dict[str, dict]:
        """Merge each space's segments, drop tombstones, build and tune its ANN index; see optimize.py."""
        from mmret.index.optimize import optimize_space

        reports = {}
        for name in [space] if space else sorted(self._spaces):
            self._space(name)
            with self._writing("optimize"):
                vectors, generation = self._space(name), self._generation + 1
                try:
                    segment, built, report = optimize_space(self._path, name, generation, vectors, factory,
                                                            target_recall, memory_budget, progress)
                except ValueError as error:
                    raise CollectionError(f"{self._path}: cannot optimize space {name!r}: {error}") from None
                self._commit_changes(generation, [], [], Changes(
                    {f"index:{name}": built.to_dict()}, [(segment.name, name, len(segment))],
                    [s.name for s in vectors.segments], [], [(name, int(i)) for i in vectors.dead],
                    {segment.name: segment_digests(self._path, segment.name)}))
                vectors.changed([segment], [s.name for s in vectors.segments], np.empty(0), vectors.dead, built)
            reports[name] = report
        return reports

    # -- internals ----------------------------------------------------------------------------

    def _stored_ids(self, item_ids: list[str]) -> Iterable[str]:
        return self._store.ids_of(item_ids)

    def _searched_in_memory(self, space: str, queries: np.ndarray, k: int, where: dict[str, Any] | None,
                            params: SearchParams | None) -> list[Neighbors] | None:
        """The search on this handle's view, or None if it needs the database (a read transaction)."""
        if not self._in_memory(space):
            return None
        allowed = self._compiled.known(where) if where else None
        if where and allowed is None:
            return None  # a filter not compiled since the last commit
        return self._vectors[space].search(queries, k, allowed, None, params)

    def _in_memory(self, space: str) -> bool:
        """Whether a search of `space` can run on this handle's view without a read transaction: the view is of
        the last commit (nobody committed since it was last brought up to date) and holds all the
        search needs (the item ids, the loaded index). The view's files are immutable, and those it has mapped
        stay readable after a later commit deletes them, so a commit made during the search does not disturb it."""
        vectors = self._vectors.get(space)
        return (vectors is not None and vectors.loaded and self._item_ids.loaded
                and self._store.change_counter() == self._seen_counter)

    def _space(self, space: str) -> SpaceVectors:
        if space not in self._vectors:
            raise CollectionError(f"{self._path}: unknown vector space {space!r}; spaces are {sorted(self._spaces)}")
        return self._vectors[space]

    def _checked_vectors(self, space: str, array: np.ndarray, records: list[Record]) -> np.ndarray:
        dim = self._space(space).dim
        try:
            return checked_unit_vectors(array, dim, [record.item_id for record in records])
        except ValueError as error:
            raise CollectionError(f"vectors[{space!r}]: {error}") from None
