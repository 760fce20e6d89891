"""Background re-indexing of the roots (or one folder inside them), with progress the page can poll."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path

from ..context import ServerContext, context
from ..paths import inside_roots
from ..schemas import Job, ReindexRequest
from ..security import require_read_key, require_write_key
from .search import ERRORS

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERRORS)


@router.post("/reindex", response_model=Job, status_code=202, dependencies=[Depends(require_write_key)],
             summary="Start re-indexing: new and changed files are embedded, vanished ones removed")
def start_reindex(ctx: Annotated[ServerContext, Depends(context)], body: ReindexRequest) -> Job:
    sources = [inside_roots(body.root, ctx.roots)] if body.root else list(ctx.settings.roots)
    if not sources:
        raise HTTPException(422, "root: this server has no roots to re-index (start it with --root DIR)")
    return ctx.jobs.submit(sources, body.sync).view()


@router.get("", response_model=list[Job], dependencies=[Depends(require_read_key)], summary="Recent jobs")
def list_jobs(ctx: Annotated[ServerContext, Depends(context)]) -> list[Job]:
    return [job.view() for job in ctx.jobs.all()]


@router.get("/{job_id}", response_model=Job, dependencies=[Depends(require_read_key)], summary="One job's progress")
def get_job(ctx: Annotated[ServerContext, Depends(context)],
            job_id: Annotated[str, Path(max_length=64)]) -> Job:
    job = ctx.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job has id {job_id!r}")
    return job.view()
