"""From request parameters to result pages, through `mmret.query` (the one search path; "more like this" is a
query naming a stored item, searched by its stored vectors)."""
from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import quote

from ..encoders.base import Encoder
from ..media.segments import SEGMENT_KEYS, place_of
from ..query.relevance import calibrated, relevance_curve
from ..query.request import Query
from ..query.rows import result_rows
from ..query.search import search
from .live import LiveCollection, OnThread
from .schemas import Result, SearchResponse, Segment


def run_search(live: LiveCollection, encoder: Encoder, query: Query, offset: int) -> SearchResponse:
    """One page: results offset+1 .. offset+k, and whether more follow."""
    started = time.perf_counter()
    page = replace(query, k=offset + query.k + 1)
    store = OnThread(live)
    hits = search(store, encoder, page)
    rows = [to_result(row) for row in result_rows(hits)][offset:offset + query.k]
    curve = relevance_curve(store) if calibrated(query) and any(row.relevance is not None for row in rows) else None
    return SearchResponse(results=rows, offset=offset, k=query.k, has_more=len(hits) > offset + query.k,
                          relevance_cut=None if curve is None else curve.cut,
                          took_ms=round(1000 * (time.perf_counter() - started), 3))


def to_result(row: dict) -> Result:
    """The row as the API shows it; a record whose segment keys are malformed is a plain item."""
    meta = row["metadata"]
    place = place_of(meta)
    segment = None if place is None else Segment(kind=place.kind, start=place.start, end=place.end,
                                                 file_id=place.file_id)
    shown = {k: v for k, v in meta.items() if k not in SEGMENT_KEYS}
    item = quote(row["id"], safe="")
    has_picture = row["path"] is not None and row["modality"] in ("image", "video")
    at = f"&at={segment.start:g}" if segment and row["modality"] == "video" else ""
    return Result(rank=row["rank"], id=row["id"], score=row["score"], relevance=row.get("relevance"),
                  channel=row["channel"], channels=row["channels"], snippet=row["snippet"], modality=row["modality"],
                  path=row["path"],
                  text=row["text"], metadata=shown, segment=segment,
                  thumbnail_url=f"/api/thumbnail?id={item}{at}" if has_picture else None,
                  media_url=f"/api/media?id={item}" if row["path"] is not None else None)
