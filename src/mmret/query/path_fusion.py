"""The paths of a collection's vector space and their learned fusion (mmret.fusion.PathFusion), stored with the
collection and used by every search of that space (API, CLI and server go through mmret.query).

A record's path is its segment kind (its "segment" metadata: shot, sound, speech, ocr) or "item" for a record
that is not a segment.
`fit_path_fusion` fits the fusion from example queries per path; a path whose records carry text (speech, ocr,
titles) takes those texts as its examples unless given some, as they are what its queries resemble. A search
then runs one filtered search per path and merges the hits by fused score.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..encoders.base import Encoder
from ..errors import BadInput
from ..index.collection_base import CollectionBase
from ..index.values import Hit, Record
from ..media.segments import SEGMENT

if TYPE_CHECKING:
    from ..fusion.paths import PathFusion

ITEM_PATH = "item"


def record_path(record: Record) -> str:
    return str(record.metadata.get(SEGMENT, ITEM_PATH))


def _setting_key(space: str) -> str:
    return f"path_fusion:{space}"


def stored_path_fusion(store: CollectionBase, space: str) -> PathFusion | None:
    stored = store.setting(_setting_key(space))
    if stored is None:
        return None
    # torch is imported only where a collection has a fitted fusion
    from ..fusion.paths import PathFusion

    return PathFusion.from_dict(stored)


def fit_path_fusion(store: CollectionBase, encoder: Encoder, examples: dict[str, list[str]], space: str) -> PathFusion:
    """Fit the fusion of `space`'s paths from example query texts per path and store it with the collection."""
    items, texts = defaultdict(list), defaultdict(list)
    for records, vectors in store.stored_vectors(space):
        for record, vector in zip(records, vectors):
            path = record_path(record)
            items[path].append(vector)
            if record.text:
                texts[path].append(record.text)
    if not items:
        raise BadInput(f"{store.path}: nothing stored in space {space!r} to calibrate")
    given = {path: list(queries) for path, queries in examples.items() if queries}
    chosen = {path: given.get(path) or texts.get(path) or [] for path in items}
    unknown = sorted(set(given) - set(items))
    if unknown:
        raise BadInput(f"example queries for paths {unknown}, which space {space!r} has no items of; "
                       f"its paths are {sorted(items)}")
    missing = sorted(path for path, queries in chosen.items() if not queries)
    if missing:
        raise BadInput(f"no example queries for paths {missing} (their items have no text to stand in)")
    from ..fusion.paths import PathFusion

    fusion = PathFusion.fit({p: encoder.encode("text", q, space) for p, q in chosen.items()},
                            {p: np.stack(v) for p, v in items.items()})
    store.set_setting(_setting_key(space), fusion.to_dict())
    return fusion


def clear_path_fusion(store: CollectionBase, space: str) -> None:
    store.set_setting(_setting_key(space), None)


def search_fused_paths(search_space: Callable[[dict | None], list[Hit]], fusion: PathFusion, query: np.ndarray,
                       where: dict | None) -> list[Hit]:
    """The hits of one search per path (search_space(where) with the path's filter ANDed to `where`), rescored
    by the fusion and merged, best first. Records of a path the fusion was not fitted on (segments of a kind
    indexed since, when there is no item path to count them in) keep their raw scores: found, not lost, until
    the collection is calibrated again."""
    log_prior = fusion.log_prior(query)
    merged = []
    for path in fusion.paths:
        hits = search_space(_and(where, _path_filter(path, fusion.paths)))
        scores = fusion.fused(path, np.array([hit.score for hit in hits]), log_prior)
        merged += [Hit(hit.record, float(score), hit.space) for hit, score in zip(hits, scores)]
    if ITEM_PATH not in fusion.paths:
        merged += search_space(_and(where, {"$not": {SEGMENT: {"$in": fusion.paths}}}))
    return sorted(merged, key=lambda hit: -hit.score)


def _path_filter(path: str, paths: list[str]) -> dict | None:
    if path != ITEM_PATH:
        return {SEGMENT: path}
    others = [p for p in paths if p != ITEM_PATH]
    return {"$not": {SEGMENT: {"$in": others}}} if others else None


def _and(where: dict | None, path_filter: dict | None) -> dict | None:
    return {"$and": [where, path_filter]} if where and path_filter else where or path_filter
