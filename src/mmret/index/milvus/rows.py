"""The Milvus schema of a collection and the conversion of records to rows and back.

One row per item: the item id as the VARCHAR primary key, the record's fields as scalar columns, its metadata
as JSON (with the `kinds` and `numbers` JSON the filters read, see filters.py), the names of the spaces it has
vectors in, and one float vector field per space (`vector_0`, `vector_1`, ... in the order of the space names,
as space names may hold '-', which Milvus field names may not). A row without a vector in a space holds zeros
there and leaves the space out of `spaces`, which searches of that space then filter on: pymilvus 3.0 cannot
send a batch whose nullable vector field is null in every row, and Milvus Lite scores a null vector as zeros.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from mmret.index.milvus.filters import kind_of, number_of
from mmret.index.store import Record

MAX_TEXT_BYTES = 65_535  # Milvus's VARCHAR limit
_TEXTS = ("modality", "path", "text", "content_hash")
RECORD_FIELDS = ["item_id", *_TEXTS, "size", "mtime", "metadata"]
FILE_STATE_FIELDS = ["item_id", "size", "mtime", "content_hash"]


def vector_fields(spaces: dict[str, int]) -> dict[str, str]:
    """Space name -> its vector field."""
    return {space: f"vector_{number}" for number, space in enumerate(sorted(spaces))}


def schema(client: MilvusClient, spaces: dict[str, int]):
    fields = client.create_schema(auto_id=False, enable_dynamic_field=False)
    fields.add_field("item_id", DataType.VARCHAR, is_primary=True, max_length=MAX_TEXT_BYTES)
    fields.add_field("modality", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
    for name in _TEXTS[1:]:
        fields.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT_BYTES, nullable=True)
    fields.add_field("size", DataType.INT64, nullable=True)
    fields.add_field("mtime", DataType.DOUBLE, nullable=True)
    for name in ("metadata", "kinds", "numbers"):
        fields.add_field(name, DataType.JSON)
    fields.add_field("spaces", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=len(spaces),
                     max_length=MAX_TEXT_BYTES)
    for space, field in vector_fields(spaces).items():
        fields.add_field(field, DataType.FLOAT_VECTOR, dim=spaces[space])
    return fields


def check_row_limits(record: Record) -> None:
    """ValueError naming the item if a text is longer than a Milvus VARCHAR holds."""
    for name in ("item_id", *_TEXTS):
        value = getattr(record, name)
        if value is not None and len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ValueError(f"record {record.item_id[:80]!r}: {name} is longer than Milvus's {MAX_TEXT_BYTES} bytes")


def to_row(record: Record, vectors: dict[str, np.ndarray], spaces: dict[str, int]) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in RECORD_FIELDS}
    numbers = {key: number for key, value in record.metadata.items() if not math.isnan(number := number_of(value))}
    row.update(kinds={key: kind_of(value) for key, value in record.metadata.items()}, numbers=numbers,
               spaces=sorted(vectors))
    for space, field in vector_fields(spaces).items():
        row[field] = vectors[space] if space in vectors else np.zeros(spaces[space], np.float32)
    return row


def to_record(entity: dict[str, Any]) -> Record:
    return Record(**{name: entity.get(name) for name in RECORD_FIELDS if name != "metadata"},
                  metadata=dict(entity.get("metadata") or {}))
