"""Faces in a picture with dlib: the HOG frontal face detector, the 5-point landmarks and the 128-d ResNet face
descriptor (face-recognition-models ships the weights; install with `pip install 'mmret[faces]'`).

Two faces of one person have descriptors within about 0.6 of each other (Euclidean); dlib's descriptors are not
unit length, so they are kept as dlib gives them here (media/face_vectors.py turns them into stored vectors).
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MissingPackage

if TYPE_CHECKING:
    from PIL import Image

DESCRIPTOR_DIM = 128
_HINT = "faces need dlib and its face models: pip install 'mmret[faces]'"
_LANDMARKS = "shape_predictor_5_face_landmarks.dat"
_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in pixels of the picture
    score: float  # the detector's confidence (higher is surer; 0 is its default cut)
    descriptor: np.ndarray  # (128,) float32, as dlib computes it

    @property
    def size(self) -> int:
        """The shorter side of the box."""
        left, top, right, bottom = self.box
        return min(right - left, bottom - top)


@dataclass(frozen=True)
class FoundFaces:
    faces: list[Face]  # left to right (then top to bottom); `faces[n - 1]` is face number n
    too_small: int  # faces found but smaller than the minimum size, left out
    size: tuple[int, int] = (0, 0)  # the picture's width and height, which the boxes are in

    def largest(self) -> Face | None:
        return max(self.faces, key=lambda face: face.size, default=None)


class FaceDetector:
    """Picture -> its faces, each with its box, detection score and descriptor.

    `upsample`: times the picture is doubled before detection (1 finds faces down to about 40 px); `min_size`: faces
    whose box is smaller (shorter side, in pixels) are skipped and counted."""

    def __init__(self, min_size: int = 40, upsample: int = 1):
        self.min_size, self.upsample = int(min_size), int(upsample)

    def find(self, image: Image.Image | np.ndarray) -> FoundFaces:
        rgb = np.ascontiguousarray(image if isinstance(image, np.ndarray) else np.asarray(image.convert("RGB")))
        detector, landmarks, descriptor = _models()
        boxes, scores, _ = detector.run(rgb, self.upsample, 0.0)
        found = sorted(zip(boxes, scores), key=lambda pair: (pair[0].left(), pair[0].top()))
        faces, too_small = [], 0
        for box, score in found:
            bounds = (box.left(), box.top(), box.right(), box.bottom())
            if min(bounds[2] - bounds[0], bounds[3] - bounds[1]) < self.min_size:
                too_small += 1
                continue
            vector = descriptor.compute_face_descriptor(rgb, landmarks(rgb, box))
            faces.append(Face(bounds, float(score), np.asarray(vector, dtype=np.float32)))
        return FoundFaces(faces, too_small, (rgb.shape[1], rgb.shape[0]))

    def describe(self) -> str:
        """What decides a picture's faces; stored with each picture, so changed settings re-index it."""
        return f"dlib-hog-resnet:min_size={self.min_size}:upsample={self.upsample}"


def model_folder() -> Path:
    """face-recognition-models' weights, found without importing the package (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackage(f"{_HINT} (face-recognition-models is missing)")
    return Path(spec.submodule_search_locations[0]) / "models"


@functools.cache
def _models():
    try:
        import dlib
    except ImportError as error:
        raise MissingPackage(f"{_HINT} (dlib is missing)") from error
    folder = model_folder()
    return (dlib.get_frontal_face_detector(), dlib.shape_predictor(str(folder / _LANDMARKS)),
            dlib.face_recognition_model_v1(str(folder / _DESCRIPTOR)))
