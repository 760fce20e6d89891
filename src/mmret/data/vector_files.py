"""Precomputed vectors and their metadata from files: `.npy` (memory-mapped) or Parquet, plus JSONL, CSV or
Parquet metadata with one row per vector; and a Parquet table of vectors with their items' fields, written in
batches (what `mmret export` writes and `mmret import` reads back). Errors name the file and the reason."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import BadInput, MissingPackage


def read_vectors(path: str | Path, column: str = "vector") -> tuple[np.ndarray, list[str] | None]:
    """(n, d) float vectors and, for Parquet with an `id` column, their ids."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"{path}: no such vectors file")
    if path.suffix == ".npy":
        vectors = np.load(path, mmap_mode="r")
        if vectors.ndim != 2:
            raise BadInput(f"{path}: expected a 2-D array of vectors, got shape {vectors.shape}")
        return vectors, None
    if path.suffix == ".parquet":
        table = _parquet(path)
        if column not in table.column_names:
            raise BadInput(f"{path}: no {column!r} column (columns: {table.column_names})")
        vectors = np.asarray(table.column(column).to_pylist(), dtype=np.float32)
        ids = [str(i) for i in table.column("id").to_pylist()] if "id" in table.column_names else None
        return vectors, ids
    raise BadInput(f"{path}: vectors must be a .npy or .parquet file")


def read_metadata(path: str | Path) -> list[dict]:
    """One dict per row; CSV cells that spell numbers or true/false are typed as such."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"{path}: no such metadata file")
    if path.suffix == ".jsonl":
        rows = []
        with open(path, encoding="utf-8") as file:
            for line_number, line in enumerate(file, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise BadInput(f"{path}:{line_number}: not JSON ({error.msg})") from None
        if not all(isinstance(row, dict) for row in rows):
            raise BadInput(f"{path}: every line must be a JSON object")
        return rows
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as file:
            return [{key: _typed(value) for key, value in row.items()} for row in csv.DictReader(file)]
    if path.suffix == ".parquet":
        return _parquet(path).to_pylist()
    raise BadInput(f"{path}: metadata must be a .jsonl, .csv or .parquet file")


class VectorTableWriter:
    """Writes rows of (id, modality, path, text, metadata as JSON, vector) to a Parquet file, batch by batch; the
    file appears under its name only once it is complete."""

    def __init__(self, path: str | Path, dim: int):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as error:
            raise MissingPackage(f"{path}: writing Parquet needs pyarrow (pip install 'mmret[parquet]')") from error
        self._pa, self.path, self.dim, self.rows = pa, Path(path).expanduser(), dim, 0
        self._partial = self.path.with_name(self.path.name + ".partial")
        columns = [(name, pa.string()) for name in ("id", "modality", "path", "text", "metadata")]
        self._schema = pa.schema([*columns, ("vector", pa.list_(pa.float32(), dim))])
        self._writer = pq.ParquetWriter(self._partial, self._schema)

    def write(self, items: list[dict], vectors: np.ndarray) -> None:
        """`items`: dicts with id, modality, path, text and metadata (a dict), one per row of `vectors`."""
        pa = self._pa
        columns = {name: [item[name] for item in items] for name in ("id", "modality", "path", "text")}
        columns["metadata"] = [json.dumps(item["metadata"], ensure_ascii=False) for item in items]
        columns["vector"] = fixed_size_vectors(vectors, self.dim)
        self._writer.write_table(pa.table(columns, schema=self._schema))
        self.rows += len(items)

    def __enter__(self) -> VectorTableWriter:  # noqa: PYI034 -- Python 3.10 has no typing.Self
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self._writer.close()
        if error_type is None:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)


def fixed_size_vectors(vectors: np.ndarray, dim: int, missing: np.ndarray | None = None):
    """(n, dim) vectors as an Arrow column of float32 lists of `dim`; rows where `missing` is True are null."""
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    mask = None if missing is None else pa.array(missing, pa.bool_())
    return pa.FixedSizeListArray.from_arrays(flat, dim, mask=mask)


def _parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise MissingPackage(f"{path}: reading Parquet needs pyarrow (pip install 'mmret[parquet]')") from error
    return pq.read_table(path)


def _typed(value: str):
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value
    return parsed if isinstance(parsed, (int, float, bool)) else value
