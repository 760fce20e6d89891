"""Faces are opt-in and remembered per collection: `add(faces=True)` turns them on (the face space is added and the
detector's settings stored with the collection), `faces=False` off, and `faces=None` indexes as the collection
remembers, so a later plain `mmret index` keeps finding faces, and re-reads the files indexed without them."""
from __future__ import annotations

from ..encoders.faces import FaceDetector
from ..index.collection_base import CollectionBase
from ..media.face_segments import FACES_SETTING
from ..media.face_vectors import FACE_DIM, FACE_SPACE


def face_detector(store: CollectionBase, faces: bool | None, min_size: int | None = None) -> FaceDetector | None:
    """The detector for this indexing run, the collection's setting updated to match `faces`."""
    remembered = store.setting(FACES_SETTING)
    if faces is None and min_size is None:
        return FaceDetector(**remembered) if remembered else None
    if faces is False:
        if remembered:
            store.set_setting(FACES_SETTING, None)
        return None
    detector = FaceDetector() if min_size is None else FaceDetector(min_size=min_size)
    store.add_space(FACE_SPACE, FACE_DIM)
    store.set_setting(FACES_SETTING, {"min_size": detector.min_size})
    return detector
