"""Calibrated relevance: a hit's cosine score mapped to the probability that the hit is relevant to its query,
by a logistic curve fitted on labelled (query, item) pairs of one model:

    relevance = 1 / (1 + exp(-(slope * score + baseline_weight * (query . mean) + intercept)))

`mean` is the mean vector of the gallery the curve was fitted on, so `query . mean` is the score the query gives a
typical item: some queries score every item high, and a score counts for less there (measured on flickr8k-500
with the offline model, this term takes the share of irrelevant pairs hidden at the same recall from 0.41 to 0.63).
For one query the relevance grows with the score, so a cut at a relevance is a cut of the ranked list.

The pairs are weighted so that relevant and irrelevant ones count alike (a labelled gallery holds one right item
among hundreds, a user's collection another share): the relevance is the probability under even prior odds.
`cut` is the default relevance below which a list hides hits (tuned on the fitting pairs, see `fit`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInput

RIGHT_ITEMS_KEPT = 0.9  # the default cut keeps this share of the fitting queries' right items
NEWTON_STEPS = 50
RIDGE = 1e-6


@dataclass(frozen=True, eq=False)
class RelevanceCurve:
    slope: float
    baseline_weight: float
    intercept: float
    mean: np.ndarray  # (d,) the fitting gallery's mean vector
    cut: float = 0.5  # the default minimum relevance of what a list shows first
    fitted_on: dict = field(default_factory=dict)  # what the pairs were: data, counts (for the record)

    def __post_init__(self) -> None:
        if not self.slope > 0:
            raise BadInput(f"relevance curve: the slope must be positive (a higher score more relevant), got {self.slope}")
        if not 0.0 <= self.cut <= 1.0:
            raise BadInput(f"relevance curve: the cut is a probability, got {self.cut}")

    def __call__(self, scores, query: np.ndarray) -> np.ndarray:
        """The relevance of a query's hits by their scores (any shape), given the query vector (d,)."""
        baseline = float(np.dot(np.asarray(query, dtype=np.float64), self.mean))
        return self.of_baseline(scores, baseline)

    def of_baseline(self, scores, baseline) -> np.ndarray:
        logits = self.slope * np.asarray(scores, dtype=np.float64) + self.baseline_weight * baseline + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))

    @classmethod
    def fit(cls, queries: np.ndarray, gallery: np.ndarray, relevant: np.ndarray,
            fitted_on: dict | None = None) -> RelevanceCurve:
        """Fit on every (query, gallery item) pair, `relevant` (queries, gallery) True for a right pair. The cut is
        the highest relevance that keeps RIGHT_ITEMS_KEPT of the queries' best right items above it."""
        relevant = np.asarray(relevant, dtype=bool)
        if relevant.shape != (len(queries), len(gallery)) or relevant.all() or not relevant.any():
            raise BadInput("relevance calibration needs relevant and irrelevant pairs, a label per (query, item)")
        mean = np.asarray(gallery, dtype=np.float64).mean(axis=0)
        scores = np.asarray(queries, dtype=np.float64) @ np.asarray(gallery, dtype=np.float64).T
        baselines = np.broadcast_to((np.asarray(queries, dtype=np.float64) @ mean)[:, None], scores.shape)
        slope, weight, intercept = _logistic(scores.ravel(), baselines.ravel(), relevant.ravel())
        curve = cls(slope, weight, intercept, mean, 0.5)
        best_right = np.where(relevant, curve.of_baseline(scores, baselines), -1.0).max(axis=1)
        cut = float(np.quantile(best_right[best_right >= 0], 1.0 - RIGHT_ITEMS_KEPT))
        counts = {"relevant pairs": int(relevant.sum()), "irrelevant pairs": int((~relevant).sum())}
        cut = math.floor(cut * 1e6) / 1e6  # stored rounded down: the items it was tuned to keep stay above it
        return cls(slope, weight, intercept, mean, cut, {**(fitted_on or {}), **counts})

    def to_dict(self) -> dict:
        return {"slope": self.slope, "baseline_weight": self.baseline_weight, "intercept": self.intercept,
                "cut": self.cut, "fitted_on": self.fitted_on, "mean": [round(float(v), 6) for v in self.mean]}

    @classmethod
    def from_dict(cls, data: dict) -> RelevanceCurve:
        try:
            return cls(float(data["slope"]), float(data["baseline_weight"]), float(data["intercept"]),
                       np.asarray(data["mean"], dtype=np.float64), float(data.get("cut", 0.5)),
                       dict(data.get("fitted_on") or {}))
        except (KeyError, TypeError, ValueError) as error:
            raise BadInput(f"relevance calibration: not a stored curve ({error})") from None


def _logistic(scores: np.ndarray, baselines: np.ndarray, relevant: np.ndarray) -> tuple[float, float, float]:
    """Class-balanced logistic regression of `relevant` on (score, baseline) by Newton's method."""
    x = np.stack([scores, baselines, np.ones_like(scores)], axis=1)
    y = relevant.astype(np.float64)
    weight = np.where(relevant, 0.5 / relevant.sum(), 0.5 / (~relevant).sum())
    theta = np.zeros(3)
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ theta, -50.0, 50.0)))
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + RIDGE * np.eye(3)
        step = np.linalg.solve(hessian, x.T @ (weight * (p - y)))
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1]), float(theta[2])
