"""One search path for the API, the CLI and the server: query parts -> one query vector -> index search ->
per-file collapsing -> result rows.

A query has a text, an image file, an audio file, a stored item, or several parts of each kind with weights,
negative parts included (mmret.composed); a stored item ("more like this") is its stored vectors (mmret.stored_parts),
and it is left out of the results with every record of its file. Its parts are fused into one query vector (through
the collection's fusion when it was built with one), or, with a decision-level `fusion` (rrf, combsum, combmnz,
combprod), searched one list per part and space and the lists fused. A space whose paths (a video's shots, sound
windows, speech) have a fitted fusion stored with the collection (mmret.search_paths) is searched path by path and
the hits merged by fused score.
By default a file appears once in the results: a photo as itself, an audio or video file as its best-scoring
segment.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .composed import ITEM, QueryPart, check_parts, compose_vector
from .data.audio import Waveform, read_audio
from .data.decode import open_image, read_bytes
from .encoders.base import SHARED, Encoder
from .encoders.fused import PART_SPACES, FusedEncoder, split_fusion_suffix
from .fusion import DECISION_FUSIONS, NORMS, fuse_runs
from .index.base import SearchParams
from .index.collection_base import CollectionBase
from .index.values import Hit, readable
from .search_paths import search_fused_paths, stored_path_fusion
from .stored_parts import StoredParts
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
    parts: tuple[QueryPart, ...] = ()  # more parts, with weights and negatives, beside text, image, audio, like
    fusion: str | None = None  # None: one fused query vector; rrf, combsum, combmnz, combprod: fuse result lists
    norm: str = "min-max"  # of each list's scores for combsum and combmnz
    like: str | None = None  # a stored item (id or file path) to search by, with its stored vectors

    def __post_init__(self):
        check_parts(self.all_parts)
        if self.fusion is not None and self.fusion not in DECISION_FUSIONS:
            raise ValueError(f"unknown decision-level fusion {self.fusion!r}; choose from {sorted(DECISION_FUSIONS)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown score normalisation {self.norm!r}; choose from {NORMS}")

    @property
    def all_parts(self) -> list[QueryPart]:
        given = [QueryPart(m, v) for m, v in (("text", self.text), ("image", self.image), ("audio", self.audio),
                                              (ITEM, self.like)) if v is not None]
        return given + list(self.parts)


def search(store: CollectionBase, encoder: Encoder | None, query: Query) -> list[Hit]:
    """The query's k nearest items in `store`, whose vectors `encoder` made (None for a query of stored items
    only, which needs no model: what it would tell, the collection records)."""
    stored = StoredParts(store, query.all_parts)
    query = replace(query, exclude=[*(query.exclude or []), *stored.left_out] or None)
    if query.fusion is not None:
        return _search_lists(store, encoder, query, stored)
    vector, space = query_vector(encoder, query, stored)

    def search_space(fetch: int, where: dict | None) -> list[Hit]:
        return readable(store.search(space, vector[None, :], fetch, where=where, exclude=query.exclude,
                                     params=query.params)[0])

    paths = stored_path_fusion(store, space)
    if paths is None:
        return _collapsed(lambda fetch: search_space(fetch, query.where), query)
    return _collapsed(lambda fetch: search_fused_paths(lambda where: search_space(fetch, where), paths, vector,
                                                       query.where)[:fetch], query)


def query_vector(encoder: Encoder | None, query: Query, stored: StoredParts | None = None) -> tuple[np.ndarray, str]:
    """The unit query vector of the query's parts and the space it searches (against fused items, text parts are
    first moved by the fusion's query side). `stored` holds the stored items the parts name, if any."""
    parts = query.all_parts
    stored = StoredParts(None, parts) if stored is None else stored
    space = query.space or _default_space(encoder, parts, stored)
    vectors = np.stack([part_vector(encoder, part, space, stored) for part in parts])
    fusing = encoder if isinstance(encoder, FusedEncoder) and space == SHARED else None  # None: no fusable parts
    texts = [i for i, part in enumerate(parts) if part.modality == "text"]
    if fusing is not None and texts:
        vectors[texts] = fusing.adapt_queries(vectors[texts])
    return compose_vector(parts, vectors, fusing), space


def part_vector(encoder: Encoder | None, part: QueryPart, space: str, stored: StoredParts) -> np.ndarray:
    """The unit vector of one query part in a space: a stored item's stored vector there, else the encoder's (in
    a part space of a fusion collection: its shared vector, as the parts are the items' shared vectors)."""
    if part.modality == ITEM:
        return stored.vector(part.value, space)
    if encoder is None:
        raise ValueError(f"a {part.modality} query part needs the collection's model")
    space = SHARED if space in PART_SPACES.values() else space
    if part.modality == "text":
        return encoder.encode("text", [str(part.value)], space)[0]
    if part.modality == "image":
        return encoder.encode("image", [_image(part.value)], space)[0]
    audio = part.value if isinstance(part.value, Waveform) else read_audio(Path(part.value).expanduser())
    return encoder.encode("audio", [audio], space)[0]


def _image(image: str | Path | Image.Image) -> Image.Image:
    """A query image: already decoded (an upload), or a file to open."""
    if isinstance(image, Image.Image):
        return image
    path = str(Path(image).expanduser())
    return open_image(read_bytes(path), path)


def _search_lists(store: CollectionBase, encoder: Encoder | None, query: Query, stored: StoredParts) -> list[Hit]:
    """Decision-level fusion: one ranked list per (part, space), the part's weight on its lists (negative parts
    push their neighbours down), fused by query.fusion. The spaces: query.space if given, else a fusion
    collection's part spaces (those a stored item has vectors in), else each part's own default space."""
    lists = [(part, space) for part in query.all_parts for space in _list_spaces(encoder, part, query.space, stored)]
    vectors = [part_vector(encoder, part, space, stored) for part, space in lists]

    def fused(fetch: int) -> list[Hit]:
        records, runs = {}, []
        for (part, space), vector in zip(lists, vectors):
            hits = readable(store.search(space, vector[None, :], fetch, where=query.where, exclude=query.exclude,
                                         params=query.params)[0])
            records.update((hit.item_id, hit.record) for hit in hits)
            runs.append({hit.item_id: hit.score for hit in hits})
        ranked = fuse_runs(runs, query.fusion, [part.weight for part, _ in lists], query.norm)
        return [Hit(records[item], score, query.fusion) for item, score in ranked[:fetch]]

    return _collapsed(fused, query)


def _list_spaces(encoder: Encoder | None, part: QueryPart, space: str | None, stored: StoredParts) -> list[str]:
    if space is not None:
        return [space]
    if _fused(encoder, stored):
        spaces = list(PART_SPACES.values())
        if part.modality != ITEM:
            return spaces
        return [s for s in spaces if stored.has_vector(part.value, s)] or spaces  # none: the error names the first
    return [_default_space(encoder, [part], stored)]


def _collapsed(search_top: Callable[[int], list[Hit]], query: Query) -> list[Hit]:
    """The top k of search_top(fetch), one hit per file with per_file (widening the fetch until k distinct
    files are found or the collection is exhausted)."""
    if not query.per_file:
        return search_top(query.k)
    fetch = 4 * query.k
    while True:
        hits = search_top(fetch)
        best = best_per_file(hits)
        if len(best) >= query.k or len(hits) < fetch:
            return best[:query.k]
        fetch *= 4


def _default_space(encoder: Encoder | None, parts: list[QueryPart], stored: StoredParts) -> str:
    """Image-only queries use the image tower's own space when the model has one (it retrieves images better);
    a stored item counts as an image there when it has a vector in that space (a photo, a video's shot), except in
    a fusion collection, where the item is its fused vector."""
    items = any(part.modality == ITEM for part in parts)
    if any(part.modality not in ("image", ITEM) for part in parts) or items and _fused(encoder, stored):
        return SHARED
    own = _image_space(encoder, stored)
    if own is None or not all(part.modality == "image" or stored.has_vector(part.value, own) for part in parts):
        return SHARED
    return own


def _fused(encoder: Encoder | None, stored: StoredParts) -> bool:
    """Whether the collection holds fused items (its model id records the fusion when there is no encoder)."""
    if encoder is not None:
        return isinstance(encoder, FusedEncoder)
    return split_fusion_suffix(stored.store.model_id)[1] is not None


def _image_space(encoder: Encoder | None, stored: StoredParts) -> str | None:
    """The image tower's own space, if the model has one; without the encoder, the collection's space that is
    neither shared nor a part space (a collection's spaces are its model's, and only image towers add one)."""
    if encoder is not None and "image" not in encoder.modalities:
        return None
    spaces = stored.store.spaces if encoder is None else encoder.spaces_for("image")
    return next((s for s in spaces if s != SHARED and s not in PART_SPACES.values()), None)


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
