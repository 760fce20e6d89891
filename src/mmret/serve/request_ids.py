"""Each request's id: the one a client sent in X-Request-ID if it is short and plain, else a new one. It is
answered in the same header, and an internal error's log line and body carry it, so a report can be matched."""
from __future__ import annotations

import re
import uuid

from fastapi import Request

REQUEST_ID_HEADER = "X-Request-ID"
_PLAIN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_of(request: Request) -> str:
    """The request's id, made once and kept on the request."""
    if getattr(request.state, "request_id", None) is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        request.state.request_id = sent if _PLAIN.fullmatch(sent) else uuid.uuid4().hex
    return request.state.request_id
