"""The mapper stage: items -> embedded batches. Runs of still images and texts go through `embed_items` (decoding
in worker processes); audio and video files through `TimedEmbedder` (timed segments). A distributed runner maps
its shards with this same function. With a FusedEncoder, image and text items also get their part vectors and the
fused vector (fused.py); otherwise with OCR on, photos also get the text read in them (photo_text.py). With
`timed.faces`, photos also get their face segments (media/face_mapper.py)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby

from ..data.items import Item
from ..encoders.base import Encoder
from ..encoders.fused import FusedEncoder
from ..media.batches import EmbeddedBatch, embed_items
from ..media.face_mapper import FaceFinder
from ..media.segments import TIMED_MODALITIES
from ..media.timed_mapper import TimedEmbedder
from ..media.timed_settings import TimedSettings
from .fused import with_fused_vectors
from .photo_text import with_photo_text


def embed_stream(encoder: Encoder, items: Iterable[Item], timed: TimedSettings, batch_size: int = 32,
                 workers: int | None = None, progress: bool = True) -> Iterator[EmbeddedBatch]:
    timed_embedder = TimedEmbedder(encoder, timed)
    faces = None if timed.faces is None else FaceFinder(timed.faces)
    for is_timed, group in groupby(items, key=lambda item: item.modality in TIMED_MODALITIES):
        run = list(group)  # a bar with a total and an ETA
        if is_timed:
            yield from timed_embedder.embed(run, progress)
            continue
        reader = _photo_text_reader(encoder, timed)
        for batch in embed_items(encoder, run, batch_size, workers, progress, len(run)):
            if isinstance(encoder, FusedEncoder):
                yield from with_fused_vectors(encoder, batch)
            else:
                yield batch if reader is None else with_photo_text(encoder, batch, reader)
            if faces is not None and batch.modality == "image" and (found := faces.photo_faces(batch)):
                yield found


def _photo_text_reader(encoder: Encoder, timed: TimedSettings):
    """The OCR reader for photos where asked for; None with a FusedEncoder (its photos fuse with their own text)."""
    if not timed.ocr or isinstance(encoder, FusedEncoder):
        return None
    from ..encoders.ocr import KeyframeReader

    return KeyframeReader()
