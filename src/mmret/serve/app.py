"""The FastAPI app of one collection: `create_app(collection, settings)`.

The model is loaded and the collection opened once; requests run concurrently on FastAPI's thread pool and
reach the store through `LiveCollection`, which also picks up commits made by other processes.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match

from ..api import Collection
from ..errors import MmretError
from .context import ServerContext
from .docs import add_docs
from .jobs import JobBoard
from .live import LiveCollection
from .metrics import Metrics
from .openapi import openapi_document
from .pictures import DecodeBudget
from .request_ids import REQUEST_ID_HEADER, request_id_of
from .routes import check, duplicates, faces, items, jobs, media, search, status
from .security import KeyBeforeBody
from .settings import ServeSettings

LOG = logging.getLogger("mmret.serve")
STATIC = Path(__file__).parent / "static"
PAGE_POLICY = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
               "style-src 'self'; script-src 'self'; frame-ancestors 'none'")


def create_app(collection: Collection, settings: ServeSettings | None = None) -> FastAPI:
    settings = settings or ServeSettings()
    encoder = collection.encoder  # loads the model now, not on the first request
    live = LiveCollection(collection.store.path, settings.refresh_interval)
    board = JobBoard(lambda job: ctx.add(job.sources, sync=job.sync, job=job))  # runs once ctx exists
    ctx = ServerContext(live, encoder, settings, settings.all_roots(live.path), board,
                        Metrics(lambda: live.read(len), lambda: live.generation), DecodeBudget(settings.decode_memory))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        ctx.jobs.shutdown()
        live.close()

    app = FastAPI(title="mmret", version="0.1.0", lifespan=lifespan, max_body_size=settings.body_limit(),
                  docs_url=None, redoc_url=None,
                  description="Search a multimodal collection (text, images, audio, video) by text, by an "
                              "uploaded file or by a stored item. Write endpoints need an API key (X-API-Key); reads "
                              "need one only on a server started with keys for reads.")
    app.state.context, app.state.settings = ctx, settings
    routers = (search.router, items.router, duplicates.router, media.router, jobs.router, status.router,
               check.router, faces.router)
    for router in routers:
        app.include_router(router)
    _add_error_handlers(app)
    _add_middleware(app, ctx, [route for router in routers for route in router.routes])
    app.openapi = lambda: openapi_document(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_docs(app)
    app.add_api_route("/", _page, include_in_schema=False)
    app.add_api_route("/favicon.ico", lambda: Response(status_code=204), include_in_schema=False)  # no icon
    return app


def _page(request: Request) -> RedirectResponse:
    """The search page, with the query kept (/?q=...&mode=... is a shared search)."""
    query = request.url.query
    return RedirectResponse("/static/index.html" + (f"?{query}" if query else ""))


def _add_middleware(app: FastAPI, ctx: ServerContext, routes: list) -> None:
    app.add_middleware(KeyBeforeBody, routes=routes)  # innermost of these: its refusals are measured and carry the headers

    @app.middleware("http")
    async def measured_and_bounded(request: Request, call_next):
        started = time.perf_counter()
        request_id = request_id_of(request)
        try:
            response = await asyncio.wait_for(call_next(request), ctx.settings.request_timeout)
        except asyncio.TimeoutError:
            response = JSONResponse({"detail": f"the request took longer than {ctx.settings.request_timeout:g} s"},
                                    status_code=504)
        ctx.metrics.observe(request.method, _route_label(request), response.status_code,
                            time.perf_counter() - started)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
        if request.url.path.startswith("/static/"):  # the page; /docs has Swagger UI's inline script
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        return response

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=ctx.settings.allowed_hosts, www_redirect=False)
    if ctx.settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=ctx.settings.cors_origins, allow_methods=["*"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type", "Range"])


def _route_label(request: Request) -> str:
    """The path pattern that answered: an API route names itself in the scope; the docs, the OpenAPI schema and
    /static are plain routes, found by matching; anything else is "unmatched"."""
    if route := request.scope.get("route"):
        return route.path
    plain = (r for r in request.app.routes if r.matches(request.scope)[0] == Match.FULL)
    return getattr(next(plain, None), "path", "unmatched")


def _add_error_handlers(app: FastAPI) -> None:
    """mmret's own errors answer their status with the reason; anything else is a defect: a 500 that says so, with
    the request id under which its traceback is logged."""
    async def said(_request: Request, error: MmretError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.http_status)

    async def internal(request: Request, error: Exception) -> JSONResponse:
        request_id = request_id_of(request)
        LOG.error("internal error in %s %s (request %s)", request.method, request.url.path, request_id,
                  exc_info=error)
        return JSONResponse({"detail": "internal error: a defect in mmret, not in the request", "request_id": request_id},
                            status_code=500, headers={REQUEST_ID_HEADER: request_id})

    app.add_exception_handler(MmretError, said)
    app.add_exception_handler(Exception, internal)

    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return JSONResponse({"detail": problems}, status_code=422)

    app.add_exception_handler(RequestValidationError, invalid)
