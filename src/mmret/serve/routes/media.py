"""A stored item's file (audio and video with HTTP Range requests, so the page can seek) and its thumbnail."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from ...index.values import Record
from ..context import ServerContext, context
from ..media import THUMBNAIL_SIDES, thumbnail
from ..opened import OpenedFileResponse, open_inside
from ..ranges import satisfiable_range
from ..security import require_read_key
from .search import ERRORS

router = APIRouter(prefix="/api", tags=["media"], dependencies=[Depends(require_read_key)], responses=ERRORS)
ItemId = Annotated[str, Query(min_length=1, max_length=4000, description="the item's id")]
MEDIA = {200: {"description": "the file (206 with a Range header)",
               "content": {"image/*": {}, "audio/*": {}, "video/*": {}}},
         206: {"description": "the requested byte range"}, 416: {"description": "the range is not satisfiable"}}


@router.get("/media", response_class=FileResponse, responses=MEDIA, summary="The item's file",
            dependencies=[Depends(satisfiable_range)])
def media(ctx: Annotated[ServerContext, Depends(context)], id: ItemId) -> FileResponse:
    opened = open_inside(_stored_file(ctx, id).path, ctx.roots if ctx.settings.roots else None)
    return OpenedFileResponse(opened, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/thumbnail", response_class=FileResponse, summary="A JPEG of a photo or of a video at a time",
            responses={200: {"content": {"image/jpeg": {}}, "description": "the thumbnail"}})
def item_thumbnail(ctx: Annotated[ServerContext, Depends(context)], id: ItemId,
                   side: Annotated[int, Query(description=f"longest side in pixels, one of {THUMBNAIL_SIDES}",
                                              json_schema_extra={"enum": list(THUMBNAIL_SIDES)})] = 256,
                   at: Annotated[float, Query(ge=0, le=86_400, description="seconds into a video")] = 0.0
                   ) -> FileResponse:
    if side not in THUMBNAIL_SIDES:
        raise HTTPException(422, f"side must be one of {THUMBNAIL_SIDES}, got {side}")
    record = _stored_file(ctx, id)
    if record.modality not in ("image", "video"):
        raise HTTPException(404, f"item {id!r} is {record.modality}: it has no picture")
    opened = open_inside(record.path, ctx.roots if ctx.settings.roots else None)
    try:
        made = thumbnail(opened, record.modality, side, at, ctx.settings.thumbnail_dir, ctx.decodes)
    finally:
        opened.close()
    return FileResponse(made, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


def _stored_file(ctx: ServerContext, item_id: str) -> Record:
    record = ctx.get(item_id)
    if record is None:
        raise HTTPException(404, f"no stored item has id {item_id!r}")
    if record.path is None:
        raise HTTPException(404, f"item {item_id!r} is a text: it has no file")
    return record
