"""Health, readiness, what the collection holds, and Prometheus metrics."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from ..context import ServerContext, context
from ..schemas import Health, Info, SpaceInfo
from ..security import require_read_key

router = APIRouter(tags=["status"])


@router.get("/healthz", response_model=Health, summary="The process answers")
def health() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, summary="The model is loaded and the collection can be read",
            responses={503: {"model": Health, "description": "not ready; the status says why"}})
def ready(ctx: Annotated[ServerContext, Depends(context)]):
    try:
        ctx.live.read(len)
    except Exception as error:  # noqa: BLE001 -- any failure to read means not ready, with the reason
        return JSONResponse({"status": f"collection unreadable: {error}"}, status_code=503)
    return Health(status="ready")


@router.get("/api/info", response_model=Info, dependencies=[Depends(require_read_key)],
            summary="Model, size and limits of this server's collection")
def info(ctx: Annotated[ServerContext, Depends(context)]) -> Info:
    items, vectors = ctx.live.read(lambda store: (len(store), {s: store.vector_count(s) for s in store.spaces}))
    return Info(path=str(ctx.live.path), model=ctx.live.model_id, items=items, generation=ctx.live.generation,
                spaces={s: SpaceInfo(dimension=d, vectors=vectors[s]) for s, d in ctx.live.spaces.items()},
                modalities=[*ctx.encoder.modalities, *(["video"] if "image" in ctx.encoder.modalities else [])],
                writes_enabled=bool(ctx.settings.api_keys), keys_for_reads=ctx.settings.keys_for_reads,
                max_upload_bytes=ctx.settings.max_upload_bytes, roots=[str(r) for r in ctx.roots])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "the text exposition format"}})
def metrics(ctx: Annotated[ServerContext, Depends(context)]) -> Response:
    return Response(ctx.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
