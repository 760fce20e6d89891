"""Choosing the adaptive channel fusion's parameters (mmret.query.channel_fusion) from example queries, and
measuring any fusion on them.

An example is one query's word and vector lists and the items it should find. `fit_channel_fusion` searches a
grid of the adaptive parameters for the best recall@1 over the examples (mean reciprocal rank breaks ties, then
the grid's order, which puts the defaults first). It is fast because, for a given tie ratio, a query's outcome
depends on the words' weight alone: each example's best relevant rank is computed once per weight on a fine grid.
`fusion_recall` measures a fusion through `fuse_channels` itself.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import BadInput
from .channel_fusion import ChannelFusion, RankedList, fuse_channels, word_confidence

WEIGHT_STEPS = 201  # the words' weight is looked up on this grid over [0, 1] while fitting
GRID = {  # the defaults first
    "tie_ratio": (0.95, 0.8, 0.9),
    "midpoint": (0.4, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8),
    "steepness": (12.0, 4.0, 8.0, 20.0, 40.0),
    "min_word_weight": (0.2, 0.0, 0.05, 0.1, 0.3),
    "max_word_weight": (0.9, 0.6, 0.75, 1.0),
}


@dataclass(frozen=True)
class FusionExample:
    """One query's ranked word and vector lists and the ids of the items it should find."""

    word_hits: RankedList
    vector_hits: RankedList
    relevant: frozenset[str]


def fusion_recall(settings: ChannelFusion, examples: Sequence[FusionExample], ks: Iterable[int] = (1, 5)) -> dict:
    """Recall@k (the share of examples with a relevant item in the top k) and MRR of `settings` on the examples."""
    ks = tuple(ks)
    ranks = [_first_relevant_rank([h.item_id for h in fuse_channels(e.word_hits, e.vector_hits, settings,
                                                                       k=max(ks + (100,)))], e.relevant)
             for e in examples]
    return _summary(np.array(ranks, dtype=np.float64), ks)


def fit_channel_fusion(examples: Sequence[FusionExample], grid: dict[str, Sequence[float]] | None = None,
                       base: ChannelFusion | None = None) -> tuple[ChannelFusion, dict]:
    """The adaptive settings of `grid` with the best recall@1 on `examples`, and that recall (R@1, MRR)."""
    if not examples:
        raise BadInput("no example queries to fit the channel fusion on")
    grid, base = grid or GRID, replace(base or ChannelFusion(), method="adaptive")
    weights = np.linspace(0.0, 1.0, WEIGHT_STEPS)
    ranks_by_weight = np.stack([_ranks_by_weight(e, weights) for e in examples])  # (examples, weights)
    best, best_key = base, None
    for tie_ratio in grid["tie_ratio"]:
        confidences = np.array([word_confidence([s for _, s in e.word_hits], tie_ratio) for e in examples])
        has_words = np.array([bool(e.word_hits) for e in examples])
        for midpoint, steepness, low, high in itertools.product(grid["midpoint"], grid["steepness"],
                                                                grid["min_word_weight"], grid["max_word_weight"]):
            if low > high:
                continue
            weight = low + (high - low) / (1.0 + np.exp(-steepness * (confidences - midpoint)))
            step = np.rint(np.where(has_words, weight, 0.0) * (WEIGHT_STEPS - 1)).astype(int)
            ranks = ranks_by_weight[np.arange(len(examples)), step]
            key = (np.mean(ranks == 1), np.mean(1.0 / ranks))
            if best_key is None or key > best_key:
                best_key = key
                best = replace(base, tie_ratio=tie_ratio, midpoint=midpoint, steepness=steepness,
                               min_word_weight=low, max_word_weight=high)
    return best, {"r@1": float(best_key[0]), "mrr": float(best_key[1]), "examples": len(examples)}


def _ranks_by_weight(example: FusionExample, weights: np.ndarray) -> np.ndarray:
    """The example's best relevant rank (inf when none is listed) at each words' weight, as fuse_channels ranks."""
    words = dict(example.word_hits)
    vectors = dict(example.vector_hits)
    ids = list(words | vectors)
    relevant = np.array([i in example.relevant for i in ids])
    if not relevant.any():
        return np.full(len(weights), np.inf)
    top = max(words.values(), default=0.0)
    word_part = np.array([words.get(i, 0.0) / top if top > 0 else 0.0 for i in ids])
    vector_part = _minmax(np.array([vectors.get(i, np.nan) for i in ids]))
    word_rank = {item_id: r for r, (item_id, _) in enumerate(example.word_hits, start=1)}
    vector_rank = {item_id: r for r, (item_id, _) in enumerate(example.vector_hits, start=1)}
    tie_key = np.array([(min(word_rank.get(i, np.inf), vector_rank.get(i, np.inf)), vector_rank.get(i, np.inf))
                        for i in ids])
    fused = weights[:, None] * word_part[None, :] + (1.0 - weights[:, None]) * vector_part[None, :]
    return np.array([_best_rank(row, relevant, tie_key) for row in fused])


def _best_rank(scores: np.ndarray, relevant: np.ndarray, tie_key: np.ndarray) -> float:
    order = np.lexsort((tie_key[:, 1], tie_key[:, 0], -scores))
    return float(np.argmax(relevant[order]) + 1)


def _minmax(scores: np.ndarray) -> np.ndarray:
    listed = scores[~np.isnan(scores)]
    if not listed.size:
        return np.zeros_like(scores)
    spread = listed.max() - listed.min()
    normalised = (scores - listed.min()) / spread if spread > 0 else np.ones_like(scores)
    return np.nan_to_num(normalised, nan=0.0)


def _first_relevant_rank(ids: list[str], relevant: frozenset[str]) -> float:
    return next((rank for rank, item_id in enumerate(ids, start=1) if item_id in relevant), np.inf)


def _summary(ranks: np.ndarray, ks: tuple[int, ...]) -> dict:
    summary = {f"r@{k}": float(np.mean(ranks <= k)) for k in ks}
    summary["mrr"] = float(np.mean(1.0 / ranks))
    return summary
