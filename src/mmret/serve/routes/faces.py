"""Faces and people (`mmret search --face`, `mmret faces ...`) over HTTP. Faces are the most personal data a
collection holds: every route here needs the write (operator) key, even on a server whose reads are open, and a
server without keys serves none of them."""
from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from ...media.face_segments import FACE_BOX, FACE_FRAME
from ...people.actions import forget_faces, group_faces, name_person
from ...people.face_book import FaceBook
from ...people.grouping import DEFAULT_THRESHOLD
from ...query.faces import query_face, search_face
from ...query.rows import result_rows
from ..context import ServerContext, context
from ..pictures import small_picture
from ..querying import to_result
from ..schemas import SearchResponse
from ..security import require_write_key
from ..uploads import save_upload
from .search import ERRORS, MAX_K, _filters

router = APIRouter(prefix="/api/faces", tags=["faces"], dependencies=[Depends(require_write_key)], responses=ERRORS)
FACE_QUERY_SIDE = 1024  # a query photo is fitted in this square: faces stay large enough to be found


class Sample(BaseModel):
    id: str = Field(description="the face segment's id")
    path: str | None
    box: list[int] | None = Field(description="left, top, right, bottom in pixels of `frame`")
    frame: list[int] | None = Field(description="width and height of the picture the box is in")
    thumbnail_url: str


class PersonRow(BaseModel):
    person: str
    name: str | None
    faces: int
    files: int
    sample: Sample


class Changed(BaseModel):
    faces: int = Field(description="the faces changed (grouped, named or forgotten)")
    new_people: int = 0


@router.post("/search", response_model=SearchResponse, summary="The files showing the person in an uploaded photo")
def search_by_face(ctx: Annotated[ServerContext, Depends(context)],
                   file: Annotated[UploadFile, File(description="a photo with a face")],
                   face: Annotated[int | None, Form(ge=1, le=1000, description="the N-th face from the left "
                                                    "(default: the largest)")] = None,
                   k: Annotated[int, Form(ge=1, le=MAX_K)] = 10,
                   where: Annotated[str | None, Form(max_length=4000)] = None) -> SearchResponse:
    started = time.perf_counter()
    saved, _ = save_upload(file, "file", ctx.settings.max_upload_bytes, ("image",))
    try:
        chosen = query_face(small_picture(saved, FACE_QUERY_SIDE, ctx.decodes), face)
    finally:
        saved.unlink(missing_ok=True)
    hits = ctx.live.read(lambda store: search_face(store, chosen, k, _filters(where)))
    return SearchResponse(results=[to_result(row) for row in result_rows(hits)], offset=0, k=k, has_more=False,
                          took_ms=round(1000 * (time.perf_counter() - started), 3))


@router.get("/people", response_model=list[PersonRow], summary="People, most faces first, with a sample face")
def people(ctx: Annotated[ServerContext, Depends(context)]) -> list[PersonRow]:
    found = ctx.live.read(lambda store: FaceBook(store).people())
    return [PersonRow(person=p.id, name=p.name, faces=len(p.faces), files=p.files,
                      sample=Sample(id=p.faces[0].item_id, path=p.faces[0].path,
                                    box=p.faces[0].metadata.get(FACE_BOX), frame=p.faces[0].metadata.get(FACE_FRAME),
                                    thumbnail_url=f"/api/thumbnail?id={quote(p.faces[0].item_id, safe='')}"))
            for p in found]


@router.post("/cluster", response_model=Changed, summary="Group the faces not in a person yet into people")
def cluster(ctx: Annotated[ServerContext, Depends(context)]) -> Changed:
    grouped = ctx.live.write(lambda store: group_faces(store, DEFAULT_THRESHOLD))
    return Changed(faces=grouped.faces, new_people=grouped.new_people)


@router.post("/people/{person}/name", response_model=Changed, summary="Name a person")
def name(ctx: Annotated[ServerContext, Depends(context)], person: str,
         name: Annotated[str, Form(min_length=1, max_length=200)]) -> Changed:
    return Changed(faces=ctx.live.write(lambda store: name_person(store, person, name)))


@router.post("/forget", response_model=Changed, summary="Delete one person's faces, or every face, and their names")
def forget(ctx: Annotated[ServerContext, Depends(context)],
           person: Annotated[str | None, Form(max_length=64, description="a person id; none: every face")] = None,
           everything: Annotated[bool, Form(alias="all", description="must be true to forget every face")] = False
           ) -> Changed:
    if person is None and not everything:
        raise HTTPException(422, "forget: give a person, or all=true to forget every face")
    return Changed(faces=ctx.live.write(lambda store: forget_faces(store, person)))
