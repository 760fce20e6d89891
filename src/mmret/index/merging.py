"""Tiered merging of the unindexed segments, so a search never scans more than a few dozen of them.

Segments are grouped by size level (powers of MERGE_FACTOR); once a level holds MERGE_FACTOR segments
they become one segment of the next level. Each vector is rewritten about log_8(n) times in all, so the
cost of a commit stays proportional to its batch on average.
"""

from __future__ import annotations

import math

from mmret.index.segment import Segment

MERGE_FACTOR = 8


def segments_to_merge(segments: list[Segment]) -> list[Segment]:
    """The segments of the smallest full level, or none."""
    levels: dict[int, list[Segment]] = {}
    for segment in segments:
        levels.setdefault(_level(len(segment)), []).append(segment)
    for level in sorted(levels):
        if len(levels[level]) >= MERGE_FACTOR:
            return levels[level]
    return []


def _level(count: int) -> int:
    return int(math.log(max(count, 1), MERGE_FACTOR))
