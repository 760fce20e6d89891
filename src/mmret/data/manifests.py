"""Manifests: CSV, JSONL and Parquet tables whose rows name a file (`path`) or carry a `text`; every column
other than path, text, id and modality becomes metadata. A row that cannot become an item is reported, never raised."""
from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmret.data.entries import (
    MEDIA_EXTENSIONS,
    Entry,
    OnSkip,
    Skipped,
    SourceError,
    not_utf8,
    unsupported_type,
)
from mmret.data.items import Item

from ..errors import MissingPackage

# Manifest columns with a meaning of their own; every other column becomes metadata.
_RESERVED_COLUMNS = ("path", "text", "id", "modality")


class _BadRow(Exception):
    """A manifest row that cannot become an item; its message is the reason."""


# (row number shown to users, the row's columns or the reason it could not be parsed)
Row = tuple[int, dict[str, Any] | str]


@dataclass(frozen=True)
class _ManifestReader:
    columns: Callable[[Path], Collection[str]]
    rows: Callable[[Path], Iterator[Row]]


def check_manifest_columns(path: Path, columns: Collection[str]) -> None:
    if "path" not in columns and "text" not in columns:
        found = ", ".join(repr(column) for column in columns) or "none"
        raise SourceError(f"{path}: a manifest needs a 'path' or 'text' column (columns found: {found})")


def manifest_entries(manifest: Path, rows: Callable[[Path], Iterator[Row]], within: Collection[Path] | None,
                      report: OnSkip) -> Iterator[Entry]:
    resolved = manifest.resolve()
    for number, row in rows(manifest):
        where = f"{manifest}:{number}"
        try:
            if isinstance(row, str):
                raise _BadRow(row)
            yield where, _row_item(row, resolved, number, within)
        except _BadRow as bad:
            report(Skipped(where, str(bad)))


def _row_item(row: dict[str, Any], manifest: Path, number: int, within: Collection[Path] | None = None) -> Item:
    """The item a manifest row describes; relative paths are relative to the manifest's folder."""
    path, text, modality = (_text_field(row, name) for name in ("path", "text", "modality"))
    item_id = row.get("id")
    item_id = None if item_id in (None, "") else str(item_id)
    metadata = {name: value for name, value in row.items() if name not in _RESERVED_COLUMNS}
    if path is None and text is None:
        raise _BadRow("row has neither 'path' nor 'text'")
    if path is None:
        return _checked_item(item_id or f"{manifest}:{number}", modality or "text", None, text, metadata)
    file = _row_file(manifest.parent / path, path, within)
    modality = modality or MEDIA_EXTENSIONS.get(file.suffix.lower())
    if modality is None:
        raise _BadRow(f"{unsupported_type(file)}; give the row a 'modality'")
    return _checked_item(item_id or str(file), modality, str(file), text, metadata)


def _row_file(file: Path, written: str, within: Collection[Path] | None) -> Path:
    """The row's file, resolved; outside `within` it is refused before it is looked at, and unnamed."""
    try:
        file = file.resolve()
    except (OSError, RuntimeError, ValueError):
        raise _BadRow(f"no such file: {written}") from None
    if within is not None and not any(file.is_relative_to(folder) for folder in within):
        raise _BadRow("the row's path leads outside the folders this server may read")
    if not file.is_file():
        raise _BadRow(f"no such file: {written}")
    return file


def _text_field(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _BadRow(f"{name!r} must be a string, got {type(value).__name__}")
    return value


def _checked_item(item_id: str, modality: str, path: str | None, text: str | None, metadata: dict) -> Item:
    try:
        return Item(id=item_id, modality=modality, path=path, text=text, metadata=metadata)
    except ValueError as err:
        raise _BadRow(str(err)) from err


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, ValueError, csv.Error) as err:  # ValueError covers pyarrow's ArrowInvalid
        raise SourceError(f"{path}: cannot read manifest: {err}") from err


# Bytes that are not UTF-8 are kept as lone surrogates while reading, so that a bad byte fails its row only.
_TEXT = {"encoding": "utf-8-sig", "errors": "surrogateescape"}


def _csv_columns(path: Path) -> list[str]:
    with _reading(path), path.open(newline="", **_TEXT) as file:
        header = next(csv.reader(file), [])
    if reason := not_utf8(header):
        raise SourceError(f"{path}: header: {reason}")
    return header


def _csv_rows(path: Path) -> Iterator[Row]:
    """Rows keyed by the header; numbers are the file line where each row starts (header = line 1)."""
    with _reading(path), path.open(newline="", **_TEXT) as file:
        reader = csv.reader(file)
        header = next(reader, [])
        line = reader.line_num
        for fields in reader:
            start, line = line + 1, reader.line_num
            if not fields:
                continue
            if reason := not_utf8(fields):
                yield start, reason
            elif len(fields) != len(header):
                yield start, f"expected {len(header)} fields as in the header, found {len(fields)}"
            else:
                yield start, dict(zip(header, fields, strict=True))


_FIRST_LINES = 100  # where a JSONL manifest's first record is looked for


def _jsonl_columns(path: Path) -> Collection[str]:
    """The keys of the first record that is a JSON object among the first lines; none there means this is
    no JSONL manifest."""
    first_error = None
    with _reading(path), path.open(**_TEXT) as file:
        lines = (line for line in file if line.strip())
        for _, line in zip(range(_FIRST_LINES), lines):
            record = _json_object(line)
            if isinstance(record, dict):
                return record.keys()
            first_error = first_error or record
    if first_error is None:
        return ()
    raise SourceError(f"{path}: not a JSONL manifest, first record: {first_error}")


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with _reading(path), path.open(**_TEXT) as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, _json_object(line)


def _json_object(line: str) -> dict[str, Any] | str:
    if reason := not_utf8([line]):
        return reason
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return f"invalid JSON: {err}"
    return record if isinstance(record, dict) else f"expected a JSON object, got {type(record).__name__}"


def _parquet_module(path: Path) -> Any:
    try:
        import pyarrow.parquet
    except ImportError as err:
        raise MissingPackage(f"{path}: reading Parquet manifests needs pyarrow: pip install pyarrow") from err
    return pyarrow.parquet


def _parquet_columns(path: Path) -> list[str]:
    parquet = _parquet_module(path)
    with _reading(path):
        return parquet.read_schema(path).names


def _parquet_rows(path: Path) -> Iterator[Row]:
    """Rows numbered from 1, read a batch at a time."""
    parquet = _parquet_module(path)
    with _reading(path):
        number = 0
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                number += 1
                yield number, record


MANIFEST_READERS = {
    ".csv": _ManifestReader(_csv_columns, _csv_rows),
    ".jsonl": _ManifestReader(_jsonl_columns, _jsonl_rows),
    ".parquet": _ManifestReader(_parquet_columns, _parquet_rows),
}
