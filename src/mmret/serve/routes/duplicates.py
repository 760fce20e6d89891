"""Groups of near-identical items (read-only): what `mmret duplicates --json` prints."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...query.duplicates import (
    DEFAULT_HASH_DISTANCE,
    DEFAULT_THRESHOLD,
    duplicates_json,
)
from ...query.perceptual_hash import BITS
from ..context import ServerContext, context
from ..schemas import Duplicates
from ..security import require_read_key
from .search import ERRORS

router = APIRouter(tags=["items"], responses=ERRORS)


@router.get("/api/duplicates", response_model=Duplicates, dependencies=[Depends(require_read_key)],
            summary="Groups of near-identical items, each with its best copy first")
def duplicates(ctx: Annotated[ServerContext, Depends(context)],
               threshold: Annotated[float, Query(ge=-1.0, le=1.0, description="cosine similarity at or above "
                                                 "which two items are copies")] = DEFAULT_THRESHOLD,
               space: Annotated[str | None, Query(max_length=200, description="the vector space compared "
                                                  "(default: image if the collection has it, else shared)")] = None,
               texts: Annotated[bool, Query(description="also group text items")] = False,
               segments: Annotated[bool, Query(description="also group audio and video segments")] = False,
               hash_distance: Annotated[int, Query(ge=-1, le=BITS, description="photos whose perceptual hashes "
                                                   "differ in at most this many bits are copies too (-1: vectors "
                                                   "only)")] = DEFAULT_HASH_DISTANCE) -> dict:
    bits = None if hash_distance < 0 else hash_distance
    return ctx.live.read(lambda store: duplicates_json(store, threshold, space, texts, segments, bits))
