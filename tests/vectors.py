"""Vectors for tests: random unit rows, as encoders hand them to the index."""
from __future__ import annotations

import numpy as np


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """(n, dim) float32 rows drawn from a standard normal with `rng`, each scaled to length 1."""
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
