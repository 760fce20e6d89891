"""The embedded backend's search hits (values.py's Hit): the item_id and score at once, the record (path, text,
metadata) read on first use.

A search answers from memory (vectors, ANN index, the item ids of item_ids.py) and reads no item rows: a caller
that only needs ids and scores (re-ranking, fusion, evaluation) does not pay for rows it never reads. The first
`hit.record` of a search reads the rows of all its hits in one SQLite query (on a thread other than the handle's,
on a connection that thread keeps for its next searches: see readers.py). Rows never change once written, so that
is the record the search found, unless the item was removed or replaced since: then `record` raises ItemGone, and
`readable` leaves such hits out."""

from __future__ import annotations

from mmret.index.store import MetadataStore, record_of
from mmret.index.values import Hit, ItemGone, Record
from mmret.index.vectors import Neighbors


class SearchRows:
    """The item rows of one search's hits, read together when the first of them is needed."""

    def __init__(self, store: MetadataStore, neighbors: list[Neighbors]):
        self._store = store
        self._neighbors = neighbors
        self._fields: dict[int, tuple] | None = None

    def record(self, row_id: int, item_id: str) -> Record:
        if self._fields is None:
            self._fields = self._read()
        if row_id not in self._fields:
            raise ItemGone(f"item {item_id!r} was removed or replaced after the search that found it; "
                                  f"search again")
        return record_of(self._fields[row_id])

    def _read(self) -> dict[int, tuple]:
        row_ids = [row_id for found in self._neighbors for row_id in found.ids.tolist()]
        if not self._store.usable_here:  # the handle is closed, or on another thread
            return self._store.stored_fields(row_ids)
        with self._store.reading():
            return self._store.stored_fields(row_ids)


def hits_of(neighbors: list[Neighbors], item_ids: list[list[str]], store: MetadataStore,
            space: str) -> list[list[Hit]]:
    """Each query's neighbours (row ids, with their item_ids) as hits."""
    rows = SearchRows(store, neighbors)
    return [[Hit.found(item_id, row_id, score, space, rows)
             for item_id, row_id, score in zip(ids, found.ids.tolist(), found.scores.tolist())]
            for ids, found in zip(item_ids, neighbors)]
