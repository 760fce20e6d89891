"""`optimize`: merge a space's segments into one (dropping tombstoned vectors), build its ANN index, tune the
index's search parameters against exact ground truth and measure its filter plan (filter_plan.py), both for
queries held out of the index meanwhile (the merged segment's last vectors, i.e. the newest items, added to the
index after).

The merged segment and the index file are written under the next generation's names; the caller's
SQLite commit makes them live, so a process killed mid-way leaves the last committed state.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mmret.errors import BadInput
from mmret.index.base import SearchParams, VectorIndex
from mmret.index.filter_plan import measure_plan
from mmret.index.kinds import DEFAULT_MEMORY_BUDGET, auto_factory, kind_of
from mmret.index.segment import Segment, merge
from mmret.index.space import SegmentIndex, SpaceVectors
from mmret.index.vectors import decode, exact_search

TUNING_QUERIES = 200
TUNING_K = 10


def optimize_space(directory: Path, space: str, generation: int, vectors: SpaceVectors, factory: str | None,
                   target_recall: float, memory_budget: int | None, progress: bool = False) -> tuple[
                       Segment, SegmentIndex, dict]:
    if not 0 < target_recall <= 1:
        raise BadInput(f"target recall must be in (0, 1], got {target_recall}")
    started = time.perf_counter()
    name = f"{space}.g{generation:06d}-0"
    if vectors.segments:
        merged = merge(directory, name, vectors.segments, vectors.dead)
    else:
        merged = Segment.write(directory, name, np.empty(0, np.int64), np.empty((0, vectors.dim), np.float32))
    factory = factory or auto_factory(len(merged), vectors.dim, memory_budget or DEFAULT_MEMORY_BUDGET)
    kind = kind_of(factory)
    if kind.kind != "flat" and len(merged) < 2:
        factory, kind = "Flat", kind_of("Flat")
    held_out = min(TUNING_QUERIES, len(merged) // 5)
    indexed = merged.vectors[: len(merged) - held_out]
    try:
        index = kind.build(factory, indexed)
    except RuntimeError as error:  # FAISS reports bad factory strings and too few training vectors this way
        raise BadInput(f"index factory {factory!r} on {len(merged)} vectors of space {space!r}: {error}") from None
    tuning_started = time.perf_counter()
    queries = decode(merged.vectors[len(indexed):])
    params, recall = tune(index, indexed, queries, target_recall)
    plan, tried = measure_plan(index, indexed, queries, params, TUNING_K, target_recall) if held_out else (None, [])
    tuning_seconds = time.perf_counter() - tuning_started
    if held_out:
        index.extend(merged.vectors)
    file = None if kind.kind == "flat" else f"{space}.g{generation:06d}.faiss"
    if file:
        index.save(directory / file)
    built_seconds = time.perf_counter() - started - tuning_seconds
    built = SegmentIndex(factory=factory, params=params.to_dict(), recall=recall, segment=merged.name, file=file,
                         filter_plan=plan)
    report = {"vectors": len(merged), "factory": factory, "params": params.to_dict(), "recall@10": recall,
              "filter_plan": plan.summary() if plan else None, "filter_trials": tried,
              "build_seconds": round(built_seconds, 3), "seconds": round(time.perf_counter() - started, 3)}
    if progress:
        print(f"{space}: { {key: value for key, value in report.items() if key != 'filter_trials'} }")
    return merged, built, report


def tune(index: VectorIndex, indexed: np.ndarray, queries: np.ndarray, target_recall: float) -> tuple[
        SearchParams, float]:
    """The cheapest candidate params whose recall@10 for `queries` (vectors held out of the index, so that they are
    as new to it as a user's queries: a stored vector finds its own neighbourhood more easily, which overstated
    HNSW's recall at a small efSearch, 0.86 against 0.77) reaches the target (or the best reachable ones), and that
    recall."""
    if index.kind == "flat" or len(indexed) <= TUNING_K or not len(queries):
        return SearchParams(), 1.0
    truth = [set(n.ids.tolist()) for n in exact_search(indexed, np.arange(len(indexed)), queries, TUNING_K)]
    best = (SearchParams(), -1.0)
    for params in candidate_params(index):
        found = index.search(queries, TUNING_K, params=params)
        recall = float(np.mean([len(set(f.ids.tolist()) & t) / len(t) for f, t in zip(found, truth)]))
        if recall > best[1]:
            best = (params, recall)
        if recall >= target_recall:
            return params, recall
    return best


def candidate_params(index: VectorIndex) -> list[SearchParams]:
    """Parameter settings in roughly ascending search cost."""
    if index.kind == "hnsw":
        return [SearchParams(ef_search=ef) for ef in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)]
    nlist = index.nlist
    probes = [p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if p <= nlist] + [nlist]
    return [SearchParams(nprobe=p, shortlist=s) for p in dict.fromkeys(probes) for s in (50, 100, 200, 400)]
