"""`GET /api/check` for operators: the problems `mmret check` finds in the served collection's stored files.

It reads every byte of the collection (to compare each segment with its recorded digest), and names internal
files, so it needs the write (operator) key even on a server whose reads are open; it changes nothing.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ...index.backup import embedded_directory
from ...index.integrity import check_collection
from ..context import ServerContext, context
from ..security import require_write_key
from .search import ERRORS

router = APIRouter(tags=["status"], responses=ERRORS)


class Problem(BaseModel):
    file: str = Field(description="the file, relative to the collection's folder")
    problem: str


class CheckReport(BaseModel):
    ok: bool = Field(description="no problem found")
    problems: list[Problem]


@router.get("/api/check", response_model=CheckReport, dependencies=[Depends(require_write_key)],
            summary="Verify the collection's database, segment files (against their checksums) and index")
def check(ctx: Annotated[ServerContext, Depends(context)]) -> CheckReport:
    directory = ctx.live.read(lambda store: embedded_directory(store, "check"))
    problems = check_collection(directory)
    return CheckReport(ok=not problems, problems=[Problem(**problem.to_dict()) for problem in problems])
