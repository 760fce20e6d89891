"""An in-memory columnar copy of the filterable fields, indexed by row id, so a filter is a few numpy ops.

Each column is built from SQLite on first use (one scan of one key) and then kept current by the commits of
the handle that holds it; a handle that loads a newer generation starts afresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mmret.index.store import MetadataStore, Row

ABSENT, NULL, FALSE, TRUE, NUMBER, TEXT, OTHER = range(7)
FIELDS = ("modality", "path")  # record fields filterable like metadata keys
_JSON_KINDS = {None: ABSENT, "null": NULL, "false": FALSE, "true": TRUE, "integer": NUMBER, "real": NUMBER,
               "text": TEXT, "array": OTHER, "object": OTHER}


class Column:
    """One key for every row id: its JSON kind, its value as a number (texts that parse as one too), its text code."""

    def __init__(self, size: int):
        self.kind = np.zeros(size, dtype=np.int8)
        self.number = np.full(size, np.nan)
        self.code = np.full(size, -1, dtype=np.int32)
        self.vocab: list[str] = []
        self.codes: dict[str, int] = {}

    def grow(self, size: int) -> None:
        if size > len(self.kind):
            size = max(size, 2 * len(self.kind))
            self.kind = np.concatenate([self.kind, np.zeros(size - len(self.kind), np.int8)])
            self.number = np.concatenate([self.number, np.full(size - len(self.number), np.nan)])
            self.code = np.concatenate([self.code, np.full(size - len(self.code), -1, np.int32)])

    def set(self, row_id: int, kind: int, value) -> None:
        self.kind[row_id] = kind
        if kind == NUMBER:
            self.number[row_id] = value
        elif kind == TEXT:
            self.code[row_id] = self.codes.setdefault(value, len(self.codes))
            if self.code[row_id] == len(self.vocab):
                self.vocab.append(value)
            self.number[row_id] = number_in(value)

    def clear(self, row_ids: np.ndarray) -> None:
        self.kind[row_ids], self.number[row_ids], self.code[row_ids] = ABSENT, np.nan, -1


class MetadataColumns:
    def __init__(self, store: MetadataStore):
        self._store = store
        self._alive: np.ndarray | None = None
        self._columns: dict[str, Column] = {}

    @property
    def alive(self) -> np.ndarray:
        """Boolean mask over row ids of the stored items."""
        if self._alive is None:
            ids = self._store.all_ids()
            self._alive = np.zeros(_capacity(ids), dtype=bool)
            self._alive[ids] = True
        return self._alive

    def column(self, key: str) -> Column:
        if key not in self._columns:
            column = Column(len(self.alive))
            for row_id, json_kind, value in self._store.column_values(key, is_field=key in FIELDS):
                column.set(row_id, TEXT if key in FIELDS and value is not None else _JSON_KINDS[json_kind], value)
            self._columns[key] = column
        return self._columns[key]

    def update(self, added: Iterable[Row], removed_ids: list[int]) -> None:
        """Apply a commit: rows written (with fresh ids) and row ids deleted."""
        if self._alive is None:
            return
        added = list(added)
        size = max([len(self._alive)] + [row.id + 1 for row in added])
        if size > len(self._alive):
            self._alive = np.concatenate([self._alive, np.zeros(max(size, 2 * len(self._alive)) - len(self._alive), bool)])
        removed = np.asarray(removed_ids, dtype=np.int64)
        self._alive[removed] = False
        self._alive[[row.id for row in added]] = True
        for key, column in self._columns.items():
            column.grow(len(self._alive))
            column.clear(removed)
            for row in added:
                column.set(row.id, *_kind_and_value(row, key))


def number_in(text: str) -> float:
    """The number a text spells (CSV cells are often stored as text), NaN if none."""
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def _kind_and_value(row: Row, key: str) -> tuple[int, object]:
    if key in FIELDS:
        value = getattr(row.record, key)
        return (ABSENT, None) if value is None else (TEXT, value)
    if key not in row.record.metadata:
        return ABSENT, None
    value = row.record.metadata[key]
    if value is None:
        return NULL, None
    if isinstance(value, bool):
        return (TRUE if value else FALSE), None
    if isinstance(value, (int, float)):
        return NUMBER, float(value)
    if isinstance(value, str):
        return TEXT, value
    return OTHER, None


def _capacity(ids: np.ndarray) -> int:
    return int(ids.max()) + 1 if len(ids) else 1
