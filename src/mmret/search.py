"""One search path for the API, the CLI and the server: query parts -> one query vector -> index search ->
per-file collapsing -> result rows.

A query has a text, an image file, an audio file, or several of them (their unit vectors averaged). By default a
file appears once in the results: a photo as itself, an audio or video file as its best-scoring segment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .data.audio import Waveform, read_audio
from .data.decode import open_image, read_bytes
from .encoders.base import SHARED, Encoder
from .index.base import SearchParams
from .index.collection import Hit, VectorCollection
from .timed import source_id

#: metadata keys that describe a segment's place in its file; shown as the time range, not as metadata
SEGMENT_KEYS = ("segment_of", "segment", "start", "end", "timed_settings")


@dataclass(frozen=True)
class Query:
    text: str | None = None
    image: str | Path | Image.Image | None = None  # a file, or a picture already decoded (a video's frame)
    audio: str | Path | Waveform | None = None
    k: int = 10
    where: dict | None = None
    space: str | None = None  # None: the best space for the query's parts
    exclude: list[str] | None = None
    per_file: bool = True
    params: SearchParams | None = None  # ANN parameters for this query (default: those tuned by optimize)

    def __post_init__(self):
        if self.text is None and self.image is None and self.audio is None:
            raise ValueError("a query needs text, an image, an audio file, or several of them")


def search(store: VectorCollection, encoder: Encoder, query: Query) -> list[Hit]:
    """The query's k nearest items in `store`, whose vectors `encoder` made."""
    vector, space = query_vector(encoder, query)
    if not query.per_file:
        return store.search(space, vector[None, :], query.k, where=query.where, exclude=query.exclude,
                            params=query.params)[0]
    fetch = 4 * query.k
    while True:  # widen until k distinct files are found or the collection is exhausted
        hits = store.search(space, vector[None, :], fetch, where=query.where, exclude=query.exclude,
                            params=query.params)[0]
        best = best_per_file(hits)
        if len(best) >= query.k or len(hits) < fetch:
            return best[:query.k]
        fetch *= 4


def query_vector(encoder: Encoder, query: Query) -> tuple[np.ndarray, str]:
    """The unit query vector of the query's parts and the space it searches."""
    space = query.space or _default_space(encoder, query)
    parts = []
    if query.text is not None:
        parts.append(encoder.encode("text", [query.text], space)[0])
    if query.image is not None:
        parts.append(encoder.encode("image", [_image(query.image)], space)[0])
    if query.audio is not None:
        audio = query.audio if isinstance(query.audio, Waveform) else read_audio(Path(query.audio).expanduser())
        parts.append(encoder.encode("audio", [audio], space)[0])
    vector = np.mean(parts, axis=0)
    return (vector / max(np.linalg.norm(vector), 1e-12)).astype(np.float32), space


def _image(image: str | Path | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    path = str(Path(image).expanduser())
    return open_image(read_bytes(path), path)


def _default_space(encoder: Encoder, query: Query) -> str:
    """Image-only queries use the image tower's own space when the model has one (it retrieves images better)."""
    if query.text is not None or query.audio is not None:
        return SHARED
    own = [s for s in encoder.spaces_for("image") if s != SHARED]
    return own[0] if own else SHARED


def best_per_file(hits: list[Hit]) -> list[Hit]:
    """Hits in score order, keeping each file's first (best) one: a photo, or an audio/video file's best segment."""
    best: dict[str, Hit] = {}
    for hit in hits:
        best.setdefault(source_id(hit.record.item_id, hit.record.metadata), hit)
    return list(best.values())


def result_rows(hits: list[Hit]) -> list[dict]:
    """Hits as plain rows (JSON-ready), ranked from 1."""
    return [{"rank": rank, "id": hit.record.item_id, "path": hit.record.path, "score": round(hit.score, 6),
             "modality": hit.record.modality, "text": hit.record.text, "metadata": hit.record.metadata}
            for rank, hit in enumerate(hits, 1)]


def format_row(row: dict) -> str:
    """One line for a terminal: rank, score, what matched, and the metadata that is not a segment's place."""
    shown = {k: v for k, v in row["metadata"].items() if k not in SEGMENT_KEYS}
    metadata = json.dumps(shown, ensure_ascii=False) if shown else ""
    return f"{row['rank']:>3}  {row['score']:.4f}  {_what(row)}  {metadata}"


def _what(row: dict) -> str:
    """The file (with the segment's time range) or the text a result stands for."""
    meta = row["metadata"]
    if row["path"] is None:
        return row["text"] if row["text"] is not None else row["id"]
    if "start" not in meta:
        return row["path"]
    said = f' "{row["text"]}"' if row["text"] else ""
    return f"{row['path']} @ {meta['start']:.1f}-{meta['end']:.1f} s ({meta['segment']}){said}"
