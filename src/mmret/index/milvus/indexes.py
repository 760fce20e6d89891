"""Milvus indexes: settings from mmret's index names, building, per-query search parameters, tuning on a sample.

The `mmret optimize --index` names work on both backends: "Flat" (exact), "HNSW32" (HNSW with M=32),
"IVF1024,Flat", "IVF1024,SQ8" and "IVF1024,PQ48" (IVF_PQ: Milvus servers only, Milvus Lite refuses it).
All indexes use the inner product (IP) metric on unit vectors. efConstruction is 40, the FAISS default the
embedded HNSW is built with, so both backends build comparable graphs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from mmret.errors import BadInput
from mmret.index.base import SearchParams
from mmret.index.kinds import (
    DEFAULT_MEMORY_BUDGET,
    EXACT_UP_TO,
    HNSW_M,
    hnsw_fits,
    ivf_lists,
)

EF_CONSTRUCTION = 40
TUNING_QUERIES = 200
TUNING_K = 10
MAX_TOPK = 16_384  # Milvus's bound on the hits of one search
_HNSW = re.compile(r"HNSW(\d*)")
_IVF = re.compile(r"IVF(\d+),(Flat|SQ8|PQ(\d+))")


@dataclass(frozen=True)
class IndexSpec:
    factory: str
    index_type: str
    build: dict[str, int]

    @property
    def kind(self) -> str:
        return {"FLAT": "flat", "HNSW": "hnsw"}.get(self.index_type, "ivf")


def spec_of(factory: str) -> IndexSpec:
    if factory == "Flat":
        return IndexSpec(factory, "FLAT", {})
    if match := _HNSW.fullmatch(factory):
        return IndexSpec(factory, "HNSW", {"M": int(match[1] or HNSW_M), "efConstruction": EF_CONSTRUCTION})
    if match := _IVF.fullmatch(factory):
        nlist = int(match[1])
        if match[2] == "Flat":
            return IndexSpec(factory, "IVF_FLAT", {"nlist": nlist})
        if match[2] == "SQ8":
            return IndexSpec(factory, "IVF_SQ8", {"nlist": nlist})
        return IndexSpec(factory, "IVF_PQ", {"nlist": nlist, "m": int(match[3]), "nbits": 8})
    raise BadInput(f"index {factory!r}: on Milvus expected 'Flat', 'HNSW<M>' (e.g. 'HNSW32'), 'IVF<nlist>,Flat', "
                   "'IVF<nlist>,SQ8' or 'IVF<nlist>,PQ<m>'")


def auto_factory(count: int, dim: int, memory_budget: int | None) -> str:
    """Exact for small collections, HNSW when its graph fits the budget, else IVF with 8-bit codes."""
    if count <= EXACT_UP_TO:
        return "Flat"
    if hnsw_fits(count, dim, memory_budget or DEFAULT_MEMORY_BUDGET):
        return f"HNSW{HNSW_M}"
    return f"IVF{ivf_lists(count)},SQ8"


def rebuild(client, name: str, field: str, spec: IndexSpec) -> None:
    """Seal the growing segments, merge small ones and purge deleted rows, then build `spec` on `field`."""
    client.flush(name)
    job = client.compact(name)
    while client.get_compaction_state(job) not in ("Completed", "UndefiedState"):  # sic: pymilvus's spelling
        time.sleep(0.1)
    client.release_collection(name)
    client.drop_index(name, field)
    indexes = client.prepare_index_params()
    indexes.add_index(field, index_type=spec.index_type, metric_type="IP", params=spec.build)
    client.create_index(name, indexes)
    while (state := client.describe_index(name, field))["state"] != "Finished" or state.get("pending_index_rows"):
        time.sleep(0.1)
    client.load_collection(name)


def space_filter(space: str) -> str:
    """The expression selecting the items with a vector in `space` (see rows.py)."""
    return f'array_contains(spaces, "{space}")'  # space names are letters, digits, '_' and '-'


def tuning_search(client, name: str, field: str, expression: str, spec: IndexSpec):
    """A search function for `tune`: item ids of the hits of each query."""
    def search(queries: np.ndarray, k: int, params: SearchParams) -> list[list[str]]:
        found = client.search(name, data=list(queries), anns_field=field, limit=k, filter=expression,
                              search_params=search_params(spec, params, k), output_fields=["item_id"])
        return [[hit["entity"]["item_id"] for hit in row] for row in found]
    return search


def search_params(spec: IndexSpec, params: SearchParams, k: int) -> dict:
    """Milvus search_params for one search of k hits."""
    if params.shortlist is not None:
        raise BadInput("search parameter shortlist is for the embedded IVF-PQ index; Milvus takes ef_search "
                       "(HNSW) and nprobe (IVF)")
    if spec.kind == "hnsw":
        return {"metric_type": "IP", "params": {"ef": max(params.ef_search or 64, k)}}
    if spec.kind == "ivf":
        return {"metric_type": "IP", "params": {"nprobe": min(params.nprobe or 16, spec.build["nlist"])}}
    return {"metric_type": "IP", "params": {}}


def candidates(spec: IndexSpec) -> list[SearchParams]:
    """Search settings in ascending cost."""
    if spec.kind == "hnsw":
        return [SearchParams(ef_search=ef) for ef in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)]
    if spec.kind == "ivf":
        nlist = spec.build["nlist"]
        return [SearchParams(nprobe=p) for p in dict.fromkeys([p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
                                                                if p < nlist] + [nlist])]
    return []


def tune(spec: IndexSpec, batches: Callable[[], Iterator[tuple[list[str], np.ndarray]]],
         search: Callable[[np.ndarray, int, SearchParams], list[list[str]]],
         target_recall: float) -> tuple[SearchParams, float]:
    """The cheapest settings whose recall@10 on sampled stored vectors reaches the target (else the best), and that
    recall; the exact neighbours come from one streamed pass over the stored vectors (`batches`)."""
    if spec.kind == "flat":
        return SearchParams(), 1.0
    own, queries, truth = _sample_truth(batches)
    if len(queries) == 0:
        return SearchParams(), 1.0
    best = (SearchParams(), -1.0)
    for params in candidates(spec):
        found = [[i for i in row if i != me][:TUNING_K] for row, me in zip(search(queries, TUNING_K + 1, params), own)]
        recall = float(np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth) if t]))
        if recall > best[1]:
            best = (params, recall)
        if recall >= target_recall:
            break
    return best


def _sample_truth(batches) -> tuple[list[str], np.ndarray, list[set[str]]]:
    """Up to TUNING_QUERIES stored vectors (the first met) with their ids and exact top 10, each leaving itself out."""
    own: list[str] = []
    rows: list[np.ndarray] = []
    for ids, vectors in batches():
        own.extend(ids[: TUNING_QUERIES - len(rows)])
        rows.extend(vectors[: TUNING_QUERIES - len(rows)])
        if len(rows) >= TUNING_QUERIES:
            break
    if not rows:
        return [], np.empty((0, 0), np.float32), []
    queries = np.stack(rows)
    best_ids = np.empty((len(queries), 0), object)
    best_scores = np.empty((len(queries), 0), np.float32)
    for ids, vectors in batches():
        scores = np.concatenate([best_scores, queries @ vectors.T], axis=1)
        names = np.concatenate([best_ids, np.broadcast_to(np.array(ids, object), (len(queries), len(ids)))], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, : TUNING_K + 1]
        best_scores, best_ids = np.take_along_axis(scores, keep, 1), np.take_along_axis(names, keep, 1)
    return own, queries, [set([i for i in row.tolist() if i != me][:TUNING_K]) for row, me in zip(best_ids, own)]
