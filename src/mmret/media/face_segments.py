"""Faces as segments of their photo or video (segments.py): each face found is a record of kind "face" with its
box (and the size of the picture it is in), its detection score and a vector in the face space (face_vectors.py); a
photo's faces have start = end = 0, a video's the span of the shot whose keyframe they were found in.

A face segment's id is `<file id>#face<n>` in a photo (n from 1, left to right) and `<file id>#face<n>@<shot start>`
in a video. A file indexed with faces records the detector settings under `face_settings`, so re-indexing with
faces turned on or off re-reads it; a face grouped into a person carries `person` and, once named, `person_name`;
a file with named people carries their names in `named_people` (people/).
"""
from __future__ import annotations

from dataclasses import replace

from ..data.items import Item
from ..encoders.faces import FoundFaces
from .segments import END, SEGMENT, SEGMENT_OF, START

FACE = "face"  # the segment kind
FACE_BOX = "face_box"  # [left, top, right, bottom] in pixels of the photo or keyframe
FACE_FRAME = "face_frame"  # [width, height] of the photo or keyframe the box is in
FACE_SCORE = "face_score"  # the detector's confidence
PERSON = "person"  # on a face: the id of the person it was grouped into
PERSON_NAME = "person_name"  # on a face: its person's name, once named
PEOPLE = "named_people"  # on a file: the names of the named people in it (words a keyword index can find)
FACE_SETTINGS = "face_settings"  # on a file indexed with faces: the detector's settings
FACES_SETTING = "faces"  # the collection setting: {"min_size": pixels} while faces are indexed, else None
#: metadata keys that mmret writes for faces; a user's own metadata cannot set them
FACE_KEYS = (FACE_BOX, FACE_FRAME, FACE_SCORE, PERSON, PERSON_NAME, PEOPLE, FACE_SETTINGS)


def face_items(item: Item, found: FoundFaces, span: tuple[float, float] | None = None) -> list[Item]:
    """The segment items of the faces found in a photo (`span` None) or in the keyframe of a video's shot that spans
    [start, end] seconds."""
    base = {key: value for key, value in item.metadata.items() if key not in FACE_KEYS}
    start, end = (0.0, 0.0) if span is None else (round(span[0], 3), round(span[1], 3))
    suffix = "" if span is None else f"@{span[0]:.2f}"
    return [Item(f"{item.id}#{FACE}{n}{suffix}", item.modality, item.path, None,
                 {**base, SEGMENT_OF: item.id, SEGMENT: FACE, START: start, END: end,
                  FACE_BOX: list(face.box), FACE_FRAME: list(found.size), FACE_SCORE: round(face.score, 4)})
            for n, face in enumerate(found.faces, start=1)]


def with_face_settings(item: Item, described: str | None) -> Item:
    """A file item carrying the face detector settings it is indexed with (None: without faces)."""
    metadata = {key: value for key, value in item.metadata.items() if key != FACE_SETTINGS}
    if described is not None:
        metadata[FACE_SETTINGS] = described
    return replace(item, metadata=metadata)


def without_names(metadata: dict) -> dict:
    """Metadata without the names of people (for an export that leaves faces out)."""
    return {key: value for key, value in metadata.items() if key not in (PEOPLE, PERSON_NAME)}


def is_face(metadata: dict) -> bool:
    return metadata.get(SEGMENT) == FACE and SEGMENT_OF in metadata
