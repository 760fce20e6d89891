"""Fusion of a query's two channels: the keyword list (BM25 over the items' words) and the vector list (cosine).

`fuse_channels(word_hits, vector_hits, settings, k)` takes both lists as ranked (item_id, score) pairs, higher is
better in each, and returns one list of `ChannelHit` that says which channel found each hit with its rank and
score there. Methods:
- `rrf`: reciprocal rank fusion, sum of 1 / (rrf_k + rank), the baseline that needs no scores;
- `weighted`: a fixed `word_weight` on normalised scores (min-max or z-score per list) plus the rest on vectors;
- `adaptive` (the default): the same weighted sum, but the words' weight follows how confident the keyword list
  is. A few strong matches of rare terms stand far above the rest of the list (a product code, a name, a file
  name's class); a descriptive sentence matches many items a little each. Confidence is 1 minus the score of
  the first hit past the top group (hits within `tie_ratio` of the top score), relative to the top score, with
  no hit past the group counting as 0; a logistic curve maps it between `min_word_weight` and `max_word_weight`.
  Word scores are divided by the top score (an unmatched item's BM25 is 0), vector scores min-max normalised.

An item missing from one list takes that list's lowest normalised score (0 for min-max and the adaptive words).
Ties in the fused score go to the better rank in either list, so a query with no word hits gets the vector
list back in its order (and the other way round). The settings are stored with a collection by `mmret calibrate`
(`stored_channel_fusion`); a collection without them uses `ChannelFusion()`'s defaults.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import BadInput
from ..index.collection_base import CollectionBase

METHODS = ("adaptive", "rrf", "weighted")
NORMALISATIONS = ("minmax", "zscore")
WORDS, VECTORS, BOTH = "words", "vectors", "both"
SETTING_KEY = "channel_fusion"

RankedList = Sequence[tuple[str, float]]


@dataclass(frozen=True)
class ChannelFusion:
    """How the word and vector lists of a query become one; `to_dict`/`from_dict` store it with a collection."""

    method: str = "adaptive"
    rrf_k: float = 60.0
    normalisation: str = "minmax"  # of both lists for `weighted`
    word_weight: float = 0.3  # `weighted`
    # `adaptive`, defaults fitted by benchmarks/hybrid.py on flickr8k-500[300:400] (descriptive and exact-term
    # queries, each channel's top 40 from a collection's keyword index and vectors): hits at least tie_ratio of the
    # top word score form the top group; at a confidence of `midpoint` the words get half way between min and max
    tie_ratio: float = 0.95
    midpoint: float = 0.4
    steepness: float = 12.0
    min_word_weight: float = 0.2
    max_word_weight: float = 0.9

    def __post_init__(self):
        if self.method not in METHODS:
            raise BadInput(f"channel fusion method {self.method!r}: expected one of {', '.join(METHODS)}")
        if self.normalisation not in NORMALISATIONS:
            raise BadInput(f"channel fusion normalisation {self.normalisation!r}: expected one of "
                           f"{', '.join(NORMALISATIONS)}")
        for name in ("word_weight", "tie_ratio", "min_word_weight", "max_word_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise BadInput(f"channel fusion {name} {getattr(self, name)}: expected a number in [0, 1]")
        if self.rrf_k < 0 or self.steepness <= 0:
            raise BadInput(f"channel fusion rrf_k {self.rrf_k} / steepness {self.steepness}: expected rrf_k >= 0 "
                           f"and steepness > 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> ChannelFusion:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(stored) - known)
        if unknown:
            raise BadInput(f"channel fusion settings {unknown}: unknown; expected some of {sorted(known)}")
        return cls(**stored)


@dataclass(frozen=True)
class ChannelHit:
    """One fused hit: which channel found it (words, vectors or both) and its 1-based rank and score in each."""

    item_id: str
    score: float
    channel: str
    word_rank: int | None
    word_score: float | None
    vector_rank: int | None
    vector_score: float | None


def fuse_channels(word_hits: RankedList, vector_hits: RankedList, settings: ChannelFusion | None = None,
                  k: int = 10) -> list[ChannelHit]:
    """The top `k` of both ranked lists fused by `settings` (the defaults when None)."""
    settings = settings or ChannelFusion()
    words, vectors = _ranks(word_hits), _ranks(vector_hits)
    fused = _fused_scores(settings, word_hits, vector_hits, list(words | vectors.keys()))
    hits = [_hit(item_id, score, words.get(item_id), vectors.get(item_id)) for item_id, score in fused.items()]
    hits.sort(key=lambda h: (-h.score, min(h.word_rank or math.inf, h.vector_rank or math.inf),
                             h.vector_rank or math.inf))
    return hits[:k]


def word_confidence(word_scores: Sequence[float], tie_ratio: float) -> float:
    """1 minus the first score past the top group (scores >= tie_ratio * top) over the top score; 0 if no hits."""
    ordered = sorted(word_scores, reverse=True)
    if not ordered or ordered[0] <= 0:
        return 0.0
    top = ordered[0]
    past_group = next((s for s in ordered if s < tie_ratio * top), 0.0)
    return 1.0 - max(past_group, 0.0) / top


def adaptive_word_weight(word_scores: Sequence[float], settings: ChannelFusion) -> float:
    if not len(word_scores):
        return 0.0
    confidence = word_confidence(word_scores, settings.tie_ratio)
    logistic = 1.0 / (1.0 + math.exp(-settings.steepness * (confidence - settings.midpoint)))
    return settings.min_word_weight + (settings.max_word_weight - settings.min_word_weight) * logistic


def stored_channel_fusion(store: CollectionBase) -> ChannelFusion:
    """The fusion calibrated for this collection, or the defaults when none is stored."""
    stored = store.setting(SETTING_KEY)
    return ChannelFusion() if stored is None else ChannelFusion.from_dict(stored)


def store_channel_fusion(store: CollectionBase, settings: ChannelFusion | None) -> None:
    """Store `settings` with the collection; None removes them (searches use the defaults again)."""
    store.set_setting(SETTING_KEY, None if settings is None else settings.to_dict())


def _ranks(hits: RankedList) -> dict[str, tuple[int, float]]:
    ranks = {}
    for rank, (item_id, score) in enumerate(hits, start=1):
        if item_id in ranks:
            raise BadInput(f"item {item_id!r} appears twice in one channel's hits")
        ranks[item_id] = (rank, float(score))
    return ranks


def _fused_scores(settings: ChannelFusion, word_hits: RankedList, vector_hits: RankedList,
                  item_ids: list[str]) -> dict[str, float]:
    if settings.method == "rrf":
        return _rrf(settings.rrf_k, [word_hits, vector_hits], item_ids)
    if settings.method == "weighted":
        weight = settings.word_weight
        words = _normalised(word_hits, settings.normalisation)
        vectors = _normalised(vector_hits, settings.normalisation)
        low_word = min(words.values(), default=0.0)
    else:
        weight = adaptive_word_weight([s for _, s in word_hits], settings)
        words, low_word = _over_top(word_hits), 0.0
        vectors = _normalised(vector_hits, "minmax")
    low_vector = min(vectors.values(), default=0.0)
    return {i: weight * words.get(i, low_word) + (1.0 - weight) * vectors.get(i, low_vector) for i in item_ids}


def _rrf(rrf_k: float, lists: list[RankedList], item_ids: list[str]) -> dict[str, float]:
    fused = dict.fromkeys(item_ids, 0.0)
    for hits in lists:
        for rank, (item_id, _) in enumerate(hits, start=1):
            fused[item_id] += 1.0 / (rrf_k + rank)
    return fused


def _normalised(hits: RankedList, normalisation: str) -> dict[str, float]:
    if not hits:
        return {}
    scores = np.array([s for _, s in hits], dtype=np.float64)
    if normalisation == "zscore":
        spread = scores.std()
        scores = (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
    else:
        spread = scores.max() - scores.min()
        scores = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
    return {item_id: float(s) for (item_id, _), s in zip(hits, scores)}


def _over_top(hits: RankedList) -> dict[str, float]:
    top = max((s for _, s in hits), default=0.0)
    return {item_id: (s / top if top > 0 else 0.0) for item_id, s in hits}


def _hit(item_id: str, score: float, word: tuple[int, float] | None, vector: tuple[int, float] | None) -> ChannelHit:
    channel = BOTH if word and vector else WORDS if word else VECTORS
    return ChannelHit(item_id, score, channel, word[0] if word else None, word[1] if word else None,
                      vector[0] if vector else None, vector[1] if vector else None)
