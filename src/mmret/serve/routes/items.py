"""Stored items: read one; add uploads or server-side paths; remove; update metadata (writes need a key)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile

from ...data.decode import open_image, read_bytes
from ...encoders.base import Encoder
from ...index.collection_base import CollectionBase
from ...index.values import Hit, Record
from ...media.segments import SEGMENT_OF, is_segment, refuse_reserved
from ...query.rows import result_rows
from ..context import ServerContext, context
from ..paths import inside_roots
from ..querying import to_result
from ..schemas import AddPaths, AddReport, MetadataUpdate, RemoveReport, Result
from ..security import require_read_key, require_write_key
from ..uploads import save_upload
from .search import ERRORS

MAX_FILES = 100

router = APIRouter(prefix="/api/items", tags=["items"], responses=ERRORS)
ItemId = Annotated[str, Query(min_length=1, max_length=4000, description="the item's id")]


@router.get("", response_model=Result, dependencies=[Depends(require_read_key)], summary="One stored item")
def get_item(ctx: Annotated[ServerContext, Depends(context)], id: ItemId) -> Result:
    return _as_result(_stored(ctx, id))


@router.post("", response_model=AddReport, dependencies=[Depends(require_write_key)],
             summary="Add uploaded image, audio or video files")
def add_uploads(ctx: Annotated[ServerContext, Depends(context)],
                files: Annotated[list[UploadFile], File(description="media files; kept in the upload folder")]
                ) -> AddReport:
    if len(files) > MAX_FILES:
        raise HTTPException(422, f"files: at most {MAX_FILES} per request, got {len(files)}")
    folder = ctx.settings.upload_root(ctx.live.path)
    saved = []
    try:
        for number, upload in enumerate(files):
            path, _ = save_upload(upload, f"files[{number}]", ctx.settings.max_upload_bytes,
                                  ("image", "audio", "video"), folder)
            saved.append(path.resolve())
    except HTTPException:
        for path in saved:
            path.unlink(missing_ok=True)
        raise
    report = ctx.add(saved, shown={str(path): f"files[{n}] ({upload.filename or 'file'})"
                                   for n, (path, upload) in enumerate(zip(saved, files))})
    return _keep_stored(ctx, saved, report)


def _keep_stored(ctx: ServerContext, saved: list[Path], report: AddReport) -> AddReport:
    """The report with the ids of the uploads that were stored; the rejected ones (corrupt, too large decoded, a
    modality the model does not embed) are deleted, so nothing unlisted stays in the upload folder."""
    for path in saved:
        if ctx.get(str(path)) is None:
            path.unlink(missing_ok=True)
        else:
            report.ids.append(str(path))
    return report


@router.post("/paths", response_model=AddReport, dependencies=[Depends(require_write_key)],
             summary="Add files or folders that are on the server, inside its roots")
def add_paths(ctx: Annotated[ServerContext, Depends(context)], body: AddPaths) -> AddReport:
    return ctx.add(list(dict.fromkeys(inside_roots(name, ctx.roots) for name in body.paths)))  # each source once


@router.delete("", response_model=RemoveReport, dependencies=[Depends(require_write_key)],
               summary="Remove an item (a file with its segments)")
def remove_item(ctx: Annotated[ServerContext, Depends(context)], id: ItemId) -> RemoveReport:
    record = _stored(ctx, id)
    item_id = record.item_id

    def remove(store: CollectionBase) -> int:
        segments = [r.item_id for r in store.find({SEGMENT_OF: item_id})]
        with store.transaction():
            removed = store.remove([item_id])
            store.remove(segments)
        return removed

    removed = ctx.live.write(remove)
    if _uploaded_file(ctx, record):
        Path(record.path).unlink(missing_ok=True)  # an upload lives only as its item
    return RemoveReport(removed=removed)


def _uploaded_file(ctx: ServerContext, record: Record) -> bool:
    """Whether the record is a file (not a segment) that an upload put into the upload folder."""
    return (record.path is not None and not is_segment(record.metadata)
            and Path(record.path).parent == ctx.settings.upload_root(ctx.live.path))


@router.patch("/metadata", response_model=Result, dependencies=[Depends(require_write_key)],
              summary="Set or remove metadata keys of a photo or text item")
def update_metadata(ctx: Annotated[ServerContext, Depends(context)], body: MetadataUpdate) -> Result:
    refuse_reserved(body.metadata, f"item {body.id!r}")
    record = _stored(ctx, body.id)
    if record.modality in ("audio", "video"):
        raise HTTPException(422, f"item {body.id!r} is {record.modality}: its segments carry the file's metadata; "
                                 "change it at the source (folder or manifest) and re-index")
    metadata = {k: v for k, v in {**record.metadata, **body.metadata}.items() if v is not None}
    updated = replace(record, metadata=metadata)
    vectors = _vectors(ctx.encoder, record)  # re-embedded as indexing embeds them: the record keeps its vectors
    ctx.live.write(lambda store: store.upsert([updated], vectors))
    return _as_result(updated)


def _vectors(encoder: Encoder, record: Record) -> dict:
    if record.path is None:
        return encoder.embed("text", [record.text or ""])
    return encoder.embed("image", [open_image(read_bytes(record.path), record.path)])  # lazily, as indexing does


def _as_result(record: Record) -> Result:
    return to_result(result_rows([Hit(record, 1.0, "")])[0])


def _stored(ctx: ServerContext, item_id: str) -> Record:
    record = ctx.get(item_id)
    if record is None:
        raise HTTPException(404, f"no stored item has id {item_id!r}")
    return record
