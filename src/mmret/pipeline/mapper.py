"""The mapper stage: items -> embedded batches. Runs of still images and texts go through `embed_items` (decoding
in worker processes); audio and video files through `TimedEmbedder` (timed segments). A distributed runner maps
its shards with this same function. With a FusedEncoder, image and text items also get their part vectors and the
fused vector (fused.py); otherwise with OCR on, photos also get the text read in them (photo_text.py)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby

from ..data.items import Item
from ..encoders.base import Encoder
from ..encoders.fused import FusedEncoder
from ..media.batches import EmbeddedBatch, embed_items
from ..media.segments import TIMED_MODALITIES
from ..media.timed_mapper import TimedEmbedder
from ..media.timed_settings import TimedSettings
from .fused import with_fused_vectors
from .photo_text import with_photo_text


def embed_stream(encoder: Encoder, items: Iterable[Item], timed: TimedSettings, batch_size: int = 32,
                 workers: int | None = None, progress: bool = True) -> Iterator[EmbeddedBatch]:
    timed_embedder = TimedEmbedder(encoder, timed)
    for is_timed, group in groupby(items, key=lambda item: item.modality in TIMED_MODALITIES):
        run = list(group)  # a bar with a total and an ETA
        if is_timed:
            yield from timed_embedder.embed(run, progress)
        elif isinstance(encoder, FusedEncoder):
            for batch in embed_items(encoder, run, batch_size, workers, progress, len(run)):
                yield from with_fused_vectors(encoder, batch)
        elif timed.ocr:
            from ..encoders.ocr import KeyframeReader

            reader = KeyframeReader()
            for batch in embed_items(encoder, run, batch_size, workers, progress, len(run)):
                yield with_photo_text(encoder, batch, reader)
        else:
            yield from embed_items(encoder, run, batch_size, workers, progress, len(run))
