"""The search rows of index_scale.py through the Milvus Lite backend next to the embedded backend (issue 15).

For each size N, in one run, on the same clustered synthetic 384-d unit vectors and held-out queries (index_scale's
data and measurement helpers, imported), each backend gets the same commands: a bulk import (upserts of 65,536),
`optimize` with the same index name (Flat, HNSW32, ...; tuned to recall 0.95 on a sample), then per filter (none,
10%, 1% of the items by a metadata value) recall@10 against exact search, single-query p50/p99 latency and the
QPS of one batched call; for HNSW also at fixed efSearch values on both, as the two backends' tuning on
their own stored vectors picks different values. Usage:

    python benchmarks/milvus_search.py --sizes 100000 [--queries 200] [--kinds flat,hnsw]

Prints a table and writes benchmarks/out/milvus_search.json (or --out NAME).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads BLAS

import argparse
import sys
import tempfile
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_scale import (
    FILTERS,
    K,
    bulk_import,
    clustered,
    exact_truth,
    latency,
    recall,
    timed,
    write_results,
)

from mmret.index.backend import create_collection, open_collection
from mmret.index.base import SearchParams

FACTORIES = {"flat": "Flat", "hnsw": "HNSW32", "ivf": "IVF1024,Flat"}
BACKENDS = {"embedded": "", "milvus-lite": ".db"}  # -> the suffix of the collection's location


def search_ids(coll, where, params: SearchParams | None = None):
    def search(queries):
        return [[int(h.record.item_id[1:]) for h in hits]
                for hits in coll.search("shared", queries, K, where=where, params=params)]
    return search


def run_backend(backend: str, n: int, vectors: np.ndarray, queries: np.ndarray, kinds: list[str], truths: dict,
                work: Path, efs: list[int]) -> dict:
    path = work / f"{backend}-{n}{BACKENDS[backend]}"
    coll = create_collection(path, "bench", {"shared": vectors.shape[1]})
    _, import_seconds = timed(bulk_import, coll, vectors)
    result = {"import_seconds": round(import_seconds, 2), "kinds": {}}
    for kind in kinds:
        report, optimize_seconds = timed(coll.optimize, factory=FACTORIES[kind], target_recall=0.95)
        coll.close()
        coll, open_seconds = timed(open_collection, path)
        _, first_seconds = timed(coll.search, "shared", queries[:1], K)
        row = {"factory": FACTORIES[kind], "optimize_seconds": round(optimize_seconds, 1),
               "tuned": report["shared"]["params"], "tuning_recall": round(report["shared"]["recall@10"], 4),
               "open_ms": round(1000 * open_seconds, 1), "first_query_ms": round(1000 * first_seconds, 1)}
        result["kinds"][kind] = row | measure(coll, queries, truths, None)
        for ef in efs if kind == "hnsw" else []:  # both backends at the same efSearch, whatever tuning chose
            result["kinds"][f"hnsw ef {ef}"] = row | {"tuned": {"ef_search": ef}} | measure(
                coll, queries, truths, SearchParams(ef_search=ef))
    coll.close()
    return result


def measure(coll, queries: np.ndarray, truths: dict, params: SearchParams | None) -> dict:
    cells = {}
    for name, where in [("none", None)] + [(name, w) for name, (w, _) in FILTERS.items()]:
        found, cells[f"filter {name}"] = latency(search_ids(coll, where, params), queries)
        cells[f"filter {name}"]["recall@10"] = round(recall(found, truths[name]), 4)
    return cells


def print_size(n: int, result: dict) -> None:
    print(f"\n{n:,} items; import: " + ", ".join(f"{b} {result[b]['import_seconds']} s" for b in BACKENDS))
    print(f"{'kind':<12}{'backend':<13}{'optimize s':>11}{'tuned':>18}{'filter':>8}{'recall@10':>10}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'QPS batch':>11}")
    for kind in result["embedded"]["kinds"]:
        for backend in BACKENDS:
            row = result[backend]["kinds"][kind]
            tuned = ", ".join(f"{k} {v}" for k, v in row["tuned"].items()) or "-"
            for name in ["none", *FILTERS]:
                m = row[f"filter {name}"]
                head = f"{kind:<12}{backend:<13}{row['optimize_seconds']:>11.1f}{tuned:>18}" if name == "none" else " " * 54
                print(f"{head}{name:>8}{m['recall@10']:>10.4f}{m['p50_ms']:>9.3f}{m['p99_ms']:>9.3f}"
                      f"{m['qps_batched']:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", default="flat,hnsw", help=f"of {sorted(FACTORIES)}")
    parser.add_argument("--ef", default="64,256", help="HNSW efSearch values also measured on both backends")
    parser.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", default="milvus_search.json", help="file name in benchmarks/out/")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    queries = clustered(args.queries, seed=2)
    kinds = args.kinds.split(",")
    efs = [int(ef) for ef in args.ef.split(",") if ef]
    sizes, load_before = [], os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        for n in map(int, args.sizes.split(",")):
            vectors = clustered(n, seed=1)
            buckets = np.arange(n) % 100
            truths = {"none": exact_truth(vectors, queries, None)}
            truths.update({name: exact_truth(vectors, queries, keep(buckets)) for name, (_, keep) in FILTERS.items()})
            result = {"n": n, **{b: run_backend(b, n, vectors, queries, kinds, truths, Path(work), efs) for b in BACKENDS}}
            print_size(n, result)
            sizes.append(result)
    import pymilvus

    out = write_results(args.out, pymilvus=pymilvus.__version__, data="clustered", queries=args.queries,
                        load_average=[load_before, os.getloadavg()[0]], sizes=sizes)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
