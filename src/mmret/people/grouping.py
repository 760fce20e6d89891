"""Grouping face descriptors into people by a distance threshold, incrementally: a new face joins the person of
its nearest grouped face when that face is within the threshold; the faces left over are grouped among themselves
by average linkage (two groups join while the mean distance between their faces is within the threshold) and
become new people. Nothing already grouped moves.

DEFAULT_THRESHOLD is the threshold with the best pairwise F1 among those with precision >= 0.97 (0.40, 0.425, ...,
0.65), fitted on the first 80 people of lfw-158 (benchmarks/faces.py; measured there on people it was not fitted on).
"""
from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.55


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances."""
    squared = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0))


def join_known(new: np.ndarray, known: np.ndarray, known_labels: list[str], threshold: float) -> list[str | None]:
    """The person each new face joins (that of its nearest known face within the threshold), else None."""
    if len(known) == 0:
        return [None] * len(new)
    near = distances(new, known)
    nearest = near.argmin(axis=1)
    return [known_labels[j] if near[i, j] <= threshold else None for i, j in enumerate(nearest)]


def average_linkage(descriptors: np.ndarray, threshold: float) -> list[int]:
    """A group number per face (numbered by first face): average-linkage agglomeration stopped at `threshold`."""
    if len(descriptors) < 2:
        return [0] * len(descriptors)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    tree = linkage(pdist(np.asarray(descriptors, dtype=np.float64)), method="average")
    raw = fcluster(tree, t=threshold, criterion="distance")
    first = {}
    return [first.setdefault(group, len(first)) for group in raw.tolist()]
