"""Face descriptors as stored unit vectors whose inner-product ranking is dlib's Euclidean ranking.

dlib compares descriptors by Euclidean distance and they are not unit length (norms near 1.4), so normalising them
would change the order. Instead a descriptor x is stored as [x, -|x|^2 / 2, pad] / R, with `pad` bringing every
stored vector to length R, and a query q searches with [q, 1, 0]: then q'.x' = (q.x - |x|^2 / 2) / R =
(|q|^2 - |q - x|^2) / (2 R), so a larger inner product is exactly a smaller distance, and the distance comes back
from the score. The descriptor itself is the stored vector's first 128 values times R.
"""
from __future__ import annotations

import numpy as np

from ..encoders.faces import DESCRIPTOR_DIM
from ..errors import BadInput

FACE_SPACE = "face"
FACE_DIM = DESCRIPTOR_DIM + 2
_RADIUS = 8.0  # above the stored length of any descriptor with norm up to 5 (dlib's are near 1.4)


def stored_vectors(descriptors: np.ndarray) -> np.ndarray:
    """(n, 128) descriptors -> (n, 130) unit vectors to store in the face space."""
    x = np.asarray(descriptors, dtype=np.float64).reshape(-1, DESCRIPTOR_DIM)
    squared = (x * x).sum(axis=1)
    lifted = -squared / 2
    left = _RADIUS ** 2 - squared - lifted ** 2
    if (left < 0).any():
        raise BadInput(f"a face descriptor of norm {np.sqrt(squared.max()):.2f} is too long to store")
    return (np.column_stack([x, lifted, np.sqrt(left)]) / _RADIUS).astype(np.float32)


def query_vector(descriptor: np.ndarray) -> np.ndarray:
    """A descriptor -> the (130,) unit query vector for the face space."""
    q = np.concatenate([np.asarray(descriptor, dtype=np.float64).reshape(DESCRIPTOR_DIM), [1.0, 0.0]])
    return (q / np.linalg.norm(q)).astype(np.float32)


def distance(descriptor: np.ndarray, score: float) -> float:
    """The Euclidean distance between a query descriptor and the stored face that scored `score` against it."""
    q = np.asarray(descriptor, dtype=np.float64)
    squared = float(q @ q)
    return float(np.sqrt(max(0.0, squared - 2 * _RADIUS * np.sqrt(squared + 1) * score)))


def descriptors_of(vectors: np.ndarray) -> np.ndarray:
    """Stored face vectors -> the descriptors they hold, (n, 128)."""
    return np.asarray(vectors, dtype=np.float32).reshape(-1, FACE_DIM)[:, :DESCRIPTOR_DIM] * np.float32(_RADIUS)
