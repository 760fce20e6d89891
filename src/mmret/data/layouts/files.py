"""File helpers shared by the layouts: reading JSON and tables, checking that listed media exist."""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import BadInput
from ..items import Item

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


def read_json(file: Path, what: str = "captions file") -> Any:
    if not file.is_file():
        raise BadInput(f"{file}: no such {what}")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{file}: not valid JSON: {e}") from e


def read_table(file: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or TSV file with a header line, or of a JSONL file (one object per line)."""
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"{file}: not UTF-8 text: {e}") from e
    if file.suffix.lower() == ".jsonl":
        return [_json_row(file, number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if file.suffix.lower() not in (".csv", ".tsv"):
        raise BadInput(f"{file}: expected a .csv, .tsv or .jsonl table")
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter))


def find_file(folder: Path, names: Sequence[str], what: str) -> Path:
    """The first of `names` that exists in `folder`."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise BadInput(f"{folder}: no {what} (looked for {', '.join(names)})")


def check_files_exist(source: Path, items: Sequence[Item]) -> None:
    missing = [item.path for item in items if not Path(item.path).is_file()]
    if missing:
        kind = items[0].modality
        raise BadInput(f"{source}: {len(missing)} {kind} file(s) listed but missing, first {missing[0]}")


def image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES)


def _json_row(file: Path, number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadInput(f"{file}:{number}: not valid JSON: {e}") from e
    if not isinstance(row, dict):
        raise BadInput(f"{file}:{number}: expected a JSON object, got {type(row).__name__}")
    return row
