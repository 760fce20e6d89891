"""Score normalisation per ranked list and calibration per vector space, so that scores from different paths
(an image space, a title space, a sound space) can be added.

Score arrays are (queries, items) float arrays in which NaN marks an item the list did not retrieve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BadInput

NORMS = ("none", "min-max", "z-score")


def normalise(scores: np.ndarray, norm: str = "min-max") -> np.ndarray:
    """Each row rescaled over its retrieved items: min-max to [0, 1] (a row of equal scores becomes 1), or
    z-score to mean 0 and unit standard deviation (a row of equal scores becomes 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    if norm == "none":
        return scores.copy()
    if norm not in NORMS:
        raise BadInput(f"unknown score normalisation {norm!r}; choose from {NORMS}")
    if scores.ndim != 2:
        raise BadInput(f"scores must be a (queries, items) array, got shape {scores.shape}")
    retrieved = ~np.isnan(scores)
    safe = np.where(retrieved, scores, 0.0)
    count = np.maximum(retrieved.sum(axis=1, keepdims=True), 1)
    if norm == "min-max":
        low = np.where(retrieved, scores, np.inf).min(axis=1, keepdims=True)
        high = np.where(retrieved, scores, -np.inf).max(axis=1, keepdims=True)
        span = high - low
        scaled = np.where(span > 0, (safe - low) / np.where(span > 0, span, 1.0), 1.0)
    else:
        mean = safe.sum(axis=1, keepdims=True) / count
        std = np.sqrt((np.where(retrieved, scores - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count)
        scaled = np.where(std > 0, (safe - mean) / np.where(std > 0, std, 1.0), 0.0)
    return np.where(retrieved, scaled, np.nan)


@dataclass(frozen=True)
class SpaceCalibration:
    """An affine map of one space's raw scores onto a common scale: (score - mean) / std of the scores that
    typical queries get in that space. Unlike per-list normalisation it keeps a weak list's scores low."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise BadInput(f"SpaceCalibration: std must be positive, got {self.std}")

    @classmethod
    def fit(cls, scores: np.ndarray) -> SpaceCalibration:
        """From a sample of raw scores in the space (e.g. sample queries against all its items; NaN ignored)."""
        values = np.asarray(scores, dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size < 2 or values.std() == 0:
            raise BadInput("SpaceCalibration.fit: needs at least two different scores")
        return cls(float(values.mean()), float(values.std()))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.std

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}
