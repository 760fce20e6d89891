"""Curves over a whole ranking, averaged over the answerable queries: Recall@K against K, and the 11-point
interpolated precision-recall curve exactly as trec_eval's iprec_at_recall defines it: at recall level l, the
best precision at any rank holding at least c = floor(l * R + 0.9) of the query's R relevant items (the
historical rounding; c = ceil(l * R) but for float error), 0 when a truncated list never reaches c."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import Ranking

RECALL_LEVELS = np.arange(11) / 10  # the doubles nearest 0.0, 0.1, ..., 1.0, as trec_eval parses them


def recall_curve(ranking: Ranking, ks: Sequence[int]) -> np.ndarray:
    """Mean Recall@K (a relevant item in the top K) for each K, over the answerable queries."""
    answerable = ranking.answerable
    if not answerable.any():
        return np.full(len(ks), np.nan)
    found_by = np.cumsum(ranking.hits[answerable], axis=1) > 0  # found_by[i, r]: a hit within ranks 0..r
    last = found_by.shape[1] - 1
    return np.array([found_by[:, min(k, found_by.shape[1]) - 1].mean() if last >= 0 else 0.0 for k in ks])


def interpolated_precision(ranking: Ranking, levels: Sequence[float] = RECALL_LEVELS) -> np.ndarray:
    """Mean interpolated precision at each recall level, over the answerable queries."""
    answerable = ranking.answerable
    if not answerable.any() or ranking.hits.shape[1] == 0:
        return np.full(len(levels), np.nan if not answerable.any() else 0.0)
    hits = ranking.hits[answerable]
    found = np.cumsum(hits, axis=1, dtype=np.float64)
    precision = found / np.arange(1, hits.shape[1] + 1)
    n_relevant = ranking.n_relevant[answerable].astype(np.float64)
    best_from = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]  # best precision at rank >= r
    rows = np.arange(len(hits))
    curve = []
    for level in levels:
        needed = np.floor(level * n_relevant + 0.9)
        reached = found >= needed[:, None]
        first = reached.argmax(axis=1)
        curve.append(np.where(reached.any(axis=1), best_from[rows, first], 0.0).mean())
    return np.array(curve)
