"""One hit per file: a photo as itself, an audio or video file as its best-scoring segment."""
from __future__ import annotations

from collections.abc import Callable

from ..index.values import Hit
from ..media.segments import source_id


def collapsed(search_top: Callable[[int], list[Hit]], k: int, per_file: bool) -> list[Hit]:
    """The top k of search_top(fetch), one hit per file with `per_file` (widening the fetch until k distinct
    files are found or the collection is exhausted)."""
    if not per_file:
        return search_top(k)
    fetch = 4 * k
    while True:
        hits = search_top(fetch)
        best = best_per_file(hits)
        if len(best) >= k or len(hits) < fetch:
            return best[:k]
        fetch *= 4


def best_per_file(hits: list[Hit]) -> list[Hit]:
    """Hits in score order, keeping each file's first (best) one: a photo, or an audio/video file's best segment."""
    best: dict[str, Hit] = {}
    for hit in hits:
        best.setdefault(source_id(hit.record.item_id, hit.record.metadata), hit)
    return list(best.values())
