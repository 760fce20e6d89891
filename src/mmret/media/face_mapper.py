"""The face stage of indexing: photos (and a video's keyframes, timed_mapper.py) -> face segment records with their
vectors in the face space, beside the vectors the model gives the files themselves."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..data.decode import DecodeError, read_image
from ..data.items import Item
from ..encoders.faces import FaceDetector, FoundFaces
from .batches import EmbeddedBatch
from .face_segments import face_items
from .face_vectors import FACE_DIM, FACE_SPACE, stored_vectors
from .segments import SEGMENT_OF


class FaceFinder:
    def __init__(self, detector: FaceDetector):
        self.detector = detector

    def photo_faces(self, batch: EmbeddedBatch) -> EmbeddedBatch | None:
        """The face segments of the photos in an embedded batch of images (None when it holds none)."""
        items, vectors, digests, too_small = [], [], [], 0
        for item, digest in zip(batch.items, batch.digests):
            if item.path is None or SEGMENT_OF in item.metadata:
                continue
            try:
                found = self.detector.find(read_image(item.path))
            except (DecodeError, OSError):
                continue  # it was embedded a moment ago: changed since, the next run reads it again
            faces, rows = self.segments(item, found)
            items += faces
            vectors.append(rows)
            digests += [digest] * len(faces)
            too_small += found.too_small
        if not items and not too_small:
            return None
        stacked = {FACE_SPACE: np.concatenate(vectors)} if items else {}
        return EmbeddedBatch(batch.modality, items, digests, stacked, faces_too_small=too_small)

    def keyframe_faces(self, item: Item, frame: Image.Image, start: float, end: float) -> tuple[list[Item], np.ndarray,
                                                                                                int]:
        """The face segments found in a video's keyframe, placed at the shot [start, end]."""
        found = self.detector.find(frame)
        items, rows = self.segments(item, found, (start, end))
        return items, rows, found.too_small

    @staticmethod
    def segments(item: Item, found: FoundFaces, span: tuple[float, float] | None = None) -> tuple[list[Item],
                                                                                                   np.ndarray]:
        if not found.faces:
            return [], np.empty((0, FACE_DIM), np.float32)
        descriptors = np.stack([face.descriptor for face in found.faces])
        return face_items(item, found, span), stored_vectors(descriptors)
