"""The segment schema: an audio or video file is stored as its own record plus timed segment records.

A segment's id is `<file id>#<kind>@<start>-<end>`; its metadata adds `segment_of` (the file's id), `segment`
(shot, ocr, sound or speech), `start` and `end` in seconds. The file's own record has no vectors: search finds its
segments, so every hit tells where in the file; the record is what re-indexing compares (size, mtime) and what a
silent file leaves behind, so it is not decoded again until it changes.
"""
from __future__ import annotations

from ..data.items import Item

TIMED_MODALITIES = ("audio", "video")
SEGMENT_OF = "segment_of"  # the id of the file a segment belongs to
SEGMENT = "segment"  # the segment's kind: shot, ocr, sound or speech
START, END = "start", "end"  # the segment's place in its file, in seconds
SETTINGS = "timed_settings"  # the settings a timed file was indexed with (TimedSettings.describe())
#: metadata keys that describe a segment's place in its file; shown as its time range, not as metadata
SEGMENT_KEYS = (SEGMENT_OF, SEGMENT, START, END, SETTINGS)


def segment_item(item: Item, kind: str, start: float, end: float, text: str | None = None) -> Item:
    metadata = {**item.metadata, SEGMENT_OF: item.id, SEGMENT: kind, START: round(start, 3), END: round(end, 3)}
    return Item(f"{item.id}#{kind}@{start:.2f}-{end:.2f}", item.modality, item.path, text, metadata)


def source_id(item_id: str, metadata: dict) -> str:
    """The id of the file a record belongs to (itself unless it is a segment)."""
    return metadata.get(SEGMENT_OF, item_id)


def is_segment(metadata: dict) -> bool:
    return SEGMENT_OF in metadata
