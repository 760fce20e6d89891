"""Fitting a collection's own relevance curve from example queries and the stored items relevant to each
(`mmret calibrate --collection C --relevance PAIRS`): every stored item that a query does not name counts as
irrelevant to it."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..encoders.base import SHARED, Encoder
from ..errors import BadInput
from ..fusion.relevance import RelevanceCurve
from ..index.collection_base import CollectionBase
from ..media.segments import is_segment
from .relevance import store_relevance_curve
from .stored_parts import stored_record


def read_pairs(file: str | Path) -> dict[str, list[str]]:
    """A CSV file of `query,item` rows (item: a stored item's id or file path) -> query -> the items named."""
    file = Path(file).expanduser()
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise BadInput(f"{file}: cannot read relevance pairs ({error})") from None
    if not rows or not {"query", "item"} <= set(rows[0]):
        raise BadInput(f"{file}: expected a CSV with a header `query,item` and one row per relevant item")
    pairs: dict[str, list[str]] = defaultdict(list)
    for number, row in enumerate(rows, 2):
        query, item = (row.get("query") or "").strip(), (row.get("item") or "").strip()
        if not query or not item:
            raise BadInput(f"{file}: line {number}: both query and item are needed")
        pairs[query].append(item)
    return dict(pairs)


def fit_collection_relevance(store: CollectionBase, encoder: Encoder, pairs: dict[str, list[str]],
                             source: str = "") -> RelevanceCurve:
    """Fit the curve on the queries' scores against every stored item (not segments) and keep it with the
    collection."""
    ids, vectors = _item_vectors(store)
    row_of = {item_id: row for row, item_id in enumerate(ids)}
    relevant = np.zeros((len(pairs), len(ids)), dtype=bool)
    for number, (query, names) in enumerate(pairs.items()):
        for name in names:
            record = stored_record(store, name)
            if record is None or record.item_id not in row_of:
                raise BadInput(f"relevance pairs: {name!r} (for {query!r}) is not a stored item with a vector")
            relevant[number, row_of[record.item_id]] = True
    curve = RelevanceCurve.fit(encoder.encode("text", list(pairs)), vectors, relevant,
                               {"data": source or "example pairs", "queries": len(pairs), "gallery": len(ids)})
    store_relevance_curve(store, curve)
    return curve


def _item_vectors(store: CollectionBase) -> tuple[list[str], np.ndarray]:
    ids, blocks = [], []
    for records, vectors in store.stored_vectors(SHARED):
        rows = [row for row, record in enumerate(records) if not is_segment(record.metadata)]
        ids.extend(records[row].item_id for row in rows)
        blocks.append(vectors[rows])
    if not ids:
        raise BadInput(f"{store.path}: no stored items to calibrate relevance on")
    return ids, np.concatenate(blocks).astype(np.float32)
