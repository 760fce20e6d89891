"""`index --ocr` on photos: text read in a photo (RapidOCR, encoders/ocr.py) is added to the photo's stored text, so
the keyword index finds its words, and its text embedding is averaged into the photo's shared vector (the untrained
`mean` fusion of a photo and its title), so a search by meaning finds it too. Photos without legible text are
stored as they are."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data.decode import DecodeError, read_image
from ..encoders.base import SHARED, Encoder, l2_normalise
from ..encoders.ocr import KeyframeReader
from ..media.batches import EmbeddedBatch


def with_photo_text(encoder: Encoder, batch: EmbeddedBatch, reader: KeyframeReader) -> EmbeddedBatch:
    """The image batch with the text read in each photo added to its item and shared vector."""
    if batch.modality != "image" or not batch.items or SHARED not in batch.vectors:
        return batch
    read = [_read(reader, item.path) for item in batch.items]
    rows = [row for row, text in enumerate(read) if text]
    if not rows:
        return batch
    text_vectors = encoder.encode("text", [read[row] for row in rows])
    vectors = dict(batch.vectors)
    shared = vectors[SHARED].copy()
    shared[rows] = l2_normalise(shared[rows] + text_vectors)
    vectors[SHARED] = shared.astype(np.float32)
    items = list(batch.items)
    for row in rows:
        items[row] = replace(items[row], text=" ".join(filter(None, (items[row].text, read[row]))))
    return replace(batch, items=items, vectors=vectors)


def _read(reader: KeyframeReader, path: str | None) -> str:
    try:
        return reader.text(read_image(path)) if path else ""
    except DecodeError:
        return ""  # embedded already, so it decoded once: a photo that cannot be read again keeps no text
