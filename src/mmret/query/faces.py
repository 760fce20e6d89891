"""Search by a face: the face in a query photo (its largest, or the N-th from the left) against the face segments of
a collection, ranked as dlib ranks faces (Euclidean distance of descriptors, media/face_vectors.py), one hit per
file: the file's closest face, whose box is in the hit's metadata (`face_box`).

A hit's score is 1 - distance: two faces of one person are usually within 0.6 of each other, so above 0.4.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..encoders.faces import Face, FaceDetector
from ..errors import BadInput
from ..index.collection_base import CollectionBase
from ..index.values import Hit, readable
from ..media.face_segments import FACE
from ..media.face_vectors import FACE_SPACE, distance, query_vector
from ..media.segments import SEGMENT
from .per_file import collapsed

if TYPE_CHECKING:
    from PIL import Image

_NUMBERED = re.compile(r"(.+)#(\d+)$")


def face_argument(value: str | Path) -> tuple[str | Path, int | None]:
    """`PHOTO` or `PHOTO#N` -> (the photo, N or None); a file whose own name ends in #N is taken as it is."""
    match = _NUMBERED.fullmatch(str(value))
    if match is None or Path(value).exists():
        return value, None
    return match.group(1), int(match.group(2))


def query_face(photo: str | Path | Image.Image, number: int | None = None,
               detector: FaceDetector | None = None) -> Face:
    """The face to search by: the photo's largest face, or its `number`-th from the left (from 1)."""
    from ..data.decode import (
        read_image,  # PIL and the decoders: not for the searches that need no picture
    )

    uploaded = not isinstance(photo, (str, Path))
    image = photo if uploaded else read_image(photo)
    where = "the uploaded photo" if uploaded else str(photo)
    found = (detector or FaceDetector()).find(image)
    if not found.faces:
        small = f" ({found.too_small} smaller than the minimum size)" if found.too_small else ""
        raise BadInput(f"{where}: no face found in it{small}; search by a photo that shows a face")
    if number is None:
        return found.largest()
    if not 1 <= number <= len(found.faces):
        raise BadInput(f"{where}#{number}: the photo has {len(found.faces)} faces (number them 1 to "
                       f"{len(found.faces)}, from the left)")
    return found.faces[number - 1]


def search_face(store: CollectionBase, face: Face, k: int = 10, where: dict | None = None,
                exclude: list[str] | None = None, per_file: bool = True) -> list[Hit]:
    """The k files (or faces, without `per_file`) whose faces are closest to `face`."""
    if FACE_SPACE not in store.spaces:
        raise BadInput(f"{store.path}: holds no faces; index it with faces first (mmret index --faces)")
    vector = query_vector(face.descriptor)[None, :]
    only_faces = {**(where or {}), SEGMENT: FACE}

    def search_top(fetch: int) -> list[Hit]:
        hits = readable(store.search(FACE_SPACE, vector, fetch, where=only_faces, exclude=exclude)[0])
        return [Hit(hit.record, 1.0 - distance(face.descriptor, hit.score), FACE_SPACE) for hit in hits]

    return collapsed(search_top, k, per_file)
