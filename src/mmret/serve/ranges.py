"""HTTP Range requests the server answers as documented: a byte range that ends before it starts is 416."""
from __future__ import annotations

import re

from fastapi import HTTPException, Request

BYTE_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")


def satisfiable_range(request: Request) -> None:
    """416 for a Range header holding a range whose last byte comes before its first (bytes=100-50); the file
    response answers every other Range header."""
    unit, _, ranges = request.headers.get("range", "").partition("=")
    if unit.strip().lower() != "bytes":
        return
    for each in ranges.split(","):
        bounds = BYTE_RANGE.fullmatch(each)
        if bounds and int(bounds[1]) > int(bounds[2]):
            raise HTTPException(416, f"range {each.strip()!r}: its last byte comes before its first")
