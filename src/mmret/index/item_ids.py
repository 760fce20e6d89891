"""The item_id of every row id, kept in memory so that a search answers with item_ids without reading SQLite.

A row is never changed once written (an upsert writes a new row with a fresh id; ids are never reused), so the
map only grows: it is read from SQLite once, on a handle's first search, then extended by the rows of each
commit, this handle's or another process's (those rows have ids from the old `next_id` on). Rows removed since
keep their entries; their vectors are tombstoned, so no search returns them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mmret.index.store import MetadataStore


class ItemIds:
    def __init__(self):
        self._ids: np.ndarray | None = None  # object array indexed by row id; None until first needed
        self._size = 0  # rows known: ids below this are in the map

    @property
    def loaded(self) -> bool:
        return self._ids is not None

    def load(self, store: MetadataStore) -> None:
        """Read the map (the caller holds a read transaction)."""
        self._ids, self._size = np.empty(0, dtype=object), 0
        self.extend(store.item_ids_from(0))

    def catch_up(self, store: MetadataStore) -> None:
        """Add the rows another process committed (the caller holds a read transaction)."""
        if self.loaded:
            self.extend(store.item_ids_from(self._size))

    def extend(self, rows: Iterable[tuple[int, str]]) -> None:
        """Add (row id, item_id) pairs; a map not loaded yet stays unloaded (it will read them all)."""
        if not self.loaded:
            return
        rows = list(rows)
        if not rows:
            return
        needed = max(row_id for row_id, _ in rows) + 1
        if needed > len(self._ids):
            grown = np.empty(max(needed, 2 * len(self._ids)), dtype=object)
            grown[: len(self._ids)] = self._ids
            self._ids = grown
        for row_id, item_id in rows:
            self._ids[row_id] = item_id
        self._size = max(self._size, needed)

    def of(self, row_ids: np.ndarray) -> list[str]:
        return self._ids[row_ids].tolist()
