"""Reads of a Milvus collection in pages (a query iterator) and in batches of ids (`in [...]` expressions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

from mmret.index.milvus.connection import milvus_errors
from mmret.index.milvus.filters import quoted
from mmret.index.milvus.indexes import space_filter

READ_BATCH = 4096  # rows per query-iterator page
ID_BATCH = 1000  # item ids per `in [...]` expression


class PagedReads:
    """The part of MilvusCollection that reads rows a page or a batch at a time (with its `_field`)."""

    _location: str | Path
    _client: MilvusClient
    _name: str

    def _count(self, expression: str) -> int:
        with milvus_errors(self._location, "cannot count"):
            return int(self._client.query(self._name, filter=expression, output_fields=["count(*)"])[0]["count(*)"])

    def _pages(self, expression: str, fields: list[str]) -> Iterator[list[dict]]:
        with milvus_errors(self._location, "cannot read"):
            pages = self._client.query_iterator(self._name, batch_size=READ_BATCH, filter=expression,
                                                output_fields=fields)
            try:
                while page := pages.next():
                    yield page
            finally:
                pages.close()

    def _vector_pages(self, space: str, fields: list[str]) -> Iterator[tuple[list[dict], np.ndarray]]:
        field = self._field(space)
        for page in self._pages(space_filter(space), [*fields, field]):
            yield page, np.array([e[field] for e in page], dtype=np.float32)

    def _id_pages(self, space: str) -> Iterator[tuple[list[str], np.ndarray]]:
        for page, vectors in self._vector_pages(space, ["item_id"]):
            yield [e["item_id"] for e in page], vectors

    def _stored_ids(self, item_ids: list[str]) -> set[str]:
        found = set()
        with milvus_errors(self._location, "cannot read"):
            for start in range(0, len(item_ids), ID_BATCH):
                batch = ", ".join(quoted(i) for i in item_ids[start : start + ID_BATCH])
                found.update(e["item_id"] for e in self._client.query(
                    self._name, filter=f"item_id in [{batch}]", output_fields=["item_id"]))
        return found
