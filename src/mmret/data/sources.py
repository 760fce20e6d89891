"""Where items come from: folders of media and text files, single files, and CSV/JSONL/Parquet manifests.

`iter_items` validates every source up front (so a typo fails before hours of encoding), then yields
items lazily. Entries that cannot become an item are reported through `on_skip`, never raised: a stray
README or a bad manifest row costs one line of report, not the run.

A media file's metadata is `folder`, the name of the folder that holds it: the same whichever root (or the file
itself) was given, so indexing a subfolder again never relabels what a wider index stored. A `.txt` or `.md` file
is a text item of its content (see text_files.py).
"""
from __future__ import annotations

import csv
import errno
import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mmret.data.items import MODALITIES, Item, file_id
from mmret.data.text_files import TEXT_EXTENSIONS, UnreadableText, text_file_content

from ..errors import BadInput, MissingPackage

MEDIA_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"), "image"),
    **dict.fromkeys((".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac"), "audio"),
    **dict.fromkeys((".mp4", ".webm", ".mkv", ".mov"), "video"),
}
# Manifest columns with a meaning of their own; every other column becomes metadata.
_RESERVED_COLUMNS = ("path", "text", "id", "modality")


@dataclass(frozen=True)
class Skipped:
    """A source entry that could not become an Item."""

    where: str  # file path, or "manifest.csv:17" for a manifest row
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its particulars (sizes, paths, messages after a colon): what skips are counted by."""
        return re.split(r"[:;(]", self.reason, maxsplit=1)[0].strip()

    def __str__(self) -> str:
        """One line: control characters (a newline in a file name) and undecodable bytes are escaped."""
        return "".join(char if char.isprintable() else repr(char)[1:-1] for char in f"{self.where}: {self.reason}")


class SourceError(BadInput):
    """A source unusable as a whole: missing path, manifest without a path/text column, unreadable manifest."""


OnSkip = Callable[[Skipped], None]
# (where the entry came from, the item it became)
Entry = tuple[str, Item]


class _BadRow(Exception):
    """A manifest row that cannot become an item; its message is the reason."""


def iter_items(
    paths: Iterable[str | Path] | str | Path,
    modalities: Collection[str] | None = None,
    on_skip: OnSkip | None = None,
    within: Collection[Path] | None = None,
    exclude: Collection[str | Path] = (),
) -> Iterator[Item]:
    """Yield the items found in `paths` (folders, media and text files, manifests), each distinct id once.

    Raises SourceError at call time if any source is unusable. Entries that are not indexable
    (unsupported file type, bad manifest row, modality not in `modalities`, duplicate id) go to
    `on_skip`; with `on_skip=None` they are dropped silently. `within` (resolved folders, a server's roots):
    a manifest row naming a file elsewhere is skipped, as a folder's link leading out of it is. Folders in
    `exclude` (a collection's own folder, inside the folder it indexes) are never walked.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    wanted = _checked_modalities(modalities)
    excluded = frozenset(Path(folder).resolve() for folder in exclude)
    sources = [_open_source(Path(path), excluded, within) for path in paths]
    return _unique_wanted_items(sources, wanted, on_skip or (lambda skipped: None))


def check_sources(paths: Iterable[str | Path]) -> None:
    """Raise SourceError if any source is unusable (missing, or a manifest with an unusable header), reading
    no more than headers: the check to make before creating anything for them."""
    for path in paths:
        _open_source(Path(path), frozenset())


def _checked_modalities(modalities: Collection[str] | None) -> frozenset[str] | None:
    if modalities is None:
        return None
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise BadInput(f"unknown modalities {sorted(unknown)}, expected some of {MODALITIES}")
    return frozenset(modalities)


def _unique_wanted_items(
    sources: list[Callable[[OnSkip], Iterator[Entry]]], wanted: frozenset[str] | None, report: OnSkip
) -> Iterator[Item]:
    seen_ids: set[str] = set()
    for entries in sources:
        for where, item in entries(report):
            if wanted is not None and item.modality not in wanted:
                requested = ", ".join(sorted(wanted))
                report(Skipped(where, f"modality {item.modality!r} not requested (only {requested})"))
            elif item.id in seen_ids:
                report(Skipped(where, f"duplicate of an item already read: {item.id}"))
            else:
                seen_ids.add(item.id)
                yield item


def _open_source(path: Path, excluded: frozenset[Path],
                 within: Collection[Path] | None = None) -> Callable[[OnSkip], Iterator[Entry]]:
    """Check that `path` is usable and return the function that reads its entries."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return partial(_folder_entries, path, excluded)
    reader = _MANIFEST_READERS.get(path.suffix.lower())
    if reader is None:
        return partial(_single_file_entries, path)
    _check_manifest_columns(path, reader.columns(path))
    return partial(_manifest_entries, path, reader.rows, within)


def _not_utf8(texts: Iterable[str]) -> str | None:
    """The reason a text read with surrogateescape is unusable, or None when all of it was UTF-8."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            return f"not UTF-8 text: byte 0x{ord(err.object[err.start]) - 0xDC00:02x}"
    return None


# --- media and text files, folders ---------------------------------------------------------------


def _single_file_entries(path: Path, report: OnSkip) -> Iterator[Entry]:
    item = _file_item(path, report)
    if item is not None:
        yield str(path), item


def _folder_entries(root: Path, excluded: frozenset[Path], report: OnSkip) -> Iterator[Entry]:
    walk = _Walk(root.resolve(), excluded, report)
    for path in walk.files(root, frozenset({_identity(root)})):
        item = _file_item(path, report)
        if item is not None:
            yield str(path), item


def _file_item(path: Path, report: OnSkip) -> Item | None:
    suffix = path.suffix.lower()
    modality = "text" if suffix in TEXT_EXTENSIONS else MEDIA_EXTENSIONS.get(suffix)
    if modality is None:
        report(Skipped(str(path), _unsupported_type(path)))
        return None
    if reason := _not_utf8([str(path)]):  # os.scandir keeps such bytes as surrogates, which SQLite cannot store
        report(Skipped(str(path), f"file name is {reason}; rename it"))
        return None
    resolved = file_id(path)
    try:
        text = text_file_content(Path(resolved)) if modality == "text" else None
    except UnreadableText as unreadable:
        report(Skipped(str(path), str(unreadable)))
        return None
    return Item(id=resolved, modality=modality, path=resolved, text=text, metadata={"folder": Path(resolved).parent.name})


def _unsupported_type(path: Path) -> str:
    return f"unsupported file type {path.suffix!r}" if path.suffix else "unsupported file type (no extension)"


@dataclass(frozen=True)
class _Walk:
    """Files under a folder in sorted depth-first order, skipping hidden names, the `excluded` folders, symlink
    loops and links that lead out of `root` (the resolved folder being indexed; `ln -s .. up` must not index its
    siblings). Lists one folder at a time, so the first file comes without reading the whole tree."""

    root: Path
    excluded: frozenset[Path]
    report: OnSkip

    def files(self, folder: Path, ancestors: frozenset[tuple[int, int]]) -> Iterator[Path]:
        """`ancestors` holds the (device, inode) of each folder on the way down, to catch loops."""
        for entry in _sorted_entries(folder, self.report):
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and (refusal := _unfollowable_link(path, self.root)):
                self.report(Skipped(str(path), refusal))
            elif entry.is_dir():
                yield from self._folder_files(path, ancestors)
            elif entry.is_file():
                yield path
            else:
                self.report(Skipped(str(path), "not a regular file (a device, socket or pipe)"))

    def _folder_files(self, path: Path, ancestors: frozenset[tuple[int, int]]) -> Iterator[Path]:
        if path.resolve() in self.excluded:
            return
        identity = _identity(path)
        if identity in ancestors:
            self.report(Skipped(str(path), "symlink loop: leads back to a folder above it"))
        else:
            yield from self.files(path, ancestors | {identity})


def _unfollowable_link(link: Path, root: Path) -> str | None:
    """Why a symlink is not followed, or None when its target exists inside `root`."""
    try:
        os.stat(link)
    except OSError as err:
        return "symlink loop: the link never resolves" if err.errno == errno.ELOOP else "broken symlink"
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(root):
        return "symlink leads outside the indexed folder; index its target as a source of its own"
    return None


def _sorted_entries(folder: Path, report: OnSkip) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as err:
        report(Skipped(str(folder), f"cannot read folder: {err.strerror}"))
        return []


def _identity(folder: Path) -> tuple[int, int]:
    stat = folder.stat()
    return stat.st_dev, stat.st_ino


# --- manifests -----------------------------------------------------------------------------------

# (row number shown to users, the row's columns or the reason it could not be parsed)
Row = tuple[int, dict[str, Any] | str]


@dataclass(frozen=True)
class _ManifestReader:
    columns: Callable[[Path], Collection[str]]
    rows: Callable[[Path], Iterator[Row]]


def _check_manifest_columns(path: Path, columns: Collection[str]) -> None:
    if "path" not in columns and "text" not in columns:
        found = ", ".join(repr(column) for column in columns) or "none"
        raise SourceError(f"{path}: a manifest needs a 'path' or 'text' column (columns found: {found})")


def _manifest_entries(manifest: Path, rows: Callable[[Path], Iterator[Row]], within: Collection[Path] | None,
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
        raise _BadRow(f"{_unsupported_type(file)}; give the row a 'modality'")
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
    if reason := _not_utf8(header):
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
            if reason := _not_utf8(fields):
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
    if reason := _not_utf8([line]):
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


_MANIFEST_READERS = {
    ".csv": _ManifestReader(_csv_columns, _csv_rows),
    ".jsonl": _ManifestReader(_jsonl_columns, _jsonl_rows),
    ".parquet": _ManifestReader(_parquet_columns, _parquet_rows),
}
