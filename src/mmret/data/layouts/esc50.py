"""`esc50`: the ESC-50 environmental sound set: `esc50.csv` (filename, fold, target, category, esc10, src_file,
take) beside or under `meta/`, clips under `audio/`. Tasks: audio->audio (same category) and text->audio, one
query per category from `template` ("the sound of {}": "the sound of chirping birds"). `folds` keeps only those
folds (a fold number or a collection of them); `start`/`stop` then slice the rows."""
from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ...errors import BadInput
from ..items import Item
from .base import RetrievalDataset, slice_text, sliced_name
from .files import check_files_exist, find_file, read_table
from .labels import DEFAULT_TEMPLATES, labelled_dataset

ESC50_COLUMNS = ("filename", "fold", "category")
ESC50_TEMPLATE = DEFAULT_TEMPLATES["audio"]


def esc50(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None,
          folds: int | Collection[int] | None = None, template: str = ESC50_TEMPLATE) -> RetrievalDataset:
    path = Path(path)
    folds = {folds} if isinstance(folds, int) else folds
    table = path if path.is_file() else find_file(path, ("esc50.csv", "meta/esc50.csv"), "ESC-50 table")
    root = table.parent.parent if table.parent.name == "meta" else table.parent
    rows = read_table(table)
    missing = [column for column in ESC50_COLUMNS if rows and column not in rows[0]]
    if missing:
        raise BadInput(f"{table}: not an ESC-50 table, no column(s) {', '.join(missing)}")
    rows = [row for row in rows if folds is None or int(row["fold"]) in folds][start:stop]
    if not rows:
        raise BadInput(f"{table}: no clips in folds {sorted(folds or [])} and slice {slice_text(start, stop)}")
    clips = [Item(row["filename"], "audio", path=str(root / "audio" / row["filename"]),
                  metadata={key: value for key, value in row.items() if key != "filename"}) for row in rows]
    check_files_exist(table, clips)
    base = name or sliced_name(root.name, start, stop)
    return labelled_dataset(base, clips, [{row["category"]} for row in rows], template)


def is_esc50_table(file: Path) -> bool:
    with file.open(encoding="utf-8-sig") as handle:
        header = handle.readline().strip().split(",")
    return all(column in header for column in ESC50_COLUMNS)
