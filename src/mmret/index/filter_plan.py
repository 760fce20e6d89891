"""A space's filter plan: which strategy (filter_strategy.py) a filtered search takes by the share of the indexed
vectors its filter allows, as `optimize` measured them on the built index.

At each of a few shares (SHARES) a random subset of that many indexed vectors stands in for a filter; the queries
held out of the index are searched by each strategy (the selector at growing widenings, the post-filter as the
fixed rule runs it, exact), and the fastest one whose recall@k against an exact search of the allowed vectors
reaches the target takes the band from that share up to the next one measured. The index strategies lose recall
as a filter narrows and the exact one gets cheaper, so a band's choice, measured at its narrow end, holds across
it. A filter narrower than the narrowest band measured (one allowing fewer than MEASURED_FROM vectors is not
measured) is searched exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from mmret.errors import BadInput
from mmret.index.base import SearchParams, VectorIndex
from mmret.index.filter_strategy import (
    EXACT,
    POSTFILTER,
    POSTFILTER_MARGIN,
    STRATEGIES,
    Strategy,
    available,
    search_broadly,
    widen_params,
)
from mmret.index.prefilter import FilterCache
from mmret.index.segment import Segment
from mmret.index.vectors import exact_search

SHARES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
WIDENINGS = (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024)  # the selector's, by cost
EXACT_TIMED = 50  # held-out queries timed for the exact strategy: its work does not depend on the query
# Fewer allowed vectors are searched exactly, unmeasured: at 100k x 384 an exact search of 300 took 0.020 ms, of
# 1,000 0.038 ms, every index strategy at least 0.13 ms (timing noise could otherwise pick an index for a few).
MEASURED_FROM = 500
SEED = 0


@dataclass(frozen=True)
class Band:
    share: float  # the narrow end, where it was measured
    strategy: Strategy
    recall: float
    p50_ms: float

    def to_dict(self) -> dict:
        return {"share": self.share, "strategy": self.strategy.name, "widen": self.strategy.widen,
                "recall": self.recall, "p50_ms": self.p50_ms}


@dataclass(frozen=True)
class FilterPlan:
    k: int  # the recall@k measured
    target_recall: float
    bands: tuple[Band, ...]  # by ascending share

    def strategy_for(self, share: float) -> Strategy:
        """The strategy for a filter allowing `share` of the indexed vectors."""
        chosen = Strategy(EXACT)
        for band in self.bands:
            if band.share <= share:
                chosen = band.strategy
        return chosen

    def to_dict(self) -> dict:
        return {"k": self.k, "target_recall": self.target_recall, "bands": [b.to_dict() for b in self.bands]}

    @classmethod
    def from_dict(cls, values: dict) -> FilterPlan:
        """The plan as stored; ValueError naming the field that is missing or wrong."""
        try:
            bands = tuple(Band(float(b["share"]), Strategy(_known(b["strategy"]), float(b["widen"])),
                               float(b["recall"]), float(b["p50_ms"])) for b in values["bands"])
            plan = cls(int(values["k"]), float(values["target_recall"]), bands)
        except (KeyError, TypeError) as error:
            raise BadInput(f"filter_plan: missing or malformed field {error}") from None
        if [b.share for b in bands] != sorted(b.share for b in bands):
            raise BadInput("filter_plan: bands must be in ascending share")
        return plan

    def summary(self) -> str:
        return ", ".join(f"{b.share:.1%}+ {b.strategy.label}" for b in self.bands) or "exact at every share"


def measure_plan(index: VectorIndex, stored: np.ndarray, queries: np.ndarray, params: SearchParams, k: int,
                 target_recall: float) -> tuple[FilterPlan, list[dict]]:
    """The plan for `index` over `stored` (its vectors) with the tuned `params`, measured with `queries` held out
    of it, and every strategy tried (share, strategy, recall or None where stopped as slower, p50 ms)."""
    segment = Segment("held-in", np.arange(len(stored), dtype=np.int64), stored)
    rng = np.random.default_rng(SEED)
    bands, tried = [], []
    for share in SHARES:
        count = round(share * len(stored))
        if count < max(k, MEASURED_FROM):
            continue
        kept = np.zeros(len(stored), bool)
        kept[rng.choice(len(stored), count, replace=False)] = True
        band, trials = _measured_band(index, segment, queries, kept, params, k, target_recall, share)
        bands.append(band)
        tried += [{"share": share, **trial} for trial in trials]
    return FilterPlan(k, target_recall, tuple(bands)), tried


def _measured_band(index: VectorIndex, segment: Segment, queries: np.ndarray, kept: np.ndarray,
                   params: SearchParams, k: int, target_recall: float, share: float) -> tuple[Band, list[dict]]:
    """The fastest strategy holding the target recall for the filter `kept` (exact always does)."""
    truth = [set(n.ids.tolist()) for n in exact_search(segment.vectors, segment.ids, queries, k, kept)]
    rows = FilterCache().rows(segment, kept, None, lambda count, total: Strategy(EXACT))
    if rows.gathered:
        def exact(query):
            return rows.search(query, k, None)
    else:
        def exact(query):
            return search_broadly(index, segment, query, k, kept, params, rows.strategy)
    _, p50 = _timed(exact, queries[:EXACT_TIMED], None, np.inf)
    best = Band(share, Strategy(EXACT), 1.0, p50)  # the oracle's own computation
    trials = [_trial(best.strategy, 1.0, p50)]
    for name in available(index)[1:]:
        if name == POSTFILTER and POSTFILTER_MARGIN * k / share >= np.count_nonzero(kept):
            continue  # it would rank more candidates than the exact search scans
        stopped_at = np.inf
        for widen in _widenings(index, params, name, share):
            strategy = Strategy(name, widen)
            recall, p50 = _timed(lambda query, s=strategy: search_broadly(index, segment, query, k, kept, params, s),
                                 queries, truth, best.p50_ms)
            trials.append(_trial(strategy, recall, p50))
            if recall is None:
                if p50 > stopped_at:
                    break  # slower than the best, and slower still for being wider
                stopped_at = p50  # a narrow search can be slower: the queries it leaves short are answered exactly
                continue
            if recall >= target_recall:
                if p50 < best.p50_ms:
                    best = Band(share, strategy, round(recall, 4), p50)
                break
    return best, trials


def _widenings(index: VectorIndex, params: SearchParams, name: str, share: float) -> list[float]:
    """The selector's widenings, each changing the search (the caps on efSearch and nprobe make the largest ones
    alike); the post-filter's as the fixed rule runs it."""
    if name == POSTFILTER:
        return [1 / share]
    base, nlist = params.over(index.defaults), getattr(index, "nlist", None)
    seen, widenings = set(), []
    for widen in WIDENINGS:
        searched = widen_params(base, widen)
        if nlist and searched.nprobe:
            searched = replace(searched, nprobe=min(searched.nprobe, nlist))
        if searched not in seen:
            seen.add(searched)
            widenings.append(widen)
    return widenings


def _timed(search, queries: np.ndarray, truth: list[set] | None, best_ms: float) -> tuple[float | None, float]:
    """Recall@k of `search` one query at a time (None without `truth`, or when stopped: more than half the queries
    took longer than `best_ms`, so its median cannot beat it) and the median latency in ms."""
    times, recalls, slower = [], [], 0
    for i, query in enumerate(queries):
        started = time.perf_counter()
        found = search(query[None, :])[0]
        times.append((time.perf_counter() - started) * 1000)
        if truth is not None:
            recalls.append(len(set(found.ids.tolist()) & truth[i]) / max(len(truth[i]), 1))
        slower += times[-1] > best_ms
        if slower > len(queries) / 2:
            return None, round(float(np.median(times)), 4)
    return (float(np.mean(recalls)) if truth is not None else None), round(float(np.median(times)), 4)


def _trial(strategy: Strategy, recall: float | None, p50: float) -> dict:
    return {"strategy": strategy.label, "recall": None if recall is None else round(recall, 4),
            "p50_ms": round(p50, 4)}


def _known(name: str) -> str:
    if name not in STRATEGIES:
        raise BadInput(f"filter_plan: unknown strategy {name!r}; known are {list(STRATEGIES)}")
    return name
