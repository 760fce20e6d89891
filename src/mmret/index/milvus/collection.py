"""A collection on Milvus (a server, a cluster, or Milvus Lite in a local `.db` file): the Milvus implementation of
the collection base (collection_base.py), so the API, the CLI and the server use either backend unchanged.

The model id and the spaces (fixed at creation), the commit count and each space's built index with its tuned
search parameters are properties of the Milvus collection. Where Milvus differs:
- A commit is not all or nothing (Milvus has no multi-row transactions): it upserts the staged rows in batches,
  then deletes the removed ids. A commit cut short leaves some of its batches applied; indexing the same files
  again completes it, as unchanged files are skipped and changed ones rewritten.
- Vectors are stored as float32; `records()` and `find()` return items in Milvus's order, not insertion order;
  one search returns at most 16,384 hits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmret.index.base import SearchParams
from mmret.index.checks import as_queries, check_settings
from mmret.index.collection_base import CollectionBase
from mmret.index.milvus.connection import connect, exists_at, milvus_errors, shown
from mmret.index.milvus.filters import compile_expression, has_key, quoted
from mmret.index.milvus.indexes import (
    MAX_TOPK,
    auto_factory,
    rebuild,
    search_params,
    space_filter,
    spec_of,
    tune,
    tuning_search,
)
from mmret.index.milvus.paging import ID_BATCH, PagedReads
from mmret.index.milvus.rows import (
    FILE_STATE_FIELDS,
    RECORD_FIELDS,
    assign_slots,
    check_row_limits,
    schema,
    to_record,
    to_row,
    vector_fields,
)
from mmret.index.staging import id_list
from mmret.index.values import (
    BuiltIndex,
    CollectionConflict,
    CollectionError,
    Hit,
    NoCollection,
    Record,
    check_records,
)
from mmret.index.vectors import checked_unit_vectors
from mmret.index.where import keys_of, parse_where

FORMAT = 1
SETTINGS = "mmret.settings"  # the format, model id and spaces, fixed at creation
GENERATION = "mmret.generation"
KEY_SLOTS = "mmret.slots"  # metadata key -> its pair of columns (see rows.py)
PARTIAL = "mmret.partial"  # the spaces some item has no vector in: their searches filter on `spaces`
SETTING = "mmret.setting."  # + key: a JSON value a layer above keeps with the collection
INDEX = "mmret.index."  # + space: the built index's factory, tuned params and measured recall
WRITE_BYTES = 32 << 20  # payload of one upsert call, well under gRPC's 64 MiB message limit
QUERY_BATCH = 1024  # query vectors per search call
NO_KEYWORDS = ("the Milvus backend has no keyword index, so no keyword or hybrid search (use --mode semantic). "
               "Milvus's own BM25 full-text search needs a Milvus server of version 2.5 or later and a collection "
               "created with a BM25 function field, which mmret does not create yet; the `milvus` package's "
               "server (2.3.x) has no full-text search at all")


class MilvusCollection(PagedReads, CollectionBase):
    """Records with vectors in named spaces; writes are staged and sent to Milvus on `commit`."""

    def __init__(self, location: str | Path, client, name: str, settings: dict, properties: dict[str, str]):
        """Use `create`, `open` or `open_or_create`."""
        self._location, self._client, self._name = shown(location), client, name
        self._model_id: str = settings["model_id"]
        self._spaces: dict[str, int] = dict(settings["spaces"])
        self._fields = vector_fields(self._spaces)
        self._generation = int(properties.get(GENERATION, 0))
        self._built = {space: json.loads(properties.get(INDEX + space, '{"factory": "Flat", "params": {}}'))
                       for space in self._spaces}
        self._partial = set(json.loads(properties.get(PARTIAL, "[]")))
        self._slots: dict[str, str] = json.loads(properties.get(KEY_SLOTS, "{}"))
        self._saved_slots = dict(self._slots)
        self._start_staging()  # item_id -> row to upsert, None = removed

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def create(cls, location: str | Path, model_id: str, spaces: dict[str, int],
               vector_dtype: str = "float32") -> MilvusCollection:
        check_settings(model_id, spaces)
        if vector_dtype != "float32":
            raise CollectionError(f"{shown(location)}: a Milvus collection stores float32 vectors; vector_dtype "
                                  f"{vector_dtype!r} is for folder collections")
        client, name = connect(location)
        try:
            with milvus_errors(location, "cannot create the collection"):
                if client.has_collection(name):
                    raise CollectionConflict(f"{shown(location)}: already holds a collection")
                settings = json.dumps({"format": FORMAT, "model_id": model_id, "spaces": dict(spaces)})
                indexes = client.prepare_index_params()
                for field in vector_fields(spaces).values():
                    indexes.add_index(field, index_type="FLAT", metric_type="IP")
                client.create_collection(name, schema=schema(client, spaces), index_params=indexes,
                                         consistency_level="Strong", properties={SETTINGS: settings, GENERATION: "0"})
            return cls._loaded(location, client, name)
        except BaseException:
            client.close()
            raise

    @classmethod
    def open(cls, location: str | Path) -> MilvusCollection:
        if isinstance(location, Path) and not location.exists():
            raise NoCollection(f"{location}: no collection here (no Milvus Lite database)")
        client, name = connect(location)
        try:
            with milvus_errors(location, "cannot open the collection"):
                if not client.has_collection(name):
                    raise NoCollection(f"{shown(location)}: no collection here (no Milvus collection {name!r})")
                return cls._loaded(location, client, name)
        except BaseException:
            client.close()
            raise

    @staticmethod
    def exists(location: str | Path) -> bool:
        return exists_at(location)

    @classmethod
    def _loaded(cls, location: str | Path, client, name: str) -> MilvusCollection:
        properties = client.describe_collection(name).get("properties") or {}
        try:
            settings = json.loads(properties.get(SETTINGS, ""))
            check_settings(settings["model_id"], settings["spaces"])
        except (ValueError, KeyError, TypeError, CollectionError):
            raise CollectionError(f"{shown(location)}: the Milvus collection {name!r} was not made by mmret (no "
                                  f"{SETTINGS} property with its model id and spaces)") from None
        client.load_collection(name)
        return cls(location, client, name, settings, properties)

    def close(self) -> None:
        self._client.close()

    # -- properties ---------------------------------------------------------------------------

    @property
    def path(self) -> str | Path:
        """The location it was opened at (a Milvus Lite file or a milvus:// URI)."""
        return self._location

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spaces(self) -> dict[str, int]:
        return dict(self._spaces)

    @property
    def vector_dtype(self) -> str:
        return "float32"

    @property
    def generation(self) -> int:
        """Number of the last commit made through mmret (0 for a new collection)."""
        return self._generation

    def committed_generation(self) -> int:
        """The commit count Milvus holds now (other processes may have committed since this handle opened)."""
        with milvus_errors(self._location, "cannot read"):
            properties = self._client.describe_collection(self._name).get("properties") or {}
        return int(properties.get(GENERATION, 0))

    def __len__(self) -> int:
        return self._count("")

    def vector_count(self, space: str) -> int:
        self._field(space)
        return self._count(space_filter(space))

    def built_index(self, space: str) -> BuiltIndex:
        """What the last `optimize` built for `space` (factory, tuned params, measured recall): before any, Flat."""
        self._field(space)
        return BuiltIndex(**self._built[space])

    def setting(self, key: str) -> Any:
        """A JSON value that a layer above stored with the collection (e.g. a space's score calibration), or None."""
        with milvus_errors(self._location, "cannot read"):
            properties = self._client.describe_collection(self._name).get("properties") or {}
        return json.loads(properties.get(SETTING + key, "null"))

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON value with the collection at once (no commit: it is not part of the items' state)."""
        with milvus_errors(self._location, f"cannot store setting {key!r}"):
            self._set_property(SETTING + key, json.dumps(value))

    # -- words (refused: see NO_KEYWORDS) -----------------------------------------------------

    def has_words(self) -> bool:
        return False

    def word_fields(self) -> list[str]:
        return []

    def index_words(self, fields: list[str] | None = None) -> None:
        raise CollectionError(f"{shown(self._location)}: {NO_KEYWORDS}")

    def keyword_search(self, query: str, k: int = 10, where: dict[str, Any] | None = None,
                       exclude: list[str] | None = None) -> list[Hit]:
        raise CollectionError(f"{shown(self._location)}: {NO_KEYWORDS}")

    # -- reads --------------------------------------------------------------------------------

    def get(self, item_id: str) -> Record | None:
        with milvus_errors(self._location, "cannot read"):
            found = self._client.get(self._name, ids=[item_id], output_fields=RECORD_FIELDS)
        return to_record(found[0]) if found else None

    def records(self) -> Iterator[Record]:
        for page in self._pages("", RECORD_FIELDS):
            yield from map(to_record, page)

    def find(self, where: dict[str, Any]) -> list[Record]:
        """Records matching `where` (the search filter's syntax, see ../filters.py), in Milvus's order."""
        return [to_record(entity) for page in self._pages(self._expression(where, "bad filter"), RECORD_FIELDS)
                for entity in page]

    def stored_vectors(self, space: str) -> Iterator[tuple[list[Record], np.ndarray]]:
        """The records with a vector in `space`, a page at a time, with those (n, d) vectors."""
        for page, vectors in self._vector_pages(space, RECORD_FIELDS):
            yield [to_record(e) for e in page], vectors

    def vectors_of(self, item_ids: Iterable[str], space: str) -> dict[str, np.ndarray]:
        """item_id -> its stored vector in `space`, for those of `item_ids` stored with a vector there."""
        field, ids, found = self._field(space), id_list(item_ids), {}
        with milvus_errors(self._location, "cannot read"):
            for start in range(0, len(ids), ID_BATCH):
                batch = ", ".join(quoted(i) for i in ids[start : start + ID_BATCH])
                found.update((e["item_id"], np.asarray(e[field], np.float32)) for e in self._client.query(
                    self._name, filter=f"item_id in [{batch}] and {space_filter(space)}",
                    output_fields=["item_id", field]))
        return found

    def absent_filter_keys(self, where: dict[str, Any]) -> list[str]:
        """Metadata keys of `where` that no stored item has (a likely typo)."""
        with milvus_errors(self._location, "cannot read"):
            return sorted(key for key in keys_of(parse_where(where)) if not self._client.query(
                self._name, filter=has_key(key, self._saved_slots),
                output_fields=["item_id"], limit=1))

    def file_state(self) -> dict[str, tuple[int | None, float | None, str | None]]:
        """item_id -> (size, mtime, content_hash), to decide what needs re-indexing."""
        return {e["item_id"]: (e["size"], e["mtime"], e["content_hash"])
                for page in self._pages("", FILE_STATE_FIELDS) for e in page}

    def search(self, space: str, queries: np.ndarray, k: int = 10, where: dict[str, Any] | None = None,
               exclude: list[str] | None = None, params: SearchParams | None = None) -> list[list[Hit]]:
        """The k best records per query row (at most 16,384), by inner product in `space`.

        `where` filters on metadata and on `modality`, `path`, `path_prefix`; `exclude` lists item_ids to skip;
        `params` (ef_search for HNSW, nprobe for IVF) overrides the ones `optimize` tuned.
        """
        field = self._field(space)
        queries = as_queries(queries, space, self._spaces[space])
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CollectionError(f"search k must be a positive integer, got {k!r}")
        parts = [self._expression(where, "bad search filter")] if where else []
        if space in self._partial:
            parts.append(space_filter(space))
        if exclude:
            parts.append(f"item_id not in [{', '.join(quoted(i) for i in id_list(exclude))}]")
        built = self._built[space]
        tuned = SearchParams.from_dict(built["params"])
        try:
            settings = search_params(spec_of(built["factory"]), (params or SearchParams()).over(tuned), min(k, MAX_TOPK))
        except ValueError as error:
            raise CollectionError(f"{self._location}: {error}") from None
        hits = []
        with milvus_errors(self._location, "search failed"):
            for start in range(0, len(queries), QUERY_BATCH):
                found = self._client.search(
                    self._name, data=list(queries[start : start + QUERY_BATCH]), anns_field=field,
                    filter=" and ".join(f"({p})" for p in parts), limit=min(k, MAX_TOPK), search_params=settings,
                    output_fields=RECORD_FIELDS)
                hits.extend([Hit(to_record(h["entity"]), float(h["distance"]), space)
                             for h in row] for row in found)
        return hits

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, records: list[Record], vectors: dict[str, np.ndarray]) -> None:
        """Add records, or replace those whose item_id is stored (row and all its vectors).

        `vectors[space]` holds one unit vector per record; a space left out means these records
        have no vector there. Nothing is staged if any record or vector is invalid.
        """
        records = list(records)
        try:
            check_records(records)
            for record in records:
                check_row_limits(record)
        except ValueError as error:
            raise CollectionError(str(error)) from None
        checked = {space: self._checked_vectors(space, array, records) for space, array in vectors.items()}
        assign_slots(self._slots, records)
        for row, record in enumerate(records):
            self._staged[record.item_id] = to_row(record, {s: a[row] for s, a in checked.items()}, self._spaces,
                                                  self._slots)
        self._autocommit()

    def commit(self) -> None:
        """Send the staged writes to Milvus: upserts in batches, then deletes (see the module docstring)."""
        if not self._staged:
            return
        staged, self._staged = self._staged, {}
        rows = [row for row in staged.values() if row is not None]
        removed = [item_id for item_id, row in staged.items() if row is None]
        partial = {space for row in rows for space in self._spaces if space not in row["spaces"]} - self._partial
        with milvus_errors(self._location, "commit failed"):
            if self._slots != self._saved_slots:  # before the rows that fill the columns
                self._set_property(KEY_SLOTS, json.dumps(self._slots))
                self._saved_slots = dict(self._slots)
            if partial:  # before the rows, so that no search meets their zero vectors unfiltered
                self._set_property(PARTIAL, json.dumps(sorted(self._partial | partial)))
                self._partial |= partial
            per_call = max(1, WRITE_BYTES // (4 * sum(self._spaces.values()) + 1024))
            for start in range(0, len(rows), per_call):
                self._client.upsert(self._name, rows[start : start + per_call])
            for start in range(0, len(removed), ID_BATCH):
                self._client.delete(self._name, ids=removed[start : start + ID_BATCH])
            if isinstance(self._location, Path):  # Milvus Lite scans unsealed rows ~15x slower; servers seal alone
                self._client.flush(self._name)
            self._set_property(GENERATION, str(self._generation + 1))
        self._generation += 1

    def optimize(self, space: str | None = None, factory: str | None = None, target_recall: float = 0.95,
                 memory_budget: int | None = None, progress: bool = False) -> dict[str, dict]:
        """Seal and compact the segments (dropping deleted rows), build each space's index (`factory` names as
        for folder collections, see indexes.py; by default chosen by size) and tune its search parameters on a
        sample against exact ground truth."""
        if not 0 < target_recall <= 1:
            raise CollectionError(f"{self._location}: target recall must be in (0, 1], got {target_recall}")
        reports = {}
        for name in [space] if space else sorted(self._spaces):
            started = time.perf_counter()
            try:
                spec = spec_of(factory or auto_factory(self.vector_count(name), self._spaces[name], memory_budget))
            except ValueError as error:
                raise CollectionError(f"{self._location}: cannot optimize space {name!r}: {error}") from None
            with milvus_errors(self._location, f"cannot optimize space {name!r}"):
                rebuild(self._client, self._name, self._field(name), spec)
            built_seconds = time.perf_counter() - started
            search = tuning_search(self._client, self._name, self._field(name), space_filter(name), spec)
            params, recall = tune(spec, lambda n=name: self._id_pages(n), search, target_recall)
            self._built[name] = {"factory": spec.factory, "params": params.to_dict(), "recall": recall}
            with milvus_errors(self._location, f"cannot optimize space {name!r}"):
                self._set_property(INDEX + name, json.dumps(self._built[name]))
            reports[name] = {"vectors": self.vector_count(name), "factory": spec.factory, "params": params.to_dict(),
                             "recall@10": recall, "build_seconds": round(built_seconds, 3),
                             "seconds": round(time.perf_counter() - started, 3)}
            if progress:
                print(f"{name}: {reports[name]}")
        return reports

    # -- internals ----------------------------------------------------------------------------

    def _field(self, space: str) -> str:
        if space not in self._fields:
            raise CollectionError(f"{self._location}: unknown vector space {space!r}; spaces are {sorted(self._spaces)}")
        return self._fields[space]

    def _expression(self, where: dict[str, Any], context: str) -> str:
        try:
            return compile_expression(parse_where(where), self._saved_slots)  # the columns committed rows fill
        except ValueError as error:
            raise CollectionError(f"{context}: {error}") from None

    def _checked_vectors(self, space: str, array: np.ndarray, records: list[Record]) -> np.ndarray:
        self._field(space)  # an unknown space is named as such
        try:
            return checked_unit_vectors(array, self._spaces[space], [record.item_id for record in records])
        except ValueError as error:
            raise CollectionError(f"vectors[{space!r}]: {error}") from None

    def _set_property(self, key: str, value: str) -> None:
        self._client.alter_collection_properties(self._name, properties={key: value})

