"""Search by text, by an uploaded image, audio or video file, or by a stored item ("more like this")."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile

from ...data.video import probe_video
from ...errors import BadInput
from ...eval.explain import explain
from ...index.where import LOGICAL, OPERATORS, load_json
from ...query.parts import QueryPart
from ...query.request import Query as SearchQuery
from ..context import ServerContext, context
from ..media import frame_at
from ..pictures import QUERY_SIDE, DecodeBudget, first_minute, small_picture
from ..querying import run_search
from ..schemas import ErrorBody, Explanation, SearchResponse
from ..security import require_read_key
from ..uploads import save_upload

MAX_K = 500
MAX_OFFSET = 10_000
MAX_EXPLAIN_WORDS = 64  # leave-one-word-out embeds as many texts as words
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "the request could not be read (a malformed body or header)", 401: "an API key is needed", 403: "the API key is not valid", 404: "no stored item has that id",
        413: "the upload is too large", 415: "the upload is not a supported media type (by its content)",
        422: "a parameter or the uploaded file is not valid (the reason is given)",
        504: "the search took longer than the server's request timeout"}.items()}

router = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_read_key)], responses=ERRORS)

K = Annotated[int, Query(ge=1, le=MAX_K, description="results per page")]
OFFSET = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="results to skip (pagination)")]
JSON_TEXT = {"contentMediaType": "application/json"}  # a parameter whose text is a JSON document
WHERE = Annotated[str | None, Query(max_length=4000, json_schema_extra=JSON_TEXT, description='JSON object of metadata filters, e.g. '
                                    '{"folder": "beach", "year": {"$gte": 2020}, "tag": {"$in": ["a", "b"]}}; '
                                    f'operators {" ".join(OPERATORS)}, and {" ".join(LOGICAL)}')]
PARTS_HELP = ('JSON array of more text parts with weights, a negative weight pulling away from it, e.g. '
              '[{"text": "people", "weight": -1}]')
PARTS = Annotated[str | None, Query(max_length=4000, json_schema_extra=JSON_TEXT, description=PARTS_HELP)]
MIN_RELEVANCE = Annotated[float | None, Query(ge=0, le=1, description="leave out results whose calibrated relevance "
                                          "is lower (text queries; 422 where the model has no calibration)")]
FUSION = Annotated[Literal["rrf", "combsum", "combmnz", "combprod"] | None,
                   Query(description="fuse one result list per part (default: one fused query vector)")]
MODE_HELP = ('keyword: the words of items\' text, file names and named fields, by BM25 ("a phrase", prefix*, '
             '-word); semantic: vectors; hybrid: both lists fused. Default: hybrid where the collection has a '
             'keyword index, else semantic')
MODE = Annotated[Literal["hybrid", "semantic", "keyword"] | None, Query(description=MODE_HELP)]


@router.get("/search", response_model=SearchResponse, summary="Search by text or by a stored item")
def search_get(ctx: Annotated[ServerContext, Depends(context)],
               q: Annotated[str | None, Query(max_length=2000, description="query text")] = None,
               like: Annotated[str | None, Query(max_length=4000,
                                                 description="id of a stored item: more like it, by its stored vectors")]
               = None,
               k: K = 10, offset: OFFSET = 0, where: WHERE = None,
               per_file: Annotated[bool, Query(description="each file once, at its best segment")] = True,
               space: Annotated[str | None, Query(max_length=64)] = None, parts: PARTS = None,
               fusion: FUSION = None, mode: MODE = None, min_relevance: MIN_RELEVANCE = None) -> SearchResponse:
    return _search(ctx, q, like, None, k, offset, where, per_file, space, parts, fusion, mode, min_relevance)


@router.post("/search", response_model=SearchResponse, summary="Search by an uploaded file (and text)")
def search_post(ctx: Annotated[ServerContext, Depends(context)],
                file: Annotated[UploadFile | None, File(description="an image, audio or video file")] = None,
                text: Annotated[str | None, Form(max_length=2000)] = None,
                like: Annotated[str | None, Form(max_length=4000)] = None,
                k: Annotated[int, Form(ge=1, le=MAX_K)] = 10,
                offset: Annotated[int, Form(ge=0, le=MAX_OFFSET)] = 0,
                where: Annotated[str | None, Form(max_length=4000, json_schema_extra=JSON_TEXT)] = None,
                per_file: Annotated[bool, Form()] = True,
                space: Annotated[str | None, Form(max_length=64)] = None,
                parts: Annotated[str | None, Form(max_length=4000, json_schema_extra=JSON_TEXT,
                                                  description=PARTS_HELP)] = None,
                fusion: Annotated[Literal["rrf", "combsum", "combmnz", "combprod"] | None, Form()] = None,
                mode: Annotated[Literal["hybrid", "semantic", "keyword"] | None, Form(description=MODE_HELP)] = None,
                min_relevance: Annotated[float | None, Form(ge=0, le=1)] = None) -> SearchResponse:
    return _search(ctx, text, like, file, k, offset, where, per_file, space, parts, fusion, mode, min_relevance)


@router.get("/explain", response_model=Explanation, summary="Why a text matched a stored photo")
def explain_match(ctx: Annotated[ServerContext, Depends(context)],
                  id: Annotated[str, Query(max_length=4000)],
                  text: Annotated[str, Query(min_length=1, max_length=2000,
                                             description=f"at most {MAX_EXPLAIN_WORDS} words")]) -> Explanation:
    record = ctx.get(id)
    if record is None:
        raise HTTPException(404, f"no stored item has id {id!r}")
    if record.modality != "image" or record.path is None:
        raise HTTPException(422, f"item {id!r} is {record.modality}: explanations are for photos")
    if len(text.split()) > MAX_EXPLAIN_WORDS:
        raise BadInput(f"text: at most {MAX_EXPLAIN_WORDS} words can be explained, got {len(text.split())}")
    try:  # the work stops when the request's time is up, not only the answer
        found = explain(ctx.encoder, text, record.path, heatmap=False,
                        deadline=time.monotonic() + ctx.settings.request_timeout)
    except TimeoutError as error:
        raise HTTPException(504, f"{error} (the server's request timeout is {ctx.settings.request_timeout:g} s)") from None
    data = found.to_dict()
    return Explanation(text=text, id=id, score=found.score, words=data["words"], classes=data["classes"])


def _search(ctx: ServerContext, text: str | None, like: str | None, upload: UploadFile | None, k: int,
            offset: int, where: str | None, per_file: bool, space: str | None, parts: str | None = None,
            fusion: str | None = None, mode: str | None = None, min_relevance: float | None = None) -> SearchResponse:
    text = text.strip() if text and text.strip() else None
    more = _text_parts(parts)
    if text is None and like is None and upload is None and not more:
        raise HTTPException(422, "a search needs q/text, parts, like (a stored item's id) or an uploaded file")
    if space is not None and space not in ctx.live.spaces:
        raise HTTPException(422, f"space {space!r} is not one of this collection's: {sorted(ctx.live.spaces)}")
    saved: Path | None = None
    try:
        found = {"text": text, "like": like}
        if upload is not None:
            saved, kind = save_upload(upload, "file", ctx.settings.max_upload_bytes, ("image", "audio", "video"))
            found.update(_upload_parts(saved, kind.modality, ctx.decodes))
        query = SearchQuery(**found, k=k, where=_filters(where), space=space, per_file=per_file, parts=more,
                            fusion=fusion, mode=mode, min_relevance=min_relevance)
        return run_search(ctx.live, ctx.encoder, query, offset)
    finally:
        if saved is not None:
            saved.unlink(missing_ok=True)


def _upload_parts(path: Path, modality: str, decodes: DecodeBudget) -> dict:
    """The query part of an uploaded file, decoded within bounded memory; a video stands for its middle frame."""
    if modality == "audio":
        return {"audio": first_minute(path)}
    if modality == "image":
        return {"image": small_picture(path, QUERY_SIDE, decodes)}
    frame = frame_at(path, probe_video(path).duration / 2)
    frame.thumbnail((QUERY_SIDE, QUERY_SIDE))
    return {"image": frame}


def _text_parts(parts: str | None) -> tuple[QueryPart, ...]:
    """The `parts` parameter: weighted text parts only (a server never reads files named by a client)."""
    if not parts:
        return ()
    parsed = load_json(parts, "parts")
    if not isinstance(parsed, list) or not all(isinstance(p, dict) for p in parsed):
        raise HTTPException(422, 'parts: expected a JSON array of {"text": ..., "weight": ...} objects')
    found = []
    for number, part in enumerate(parsed):
        text, weight = part.get("text"), part.get("weight", 1.0)
        if not isinstance(text, str) or set(part) - {"text", "weight"}:
            raise HTTPException(422, f'parts[{number}]: expected {{"text": STRING, "weight": NUMBER}}')
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise HTTPException(422, f"parts[{number}]: weight must be a number")
        found.append(QueryPart("text", text, float(weight)))  # an empty text or a zero weight is a ValueError: 422
    return tuple(found)


def _filters(where: str | None) -> dict | None:
    if not where:
        return None
    parsed = load_json(where, "where")
    if not isinstance(parsed, dict):
        raise HTTPException(422, "where: expected a JSON object of metadata key -> value or operators")
    return parsed or None  # the index checks the rest (index/where.py); its error becomes a 422

