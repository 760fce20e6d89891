"""From request parameters to result pages, through `mmret.search` (the one search path).

"More like this" re-embeds the stored item the way indexing embedded it (the photo, the text, the shot's frame,
the sound window) and searches with it, leaving out the item's own file.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from ..data.audio import Waveform, read_audio
from ..data.decode import DecodeError
from ..encoders.base import Encoder
from ..index.collection import Record
from ..search import SEGMENT_KEYS, Query, result_rows, search
from ..timed import SEGMENT_OF, source_id
from .live import LiveCollection, OnThread
from .media import frame_at
from .schemas import Result, SearchResponse, Segment

FIRST_SECONDS = 10.0  # of a whole audio file, when "more like this" names the file rather than a segment


def run_search(live: LiveCollection, encoder: Encoder, query: Query, offset: int) -> SearchResponse:
    """One page: results offset+1 .. offset+k, and whether more follow."""
    started = time.perf_counter()
    page = replace(query, k=offset + query.k + 1)
    hits = search(OnThread(live), encoder, page)
    rows = [to_result(row) for row in result_rows(hits)][offset:offset + query.k]
    return SearchResponse(results=rows, offset=offset, k=query.k, has_more=len(hits) > offset + query.k,
                          took_ms=round(1000 * (time.perf_counter() - started), 3))


def like_parts(live: LiveCollection, record: Record) -> tuple[dict, list[str]]:
    """Query parts that stand for `record`, and the ids of every record of its file (to leave out)."""
    file_id = source_id(record.item_id, record.metadata)
    family = [file_id, *(r.item_id for r in live.read(lambda store: store.find({SEGMENT_OF: file_id})))]
    return _parts(record), family


def _parts(record: Record) -> dict:
    meta = record.metadata
    segment = meta.get("segment")
    if record.path is None or segment in ("speech", "ocr"):
        if not record.text:
            raise ValueError(f"item {record.item_id!r} has neither a file nor a text to search with")
        return {"text": record.text}
    path = Path(record.path)
    start, end = float(meta.get("start", 0.0)), float(meta.get("end", FIRST_SECONDS))
    if record.modality == "image":
        return {"image": path}
    if record.modality == "video" and segment != "sound":
        return {"image": frame_at(path, (start + end) / 2)}
    return {"audio": _sound(path, record.modality, start, end)}


def _sound(path: Path, modality: str, start: float, end: float) -> Waveform:
    if modality == "video":
        from ..data.video import read_soundtrack

        wave = read_soundtrack(path)
        if wave is None:
            raise DecodeError(str(path), "the video has no soundtrack")
    else:
        wave = read_audio(path)
    part = wave.samples[int(start * wave.rate):max(int(end * wave.rate), int(start * wave.rate) + 1)]
    return Waveform(part, wave.rate, start)


def to_result(row: dict) -> Result:
    meta = row["metadata"]
    segment = None
    if SEGMENT_OF in meta:
        segment = Segment(kind=meta["segment"], start=meta["start"], end=meta["end"], file_id=meta[SEGMENT_OF])
    shown = {k: v for k, v in meta.items() if k not in SEGMENT_KEYS}
    item = quote(row["id"], safe="")
    has_picture = row["path"] is not None and row["modality"] in ("image", "video")
    at = f"&at={segment.start:g}" if segment and row["modality"] == "video" else ""
    return Result(rank=row["rank"], id=row["id"], score=row["score"], modality=row["modality"], path=row["path"],
                  text=row["text"], metadata=shown, segment=segment,
                  thumbnail_url=f"/api/thumbnail?id={item}{at}" if has_picture else None,
                  media_url=f"/api/media?id={item}" if row["path"] is not None else None)
