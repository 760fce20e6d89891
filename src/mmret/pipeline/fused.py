"""The fusion step of the mapper stage: for a collection built with a FusedEncoder, image and text items get their part vectors and the fused vector of the parts they have.

A manifest row with both a `path` (an image) and a `text` (its title or caption) is one item of two parts; a row
with only one of them is an item missing a part, fused from what it has.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..encoders.base import SHARED
from ..encoders.fused import FUSED_MODALITIES, PART_SPACES, FusedEncoder
from ..media.batches import EmbeddedBatch


def with_fused_vectors(encoder: FusedEncoder, batch: EmbeddedBatch) -> Iterator[EmbeddedBatch]:
    """The batch with its shared vectors replaced by fused ones, split so that each piece's items have the same
    parts (a space in a batch needs a vector for every item)."""
    if batch.modality not in FUSED_MODALITIES or not batch.items:
        yield batch
        return
    if batch.modality == "text":
        batch.vectors[SHARED] = encoder.fuse({"text": batch.vectors[PART_SPACES["text"]]}, len(batch.items))
        yield batch
        return
    captioned = np.array([item.text is not None for item in batch.items], dtype=bool)
    for rows, failures in ((np.flatnonzero(captioned), batch.failures), (np.flatnonzero(~captioned), [])):
        if len(rows) or failures:
            yield _image_items(encoder, batch, rows, failures)


def missing_parts(batch: EmbeddedBatch) -> int:
    """How many items of a fused batch lack one of the parts (0 for a batch no fusion touched: it has no part)."""
    present = [space in batch.vectors for space in PART_SPACES.values()]
    return len(batch.items) if any(present) and not all(present) else 0


def _image_items(encoder: FusedEncoder, batch: EmbeddedBatch, rows: np.ndarray,
                 failures: list) -> EmbeddedBatch:
    items = [batch.items[r] for r in rows]
    vectors = {space: array[rows] for space, array in batch.vectors.items()}
    parts = {"image": vectors[PART_SPACES["image"]]} if items else {}
    if items and items[0].text is not None:
        parts["text"] = vectors[PART_SPACES["text"]] = encoder.encode("text", [item.text for item in items])
    if items:
        vectors[SHARED] = encoder.fuse(parts, len(items))
    return EmbeddedBatch(batch.modality, items, [batch.digests[r] for r in rows], vectors, failures)
