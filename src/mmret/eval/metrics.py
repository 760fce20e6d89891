"""Retrieval metrics over a score matrix (queries x candidates) or over ranked lists.

Conventions
- Relevance is binary: a boolean (q, n) matrix, or one collection of relevant column indices per query.
- Ranking: candidates sorted by score, highest first; equal scores are ordered by column index ascending,
  so a ranking (and every metric) is deterministic.
- `exclude` (a boolean (q, n) mask) removes candidates from a query's ranking altogether, e.g. the query
  itself in image->image retrieval: an excluded candidate is neither ranked nor counted as relevant.
- A query with no relevant candidate (after exclusion) has no defined value for any metric: its per-query
  value is NaN, it is left out of every mean, and `Ranking.answerable` tells how many queries counted.

Metrics, by the names `mean_metrics` accepts (K a positive integer):
- "R@K": the cross-modal retrieval Recall@K (Karpathy & Fei-Fei 2015, VSE++): the fraction of queries with
  at least one relevant item in the top K (ranx's hit_rate@K). With one relevant item it equals IR recall;
  with several (an image's five captions) it is NOT the fraction of relevant items retrieved.
- "P@K": relevant items in the top K, divided by K.
- "mAP": average precision over all relevant items (precision at the rank of each relevant item, averaged
  over the query's relevant items; one missing from a truncated ranked list contributes 0), then the mean.
- "R-P": R-precision, the precision at rank R where R is the query's number of relevant items.
- "MRR": mean reciprocal rank of the first relevant item (0 when a truncated list holds none).
- "nDCG@K": binary-gain nDCG with a 1 / log2(rank + 1) discount.
- "mAP@R": MAP@R (Musgrave et al. 2020, "A Metric Learning Reality Check"): average precision counted only
  within the top R, where R is the query's number of relevant items, divided by R (ranx's map@R, trec_eval's
  map_cut.R). 1 only when the R relevant items fill the top R.
- "MedR", "MeanR": the rank (1 = top) of the query's first relevant item, summarised over queries by the
  median or the mean; lower is better (see LOWER_IS_BETTER). A truncated ranked list holding no relevant
  item gives a rank of infinity, so a mean over such queries is infinite.

`per_query(ranking, name)` gives the per-query values (for MedR and MeanR: the rank); `summarise(name, values)`
turns them into the reported number (the median for MedR, else the mean over answerable queries).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput

Relevance = np.ndarray | Sequence[Collection[int]]
LOWER_IS_BETTER = frozenset({"MedR", "MeanR"})
#: what `mmret eval` reports for every task
REPORTED_METRICS = ("R@1", "R@5", "R@10", "P@10", "mAP", "mAP@R", "R-P", "MRR", "nDCG@10", "MedR", "MeanR")


@dataclass(frozen=True)
class Ranking:
    """hits[i, r]: the candidate at rank r (0-based) of query i is relevant. n_relevant[i]: how many
    relevant candidates query i has, including any that a truncated ranked list left out."""

    hits: np.ndarray
    n_relevant: np.ndarray

    @classmethod
    def from_scores(cls, scores: np.ndarray, relevance: Relevance, exclude: np.ndarray | None = None) -> Ranking:
        scores = np.asarray(scores)
        if scores.ndim != 2:
            raise BadInput(f"scores must be a (queries, candidates) matrix, got shape {scores.shape}")
        if not np.isfinite(scores).all():
            raise BadInput("scores must be finite (no NaN or infinity)")
        relevant = relevance_matrix(relevance, scores.shape)
        if exclude is not None:
            exclude = np.asarray(exclude, dtype=bool)
            if exclude.shape != scores.shape:
                raise BadInput(f"exclude has shape {exclude.shape}, scores {scores.shape}")
            scores = np.where(exclude, -np.inf, scores)  # ranked last, and never relevant
            relevant = relevant & ~exclude
        hits = np.take_along_axis(relevant, rank_order(scores), axis=1)
        return cls(hits, relevant.sum(axis=1))

    @classmethod
    def from_lists(cls, ranked: Sequence[Sequence[int]], relevance: Sequence[Collection[int]]) -> Ranking:
        """From ranked lists of candidate ids (best first, possibly truncated) and each query's relevant ids."""
        if len(ranked) != len(relevance):
            raise BadInput(f"{len(ranked)} ranked lists but relevance for {len(relevance)} queries")
        hits = np.zeros((len(ranked), max((len(r) for r in ranked), default=0)), dtype=bool)
        for i, (ids, relevant) in enumerate(zip(ranked, relevance)):
            if len(set(ids)) != len(ids):
                raise BadInput(f"ranked list {i} holds a candidate more than once")
            hits[i, : len(ids)] = [c in relevant for c in ids]
        return cls(hits, np.array([len(set(r)) for r in relevance], dtype=np.int64))

    @property
    def answerable(self) -> np.ndarray:
        """(q,) bool: the query has at least one relevant candidate, so its metrics are defined."""
        return self.n_relevant > 0


def relevance_matrix(relevance: Relevance, shape: tuple[int, int]) -> np.ndarray:
    """A boolean (q, n) relevance matrix from a matrix or from per-query collections of column indices."""
    if isinstance(relevance, np.ndarray):
        if relevance.shape != shape:
            raise BadInput(f"relevance has shape {relevance.shape}, scores {shape}")
        return relevance.astype(bool, copy=False)
    queries, candidates = shape
    if len(relevance) != queries:
        raise BadInput(f"relevance lists {len(relevance)} queries, scores have {queries}")
    matrix = np.zeros(shape, dtype=bool)
    for i, columns in enumerate(relevance):
        columns = np.fromiter(columns, dtype=np.int64)
        if columns.size and (columns.min() < 0 or columns.max() >= candidates):
            raise BadInput(f"relevance of query {i} names a column outside 0..{candidates - 1}")
        matrix[i, columns] = True
    return matrix


def rank_order(scores: np.ndarray) -> np.ndarray:
    """Column indices of each row by score descending, ties by column ascending.

    For float32 (what encoders produce) this is a stable argsort of -scores made about 3x faster: each score
    becomes an order-preserving integer, packed with its column index into one unique int64 key that a
    plain sort orders exactly. Other types keep their precision through a stable argsort.
    """
    scores = np.asarray(scores)
    if scores.dtype not in (np.float32, np.float16):
        return np.argsort(-scores.astype(np.float64), axis=1, kind="stable")
    scores = scores.astype(np.float32) + np.float32(0)  # -0.0 -> +0.0, which compare equal
    bits = scores.view(np.int32)
    ordered = np.where(bits < 0, bits ^ np.int32(0x7FFFFFFF), bits).astype(np.int64)
    keys = (-ordered << 32) | np.arange(scores.shape[1], dtype=np.int64)
    keys.sort(axis=1)
    return (keys & 0xFFFFFFFF).astype(np.intp)


def recall_at(ranking: Ranking, k: int) -> np.ndarray:
    return _defined(ranking, ranking.hits[:, :k].any(axis=1))


def precision_at(ranking: Ranking, k: int) -> np.ndarray:
    return _defined(ranking, ranking.hits[:, :k].sum(axis=1) / k)


def average_precision(ranking: Ranking) -> np.ndarray:
    hits = ranking.hits
    precision = np.cumsum(hits, axis=1, dtype=np.float64) / np.arange(1, hits.shape[1] + 1)
    return _defined(ranking, (precision * hits).sum(axis=1) / np.maximum(ranking.n_relevant, 1))


def r_precision(ranking: Ranking) -> np.ndarray:
    hits, r = ranking.hits, ranking.n_relevant
    if hits.shape[1] == 0:
        return _defined(ranking, np.zeros(len(r)))
    found = np.cumsum(hits, axis=1)[np.arange(len(r)), np.clip(r, 1, hits.shape[1]) - 1]
    return _defined(ranking, found / np.maximum(r, 1))


def reciprocal_rank(ranking: Ranking) -> np.ndarray:
    hits = ranking.hits
    first = hits.argmax(axis=1) if hits.shape[1] else np.zeros(len(hits), dtype=np.int64)
    return _defined(ranking, np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0))


def ndcg_at(ranking: Ranking, k: int) -> np.ndarray:
    top = ranking.hits[:, :k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(ranking.n_relevant, k)]
    return _defined(ranking, (top @ discounts[: top.shape[1]]) / np.maximum(ideal, 1e-12))


def map_at_r(ranking: Ranking) -> np.ndarray:
    hits, r = ranking.hits, ranking.n_relevant
    ranks = np.arange(1, hits.shape[1] + 1)
    precision = np.cumsum(hits, axis=1, dtype=np.float64) / ranks
    within_r = ranks[None, :] <= r[:, None]
    return _defined(ranking, (precision * (hits & within_r)).sum(axis=1) / np.maximum(r, 1))


def first_relevant_rank(ranking: Ranking) -> np.ndarray:
    """(q,) 1-based rank of each query's first relevant item; inf when a truncated list holds none."""
    hits = ranking.hits
    first = hits.argmax(axis=1) + 1.0 if hits.shape[1] else np.ones(len(hits))
    return _defined(ranking, np.where(hits.any(axis=1), first, np.inf))


_AT_K = {"R": recall_at, "P": precision_at, "nDCG": ndcg_at}
_WHOLE_RANKING = {"mAP": average_precision, "R-P": r_precision, "MRR": reciprocal_rank, "mAP@R": map_at_r,
                  "MedR": first_relevant_rank, "MeanR": first_relevant_rank}
_SUMMARIES: dict[str, Callable[[np.ndarray], float]] = {"MedR": np.median}


def per_query(ranking: Ranking, name: str) -> np.ndarray:
    """(q,) values of one named metric ("R@5", "mAP", ...); NaN for queries without a relevant candidate."""
    if name in _WHOLE_RANKING:
        return _WHOLE_RANKING[name](ranking)
    base, at, k = name.partition("@")
    if base in _AT_K and at and k.isdigit() and int(k) > 0:
        return _AT_K[base](ranking, int(k))
    raise BadInput(f"unknown metric {name!r}; expected one of {sorted(_WHOLE_RANKING)} or R@K, P@K, nDCG@K")


def summary_function(name: str) -> Callable[[np.ndarray], float]:
    """How a metric's per-query values become its reported number: np.median for MedR, else np.mean."""
    return _SUMMARIES.get(name, np.mean)


def summarise(name: str, values: np.ndarray) -> float:
    """The reported number of a metric from its per-query values; NaN (unanswerable) values are left out."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    return float(summary_function(name)(defined)) if defined.size else float("nan")


def mean_metrics(ranking: Ranking, names: Sequence[str]) -> dict[str, float]:
    """Each named metric summarised over the answerable queries (the median for MedR, else the mean; NaN
    when no query is answerable)."""
    return {name: summarise(name, per_query(ranking, name)) for name in names}


def _defined(ranking: Ranking, values: np.ndarray) -> np.ndarray:
    return np.where(ranking.answerable, values, np.nan)
