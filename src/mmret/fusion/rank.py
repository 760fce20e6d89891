"""Decision-level fusion of several ranked lists of the same items, as pure functions (qdrant-client and ranx
define the first three): reciprocal rank fusion, CombSUM, CombMNZ and CombPROD (the weighted product of the
normalised scores: "AND" semantics for a composed query), each with per-list weights.

Lists are (queries, items) score arrays aligned on the items, NaN where a list did not retrieve an item; the
result has the same shape, higher is better, NaN where no list retrieved the item. `fuse_runs` does the same for
lists of (id, score) pairs, as a search path holds them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInput
from .scores import normalise

RRF_K = 60  # Cormack et al. 2009
PROD_FLOOR = 1e-6  # added before the log in comb_prod: a list's lowest item is all but vetoed, not -inf


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each retrieved item in its row (best first; ties by item order), NaN where not retrieved."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-np.where(np.isnan(scores), -np.inf, scores), axis=1, kind="stable")
    result = np.empty_like(scores)
    np.put_along_axis(result, order, np.arange(1, scores.shape[1] + 1, dtype=np.float64)[None, :], axis=1)
    return np.where(np.isnan(scores), np.nan, result)


def rrf(lists: Sequence[np.ndarray], weights: Sequence[float] | None = None, k: float = RRF_K,
        norm: str | None = None) -> np.ndarray:
    """sum_i w_i / (k + rank_i) over the lists that retrieved the item (norm is ignored: ranks need none)."""
    return _weighted_sum([1.0 / (k + ranks(s)) for s in _checked(lists)], weights)


def comb_sum(lists: Sequence[np.ndarray], weights: Sequence[float] | None = None, norm: str = "min-max") -> np.ndarray:
    """sum_i w_i * normalised score_i over the lists that retrieved the item (Fox and Shaw 1994)."""
    return _weighted_sum([normalise(s, norm) for s in _checked(lists)], weights)


def comb_mnz(lists: Sequence[np.ndarray], weights: Sequence[float] | None = None, norm: str = "min-max") -> np.ndarray:
    """CombSUM times the number of lists that retrieved the item."""
    lists = _checked(lists)
    hits = sum((~np.isnan(s)).astype(np.float64) for s in lists)
    return comb_sum(lists, weights, norm) * hits


def comb_prod(lists: Sequence[np.ndarray], weights: Sequence[float] | None = None, norm: str = "min-max") -> np.ndarray:
    """"AND" of the lists: sum_i w_i * log(PROD_FLOOR + s_i), s_i the min-max normalised score (a weighted
    geometric mean), so an item must score well in every list; a list that did not retrieve an item gives it
    s_i = 0, as its score there is at most the list's lowest (norm is ignored: the product needs [0, 1] scores)."""
    lists = _checked(lists)
    retrieved = np.logical_or.reduce([~np.isnan(s) for s in lists])
    logs = [np.log(PROD_FLOOR + np.nan_to_num(normalise(s, "min-max"), nan=0.0)) for s in lists]
    return np.where(retrieved, _weighted_sum(logs, weights), np.nan)


DecisionFusion = Callable[..., np.ndarray]
DECISION_FUSIONS: dict[str, DecisionFusion] = {"rrf": rrf, "combsum": comb_sum, "combmnz": comb_mnz,
                                               "combprod": comb_prod}


def fuse_runs(runs: Sequence[Mapping[str, float]], method: str = "rrf", weights: Sequence[float] | None = None,
              norm: str = "min-max") -> list[tuple[str, float]]:
    """Ranked lists {id: score} fused into one list of (id, fused score), best first."""
    if method not in DECISION_FUSIONS:
        raise BadInput(f"unknown decision-level fusion {method!r}; choose from {sorted(DECISION_FUSIONS)}")
    ids = list(dict.fromkeys(item for run in runs for item in run))
    if not ids:
        return []
    column = {item: i for i, item in enumerate(ids)}
    lists = []
    for run in runs:
        row = np.full((1, len(ids)), np.nan)
        for item, score in run.items():
            row[0, column[item]] = score
        lists.append(row)
    fused = DECISION_FUSIONS[method](lists, weights, norm=norm)[0]
    order = np.argsort(-fused, kind="stable")
    return [(ids[i], float(fused[i])) for i in order if not np.isnan(fused[i])]


def _checked(lists: Sequence[np.ndarray]) -> list[np.ndarray]:
    lists = [np.asarray(s, dtype=np.float64) for s in lists]
    if not lists:
        raise BadInput("rank fusion needs at least one list")
    if any(s.ndim != 2 or s.shape != lists[0].shape for s in lists):
        raise BadInput(f"lists must be (queries, items) arrays of one shape, got {[s.shape for s in lists]}")
    return lists


def _weighted_sum(lists: list[np.ndarray], weights: Sequence[float] | None) -> np.ndarray:
    weights = [1.0] * len(lists) if weights is None else [float(w) for w in weights]
    if len(weights) != len(lists):
        raise BadInput(f"{len(weights)} weights for {len(lists)} lists")
    retrieved = np.zeros(lists[0].shape, dtype=bool)
    total = np.zeros(lists[0].shape)
    for weight, values in zip(weights, lists):
        present = ~np.isnan(values)
        retrieved |= present
        total += weight * np.where(present, values, 0.0)
    return np.where(retrieved, total, np.nan)
