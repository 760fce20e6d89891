"""Parquet shards of a distributed indexing run: the mapper's embedded batches for a fixed group of items, as one
table of (id, modality, path, text, metadata, content hash, size, mtime, a vector column per space), plus a
`failure` row for each file that could not be embedded, with the reason.

A shard's name is the hash of what decides its content (the model, the settings, its items and their file
states), so a re-run or a retried task writes the same shard under the same name, and a shard already on disk is
not computed again. It is written to a temporary file and renamed, so a shard file is always complete.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from itertools import groupby
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.items import Item
from ..data.vector_files import fixed_size_vectors
from ..errors import BadInput
from ..media.batches import EmbeddedBatch
from ..pipeline.writer import FileState, file_state

SHARD_GLOB = "shard-*.parquet"
VECTOR_PREFIX = "vector:"
_FIELDS = [("shard", pa.string()), ("shard_rows", pa.int64()), ("batch", pa.int64()), ("id", pa.string()),
           ("modality", pa.string()), ("path", pa.string()), ("text", pa.string()), ("metadata", pa.string()),
           ("content_hash", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()), ("failure", pa.string())]


def shard_key(items: list[Item], states: Mapping[str, FileState], describe: str) -> str:
    """The name of the shard of `items`: changes when an item, a file's state or the run's settings do."""
    rows = [[item.id, item.modality, item.path, item.text, item.metadata, states.get(item.path or "")]
            for item in items]
    payload = json.dumps([describe, rows], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


def file_states(items: Iterable[Item]) -> dict[str, FileState]:
    """(size, mtime) of the items' files now; a file that cannot be reached is left to the mapper to report."""
    states = {}
    for item in items:
        if item.path is not None and item.path not in states:
            try:
                states[item.path] = file_state(item.path)
            except OSError:
                continue
    return states


def shard_path(directory: Path, key: str) -> Path:
    return directory / f"shard-{key}.parquet"


def item_row(item: Item) -> str:
    """An item as the JSON text a Ray dataset row carries."""
    return json.dumps({"id": item.id, "modality": item.modality, "path": item.path, "text": item.text,
                       "metadata": item.metadata}, ensure_ascii=False)


def row_item(text: str) -> Item:
    return Item(**json.loads(text))


def schema(spaces: Mapping[str, int]) -> pa.Schema:
    vectors = [(VECTOR_PREFIX + space, pa.list_(pa.float32(), dim)) for space, dim in spaces.items()]
    return pa.schema([*_FIELDS, *vectors])


def shard_table(key: str, batches: Iterable[EmbeddedBatch], states: Mapping[str, FileState],
                spaces: Mapping[str, int]) -> pa.Table:
    """The rows of one shard: every item of every batch, then its failures; `batch` numbers the batches."""
    columns: dict[str, list] = {name: [] for name, _ in _FIELDS}
    vectors: dict[str, list[np.ndarray | None]] = {space: [] for space in spaces}
    for number, batch in enumerate(batches):
        for row, (item, digest) in enumerate(zip(batch.items, batch.digests)):
            _append(columns, number, item, digest, None, states)
            for space in spaces:
                vectors[space].append(batch.vectors[space][row] if space in batch.vectors else None)
        for item, reason in batch.failures:
            _append(columns, number, item, None, reason, states)
            for space in spaces:
                vectors[space].append(None)
    count = len(columns["id"])
    columns["shard"], columns["shard_rows"] = [key] * count, [count] * count
    arrays = {name: pa.array(values, type) for (name, type), values in zip(_FIELDS, columns.values())}
    for space, dim in spaces.items():
        arrays[VECTOR_PREFIX + space] = _nullable_vectors(vectors[space], dim)
    return pa.table(arrays, schema=schema(spaces))


def write_shard(path: Path, table: pa.Table) -> None:
    """Write `table` under `path` all at once: to a temporary file first, renamed when complete."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table.drop_columns(["shard", "shard_rows"]), partial)
        with open(partial, "rb") as file:
            os.fsync(file.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def read_shard(path: Path) -> tuple[list[EmbeddedBatch], dict[str, FileState]]:
    """A shard's embedded batches, as the mapper yielded them, and the files' states when they were read."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise BadInput(f"{path}: not a readable shard ({error})") from None
    spaces = [name.removeprefix(VECTOR_PREFIX) for name in table.column_names if name.startswith(VECTOR_PREFIX)]
    vectors = {space: _dense_vectors(table.column(VECTOR_PREFIX + space)) for space in spaces}
    rows = table.drop_columns([VECTOR_PREFIX + space for space in spaces]).to_pylist()
    states = {row["path"]: (row["size"], row["mtime"]) for row in rows if row["size"] is not None}
    batches = [_batch(path, rows, list(indices), vectors)
               for _, indices in groupby(range(len(rows)), key=lambda i: rows[i]["batch"])]
    return batches, states


def shards_in(directory: Path) -> Iterator[Path]:
    return iter(sorted(directory.glob(SHARD_GLOB)))


def _append(columns: dict[str, list], number: int, item: Item, digest: str | None, failure: str | None,
            states: Mapping[str, FileState]) -> None:
    size, mtime = states.get(item.path or "", (None, None))
    values = {"batch": number, "id": item.id, "modality": item.modality, "path": item.path, "text": item.text,
              "metadata": json.dumps(item.metadata, ensure_ascii=False), "content_hash": digest, "size": size,
              "mtime": mtime, "failure": failure}
    for name, value in values.items():
        columns[name].append(value)


def _batch(path: Path, rows: list[dict], indices: list[int],
           vectors: dict[str, tuple[np.ndarray, np.ndarray]]) -> EmbeddedBatch:
    embedded = [i for i in indices if rows[i]["failure"] is None]
    failed = [i for i in indices if rows[i]["failure"] is not None]
    batch = EmbeddedBatch(rows[indices[0]]["modality"], [_item(rows[i]) for i in embedded],
                          [rows[i]["content_hash"] for i in embedded],
                          failures=[(_item(rows[i]), rows[i]["failure"]) for i in failed])
    for space, (valid, array) in vectors.items():
        present = valid[embedded]
        if present.all() and embedded:
            batch.vectors[space] = array[embedded]
        elif present.any():
            raise BadInput(f"{path}: batch {rows[indices[0]]['batch']} has {space} vectors for some items only")
    return batch


def _item(row: dict) -> Item:
    return Item(row["id"], row["modality"], row["path"], row["text"], json.loads(row["metadata"]))


def _nullable_vectors(rows: list[np.ndarray | None], dim: int) -> pa.Array:
    flat = np.zeros((len(rows), dim), dtype=np.float32)
    present = np.array([row is not None for row in rows], dtype=bool)
    for i in np.flatnonzero(present):
        flat[i] = rows[i]
    return fixed_size_vectors(flat, dim, missing=~present)


def _dense_vectors(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(rows that have a vector, (n, d) float32 array with zeros where they have none)."""
    array = column.combine_chunks()
    dim = array.type.list_size
    values = array.values.slice(array.offset * dim, len(array) * dim)
    return array.is_valid().to_numpy(zero_copy_only=False), values.to_numpy(zero_copy_only=False).reshape(-1, dim)
