"""API keys: read from a file or an environment variable, kept only as SHA-256 digests, compared in constant time.

A key is sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`. Write endpoints always need one (with no
keys configured, writes are off); reads need one only when the server is started with keys for reads.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from fastapi import HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BadInput

KEYS_ENV = "MMRET_API_KEYS"  # comma-separated keys
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key of this server")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_key_digests(key_file: str | Path | None = None, environ: dict | None = None) -> list[str]:
    """Digests of the keys in `key_file` (one per line, '#' comments) and in $MMRET_API_KEYS."""
    keys = [k.strip() for k in (environ if environ is not None else os.environ).get(KEYS_ENV, "").split(",")]
    if key_file is not None:
        path = Path(key_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise BadInput(f"{path}: cannot read the API key file: {error.strerror or error}") from None
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [digest(key) for key in keys if key]


def key_matches(key: str, digests: list[str]) -> bool:
    """Whether `key` is one of the configured keys; every digest is compared, each in constant time."""
    given = digest(key).encode()
    found = False
    for known in digests:
        found |= hmac.compare_digest(given, known.encode())
    return found


def _sent_key(request: Request, header_key: str | None) -> str | None:
    if header_key:
        return header_key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check(request: Request, header_key: str | None, purpose: str) -> None:
    digests = request.app.state.settings.api_keys
    if not digests:
        raise HTTPException(403, f"{purpose} is disabled: this server has no API keys "
                                 f"(start it with --api-key-file FILE or ${KEYS_ENV})")
    key = _sent_key(request, header_key)
    if key is None:
        raise HTTPException(401, f"{purpose} needs an API key: send it as the X-API-Key header",
                            headers={"WWW-Authenticate": "Bearer"})
    if not key_matches(key, digests):
        raise HTTPException(403, "the API key sent is not valid for this server")


def require_write_key(request: Request, header_key: str | None = Security(KEY_HEADER)) -> None:
    _check(request, header_key, "writing")


def require_read_key(request: Request) -> None:
    """Not declared as a security dependency: the OpenAPI document marks reads as needing a key only on a server
    that requires keys for reads (openapi.py)."""
    if request.app.state.settings.keys_for_reads:
        _check(request, request.headers.get(KEY_HEADER.model.name), "reading")


class KeyBeforeBody:
    """ASGI middleware: a write request's key is checked before its body is read, so a client without a valid key
    cannot make the server read, spool or parse anything (the routes' own check stays, for the schema)."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.writes = [r for r in routes if isinstance(r, APIRoute)
                       and any(d.call is require_write_key for d in r.dependant.dependencies)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(r.matches(scope)[0] is Match.FULL for r in self.writes):
            request = Request(scope)
            try:
                _check(request, request.headers.get(KEY_HEADER.model.name), "writing")
            except HTTPException as refused:
                await JSONResponse({"detail": refused.detail}, refused.status_code, refused.headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)
