"""`labels`: a CSV, TSV or JSONL table of items with a label column. Each row has a media file (`path`,
relative to the table's folder) or a `text`; every row must be of one modality. A label cell holds one label,
several joined by `separator` ("cat|dog"), or (JSONL) a list; an empty cell means no label.

Tasks: M->M (items sharing a label) and, for media items, text->M with one query per class from `template`
(by default "a photo of a {}" for images, "the sound of {}" for audio). `start`/`stop` slice the rows."""
from __future__ import annotations

from pathlib import Path

from ...errors import BadInput
from ..items import Item
from ..sources import MEDIA_EXTENSIONS
from .base import RetrievalDataset, slice_text, sliced_name
from .files import check_files_exist, read_table
from .labels import DEFAULT_TEMPLATES, labelled_dataset


def labels(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None,
           label_column: str = "label", separator: str = "|", template: str | None = None) -> RetrievalDataset:
    file = Path(path)
    rows = read_table(file)[start:stop]
    if not rows:
        raise BadInput(f"{file}: no rows in the slice {slice_text(start, stop)}")
    if label_column not in rows[0]:
        raise BadInput(f"{file}: no {label_column!r} column (columns: {', '.join(rows[0])})")
    items = [_row_item(file, start + number, row, label_column) for number, row in enumerate(rows)]
    modalities = {item.modality for item in items}
    if len(modalities) > 1:
        raise BadInput(f"{file}: rows mix modalities {sorted(modalities)}; use one table per modality")
    if items[0].modality != "text":
        check_files_exist(file, items)
    item_labels = [_labels(row.get(label_column), separator) for row in rows]
    template = template or DEFAULT_TEMPLATES.get(items[0].modality)
    return labelled_dataset(name or sliced_name(file.stem, start, stop), items, item_labels, template)


def _row_item(file: Path, number: int, row: dict, label_column: str) -> Item:
    where = f"{file}: row {number + 1}"
    metadata = {key: value for key, value in row.items() if key not in ("id", "path", "text")}
    if row.get("path"):
        suffix = Path(row["path"]).suffix.lower()
        if suffix not in MEDIA_EXTENSIONS:
            raise BadInput(f"{where}: {row['path']} is not a supported media file")
        return Item(str(row.get("id") or row["path"]), MEDIA_EXTENSIONS[suffix], path=str(file.parent / row["path"]),
                    metadata=metadata)
    if row.get("text"):
        return Item(str(row.get("id") or f"row:{number + 1}"), "text", text=str(row["text"]), metadata=metadata)
    raise BadInput(f"{where}: needs a \"path\" or a \"text\"")


def _labels(cell: object, separator: str) -> frozenset[str]:
    if isinstance(cell, list):
        return frozenset(str(label).strip() for label in cell if str(label).strip())
    if cell is None:
        return frozenset()
    return frozenset(label.strip() for label in str(cell).split(separator) if label.strip())
