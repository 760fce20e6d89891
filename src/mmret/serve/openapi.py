"""The OpenAPI document as this server behaves: reads are marked as needing the X-API-Key only when the server
was started with keys for reads."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .security import KEY_HEADER

SCHEME = KEY_HEADER.scheme_name


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        if app.state.settings.keys_for_reads:
            _mark_reads(document)
        app.openapi_schema = document
    return app.openapi_schema


def _mark_reads(document: dict[str, Any]) -> None:
    """Every /api/ operation reads through require_read_key or writes through the write key; the probes and
    /metrics stay open."""
    components = document.setdefault("components", {}).setdefault("securitySchemes", {})
    components.setdefault(SCHEME, KEY_HEADER.model.model_dump(mode="json", by_alias=True, exclude_none=True))
    for path, operations in document["paths"].items():
        if path.startswith("/api/"):
            for operation in operations.values():
                operation.setdefault("security", [{SCHEME: []}])
