"""Labelled text->image pairs of a captions data set, for fitting and measuring calibrated relevance: the caption
vectors, the image vectors (shared space) and which image each caption describes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.datasets import captions
from ..encoders.base import SHARED, Encoder
from ..errors import BadInput
from ..fusion.relevance import RelevanceCurve
from ..media.batches import embed_items


@dataclass(frozen=True)
class LabelledPairs:
    texts: np.ndarray  # (queries, d) caption vectors
    images: np.ndarray  # (gallery, d) image vectors
    relevant: np.ndarray  # (queries, gallery) bool: the image a caption describes

    @property
    def scores(self) -> np.ndarray:
        return self.texts @ self.images.T


SPEC = re.compile(r"^(?:captions:)?(?P<path>.+?)(?:\[(?P<start>\d*):(?P<stop>\d*)\])?$")


def caption_pairs(encoder: Encoder, spec: str, progress: bool = False) -> LabelledPairs:
    """The pairs of a captions data set, written `captions:PATH[start:stop]` (records sliced in file order)."""
    match = SPEC.match(spec.strip())
    dataset = captions(Path(match["path"]).expanduser(), int(match["start"] or 0),
                       int(match["stop"]) if match["stop"] else None)
    task = next((t for t in dataset.task_list if dataset.modality(t.queries) == "text"
                 and dataset.modality(t.candidates) == "image"), None)
    if task is None:
        raise BadInput(f"{spec}: no text->image task to calibrate relevance on")
    vectors = {pool: _vectors(encoder, dataset.pools[pool], progress) for pool in (task.queries, task.candidates)}
    (texts, text_rows), (images, image_rows) = vectors[task.queries], vectors[task.candidates]
    return LabelledPairs(texts, images, task.relevance[np.ix_(text_rows, image_rows)])


def joined(parts: list[LabelledPairs]) -> LabelledPairs:
    """Several data sets as one: every caption against every image (another set's images are irrelevant)."""
    relevant = np.zeros((sum(len(p.texts) for p in parts), sum(len(p.images) for p in parts)), dtype=bool)
    row = column = 0
    for part in parts:
        relevant[row:row + len(part.texts), column:column + len(part.images)] = part.relevant
        row, column = row + len(part.texts), column + len(part.images)
    return LabelledPairs(np.concatenate([p.texts for p in parts]), np.concatenate([p.images for p in parts]), relevant)


def _vectors(encoder: Encoder, items: list, progress: bool) -> tuple[np.ndarray, list[int]]:
    """The items' shared-space vectors and the rows (in `items`) of those that decoded (a failed file is left out
    with its pairs)."""
    row_of = {item.id: row for row, item in enumerate(items)}
    rows, found = [], []
    for batch in embed_items(encoder, items, progress=progress, total=len(items)):
        if batch.items:
            rows.extend(row_of[item.id] for item in batch.items)
            found.append(batch.vectors[SHARED])
    if not found:
        raise BadInput(f"no {items[0].modality if items else 'item'} could be embedded")
    return np.concatenate(found), rows


def fit_model_curve(encoder: Encoder, specs: list[str], progress: bool = False) -> RelevanceCurve:
    """A model's relevance curve, fitted on the text->image pairs of the captions data sets `specs`."""
    pairs = joined([caption_pairs(encoder, spec, progress) for spec in specs])
    fitted_on = {"model": encoder.model_id, "data": [_portable(spec) for spec in specs], "queries": len(pairs.texts),
                 "gallery": len(pairs.images)}
    return RelevanceCurve.fit(pairs.texts, pairs.images, pairs.relevant, fitted_on)


def _portable(spec: str) -> str:
    """A spec with its data folder's path cut to the data set's own name (the JSON ships in the package)."""
    match = SPEC.match(spec.strip())
    sliced = spec.strip()[match.end("path"):]
    return f"captions:{Path(match['path']).name}{sliced}"
