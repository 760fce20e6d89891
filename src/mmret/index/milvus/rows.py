"""The Milvus schema of a collection and the conversion of records to rows and back.

One row per item: the item id as the VARCHAR primary key, the record's fields as scalar columns, its metadata
as JSON (with the `kinds` and `numbers` JSON the filters read, see filters.py), for the first SLOTS metadata
keys the collection meets a pair of scalar columns (`key_3_number` DOUBLE, `key_3_value` VARCHAR: the kind, or
"t:" and the text; Milvus filters scalar columns about 40x faster than JSON, and Milvus Lite cannot add
columns later, so the pairs are declared at creation and given to keys as they come), the names of the
spaces it has vectors in, and one float vector field per space (`vector_0`, `vector_1`, ... in the order of the space names,
as space names may hold '-', which Milvus field names may not). A row without a vector in a space holds zeros
there and leaves the space out of `spaces`, which searches of that space then filter on: pymilvus 3.0 cannot
send a batch whose nullable vector field is null in every row, and Milvus Lite scores a null vector as zeros.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from mmret.errors import BadInput
from mmret.index.milvus.filters import TEXT_MARK, kind_of, number_of
from mmret.index.values import Record

MAX_TEXT_BYTES = 65_535  # Milvus's VARCHAR limit
_TEXTS = ("modality", "path", "text", "content_hash")
RECORD_FIELDS = ["item_id", *_TEXTS, "size", "mtime", "metadata"]
FILE_STATE_FIELDS = ["item_id", "size", "mtime", "content_hash"]
SLOTS = 12  # metadata keys with their own columns; with the fields above this stays under Milvus's 64 fields


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
    for slot in range(SLOTS):
        fields.add_field(f"key_{slot}_number", DataType.DOUBLE, nullable=True)
        fields.add_field(f"key_{slot}_value", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, nullable=True)
    fields.add_field("spaces", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=len(spaces),
                     max_length=MAX_TEXT_BYTES)
    for space, field in vector_fields(spaces).items():
        fields.add_field(field, DataType.FLOAT_VECTOR, dim=spaces[space])
    return fields


def check_row_limits(record: Record) -> None:
    """ValueError naming the item if a text is longer than a Milvus VARCHAR holds."""
    texts = [(name, getattr(record, name)) for name in ("item_id", *_TEXTS)]
    texts += [(f"metadata {key!r}", TEXT_MARK + value) for key, value in record.metadata.items() if isinstance(value, str)]
    for name, value in texts:
        if value is not None and len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            raise BadInput(f"record {record.item_id[:80]!r}: {name} is longer than Milvus's {MAX_TEXT_BYTES} bytes")


def assign_slots(slots: dict[str, str], records: list[Record]) -> None:
    """Give the column pairs still free to the metadata keys first met in `records`, in order."""
    for record in records:
        for key in record.metadata:
            if len(slots) == SLOTS:
                return
            slots.setdefault(key, f"key_{len(slots)}")


def to_row(record: Record, vectors: dict[str, np.ndarray], spaces: dict[str, int],
           slots: dict[str, str]) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in RECORD_FIELDS}
    metadata = record.metadata
    numbers = {key: number for key, value in metadata.items() if not math.isnan(number := number_of(value))}
    row.update(kinds={key: kind_of(value) for key, value in metadata.items()}, numbers=numbers, spaces=sorted(vectors))
    for key, slot in slots.items():
        value = metadata.get(key)
        row[f"{slot}_number"] = numbers.get(key)
        row[f"{slot}_value"] = None if key not in metadata else TEXT_MARK + value if isinstance(value, str) else \
            kind_of(value)
    for space, field in vector_fields(spaces).items():
        row[field] = vectors[space] if space in vectors else np.zeros(spaces[space], np.float32)
    return row


def to_record(entity: dict[str, Any]) -> Record:
    return Record(**{name: entity.get(name) for name in RECORD_FIELDS if name != "metadata"},
                  metadata=dict(entity.get("metadata") or {}))
