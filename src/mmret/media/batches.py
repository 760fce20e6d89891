"""Items -> vectors: the mapper stage between a source (items) and a writer (a collection, an evaluation).

Image files are decoded and prepared in background workers (data.loader) while the model embeds the
previous batch; text items are embedded directly. Every yielded batch holds one modality.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..data.items import Item
from ..data.loader import prepared_batches
from ..encoders.base import Encoder


@dataclass
class EmbeddedBatch:
    modality: str
    items: list[Item] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # sha256 of the file bytes (or of the text)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # space -> (len(items), dim)
    failures: list[tuple[Item, str]] = field(default_factory=list)  # (item, reason)
    faces_too_small: int = 0  # faces found in these files but smaller than the minimum size (face_mapper.py)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_items(encoder: Encoder, items: Iterable[Item], batch_size: int = 32, workers: int | None = None,
                progress: bool = True, total: int | None = None) -> Iterator[EmbeddedBatch]:
    """Embed items of any modality the encoder accepts, in batches (one modality per batch).

    Items of a modality the encoder does not accept come back as failures. Texts are embedded as they
    arrive in runs; files stream through the worker pool.
    """
    bar = tqdm(total=total, unit="item", desc="embedding", disable=not progress)
    try:
        for modality, group in _group_by_modality(items, batch_size):
            if modality not in encoder.modalities:
                batch = EmbeddedBatch(modality, failures=[(i, f"the model does not embed {modality}") for i in group])
                bar.update(len(group))
                yield batch
            elif modality == "text":
                yield _embed_texts(encoder, group)
                bar.update(len(group))
            else:
                for batch in _embed_files(encoder, modality, group, batch_size, workers):
                    bar.update(len(batch.items) + len(batch.failures))
                    yield batch
    finally:
        bar.close()


def _group_by_modality(items: Iterable[Item], batch_size: int) -> Iterator[tuple[str, list[Item]]]:
    """Runs of same-modality items; file runs are long (they feed the worker pool), text runs one batch."""
    run: list[Item] = []
    file_run_limit = 64 * batch_size
    for item in items:
        limit = batch_size if item.modality == "text" else file_run_limit
        if run and (item.modality != run[0].modality or len(run) >= limit):
            yield run[0].modality, run
            run = []
        run.append(item)
    if run:
        yield run[0].modality, run


def _embed_texts(encoder: Encoder, items: list[Item]) -> EmbeddedBatch:
    texts = [item.text for item in items]
    return EmbeddedBatch("text", items, [text_digest(t) for t in texts], encoder.embed("text", texts))


def _embed_files(encoder: Encoder, modality: str, items: list[Item], batch_size: int,
                 workers: int | None) -> Iterator[EmbeddedBatch]:
    prepare = encoder.preparer(modality)
    for prepared in prepared_batches(items, prepare, batch_size, workers):
        batch = EmbeddedBatch(modality, prepared.items, prepared.digests, failures=prepared.failures)
        if prepared.items:
            batch.vectors = encoder.embed_prepared(modality, encoder.collate(modality, prepared.prepared))
        yield batch
