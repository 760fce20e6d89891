"""2-D maps of embedding spaces for the report: PCA (numpy), or t-SNE (scikit-learn) when it is installed."""
from __future__ import annotations

import numpy as np

from ..errors import BadInput

METHODS = ("auto", "pca", "tsne")
TSNE_MIN_POINTS = 10
TSNE_INPUT_DIMS = 50  # t-SNE runs on the top principal components: faster, and less noise


def project_2d(vectors: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates and the method used ("auto": t-SNE if scikit-learn is there and n is not tiny)."""
    if method not in METHODS:
        raise BadInput(f"map method must be one of {METHODS}, got {method!r}")
    vectors = np.asarray(vectors, dtype=np.float64)
    if method == "auto":
        method = "tsne" if _has_sklearn() and len(vectors) >= TSNE_MIN_POINTS else "pca"
    if method == "pca":
        return principal_components(vectors, 2), "pca"
    from sklearn.manifold import TSNE

    reduced = principal_components(vectors, min(TSNE_INPUT_DIMS, *vectors.shape))
    perplexity = min(30.0, (len(vectors) - 1) / 3)
    points = TSNE(perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    return points, "tsne"


def principal_components(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The rows' coordinates on the top `dims` principal axes (zero-padded if there are fewer)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ axes[:dims].T
    return np.pad(coordinates, ((0, 0), (0, dims - coordinates.shape[1])))


def sample_rows(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices: all rows, or `limit` of them drawn without replacement."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True
