"""The segment schema: an audio or video file is stored as its own record plus timed segment records.

A segment's id is `<file id>#<kind>@<start>-<end>`; its metadata adds `segment_of` (the file's id), `segment`
(shot, ocr, sound or speech), `start` and `end` in seconds. The file's own record has no vectors: search finds its
segments, so every hit tells where in the file; the record is what re-indexing compares (size, mtime) and what a
silent file leaves behind, so it is not decoded again until it changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..data.items import Item
from ..errors import BadInput

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


@dataclass(frozen=True)
class Place:
    """A segment's place in its file."""

    file_id: str
    kind: str
    start: float
    end: float


def place_of(metadata: dict) -> Place | None:
    """The segment's place, or None when the metadata does not describe one in full (a plain item, or one whose
    reserved keys hold something else: such a record is shown as a plain item, never an error)."""
    file_id, kind, start, end = (metadata.get(key) for key in (SEGMENT_OF, SEGMENT, START, END))
    times = all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (start, end))
    if isinstance(file_id, str) and isinstance(kind, str) and times:
        return Place(file_id, kind, float(start), float(end))
    return None


def source_id(item_id: str, metadata: dict) -> str:
    """The id of the file a record belongs to (itself unless it is a segment)."""
    place = place_of(metadata)
    return item_id if place is None else place.file_id


def is_segment(metadata: dict) -> bool:
    return place_of(metadata) is not None


def reserved_key(metadata: dict) -> str | None:
    """Why metadata from a user cannot be stored as given: it sets a key of the segment schema (None removes a
    key: allowed, so a value stored by mistake can be undone)."""
    from .face_segments import FACE_KEYS

    for key in (*SEGMENT_KEYS, *FACE_KEYS):
        if metadata.get(key) is not None:
            return (f"metadata key {key!r} is reserved (mmret writes it for segments and faces); "
                    f"reserved keys are {', '.join((*SEGMENT_KEYS, *FACE_KEYS))}")
    return None


def refuse_reserved(metadata: dict, where: str) -> None:
    """A BadInput naming `where` and the reserved key `metadata` sets, if any."""
    reason = reserved_key(metadata)
    if reason is not None:
        raise BadInput(f"{where}: {reason}")
