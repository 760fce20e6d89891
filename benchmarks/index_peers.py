"""The peers of benchmarks/index_scale.py, behind one small interface: LanceDB (IVF-PQ with a refine step) and
Qdrant's local mode (`QdrantClient(path=...)`, which keeps points on disk and searches them exactly in numpy).

Each peer loads the same vectors with the same `bucket` field, then answers k-NN queries with or without the
benchmark's filters; `tune` picks the cheapest setting that reaches a recall on the benchmark's own queries
(the peer's best case: mmret tunes on a sample of stored vectors instead).
"""
from __future__ import annotations

import os

os.environ.setdefault("LANCE_CPU_THREADS", "1")  # one core, as FAISS and BLAS get

import time
from pathlib import Path

import numpy as np

LOAD_BATCH = 50_000
WHERES = {"none": None, "1%": ("bucket", "eq", 7), "10%": ("bucket", "lt", 10)}


class LanceDBPeer:
    name = "lancedb"

    def __init__(self, directory: Path, nlist: int, subvectors: int = 48):
        import lancedb

        self._db = lancedb.connect(str(directory))
        self._nlist, self._subvectors = nlist, subvectors
        self._table = None
        self.setting = {"nprobes": 16, "refine_factor": 10}

    def load(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        import pyarrow as pa

        started = time.perf_counter()
        for start in range(0, len(vectors), LOAD_BATCH):
            block = np.ascontiguousarray(vectors[start : start + LOAD_BATCH], dtype=np.float32)
            batch = pa.table({
                "id": pa.array(np.arange(start, start + len(block), dtype=np.int64)),
                "bucket": pa.array(buckets[start : start + len(block)].astype(np.int64)),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), block.shape[1])})
            if self._table is None:
                self._table = self._db.create_table("bench", batch, mode="overwrite")
            else:
                self._table.add(batch)
        self._table.create_index(metric="dot", num_partitions=self._nlist, num_sub_vectors=self._subvectors,
                                 index_type="IVF_PQ")
        self._table.create_scalar_index("bucket")
        return time.perf_counter() - started

    def search(self, queries: np.ndarray, k: int, where) -> list[list[int]]:
        """One query after another (`search_batch` sends them in one call)."""
        return [self._query(query, k, where).column("id").to_pylist() for query in queries]

    def search_batch(self, queries: np.ndarray, k: int, where) -> list[list[int]]:
        table = self._query(list(queries), k, where)
        rows, ids = table.column("query_index").to_numpy(), table.column("id").to_numpy()
        return [ids[rows == i].tolist() for i in range(len(queries))]

    def _query(self, query, k: int, where):
        # Asking for _distance (lance adds it anyway) keeps lance from warning about a future default per query.
        builder = (self._table.search(query).distance_type("dot").nprobes(self.setting["nprobes"])
                   .refine_factor(self.setting["refine_factor"]).limit(k).select(["id", "_distance"]))
        if where is not None:
            builder = builder.where(_sql(where), prefilter=True)
        return builder.to_arrow()

    def close(self) -> None:
        """Nothing to release: the table's files go with the benchmark's scratch directory."""

    def settings(self):
        for nprobes in (8, 16, 32, 64, 128, 256):
            for refine in (5, 10, 20):
                yield {"nprobes": min(nprobes, self._nlist), "refine_factor": refine}


class QdrantLocalPeer:
    name = "qdrant-local"

    def __init__(self, directory: Path):
        from qdrant_client import QdrantClient

        self._client = QdrantClient(path=str(directory))
        self.setting = {"exact": True}  # local mode has no ANN index: every search is exact

    def load(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        from qdrant_client import models

        started = time.perf_counter()
        self._client.create_collection("bench", vectors_config=models.VectorParams(
            size=vectors.shape[1], distance=models.Distance.DOT))
        for start in range(0, len(vectors), LOAD_BATCH):
            block = np.asarray(vectors[start : start + LOAD_BATCH], dtype=np.float32)
            self._client.upload_collection("bench", vectors=block, ids=range(start, start + len(block)),
                                           payload=[{"bucket": int(b)} for b in buckets[start : start + len(block)]])
        return time.perf_counter() - started

    def search(self, queries: np.ndarray, k: int, where) -> list[list[int]]:
        condition = _qdrant_filter(where)
        return [[point.id for point in self._client.query_points("bench", query=query.tolist(), limit=k,
                                                                   query_filter=condition).points]
                for query in queries]

    def search_batch(self, queries: np.ndarray, k: int, where) -> list[list[int]]:
        from qdrant_client import models

        condition = _qdrant_filter(where)
        answers = self._client.query_batch_points("bench", [
            models.QueryRequest(query=query.tolist(), limit=k, filter=condition) for query in queries])
        return [[point.id for point in answer.points] for answer in answers]

    def settings(self):
        yield self.setting

    def close(self) -> None:
        self._client.close()


def tune(peer, queries: np.ndarray, k: int, truth: list[set], target: float) -> float:
    """Set `peer` to its cheapest setting reaching `target` recall@k on `queries` (or its best); that recall."""
    best = (None, -1.0)
    for setting in peer.settings():
        peer.setting = setting
        found = peer.search(queries, k, None)
        recall = float(np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth)]))
        if recall > best[1]:
            best = (setting, recall)
        if recall >= target:
            return recall
    peer.setting = best[0]
    return best[1]


def _sql(where) -> str:
    key, op, value = where
    return f"{key} {'=' if op == 'eq' else '<'} {value}"


def _qdrant_filter(where):
    if where is None:
        return None
    from qdrant_client import models

    key, op, value = where
    condition = models.MatchValue(value=value) if op == "eq" else None
    return models.Filter(must=[models.FieldCondition(key=key, match=condition, range=None if condition else
                                                     models.Range(lt=value))])
