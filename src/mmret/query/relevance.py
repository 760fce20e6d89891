"""Calibrated relevance of search hits: the curve stored with the collection (`mmret calibrate --collection C
--relevance PAIRS`), else the one shipped for its model (resources/relevance.json, refit by `mmret calibrate
--relevance --model M`), maps a text query's cosine scores to probabilities (mmret.fusion.RelevanceCurve).

Only a text query searched as one vector in the shared space is calibrated (the curves are fitted on text->image
pairs); other hits carry no relevance, and asking them for a minimum relevance is an error, as it is in keyword
mode. In hybrid mode a hit's relevance is that of its cosine in the vector channel; a hit found by its words alone
has none and is kept by `min_relevance` (it holds the words asked for).
"""
from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..encoders.base import SHARED
from ..encoders.model_id import ModelId
from ..errors import BadInput
from ..fusion.relevance import RelevanceCurve
from ..index.collection_base import CollectionBase
from ..index.values import VECTORS, Hit
from .request import Query

SETTING = "relevance:shared"
PACKAGED = "relevance.json"


def packaged_file() -> Path:
    return Path(str(resources.files("mmret") / "resources" / PACKAGED))


@cache
def packaged_curves() -> dict[str, dict]:
    file = packaged_file()
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def relevance_curve(store: CollectionBase) -> RelevanceCurve | None:
    """The collection's own curve, else its model's shipped one, else None."""
    stored = store.setting(SETTING) or _packaged_curve(store.model_id)
    return None if stored is None else RelevanceCurve.from_dict(stored)


def _packaged_curve(model_id: str) -> dict | None:
    """The shipped curve of `model_id`, or of the same weights under another name (offline-m3@PIN, offline@PIN)."""
    curves = packaged_curves()
    if model_id in curves:
        return curves[model_id]
    model = ModelId.parse(model_id)
    return next((curve for name, curve in curves.items() if model.same_weights(ModelId.parse(name))), None)


def store_relevance_curve(store: CollectionBase, curve: RelevanceCurve | None) -> None:
    """Keep `curve` with the collection (None: back to the model's shipped curve)."""
    store.set_setting(SETTING, None if curve is None else curve.to_dict())


def calibrated(query: Query) -> bool:
    return (query.fusion is None and query.space in (None, SHARED) and bool(query.all_parts)
            and all(part.modality == "text" for part in query.all_parts))


def rate_hits(store: CollectionBase, query: Query, hits: list[Hit], vector: np.ndarray | None) -> list[Hit]:
    """The hits with their relevance set where the query is calibrated (`vector`: the one query vector searched,
    None for fused lists or paths), cut at query.min_relevance."""
    curve = relevance_curve(store) if calibrated(query) and vector is not None else None
    if query.min_relevance is not None and curve is None:
        raise BadInput(_why_uncalibrated(store, query, vector is None))
    if curve is None:
        return hits
    rated = [(hit, cosine) for hit in hits if (cosine := _vector_score(hit)) is not None]
    for (hit, _), relevance in zip(rated, curve([cosine for _, cosine in rated], vector)):
        hit.relevance = float(relevance)
    if query.min_relevance is None:
        return hits
    return [hit for hit in hits if hit.relevance is None or hit.relevance >= query.min_relevance]


def _vector_score(hit: Hit) -> float | None:
    """The hit's cosine in the vector channel; None for a hybrid hit that only the words found."""
    if not hit.channels:
        return hit.score
    found = hit.channels.get(VECTORS)
    return None if found is None else found.score


def _why_uncalibrated(store: CollectionBase, query: Query, path_fused: bool) -> str:
    if not calibrated(query) or path_fused:
        return ("min_relevance: relevance is calibrated for text queries searched as one vector in the shared "
                "space (not in keyword mode; no --fusion, --space, path fusion, image, audio or stored-item parts)")
    return (f"min_relevance: model {store.model_id!r} has no relevance calibration; fit one with "
            f"`mmret calibrate --collection {store.path} --relevance PAIRS` (or leave --min-relevance out)")
