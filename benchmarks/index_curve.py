"""Memory and latency of an IVF-PQ collection (with exact re-ranking against the stored vectors) against its size.

For each size N, clustered 384-d unit vectors (benchmarks/index_scale.py's generator) are made a chunk at a time
and upserted into a fresh VectorCollection in batches of 65,536, so this process never holds the N vectors; the
exact top 10 of the held-out queries over all N is kept up to date chunk by chunk (import time counts the upserts
only). Then `optimize` builds IVF{nlist},PQ48 (float16 storage by default, as a 10M collection would be stored)
tuned to recall@10 0.95, and a freshly opened handle is measured: open time, the first query (which loads the
IVF-PQ file), then after one unmeasured pass recall@10 against the exact top 10, single-query p50/p99, batched
QPS; bytes on disk per vector, the RSS of the process (after opening, after the first query and after the
searches; the peak) with its anonymous part (the rest is pages of the memory-mapped files, which the kernel can
drop; the anonymous peak is sampled every 0.2 s up to the searches), and the load average. One FAISS/BLAS thread;
progress goes to stderr. Usage:

    python benchmarks/index_curve.py --sizes 1000000,3000000 [--queries 100] [--dtype float16]

Prints a table and writes benchmarks/out/index_curve.json (or --out NAME).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads BLAS

import argparse
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import faiss
import numpy as np
from index_scale import (
    DIM,
    IMPORT_BATCH,
    K,
    clustered,
    mmret_search,
    paired,
    recall,
    records,
    timed,
    write_results,
)

from mmret.index.collection import VectorCollection

CHUNK = 262_144  # vectors generated (and scored against the queries) at once


def current_rss_gib(field: str = "VmRSS") -> float:
    """This process's resident memory (VmRSS), or a part of it: RssAnon, RssFile."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
    return kib / (1 << 20)


class AnonPeak:
    """The largest RssAnon seen while running, sampled by a daemon thread."""

    def __init__(self, interval: float = 0.2):
        self.gib = current_rss_gib("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.gib = max(self.gib, current_rss_gib("RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.gib, current_rss_gib("RssAnon"))


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def progress(n: int, message: str) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"[{time.strftime('%H:%M:%S')}] {n:,}: {message} (RSS {current_rss_gib():.2f} GiB, anonymous "
          f"{current_rss_gib('RssAnon'):.2f} GiB, load {load})",
          file=sys.stderr, flush=True)


def fill(coll: VectorCollection, n: int, queries: np.ndarray) -> tuple[list[set], float]:
    """Upsert n vectors a chunk at a time: the exact top K of each query over all of them, and the upserts' time."""
    best_scores = np.full((len(queries), K), -np.inf, np.float32)
    best_ids = np.zeros((len(queries), K), np.int64)
    upsert_seconds = 0.0
    for start in range(0, n, CHUNK):
        chunk = clustered(min(CHUNK, n - start), seed=1000 + start // CHUNK)
        for offset in range(0, len(chunk), IMPORT_BATCH):
            block = chunk[offset : offset + IMPORT_BATCH]
            first = start + offset
            _, seconds = timed(coll.upsert, records(first, first + len(block)), {"shared": block})
            upsert_seconds += seconds
        scores = np.concatenate([best_scores, queries @ chunk.T], axis=1)
        ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + len(chunk)), (len(queries), len(chunk)))],
                             axis=1)
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]  # the K best, in no order
        best_scores, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
        if (start // CHUNK) % 8 == 7:
            progress(n, f"{start + len(chunk):,} imported, upserts {upsert_seconds:.0f} s")
    return [set(row.tolist()) for row in best_ids], upsert_seconds


def run_size(n: int, queries: np.ndarray, dtype: str, work: Path) -> dict:
    path = work / f"c{n}"
    coll = VectorCollection.create(path, "bench", {"shared": DIM}, vector_dtype=dtype)
    load_before, anon_peak = os.getloadavg(), AnonPeak()
    (truth, import_seconds), fill_seconds = timed(fill, coll, n, queries)
    progress(n, f"imported in {fill_seconds:.0f} s ({import_seconds:.0f} s of upserts); optimizing")
    nlist = min(4096, 2 ** round(np.log2(4 * np.sqrt(n))))  # more lists would train for most of an hour here
    factory = f"IVF{nlist},PQ48"
    report, optimize_seconds = timed(coll.optimize, factory=factory, target_recall=0.95)
    coll.close()
    progress(n, f"optimized in {optimize_seconds:.0f} s: {report['shared']}")
    peak_building = peak_rss_gib()
    coll, open_seconds = timed(VectorCollection.open, path)
    building_anon = anon_peak.stop()  # no sampler thread while searches are timed
    rss_opened = current_rss_gib(), current_rss_gib("RssAnon")
    _, first_seconds = timed(coll.search, "shared", queries[:1], K)
    rss_first = current_rss_gib(), current_rss_gib("RssAnon")
    (found, stats), = paired({"mmret": mmret_search(coll, None)}, queries, warm=True).values()
    row = {"n": n, "factory": factory, "dtype": dtype, "import_seconds": round(import_seconds, 1),
           "optimize_seconds": round(optimize_seconds, 1), "tuned": report["shared"]["params"],
           "tuning_recall": round(report["shared"]["recall@10"], 4), "open_ms": round(1000 * open_seconds, 1),
           "first_query_ms": round(1000 * first_seconds, 1), "recall@10": round(recall(found, truth), 4), **stats,
           "bytes_per_vector": round(sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / n, 1),
           "rss_after_open_gib": round(rss_opened[0], 2), "anon_after_open_gib": round(rss_opened[1], 2),
           "rss_after_first_query_gib": round(rss_first[0], 2), "anon_after_first_query_gib": round(rss_first[1], 2),
           "rss_after_searches_gib": round(current_rss_gib(), 2),
           "anon_after_searches_gib": round(anon_searched := current_rss_gib("RssAnon"), 2),
           "peak_rss_gib_so_far": round(max(peak_building, peak_rss_gib()), 2),
           "peak_anon_gib": round(max(building_anon, rss_first[1], anon_searched), 2),
           "load_average_before": [round(v, 2) for v in load_before],
           "load_average_after": [round(v, 2) for v in os.getloadavg()]}
    coll.close()
    shutil.rmtree(path)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,3000000", help="collection sizes (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=100, help="held-out queries (default: %(default)s)")
    parser.add_argument("--dtype", default="float16", help="vector storage dtype (default: %(default)s)")
    parser.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", default="index_curve.json", help="file name in benchmarks/out/ (default: %(default)s)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    queries = clustered(args.queries, seed=2)
    rows = []
    print(f"{'items':>11} {'factory':<14}{'import s':>9}{'optimize s':>11}{'recall@10':>10}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'QPS batch':>10}{'B/vector':>9}{'open ms':>8}{'1st q ms':>9}{'RSS open':>9}{'RSS srch':>9}{'anon srch':>10}"
          f"{'peak RSS':>9}{'peak anon':>10}")
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        for n in map(int, args.sizes.split(",")):
            row = run_size(n, queries, args.dtype, Path(work))
            rows.append(row)
            print(f"{n:>11,} {row['factory']:<14}{row['import_seconds']:>9.1f}{row['optimize_seconds']:>11.1f}"
                  f"{row['recall@10']:>10.4f}{row['p50_ms']:>8.3f}{row['p99_ms']:>8.3f}{row['qps_batched']:>10.1f}"
                  f"{row['bytes_per_vector']:>9.1f}{row['open_ms']:>8.1f}{row['first_query_ms']:>9.1f}"
                  f"{row['rss_after_open_gib']:>9.2f}"
                  f"{row['rss_after_searches_gib']:>9.2f}{row['anon_after_searches_gib']:>10.2f}"
                  f"{row['peak_rss_gib_so_far']:>9.2f}{row['peak_anon_gib']:>10.2f}", flush=True)
    out = write_results(args.out, queries=args.queries, threads=1, sizes=rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
